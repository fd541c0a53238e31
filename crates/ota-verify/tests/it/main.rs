//! The device verifier against a real (in-memory) log: one test per attack.

mod fixture;

use fixture::{Fixture, Release};
use ota_verify::{digest_image, verify, Options, Refusal, TrustState};

const NOW: u64 = 1_780_000_000;

fn check(_: &Fixture, image: &[u8], bundle: &[u8], state: &TrustState) -> Result<u64, Refusal> {
    verify(&digest_image(image), bundle, state, &Options::default()).map(|a| a.release_counter)
}

#[test]
fn accepts_a_released_image_and_returns_the_state_to_persist() {
    let mut f = Fixture::new();
    let state = f.state();
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    f.filler(9);
    let bundle = f.bundle(m, &[], &state);
    let image = f.image(b"fixed image");
    let a = verify(&digest_image(&image), &bundle, &state, &Options::default()).unwrap();
    assert_eq!((a.version.as_str(), a.release_counter), ("2.5.0", 5));
    assert_eq!(a.manifest_entry, m);
    assert_eq!(a.state.release_counter, 5);
    assert_eq!(a.state.version, "2.5.0");
    assert_eq!(a.state.min_version.as_deref(), Some("2.4.0"));
    assert_ne!(a.state.checkpoint, state.checkpoint);
    // The persisted state reads back the same.
    assert_eq!(TrustState::parse(&a.state.to_json()).unwrap(), a.state);
    // The same bundle again under the new state: the same release, accepted
    // (a reinstall), and the checkpoint did not move.
    let again = f.bundle(m, &[], &a.state);
    assert_eq!(check(&f, &image, &again, &a.state), Ok(5));
}

#[test]
fn wrong_image_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let bundle = f.bundle(m, &[], &state);
    let other = f.image(b"fixed imagf");
    assert_eq!(
        check(&f, &other, &bundle, &state),
        Err(Refusal::WrongImage { what: "SHA-256" })
    );
    let longer = f.image(b"fixed image!");
    assert_eq!(
        check(&f, &longer, &bundle, &state),
        Err(Refusal::WrongImage { what: "length" })
    );
    // A SHA-512 that disagrees with the SHA-256 (a collision in one hash).
    let mut d = digest_image(&f.image(b"fixed image"));
    d.sha512 = Some([7; 64]);
    assert_eq!(
        verify(&d, &bundle, &state, &Options::default()).map(|_| ()),
        Err(Refusal::WrongImage { what: "SHA-512" })
    );
}

#[test]
fn image_for_other_hardware_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let mut r = Release::new("2.5.0", b"fixed image", 5);
    r.hardware_ids = vec!["dc-200-rev-b".into()];
    let m = f.release(&r);
    let bundle = f.bundle(m, &[], &state);
    assert_eq!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::OtherHardware {
            hardware_id: "dc-200-rev-a".into()
        })
    );
}

#[test]
fn rollback_to_an_older_release_is_refused() {
    let mut f = Fixture::new();
    let old = f.release(&Release::new("2.4.1", b"vulnerable image", 4));
    let state = f.state();
    let fixed = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let a = verify(
        &digest_image(&f.image(b"fixed image")),
        &f.bundle(fixed, &[], &state),
        &state,
        &Options::default(),
    )
    .unwrap();
    // The vulnerable release is still genuinely in the log, signed and witnessed.
    let bundle = f.bundle(old, &[], &a.state);
    assert_eq!(
        check(&f, &f.image(b"vulnerable image"), &bundle, &a.state),
        Err(Refusal::Rollback {
            current: 5,
            offered: 4
        })
    );
}

#[test]
fn version_below_the_minimum_is_refused_even_with_a_higher_counter() {
    let mut f = Fixture::new();
    let mut state = f.state();
    state.min_version = Some("2.4.0".into());
    let m = f.release(&Release::new("2.3.9", b"old branch", 9));
    let bundle = f.bundle(m, &[], &state);
    assert_eq!(
        check(&f, &f.image(b"old branch"), &bundle, &state),
        Err(Refusal::BelowMinimum {
            minimum: "2.4.0".into(),
            offered: "2.3.9".into()
        })
    );
}

#[test]
fn stale_checkpoint_is_refused() {
    let mut f = Fixture::new();
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let stale = f.checkpoint_at(f.size(), NOW);
    f.filler(20);
    let state = f.state();
    let bundle = f.bundle_under(m, &[], &state, &stale, None);
    assert_eq!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::StaleCheckpoint {
            accepted: f.size(),
            offered: m + 1
        })
    );
}

