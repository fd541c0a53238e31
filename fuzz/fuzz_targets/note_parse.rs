//! Fuzzes `Note::parse`: never panics; accepted notes re-encode to the exact
//! input bytes and re-parse to the same value; verifying against a fixed key
//! never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = tlog::Note::parse(data) {
        let enc = n.to_bytes();
        assert_eq!(enc, data, "note encoding is not canonical");
        assert_eq!(tlog::Note::parse(&enc).as_ref(), Ok(&n));
        if let Ok(v) = tlog::Verifier::from_vkey(
            "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx",
        ) {
            let _ = tlog::verify_note(&n, &[v]);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = tlog::Verifier::from_vkey(s.trim_end()) {
            assert_eq!(tlog::Verifier::from_vkey(&v.vkey()).as_ref(), Ok(&v));
        }
    }
});
