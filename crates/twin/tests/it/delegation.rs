//! Delegation: the registry authority (the service) signs a statement on a
//! stakeholder's behalf with `"on_behalf_of"` in the payload. The projection
//! accepts it only from the authority, only for a registered stakeholder and
//! never for registry statements; the stakeholder is then the effective
//! issuer for every check (roles, consensus, sharing) and the claim records
//! who signed it. Asset events (a built-in type) update the twin's asset attributes, and a
//! replay of the same entries gives the same twins.

use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::json;
use twin::ingest::IngestError;
use twin::{ApplyError, DeviceId, Projection, StakeholderId};

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng)
}

fn reg(name: &str, roles: &[&str], k: &SigningKey) -> serde_json::Value {
    json!({"type": "stakeholder-registered", "name": name, "roles": roles,
           "keys": [{"pem": k.public_key().to_pem()}]})
}

struct Log {
    entries: Vec<Vec<u8>>,
    p: Projection,
}

impl Log {
    fn add(
        &mut self,
        k: &SigningKey,
        iss: &str,
        sub: &str,
        payload: serde_json::Value,
    ) -> Result<Option<twin::projection::Applied>, IngestError> {
        let bytes = StatementBuilder::new(iss, sub, payload.to_string().as_bytes())
            .content_type("application/json")
            .sign(k);
        let entry = self.entries.len() as u64;
        self.entries.push(bytes.clone());
        self.p.ingest(entry, &bytes)
    }
}

const AUTH: &str = "authority.example";
const ACME: &str = "acme.example";
const OP: &str = "op.example";

/// A log with the authority, Acme (manufacturer) and Op (operator)
/// registered; answers it with their keys.
fn registry() -> (Log, SigningKey, SigningKey, SigningKey) {
    let (ka, kacme, kop) = (key(), key(), key());
    let mut log = Log {
        entries: Vec::new(),
        p: crate::with_asset_events(),
    };
    let stake = |s: &str| format!("stakeholder:{s}");
    log.add(&ka, AUTH, &stake(AUTH), reg("Authority", &[], &ka))
        .unwrap();
    log.add(
        &ka,
        AUTH,
        &stake(ACME),
        reg("Acme", &["manufacturer"], &kacme),
    )
    .unwrap();
    log.add(&ka, AUTH, &stake(OP), reg("Op", &["operator"], &kop))
        .unwrap();
    (log, ka, kacme, kop)
}

#[test]
fn the_authority_signs_for_a_stakeholder_and_only_it() {
    let (mut log, ka, kacme, kop) = registry();
    let stake = |s: &str| format!("stakeholder:{s}");
    let dev = "device:assets/5f1c";
    let registered = json!({"type": "device-registered", "manufacturer": "Acme",
        "model": "door", "serial": "5f1c", "on_behalf_of": ACME});

    // A stakeholder cannot sign for another one.
    let e = log.add(&kop, OP, dev, registered.clone()).unwrap_err();
    assert!(
        matches!(&e, IngestError::Apply(ApplyError::Delegation(m)) if m.contains("only the registry authority")),
        "{e}"
    );
    // The authority cannot sign for someone unregistered.
    let mut ghost = registered.clone();
    ghost["on_behalf_of"] = json!("ghost.example");
    let e = log.add(&ka, AUTH, dev, ghost).unwrap_err();
    assert!(
        matches!(&e, IngestError::Apply(ApplyError::Delegation(m)) if m.contains("not a registered")),
        "{e}"
    );
    // Nor register stakeholders as someone else.
    let mut as_acme = reg("Other", &[], &kop);
    as_acme["on_behalf_of"] = json!(ACME);
    let e = log
        .add(&ka, AUTH, &stake("other.example"), as_acme)
        .unwrap_err();
    assert!(
        matches!(&e, IngestError::Apply(ApplyError::Delegation(_))),
        "{e}"
    );
    // The operator is not a manufacturer: delegation does not lend roles.
    let mut as_op = registered.clone();
    as_op["on_behalf_of"] = json!(OP);
    let e = log.add(&ka, AUTH, dev, as_op).unwrap_err();
    assert!(
        matches!(&e, IngestError::Apply(ApplyError::NotAManufacturer(w)) if w == OP),
        "{e}"
    );
    // A malformed on_behalf_of is a parse error.
    let mut bad = registered.clone();
    bad["on_behalf_of"] = json!(7);
    assert!(log.add(&ka, AUTH, dev, bad).is_err());

    // For Acme: Acme is the manufacturer, the claim says who signed.
    let applied = log.add(&ka, AUTH, dev, registered).unwrap().unwrap();
    assert_eq!(applied.kind, "device-registered");
    let device = DeviceId::new("assets/5f1c").expect("device id");
    let t = log.p.twin(&device).unwrap();
    assert_eq!(t.manufacturer, StakeholderId(ACME.into()));
    let claim = log.p.claim(t.registered_at).unwrap();
    assert_eq!(claim.issuer, StakeholderId(ACME.into()));
    assert_eq!(claim.signed_by, Some(StakeholderId(AUTH.into())));

    // Asset events (a built-in type) set asset attributes; the later one wins per key.
    let event = |attrs: serde_json::Value| {
        json!({"type": "asset-event", "operation": "Record", "behaviour": "RecordEvidence",
               "event_attributes": {"arc_description": "opened"}, "asset_attributes": attrs,
               "on_behalf_of": ACME})
    };
    log.add(
        &ka,
        AUTH,
        dev,
        event(json!({"state": "closed", "floor": 2})),
    )
    .unwrap()
    .unwrap();
    log.add(&ka, AUTH, dev, event(json!({"state": "open"})))
        .unwrap()
        .unwrap();
    // The operator has no role on the device: its delegated event is refused.
    let mut foreign = event(json!({"state": "hacked"}));
    foreign["on_behalf_of"] = json!(OP);
    let e = log.add(&ka, AUTH, dev, foreign).unwrap_err();
    assert!(
        matches!(&e, IngestError::Apply(ApplyError::NotAllowed { .. })),
        "{e}"
    );
    // Acme signing itself is not delegated.
    let own = json!({"type": "asset-event", "operation": "Record", "behaviour": "RecordEvidence",
                     "asset_attributes": {"signed": "self"}});
    let entry = log.entries.len() as u64;
    log.add(&kacme, ACME, dev, own).unwrap().unwrap();
    assert_eq!(log.p.claim(entry).unwrap().signed_by, None);

    let t = log.p.twin(&device).unwrap();
    let attrs: Vec<(&str, &serde_json::Value)> = t
        .asset_attributes
        .iter()
        .map(|(k, a)| (k.as_str(), &a.value))
        .collect();
    assert_eq!(
        attrs,
        vec![
            ("floor", &json!(2)),
            ("signed", &json!("self")),
            ("state", &json!("open"))
        ]
    );

    // The same entries replayed give the same twins (reindex).
    let mut again = crate::with_asset_events();
    for (i, bytes) in log.entries.iter().enumerate() {
        let _ = again.ingest(i as u64, bytes);
    }
    assert_eq!(again.twin(&device), log.p.twin(&device));
    assert_eq!(again.claim(entry), log.p.claim(entry));
    assert_eq!(again.meta().refused, log.p.meta().refused);
}