#[test]
fn forked_log_is_refused() {
    let mut f = Fixture::new();
    f.filler(5);
    let mut state = f.state();
    // A split view: the same log key signed another tree of the same size
    // for this device (the state holds it), then the honest tree grew.
    let accepted = f.size();
    state.checkpoint = f.fork_checkpoint(accepted);
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let bundle = f.bundle(m, &[], &state);
    assert_eq!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::Forked {
            accepted,
            offered: f.size()
        })
    );
    // Same size, other root: a fork too.
    let mut same = f.state();
    same.checkpoint = f.fork_checkpoint(f.size());
    let bundle = f.bundle(m, &[], &same);
    assert_eq!(
        check(&f, &f.image(b"fixed image"), &bundle, &same),
        Err(Refusal::Forked {
            accepted: f.size(),
            offered: f.size()
        })
    );
}

#[test]
fn frozen_log_is_refused_by_a_device_with_a_clock() {
    let mut f = Fixture::new();
    let state = f.state();
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let week_ago = f.checkpoint_at(f.size(), NOW - 8 * 24 * 3600);
    let bundle = f.bundle_under(m, &[], &state, &week_ago, None);
    let options = Options {
        now_unix_secs: Some(NOW),
        ..Options::default()
    };
    let image = digest_image(&f.image(b"fixed image"));
    assert_eq!(
        verify(&image, &bundle, &state, &options).map(|_| ()),
        Err(Refusal::Frozen {
            age_secs: 8 * 24 * 3600,
            max_secs: 7 * 24 * 3600
        })
    );
    // Without a clock the device cannot tell, and accepts.
    assert!(verify(&image, &bundle, &state, &Options::default()).is_ok());
}

#[test]
fn missing_witness_quorum_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let one_witness = f.checkpoint_with(f.size(), NOW, 1, false);
    let bundle = f.bundle_under(m, &[], &state, &one_witness, None);
    assert_eq!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::QuorumNotMet)
    );
    let other_log = f.checkpoint_with(f.size(), NOW, 2, true);
    let bundle = f.bundle_under(m, &[], &state, &other_log, None);
    assert!(matches!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::CheckpointNotSigned(_))
    ));
}

#[test]
fn manifest_signed_with_an_unregistered_key_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let rogue = f.rogue_key();
    let m = f.release_signed(&Release::new("2.5.0", b"fixed image", 5), &rogue);
    let bundle = f.bundle(m, &[], &state);
    assert!(matches!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::UnregisteredKey { entry, .. }) if entry == m
    ));
}

#[test]
fn key_rotation_is_followed_and_a_revoked_key_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let old_key = f.manufacturer_key();
    let new_key = f.rogue_key();
    // Acme adds a new key (signed by its old one), then revokes the old one.
    let added = f.key_added(&old_key, &new_key);
    let revoked = f.key_revoked(&new_key, &old_key);
    // A manifest signed with the new key: accepted, and the state learns it.
    let good = f.release_signed(&Release::new("2.5.0", b"fixed image", 5), &new_key);
    let bundle = f.bundle(good, &[added, revoked], &state);
    let a = verify(
        &digest_image(&f.image(b"fixed image")),
        &bundle,
        &state,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(a.key_events, 2);
    assert_eq!(a.state.keys.len(), 3, "Acme's two keys and the authority's");
    assert_eq!(a.state.keys[0].revoked, Some(revoked));
    // A manifest signed with the revoked key after its revocation: refused,
    // whether the device learns the revocation now or already knew it.
    let bad = f.release_signed(&Release::new("2.6.0", b"evil image", 6), &old_key);
    let bundle = f.bundle(bad, &[added, revoked], &state);
    assert!(matches!(
        check(&f, &f.image(b"evil image"), &bundle, &state),
        Err(Refusal::RevokedKey { revoked: r, .. }) if r == revoked
    ));
    let bundle = f.bundle(bad, &[], &a.state);
    assert!(matches!(
        check(&f, &f.image(b"evil image"), &bundle, &a.state),
        Err(Refusal::RevokedKey { .. })
    ));
    // Without the key events, the new key is unknown to the old state.
    let bundle = f.bundle(good, &[], &state);
    assert!(matches!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::UnregisteredKey { .. })
    ));
}

#[test]
fn key_event_by_someone_who_may_not_manage_the_key_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let rogue = f.rogue_key();
    // The rogue key "adds itself" to Acme, signed by itself.
    let added = f.key_added(&rogue, &rogue);
    let m = f.release_signed(&Release::new("2.5.0", b"fixed image", 5), &rogue);
    let bundle = f.bundle(m, &[added], &state);
    assert!(matches!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::UnregisteredKey {
            what: "a key event",
            ..
        })
    ));
    // The registry authority may add a key for Acme.
    let authority = f.authority_key();
    let added = f.key_added_by_authority(&authority, &rogue);
    let m = f.release_signed(&Release::new("2.5.0", b"fixed image", 5), &rogue);
    let bundle = f.bundle(m, &[added], &state);
    assert_eq!(check(&f, &f.image(b"fixed image"), &bundle, &state), Ok(5));
}

