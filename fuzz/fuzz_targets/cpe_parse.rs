//! Fuzzes `vuln::cpe::Cpe::parse` (CPE 2.3 formatted strings and 2.2 URIs):
//! never panics; an accepted CPE prints as a formatted string that re-parses
//! equal, and matching it against itself never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vuln::cpe::Cpe;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = Cpe::parse(s) {
            let fs = c.to_string();
            assert_eq!(Cpe::parse(&fs).as_ref(), Ok(&c), "{fs}");
            let _ = c.matches(&c, None);
            let _ = c.compare(&c);
        }
    }
});
