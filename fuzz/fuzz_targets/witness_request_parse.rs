//! Fuzzes the tlog-witness add-checkpoint request parser and the 409 size
//! body parser: never panic; accepted requests re-encode to the exact input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = tlog::AddCheckpointRequest::parse(data) {
        assert!(r.proof.len() <= 63);
        let enc = r.encode().expect("re-encode");
        assert_eq!(enc, data);
        assert_eq!(tlog::AddCheckpointRequest::parse(&enc).as_ref(), Ok(&r));
    }
    if let Ok(size) = tlog::parse_size_body(data) {
        assert_eq!(tlog::witness_wire::encode_size_body(size).as_bytes(), data);
    }
    let _ = tlog::witness_wire::parse_add_checkpoint_response(data);
});
