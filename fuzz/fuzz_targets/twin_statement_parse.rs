//! Fuzz target: the twin model's strict payload parser, and applying the
//! result to an empty projection, must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = twin::StatementBody::parse(data);
    let mut p = twin::Projection::new(twin::ConsensusPolicy::default());
    let _ = p.apply(twin::Registered {
        entry: 0,
        issuer: "fuzz.example",
        subject: "device:fuzz",
        payload: data,
        issued_at: None,
    });
});
