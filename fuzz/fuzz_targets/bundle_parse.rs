//! Fuzzes `parse_bundle`: never panics; accepted bundles re-encode to the
//! exact input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = tlog::parse_bundle(data) {
        assert!(!entries.is_empty() && entries.len() <= 256);
        let enc = tlog::encode_bundle(entries.iter().copied()).expect("re-encode");
        assert_eq!(enc, data);
    }
});
