//! Fuzzes `Checkpoint::parse_text` (and the note-level `open_checkpoint`):
//! never panics; accepted texts re-encode to the exact input and re-parse
//! equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(cp) = tlog::Checkpoint::parse_text(s) {
            let text = cp.to_text();
            assert_eq!(text, s, "checkpoint encoding is not canonical");
            assert_eq!(tlog::Checkpoint::parse_text(&text).as_ref(), Ok(&cp));
        }
    }
    if let Ok(v) = tlog::Verifier::from_vkey(
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx",
    ) {
        if let Ok((cp, note)) = tlog::open_checkpoint(data, &v) {
            assert_eq!(cp.to_text(), note.text());
        }
    }
});
