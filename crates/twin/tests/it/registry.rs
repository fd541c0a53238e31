//! The stakeholder registry in the log, through `Projection::ingest` with
//! real signatures: bootstrap, registration by the authority only, key
//! rotation and revocation effective at their log position, validity
//! periods against the statement's `iat`, device keys, and organization
//! roles. Each step is a row: who signs, as whom, about what, and the outcome.

use scitt::{Algorithm, SigningKey, StatementBuilder};
use twin::ingest::IngestError;
use twin::registry::RegistryError;
use twin::{ApplyError, ConsensusPolicy, Projection};

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg, &mut rand_core::OsRng)
}

fn pem(k: &SigningKey) -> String {
    serde_json::Value::String(k.public_key().to_pem()).to_string()
}

fn kid_hex(k: &SigningKey) -> String {
    hex(&k.public_key().thumbprint())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What a row expects.
enum Expect {
    Applied(&'static str),
    Refused(fn(&IngestError) -> bool),
}

struct Row {
    signer: usize,
    issuer: &'static str,
    subject: &'static str,
    payload: String,
    iat: Option<i64>,
    expect: Expect,
}

#[test]
fn the_registry_follows_the_log() {
    // Keys: 0 authority, 1 acme (first), 2 acme (rotated in), 3 operator,
    // 4 door's own key, 5 an unregistered key, 6 acme's time-boxed key.
    let keys: Vec<SigningKey> = vec![
        key(Algorithm::EdDSA),
        key(Algorithm::EdDSA),
        key(Algorithm::ES256),
        key(Algorithm::ES256),
        key(Algorithm::EdDSA),
        key(Algorithm::EdDSA),
        key(Algorithm::EdDSA),
    ];
    let reg = |name: &str, roles: &str, k: usize| {
        format!(
            r#"{{"type":"stakeholder-registered","name":"{name}","roles":{roles},"keys":[{{"pem":{}}}]}}"#,
            pem(&keys[k])
        )
    };
    use Expect::*;
    let rows = vec![
        // Before the bootstrap nobody is known.
        Row { signer: 1, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1"}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Key(RegistryError::UnknownIssuer(_)))) },
        // The bootstrap: self-registration signed by a key it lists.
        Row { signer: 0, issuer: "authority.example", subject: "stakeholder:authority.example",
              payload: reg("Authority", "[]", 0), iat: None, expect: Applied("stakeholder-registered") },
        // A second self-registration is not a bootstrap any more.
        Row { signer: 3, issuer: "op.example", subject: "stakeholder:op.example",
              payload: reg("Op", r#"["operator"]"#, 3), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Key(RegistryError::UnknownIssuer(_)))) },
        Row { signer: 0, issuer: "authority.example", subject: "stakeholder:acme.example",
              payload: reg("Acme", r#"["manufacturer"]"#, 1), iat: None, expect: Applied("stakeholder-registered") },
        Row { signer: 0, issuer: "authority.example", subject: "stakeholder:op.example",
              payload: reg("Op", r#"["operator"]"#, 3), iat: None, expect: Applied("stakeholder-registered") },
        // Registered twice.
        Row { signer: 0, issuer: "authority.example", subject: "stakeholder:op.example",
              payload: reg("Op", r#"["operator"]"#, 5), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Apply(ApplyError::Registry(RegistryError::AlreadyRegistered(_))))) },
        // Only the authority registers stakeholders.
        Row { signer: 1, issuer: "acme.example", subject: "stakeholder:evil.example",
              payload: reg("Evil", r#"["manufacturer"]"#, 5), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Apply(ApplyError::Registry(RegistryError::NotAuthority { .. }))) ) },
        // A manufacturer registers a device with its own key.
        Row { signer: 1, issuer: "acme.example", subject: "device:door-1",
              payload: format!(r#"{{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1","device_key":{}}}"#, pem(&keys[4])), iat: None,
              expect: Applied("device-registered") },
        // An operator is no manufacturer.
        Row { signer: 3, issuer: "op.example", subject: "device:door-2",
              payload: r#"{"type":"device-registered","manufacturer":"Op","model":"X","serial":"2"}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Apply(ApplyError::NotAManufacturer(_)))) },
        // The device signs with its own key...
        Row { signer: 4, issuer: "device:door-1", subject: "device:door-1",
              payload: r#"{"type":"configuration-reported","config_sha256":"aa"}"#.into(), iat: None,
              expect: Applied("configuration-reported") },
        // ...and nobody else can speak as the device.
        Row { signer: 5, issuer: "device:door-1", subject: "device:door-1",
              payload: r#"{"type":"configuration-reported","config_sha256":"bb"}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::DeviceKey { .. })) },
        // A key nobody registered.
        Row { signer: 5, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"vulnerability-assessment","vulnerability":"CVE-1","status":"not_affected"}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Key(RegistryError::UnknownKey { .. }))) },
        // Another stakeholder may not manage Acme's keys.
        Row { signer: 3, issuer: "op.example", subject: "stakeholder:acme.example",
              payload: format!(r#"{{"type":"key-added","key":{{"pem":{}}}}}"#, pem(&keys[5])), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Apply(ApplyError::Registry(RegistryError::NotKeyManager { .. }))) ) },
        // Rotation: Acme adds key 2, signed with key 1...
        Row { signer: 1, issuer: "acme.example", subject: "stakeholder:acme.example",
              payload: format!(r#"{{"type":"key-added","key":{{"pem":{}}}}}"#, pem(&keys[2])), iat: None,
              expect: Applied("key-added") },
        Row { signer: 2, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"vulnerability-assessment","vulnerability":"CVE-1","status":"under_investigation"}"#.into(), iat: None,
              expect: Applied("vulnerability-assessment") },
        // ...then revokes key 1 with key 2.
        Row { signer: 2, issuer: "acme.example", subject: "stakeholder:acme.example",
              payload: format!(r#"{{"type":"key-revoked","kid":"{}","reason":"rotated"}}"#, kid_hex(&keys[1])), iat: None,
              expect: Applied("key-revoked") },
        Row { signer: 1, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"vulnerability-assessment","vulnerability":"CVE-1","status":"not_affected"}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Key(RegistryError::Revoked { .. }))) },
        // A key valid from 1000 to 2000 (statement iat).
        Row { signer: 2, issuer: "acme.example", subject: "stakeholder:acme.example",
              payload: format!(r#"{{"type":"key-added","key":{{"pem":{},"not_before":1000,"not_after":2000}}}}"#, pem(&keys[6])), iat: None,
              expect: Applied("key-added") },
        Row { signer: 6, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"vulnerability-assessment","vulnerability":"CVE-2","status":"affected"}"#.into(), iat: Some(1500),
              expect: Applied("vulnerability-assessment") },
        Row { signer: 6, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"vulnerability-assessment","vulnerability":"CVE-3","status":"affected"}"#.into(), iat: Some(2500),
              expect: Refused(|e| matches!(e, IngestError::Key(RegistryError::OutsideValidity { .. }))) },
        Row { signer: 6, issuer: "acme.example", subject: "device:door-1",
              payload: r#"{"type":"vulnerability-assessment","vulnerability":"CVE-3","status":"affected"}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Key(RegistryError::OutsideValidity { .. }))) },
        // A sharing policy is its owner's to publish.
        Row { signer: 3, issuer: "op.example", subject: "stakeholder:acme.example",
              payload: r#"{"type":"sharing-policy","policy":{"id":"p","grants":[]}}"#.into(), iat: None,
              expect: Refused(|e| matches!(e, IngestError::Apply(ApplyError::Policy(_)))) },
        Row { signer: 2, issuer: "acme.example", subject: "stakeholder:acme.example",
              payload: r#"{"type":"sharing-policy","policy":{"id":"p","grants":[]}}"#.into(), iat: None,
              expect: Applied("sharing-policy") },
    ];
    let n = rows.len();
    let mut p = Projection::new(ConsensusPolicy::default());
    let mut log = Vec::new();
    for (entry, row) in rows.iter().enumerate() {
        let mut b = StatementBuilder::new(row.issuer, row.subject, row.payload.as_bytes())
            .content_type("application/json");
        if let Some(t) = row.iat {
            b = b.issued_at(t);
        }
        let bytes = b.sign(&keys[row.signer]);
        let result = p.ingest(entry as u64, &bytes);
        match (&row.expect, &result) {
            (Expect::Applied(kind), Ok(Some(a))) => assert_eq!(a.kind, *kind, "row {entry}"),
            (Expect::Refused(f), Err(e)) => assert!(f(e), "row {entry}: unexpected refusal {e}"),
            (_, other) => panic!("row {entry} ({}): unexpected {other:?}", row.payload),
        }
        log.push(bytes);
    }
    println!("registry rows: {n}");
    assert_eq!(p.meta().size, n as u64);
    // History is not rewritten: the assessment signed with key 1 before its
    // revocation still stands.
    let acme = p
        .registry()
        .get(&twin::StakeholderId("acme.example".into()))
        .expect("acme");
    assert_eq!(acme.keys.len(), 3);
    assert!(acme.keys[0].revoked_at.is_some());
    // Reindex: the same entries give the same registry and twins.
    let mut again = Projection::new(ConsensusPolicy::default());
    for (i, bytes) in log.iter().enumerate() {
        let _ = again.ingest(i as u64, bytes);
    }
    assert_eq!(
        serde_json::to_string(&again.meta().registry).expect("json"),
        serde_json::to_string(&p.meta().registry).expect("json")
    );
    let door = twin::DeviceId::new("door-1").expect("device id");
    assert_eq!(
        serde_json::to_string(&again.view(&door)).expect("json"),
        serde_json::to_string(&p.view(&door)).expect("json")
    );
    // An entry that is not a signed statement is skipped, not refused.
    assert!(matches!(p.ingest(n as u64, b"raw bytes"), Ok(None)));
    assert_eq!(p.meta().refused, again.meta().refused);
}
