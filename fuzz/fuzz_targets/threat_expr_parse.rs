//! Fuzzes `threat::expr::Expr::parse`: never panics, errors point inside
//! the input (line and column at least 1), and an accepted expression
//! evaluates over an empty scope without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use threat::expr::{Expr, MapScope};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match Expr::parse(s) {
            Ok(e) => {
                let _ = e.eval(&MapScope::default());
            }
            Err(e) => assert!(e.line >= 1 && e.col >= 1),
        }
    }
});
