//! The device's update verifier on arbitrary bundles: it must refuse (never
//! panic, never accept) whatever the bytes, under a fixed trust state whose
//! log key, checkpoint and manufacturer key are real.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_verify::{digest_image, verify, Bundle, Options, TrustState, STATE_FORMAT};

const VKEY: &str = "log.example.test+4614a15d+AcP5ufQGue+abnxbzt+3bhCWz9K7dyb45QXQZgRxbZAQ";
const CHECKPOINT: &str = "log.example.test\n2\nsTeYX/SE+2ANuTEHx3sDZcgNePW0Kd7Q/Zc2HQd5mes=\n\n\u{2014} log.example.test RhShXW/rEkvjaFNxZfHJrDuupeExF03hPe/rnb1S76ZEt27nkYbsbfaJV9hTzQV3FR0CnxkSn8ZTUJK0zyNhmXQo6gQ=\n";

fuzz_target!(|data: &[u8]| {
    let _ = Bundle::parse(data);
    let _ = TrustState::parse(data);
    let state = TrustState {
        format: STATE_FORMAT.into(),
        policy: format!("log {VKEY}\n"),
        manufacturer: "acme.example".into(),
        authority: None,
        model: "model:acme/DC-200".into(),
        hardware_id: "dc-200-rev-a".into(),
        keys: Vec::new(),
        checkpoint: CHECKPOINT.into(),
        release_counter: 4,
        version: "2.4.1".into(),
        min_version: None,
        manifest_entry: None,
    };
    // No key is trusted, so nothing may ever be accepted.
    assert!(verify(&digest_image(b"image"), data, &state, &Options::default()).is_err());
});
