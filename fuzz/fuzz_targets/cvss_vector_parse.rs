//! Fuzzes `vuln::cvss::CvssVector::parse`: never panics; an accepted vector
//! has scores within 0.0..=10.0, and its canonical form re-parses to the
//! same scores.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vuln::cvss::CvssVector;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = CvssVector::parse(s) {
            assert!(v.score().tenths() <= 100 && v.base_score().tenths() <= 100);
            let again = CvssVector::parse(&v.to_string()).expect("canonical form re-parses");
            assert_eq!(again.scores(), v.scores());
        }
    }
});
