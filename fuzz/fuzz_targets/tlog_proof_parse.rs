//! Fuzzes `TlogProof::parse`: never panics; accepted proofs re-encode to the
//! exact input and re-parse equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = tlog::TlogProof::parse(data) {
        let enc = p.encode().expect("re-encode");
        assert_eq!(enc, data, "tlog proof encoding is not canonical");
        assert_eq!(tlog::TlogProof::parse(&enc).as_ref(), Ok(&p));
    }
});
