//! Fuzz target: log entries folded into the twins through `ingest` (COSE
//! parse, registry key resolution, signature check, strict payload parse,
//! sharing policies and custom types) must never panic, and a refused entry
//! must leave the projection's counters consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut p = twin::Projection::new(twin::ConsensusPolicy::default());
    // Entries separated by 0xff 0xfe, so one input is a small log.
    let mut entry = 0u64;
    for chunk in data.split(|b| *b == 0xff) {
        let _ = p.ingest(entry, chunk);
        entry += 1;
    }
    assert_eq!(p.meta().size, entry);
    // Policies from arbitrary JSON.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = twin::sharing::SharingPolicy::parse(&v);
    }
});