#[test]
fn mix_and_match_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let a = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let b = f.release(&Release::new("2.6.0", b"newer image", 6));
    // Manifest A's statement with manifest B's inclusion proof.
    let bundle = f.bundle_swapped(a, b, &state);
    assert_eq!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::NotIncluded {
            what: "the manifest",
            entry: b
        })
    );
    // A genuine manifest of another model of the same manufacturer.
    let mut r = Release::new("9.0.0", b"camera image", 50);
    r.model = "model:acme/CAM-1".into();
    let c = f.release(&r);
    let bundle = f.bundle(c, &[], &state);
    assert_eq!(
        check(&f, &f.image(b"camera image"), &bundle, &state),
        Err(Refusal::OtherModel {
            expected: "model:acme/DC-200".into(),
            got: "model:acme/CAM-1".into()
        })
    );
    // A key event proven under another checkpoint than the manifest.
    let new_key = f.rogue_key();
    let added = f.key_added(&f.manufacturer_key(), &new_key);
    let m = f.release_signed(&Release::new("2.7.0", b"next image", 7), &new_key);
    let earlier = f.checkpoint_at(m, NOW);
    let bundle = f.bundle_with_event_under(m, added, &state, &earlier);
    assert_eq!(
        check(&f, &f.image(b"next image"), &bundle, &state),
        Err(Refusal::MixedCheckpoints { entry: added })
    );
}

#[test]
fn a_statement_that_is_not_a_manifest_is_refused() {
    let mut f = Fixture::new();
    let state = f.state();
    let mut r = Release::new("2.5.0", b"fixed image", 5);
    r.legacy = true; // no length, counter or hardware ids
    let m = f.release(&r);
    let bundle = f.bundle(m, &[], &state);
    assert!(matches!(
        check(&f, &f.image(b"fixed image"), &bundle, &state),
        Err(Refusal::NotAManifest(_))
    ));
}

#[test]
fn malformed_bundles_get_their_own_errors() {
    let mut f = Fixture::new();
    let state = f.state();
    let m = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let good: serde_json::Value = serde_json::from_slice(&f.bundle(m, &[], &state)).unwrap();
    let image = f.image(b"fixed image");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", b"".to_vec(), "malformed"),
        ("not json", b"\x00\x01".to_vec(), "malformed"),
        (
            "too large",
            vec![b' '; ota_verify::BUNDLE_BYTES_MAX + 1],
            "at most",
        ),
        (
            "other format",
            edit(&good, |v| v["format"] = "x/1".into()),
            "format",
        ),
        (
            "unknown field",
            edit(&good, |v| v["extra"] = 1.into()),
            "unknown field",
        ),
        (
            "statement not base64",
            edit(&good, |v| v["manifest"]["statement"] = "%%%".into()),
            "base64",
        ),
        (
            "proof not a tlog-proof",
            edit(&good, |v| v["manifest"]["proof"] = "hello".into()),
            "tlog-proof",
        ),
        (
            "consistency from another size",
            edit(&good, |v| v["consistency"]["from"] = 3.into()),
            "built for a device whose checkpoint has size 3",
        ),
    ];
    for (name, bytes, want) in cases {
        let got = verify(&digest_image(&image), &bytes, &state, &Options::default());
        let msg = got.expect_err(name).to_string();
        assert!(msg.contains(want), "{name}: {msg}");
    }
}

fn edit(v: &serde_json::Value, f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v = v.clone();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// Writes a release, a rollback and the states to `$OTA_FIXTURE_OUT` (when
/// set) for the C ABI check (`tests-device/run.sh`), after checking in Rust
/// what the C program must answer.
#[test]
fn exports_an_update_and_a_rollback_for_the_c_abi_check() {
    let mut f = Fixture::new();
    let old = f.release(&Release::new("2.4.1", b"vulnerable image", 4));
    let state = f.state();
    let fixed = f.release(&Release::new("2.5.0", b"fixed image", 5));
    let bundle = f.bundle(fixed, &[], &state);
    let a = verify(
        &digest_image(b"fixed image"),
        &bundle,
        &state,
        &Options::default(),
    )
    .unwrap();
    let rollback = f.bundle(old, &[], &a.state);
    assert_eq!(
        check(&f, b"vulnerable image", &rollback, &a.state).map_err(|r| r.code()),
        Err(21)
    );
    assert_eq!(
        check(&f, b"vulnerable image", &bundle, &state).map_err(|r| r.code()),
        Err(19)
    );
    let Some(dir) = std::env::var_os("OTA_FIXTURE_OUT") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in [
        ("fixed.bin", b"fixed image".to_vec()),
        ("vulnerable.bin", b"vulnerable image".to_vec()),
        ("state.json", state.to_json()),
        ("bundle-fixed.json", bundle),
        ("expected-state.json", a.state.to_json()),
        ("bundle-rollback.json", rollback),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