/// A public asset (its maker set `sectwin_public`): anyone, anonymous
/// included, reads its maker's statements whole, under the policy id
/// `public`; nobody else's; and nobody but its maker can make it public.
#[test]
fn a_public_twin_is_everyones_to_read_by_the_one_sharing_decision() {
    use twin::projection::{decide_read, AssetAttribute, PUBLIC_ATTRIBUTE, PUBLIC_POLICY_ID};
    use twin::sharing::Decision;
    let (mut log, _, kacme, _) = registry();
    let dev = "device:assets/9a2b";
    log.add(
        &kacme,
        ACME,
        dev,
        json!({"type": "device-registered", "manufacturer": "Acme", "model": "door", "serial": "9a2b"}),
    )
    .unwrap();
    let device = DeviceId::new("assets/9a2b").expect("device id");
    let acme = StakeholderId(ACME.into());
    let op = StakeholderId(OP.into());
    fn anonymous<'m>(p: &'m Projection, device: &DeviceId, owner: &StakeholderId) -> Decision<'m> {
        let t = p.twin(device).unwrap();
        decide_read(p.meta(), None, &t, owner, "device-registered", 0).0
    }
    assert_eq!(anonymous(&log.p, &device, &acme), Decision::Denied);
    assert_eq!(log.p.twin(&device).unwrap().public_by(), None);

    log.add(
        &kacme,
        ACME,
        dev,
        json!({"type": "asset-event", "operation": "NewAsset", "behaviour": "AssetCreator",
               "asset_attributes": {PUBLIC_ATTRIBUTE: true}}),
    )
    .unwrap()
    .unwrap();
    let t = log.p.twin(&device).unwrap();
    assert_eq!(t.public_by(), Some(&acme));
    match anonymous(&log.p, &device, &acme) {
        Decision::Allowed { policy, fields, .. } => {
            assert_eq!(policy, PUBLIC_POLICY_ID);
            assert_eq!(
                fields, None,
                "a public twin's maker's statements are shown whole"
            );
        }
        other => panic!("anonymous reader refused a public twin: {other:?}"),
    }
    // Only its maker's statements: another stakeholder's stay under its policy.
    assert_eq!(anonymous(&log.p, &device, &op), Decision::Denied);
    // The owner is still the owner.
    let (own, _) = decide_read(log.p.meta(), Some(&acme), &t, &acme, "device-registered", 0);
    assert_eq!(own, Decision::Own);

    // The attribute set by anyone but the maker makes nothing public.
    let mut forged = t.clone();
    forged.asset_attributes.insert(
        PUBLIC_ATTRIBUTE.into(),
        AssetAttribute {
            value: json!(true),
            entry: 99,
            issuer: op.clone(),
        },
    );
    assert_eq!(forged.public_by(), None);
    let (d, _) = decide_read(log.p.meta(), None, &forged, &acme, "device-registered", 0);
    assert_eq!(d, Decision::Denied);
}

/// Whom a payload is made for is read the same for every type, core,
/// built-in or custom (payload quotas are counted against it).
#[test]
fn on_behalf_of_is_read_whatever_the_type() {
    use twin::StatementBody;
    for (payload, expected) in [
        (
            r#"{"type":"endorse","entry":1,"on_behalf_of":"acme.example"}"#,
            Some("acme.example"),
        ),
        (
            r#"{"type":"asset-event","operation":"Record","behaviour":"x","on_behalf_of":"acme.example"}"#,
            Some("acme.example"),
        ),
        (
            r#"{"type":"acme.example/door","on_behalf_of":"op.example"}"#,
            Some("op.example"),
        ),
        (r#"{"type":"endorse","entry":1}"#, None),
        (r#"{"type":"endorse","on_behalf_of":""}"#, None),
        (r#"{"type":"endorse","on_behalf_of":7}"#, None),
        ("not json", None),
    ] {
        assert_eq!(
            StatementBody::peek_on_behalf_of(payload.as_bytes()).map(|s| s.0),
            expected.map(String::from),
            "{payload}"
        );
    }
}
