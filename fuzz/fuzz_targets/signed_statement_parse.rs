//! Fuzz target: SCITT Signed Statement parsing (COSE_Sign1, headers, CWT
//! claims) and signature verification must never panic, whatever the bytes.
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
    if let Ok(s) = scitt::SignedStatement::parse(data) {
        let _ = s.verify(key());
        let _ = s.verify_detached(key(), data);
        let _ = s.check_preimage(data);
        let _ = scitt::verify_many(&[(&s, key())]);
    }
    let _ = scitt::attach_receipts(data, &[data.to_vec()]);
});
