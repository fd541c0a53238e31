//! Fuzz target: COSE receipt parsing and verification (inclusion proof
//! decoding, root recomputation, detached signature) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static scitt::PublicKey {
    static KEY: OnceLock<scitt::PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng).public_key()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = scitt::verify_receipt(data, b"entry", key());
});
