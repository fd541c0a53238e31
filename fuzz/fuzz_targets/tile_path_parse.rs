//! Fuzzes `parse_tile_path`: never panics; accepted paths re-encode to the
//! exact input and re-parse equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = tlog::parse_tile_path(s) {
            let path = p.path();
            assert_eq!(path, s, "tile path encoding is not canonical");
            assert_eq!(tlog::parse_tile_path(&path), Ok(p));
        }
    }
});
