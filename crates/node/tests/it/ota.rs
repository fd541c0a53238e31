//! Secure updates end to end on the production application: Acme's release
//! manifests, a device provisioned from `/api/v1/ota/state`, bundles from
//! `/api/v1/ota/bundle` checked by the device's own verifier (`ota-verify`),
//! across a key rotation, a rollback and a withdrawal.

use node::testing::TestNode;
use ota_verify::{digest_image, verify, Options, Refusal, TrustState};
use scitt::{Algorithm, SigningKey};
use serde_json::{json, Value};

use crate::twin_api::{scenario, start, Node};

const MODEL: &str = "model:acme/DC-200";

fn manifest(version: &str, image: &[u8], counter: u64) -> Value {
    let d = digest_image(image);
    json!({
        "type": "firmware-released",
        "version": version,
        "image_sha256": hex::encode(d.sha256),
        "image_sha512": hex::encode(d.sha512.unwrap()),
        "image_length": d.length,
        "hardware_ids": ["dc200-a", "dc200-b"],
        "release_counter": counter,
        "min_version": "2.0.0",
        "support_end": "2031-06-30",
    })
}

async fn get_bytes(node: &Node, path: &str) -> (u16, Vec<u8>) {
    let r = node.get_response(path, None).await;
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn size(state: &TrustState) -> u64 {
    let note = tlog::Note::parse(state.checkpoint.as_bytes()).unwrap();
    tlog::Checkpoint::parse_text(note.text())
        .unwrap()
        .size()
        .get()
}

async fn bundle(node: &Node, version: &str, state: &TrustState) -> Vec<u8> {
    let (status, body) = get_bytes(
        node,
        &format!(
            "/api/v1/ota/bundle?model=acme/DC-200&version={version}&from={}",
            size(state)
        ),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

/// Waits until the published checkpoint covers `entry` (a bundle is built
/// at the published checkpoint).
async fn published(node: &Node, entry: u64) {
    for _ in 0..100 {
        if node.log.published().size.get() > entry {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("entry {entry} not published");
}

#[tokio::test]
async fn a_device_updates_across_a_key_rotation_and_refuses_a_rollback() {
    let mut node = start().await;
    scenario(&mut node).await;
    let vulnerable = node
        .register("acme.test", MODEL, &manifest("2.4.1", b"vulnerable", 4))
        .await;
    published(&node, vulnerable).await;

    // Provisioning, as a factory would.
    let (status, body) = get_bytes(
        &node,
        "/api/v1/ota/state?model=acme/DC-200&hardware_id=dc200-a&running=2.4.1",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let state = TrustState::parse(&body).unwrap();
    assert_eq!(state.manufacturer, "acme.test");
    assert_eq!(state.release_counter, 4);
    assert!(state.policy.starts_with("log "), "{}", state.policy);
    assert!(state
        .keys
        .iter()
        .any(|k| k.owner == ota_verify::KeyOwner::Manufacturer));

    // Acme rotates its key, then releases the fix with the new one.
    let old = SigningKey::from_pem(&node.keys["acme.test"].to_pem()).unwrap();
    let new = SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let added = node
        .test
        .register_signed(TestNode::sign(
            "acme.test",
            &old,
            "stakeholder:acme.test",
            &json!({"type": "key-added", "key": {"pem": new.public_key().to_pem()}}),
        ))
        .await;
    let revoked = node
        .test
        .register_signed(TestNode::sign(
            "acme.test",
            &new,
            "stakeholder:acme.test",
            &json!({"type": "key-revoked", "kid": hex::encode(old.public_key().thumbprint())}),
        ))
        .await;
    let fixed = node
        .test
        .register_signed(TestNode::sign(
            "acme.test",
            &new,
            MODEL,
            &manifest("2.5.0", b"fixed", 5),
        ))
        .await;
    published(&node, fixed).await;

    let b = bundle(&node, "2.5.0", &state).await;
    let a = verify(&digest_image(b"fixed"), &b, &state, &Options::default()).unwrap();
    assert_eq!((a.version.as_str(), a.key_events), ("2.5.0", 2));
    assert_eq!(a.manifest_entry, fixed);
    let rotated: Vec<_> = a.state.keys.iter().map(|k| (k.added, k.revoked)).collect();
    assert!(rotated.contains(&(added, None)), "{rotated:?}");
    assert!(
        rotated.iter().any(|(_, r)| *r == Some(revoked)),
        "{rotated:?}"
    );
    // The wrong image with the right bundle.
    assert_eq!(
        verify(&digest_image(b"fixeD"), &b, &state, &Options::default()).map(|_| ()),
        Err(Refusal::WrongImage { what: "SHA-256" })
    );

    // The vulnerable release is genuine, but a rollback for the new state.
    let b = bundle(&node, "2.4.1", &a.state).await;
    assert_eq!(
        verify(
            &digest_image(b"vulnerable"),
            &b,
            &a.state,
            &Options::default()
        )
        .map(|_| ()),
        Err(Refusal::Rollback {
            current: 5,
            offered: 4
        })
    );

    // Withdrawn: no bundle any more, and the releases say so.
    let withdrawn = node
        .test
        .register_signed(TestNode::sign(
            "acme.test",
            &new,
            MODEL,
            &json!({"type": "firmware-withdrawn", "version": "2.5.0", "reason": "bricks rev-b boards"}),
        ))
        .await;
    published(&node, withdrawn).await;
    let (status, body) = get_bytes(
        &node,
        &format!(
            "/api/v1/ota/bundle?model=acme/DC-200&version=2.5.0&from={}",
            size(&state)
        ),
    )
    .await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("withdrawn"));
    let (status, releases) = node
        .get("/api/v1/ota/releases?model=acme/DC-200", None)
        .await;
    assert_eq!(status, 200);
    let list = releases["releases"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["withdrawn"], json!(withdrawn));
    assert_eq!(list[1]["support_end"], "2031-06-30");
    assert_eq!(list[0]["installable"], true);
}

#[tokio::test]
async fn release_manifests_are_checked_when_registered_and_bad_queries_refused() {
    let mut node = start().await;
    scenario(&mut node).await;
    node.register("acme.test", MODEL, &manifest("2.4.1", b"a", 4))
        .await;
    // A counter that does not grow is refused by the twin's rules.
    let again = node.sign("acme.test", MODEL, &manifest("2.4.2", b"b", 4));
    let refused = node.scitt.register(again).await.map(|_| ()).unwrap_err();
    assert!(refused.to_string().contains("does not grow"), "{refused}");
    // Malformed fields.
    for (payload, want) in [
        (
            json!({"type":"firmware-released","version":"3","image_sha256":"00".repeat(32),"image_length":1,"image_sha512":"zz"}),
            "image_sha512",
        ),
        (
            json!({"type":"firmware-released","version":"3","image_sha256":"00".repeat(32),"support_end":"2031-13-01"}),
            "support_end",
        ),
        (
            json!({"type":"firmware-released","version":"3","image_sha256":"short","release_counter":9}),
            "image_sha256",
        ),
    ] {
        let s = node.sign("acme.test", MODEL, &payload);
        let e = node.scitt.register(s).await.map(|_| ()).unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    // Only the releaser withdraws.
    let s = node.sign(
        "vista.test",
        MODEL,
        &json!({"type":"firmware-withdrawn","version":"2.4.1"}),
    );
    assert!(node.scitt.register(s).await.is_err());
    // A legacy release (no manifest fields) is listed, not installable.
    let legacy = node
        .register(
            "acme.test",
            MODEL,
            &json!({"type":"firmware-released","version":"1.0.0","image_sha256":"11".repeat(32)}),
        )
        .await;
    published(&node, legacy).await;
    for (path, want_status, want) in [
        (
            "/api/v1/ota/bundle?model=acme/DC-200&version=1.0.0&from=1".to_string(),
            409,
            "not a release manifest",
        ),
        (
            "/api/v1/ota/bundle?model=acme/DC-200&version=9.9.9&from=1".into(),
            404,
            "no release",
        ),
        (
            "/api/v1/ota/bundle?model=acme/DC-200&version=2.4.1&from=99999999".into(),
            400,
            "beyond the published checkpoint",
        ),
        (
            "/api/v1/ota/bundle?model=acme/DC-200&version=2.4.1".into(),
            400,
            "from",
        ),
        (
            "/api/v1/ota/bundle?model=acme/DC-200&version=2.4.1&from=1&x=2".into(),
            400,
            "x",
        ),
        (
            "/api/v1/ota/state?model=acme/DC-200&hardware_id=".into(),
            400,
            "hardware_id",
        ),
        (
            "/api/v1/ota/state?model=nobody/X&hardware_id=h".into(),
            404,
            "no release",
        ),
        ("/api/v1/ota/releases?model=".into(), 400, "model"),
    ] {
        let (status, body) = get_bytes(&node, &path).await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, want_status, "{path}: {text}");
        assert!(text.contains(want), "{path}: {text}");
    }
}

/// `GET /api/v1/firmware/{sha256}`: the release and the devices running the
/// image, each with a proof that checks under the log's policy; devices
/// only as the caller may see them.
#[tokio::test]
async fn a_firmware_lookup_proves_the_release_and_the_devices_running_it() {
    let mut node = start().await;
    scenario(&mut node).await;
    let d = digest_image(b"door image 2.5.0");
    let sha = hex::encode(d.sha256);
    let release = node
        .register(
            "acme.test",
            MODEL,
            &manifest("2.5.0", b"door image 2.5.0", 5),
        )
        .await;
    let installed = node
        .register(
            "op.test",
            "device:door-1",
            &json!({"type":"firmware-installed","version":"2.5.0","image_sha256":sha}),
        )
        .await;
    published(&node, installed).await;
    let op = node.token("op.test").await;
    let (status, v) = node
        .get(&format!("/api/v1/firmware/{sha}"), Some(&op))
        .await;
    assert_eq!(status, 200, "{v}");
    let lookup: api_types::ota::FirmwareLookup = serde_json::from_value(v).unwrap();
    assert_eq!(lookup.releases.len(), 1);
    let r = &lookup.releases[0];
    assert_eq!(
        (r.release.entry, r.release.version.as_str()),
        (release, "2.5.0")
    );
    assert_eq!(r.release.support_end.as_deref(), Some("2031-06-30"));
    assert!(!r.support_ended);
    assert_eq!(lookup.devices.len(), 1);
    assert_eq!(lookup.devices[0].device, "device:door-1");
    assert_eq!(lookup.devices[0].entry, installed);
    assert!(lookup.devices[0].current);
    let policy = tlog::Policy::parse(&lookup.policy).unwrap();
    for (p, entry) in [(&r.proof, release), (&lookup.devices[0].proof, installed)] {
        let proven = ota_verify::ProvenStatement {
            statement: p.statement.clone(),
            proof: p.proof.clone(),
        };
        assert_eq!(proven.verify(&policy).unwrap().0, entry);
        // A proof does not carry another statement.
        let mut forged = proven.clone();
        forged.statement = r.proof.statement.clone();
        if entry != release {
            assert!(matches!(
                forged.verify(&policy),
                Err(Refusal::NotIncluded { .. })
            ));
        }
    }
    // Anonymous: the release, not the door.
    let (status, v) = node.get(&format!("/api/v1/firmware/{sha}"), None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["releases"].as_array().unwrap().len(), 1);
    assert_eq!(v["devices"].as_array().unwrap().len(), 0);
    // Not a digest; an unknown parameter.
    assert_eq!(node.get("/api/v1/firmware/abc", None).await.0, 400);
    assert_eq!(
        node.get(&format!("/api/v1/firmware/{sha}?x=1"), None)
            .await
            .0,
        400
    );
}
