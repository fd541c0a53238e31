//! Fuzzes `Policy::parse_bytes`: never panics; an accepted policy can be
//! applied to a fixed checkpoint without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

const CHECKPOINT: &[u8] = "example.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n\n\u{2014} example.com/log/testdata M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zdkdIQzd/fmwlM/dlPWF74ewI=\n".as_bytes();

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = tlog::Policy::parse_bytes(data) {
        let _ = p.verify_checkpoint(CHECKPOINT);
        let _ = p.verify_checkpoint(data);
    }
});
