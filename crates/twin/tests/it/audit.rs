//! Audit grants (issue 13, item 11): an organization registered with the
//! auditor role reads nothing by that alone; a device's owner grants it a
//! scope (devices by filter, a time window) and revokes it; within the
//! grant the auditor reads under the default policies and signs only its own
//! findings, never asset events, risk decisions, endorsements or
//! disputes. Signed statements through `ingest`, as the projector does.

use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::{json, Value};
use twin::audit::AuditError;
use twin::ingest::IngestError;
use twin::projection::decide_read;
use twin::sharing::Decision;
use twin::{ApplyError, DeviceId, Projection, StakeholderId};

const AUTH: &str = "authority.example";
pub(crate) const ACME: &str = "acme.example";
pub(crate) const OP: &str = "op.example";
pub(crate) const GLOBEX: &str = "globex.example";
const AUD: &str = "aud.example";

pub(crate) struct Log {
    pub(crate) p: Projection,
    entries: Vec<Vec<u8>>,
    keys: Vec<(&'static str, SigningKey)>,
}

impl Log {
    fn key(&self, who: &str) -> &SigningKey {
        &self.keys.iter().find(|(n, _)| *n == who).expect("a key").1
    }

    pub(crate) fn add(&mut self, iss: &str, sub: &str, payload: Value) -> Result<u64, IngestError> {
        self.add_at(iss, sub, payload, None)
    }

    /// [`Log::add`] of a statement issued at `iat` (CWT `iat`).
    fn add_at(
        &mut self,
        iss: &str,
        sub: &str,
        payload: Value,
        iat: Option<i64>,
    ) -> Result<u64, IngestError> {
        let mut builder = StatementBuilder::new(iss, sub, payload.to_string().as_bytes())
            .content_type("application/json");
        if let Some(t) = iat {
            builder = builder.issued_at(t);
        }
        let bytes = builder.sign(self.key(iss));
        let entry = self.entries.len() as u64;
        self.entries.push(bytes.clone());
        self.p.ingest(entry, &bytes).map(|_| entry)
    }

    /// May `reader` read `owner`'s `kind` statements about `device` at `now`?
    pub(crate) fn reads(
        &self,
        reader: &str,
        device: &str,
        owner: &str,
        kind: &str,
        now: i64,
    ) -> bool {
        let twin = self
            .p
            .twin(&DeviceId::new(device).expect("device id"))
            .expect("twin");
        let (decision, _) = decide_read(
            self.p.meta(),
            Some(&StakeholderId(reader.into())),
            &twin,
            &StakeholderId(owner.into()),
            kind,
            now,
        );
        decision != Decision::Denied
    }
}

pub(crate) fn fleet() -> Log {
    let key = || SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let keys = vec![
        (AUTH, key()),
        (ACME, key()),
        (OP, key()),
        (GLOBEX, key()),
        (AUD, key()),
    ];
    let mut log = Log {
        p: crate::with_asset_events(),
        entries: Vec::new(),
        keys,
    };
    for (who, roles) in [
        (AUTH, &[][..]),
        (ACME, &["manufacturer"][..]),
        (OP, &["operator"][..]),
        (GLOBEX, &["operator"][..]),
        (AUD, &["auditor"][..]),
    ] {
        let pem = log.key(who).public_key().to_pem();
        log.add(
            AUTH,
            &format!("stakeholder:{who}"),
            json!({"type": "stakeholder-registered", "name": who, "roles": roles, "keys": [{"pem": pem}]}),
        )
        .expect("registered");
    }
    for (device, owner, site) in [
        ("door-1", OP, "hq"),
        ("door-2", OP, "branch"),
        ("cam-9", GLOBEX, "hq"),
    ] {
        let sub = format!("device:{device}");
        log.add(
            ACME,
            &sub,
            json!({"type": "device-registered", "manufacturer": "Acme", "model": "DC-200", "serial": device}),
        )
        .expect("device");
        log.add(
            ACME,
            &sub,
            json!({"type": "ownership-transferred", "owner": owner, "operator": owner, "site": site}),
        )
        .expect("sold");
        log.add(
            owner,
            &sub,
            json!({"type": "configuration-reported", "config_sha256": "c0", "settings": {"vpn_psk": "secret"}}),
        )
        .expect("the owner's confidential data");
    }
    log
}

fn grant(id: &str, devices: Value, window: Option<(i64, i64)>) -> Value {
    let mut g = json!({"type": "audit-granted", "grant": id, "auditor": AUD, "devices": devices});
    if let Some((from, to)) = window {
        g["not_before"] = json!(from);
        g["not_after"] = json!(to);
    }
    g
}

/// (issuer, subject, payload, the refusal expected).
type Case = (&'static str, &'static str, Value, fn(&IngestError) -> bool);

const CONFIG: &str = "configuration-reported";
const OP_SUBJECT: &str = "stakeholder:op.example";

fn audit_error(e: &IngestError) -> Option<&AuditError> {
    match e {
        IngestError::Apply(ApplyError::Audit(a)) => Some(a),
        _ => None,
    }
}

#[test]
fn the_auditor_role_alone_reads_nothing() {
    let log = fleet();
    for device in ["door-1", "door-2", "cam-9"] {
        let owner = if device == "cam-9" { GLOBEX } else { OP };
        assert!(!log.reads(AUD, device, owner, CONFIG, 1_500), "{device}");
        assert!(
            !log.reads(AUD, device, ACME, "device-registered", 1_500),
            "{device}"
        );
        assert!(log.reads(OP, "door-1", OP, CONFIG, 1_500));
    }
    // Nor does it sign anything about a device.
    let mut log = log;
    let evidence = json!({"type": "security-test-evidence", "target_sha256": "ab",
        "kind": "penetration-test", "tool": "burp", "report_sha256": "12", "result": "pass"});
    let e = log
        .add(AUD, "device:door-1", evidence)
        .expect_err("no grant");
    assert!(
        matches!(e, IngestError::Apply(ApplyError::NotAllowed { .. })),
        "{e}"
    );
}

#[test]
fn an_owner_grants_a_scope_and_a_window_and_revokes_it() {
    let mut log = fleet();
    log.add(
        OP,
        OP_SUBJECT,
        grant(
            "audit-2026",
            json!({"matching": {"sites": ["hq"]}}),
            Some((1_000, 2_000)),
        ),
    )
    .expect("granted");
    // In scope, in the window: every owner's data under the default policies.
    assert!(log.reads(AUD, "door-1", OP, CONFIG, 1_000));
    assert!(log.reads(AUD, "door-1", OP, CONFIG, 2_000));
    assert!(log.reads(AUD, "door-1", ACME, "device-registered", 1_500));
    // Outside the window.
    assert!(!log.reads(AUD, "door-1", OP, CONFIG, 999));
    assert!(!log.reads(AUD, "door-1", OP, CONFIG, 2_001));
    // Outside the scope: another site of the grantor, and another owner's
    // device on the same site.
    assert!(!log.reads(AUD, "door-2", OP, CONFIG, 1_500));
    assert!(!log.reads(AUD, "cam-9", GLOBEX, CONFIG, 1_500));

    // "all" means all of the grantor's devices, never another owner's; the
    // manufacturer cannot grant devices it sold.
    log.add(OP, OP_SUBJECT, grant("everything", json!("all"), None))
        .expect("all of op's");
    log.add(
        ACME,
        "stakeholder:acme.example",
        grant("acme-all", json!("all"), None),
    )
    .expect("acme may grant (devices it still owns)");
    assert!(log.reads(AUD, "door-2", OP, CONFIG, 1_500));
    assert!(!log.reads(AUD, "cam-9", GLOBEX, CONFIG, 1_500));

    // Revocation ends it from its log position on.
    log.add(
        OP,
        OP_SUBJECT,
        json!({"type": "audit-revoked", "grant": "everything"}),
    )
    .expect("revoked");
    assert!(!log.reads(AUD, "door-2", OP, CONFIG, 1_500));
    assert!(
        log.reads(AUD, "door-1", OP, CONFIG, 1_500),
        "the other grant stands"
    );
    // Granting again under the same id replaces the grant: a window that ended.
    log.add(
        OP,
        OP_SUBJECT,
        grant("audit-2026", json!("all"), Some((1_000, 1_100))),
    )
    .expect("replaced");
    assert!(!log.reads(AUD, "door-1", OP, CONFIG, 1_500));
    assert_eq!(log.p.meta().audits.of(&StakeholderId(AUD.into())).len(), 2);

    // Ownership passing on ends the former owner's grant for that device.
    log.add(OP, OP_SUBJECT, grant("audit-2027", json!("all"), None))
        .expect("granted");
    assert!(log.reads(AUD, "door-1", OP, CONFIG, 1_500));
    log.add(
        OP,
        "device:door-1",
        json!({"type": "ownership-transferred", "owner": GLOBEX}),
    )
    .expect("sold on");
    assert!(!log.reads(AUD, "door-1", OP, CONFIG, 1_500));

    // Replayed from the same entries, the same grants (reindex).
    let mut again = crate::with_asset_events();
    for (i, e) in log.entries.iter().enumerate() {
        let _ = again.ingest(i as u64, e);
    }
    assert_eq!(again.meta().audits, log.p.meta().audits);
}

#[test]
fn audit_statements_are_checked() {
    let mut log = fleet();
    let cases: Vec<Case> = vec![
        // Only the grantor grants for itself.
        (
            OP,
            "stakeholder:globex.example",
            grant("g", json!("all"), None),
            |e| matches!(audit_error(e), Some(AuditError::NotTheirs { .. })),
        ),
        (
            OP,
            OP_SUBJECT,
            grant("g", json!("all"), Some((2_000, 1_000))),
            |e| matches!(audit_error(e), Some(AuditError::BadWindow { .. })),
        ),
        (
            OP,
            OP_SUBJECT,
            grant("g", json!("all"), Some((-5, 1_000))),
            |e| matches!(audit_error(e), Some(AuditError::BadWindow { .. })),
        ),
        (OP, OP_SUBJECT, grant("g h", json!("all"), None), |e| {
            matches!(audit_error(e), Some(AuditError::BadId(_)))
        }),
        (
            OP,
            OP_SUBJECT,
            grant("g", json!({"matching": {}}), None),
            |e| matches!(audit_error(e), Some(AuditError::Devices(_))),
        ),
        (
            OP,
            OP_SUBJECT,
            json!({"type": "audit-granted", "grant": "g", "auditor": "ghost.example", "devices": "all"}),
            |e| matches!(audit_error(e), Some(AuditError::UnknownAuditor(_))),
        ),
        (
            OP,
            OP_SUBJECT,
            json!({"type": "audit-granted", "grant": "g", "auditor": OP, "devices": "all"}),
            |e| matches!(audit_error(e), Some(AuditError::SelfGrant(_))),
        ),
        // Strict parsing: unknown fields, devices in another shape.
        (
            OP,
            OP_SUBJECT,
            json!({"type": "audit-granted", "grant": "g", "auditor": AUD, "devices": "all", "write": true}),
            |e| matches!(e, IngestError::Apply(ApplyError::Parse(_))),
        ),
        (
            OP,
            OP_SUBJECT,
            json!({"type": "audit-granted", "grant": "g", "auditor": AUD, "devices": {"matching": {"rooms": ["1"]}}}),
            |e| matches!(e, IngestError::Apply(ApplyError::Parse(_))),
        ),
        (
            OP,
            OP_SUBJECT,
            json!({"type": "audit-revoked", "grant": "never"}),
            |e| matches!(audit_error(e), Some(AuditError::UnknownGrant { .. })),
        ),
    ];
    for (issuer, subject, payload, expected) in cases {
        let e = log
            .add(issuer, subject, payload.clone())
            .expect_err(&payload.to_string());
        assert!(expected(&e), "{payload}: unexpected {e}");
    }
    assert!(log.p.meta().audits.all().next().is_none());
}

#[test]
fn auditors_sign_only_their_findings_within_their_grant() {
    let mut log = fleet();
    log.add(
        OP,
        OP_SUBJECT,
        grant("a", json!({"matching": {"ids": ["door-1"]}}), None),
    )
    .expect("granted");
    let door = "device:door-1";
    // Its findings: evidence, incidents, risks recorded.
    log.add(
        AUD,
        door,
        json!({"type": "security-test-evidence", "target_sha256": "ab",
        "kind": "penetration-test", "tool": "burp", "report_sha256": "12", "result": "findings"}),
    )
    .expect("evidence");
    log.add(
        AUD,
        door,
        json!({"type": "incident-reported", "severity": "high", "summary": "open telnet"}),
    )
    .expect("incident");
    let config = log
        .p
        .twin(&DeviceId::new("door-1").expect("device id"))
        .expect("twin")
        .registered_at
        + 2;
    log.add(AUD, door, json!({"type": "risk-recorded", "risk": "R-9", "severity": "high", "description": "telnet"}))
        .expect("risk");
    // Never anything else.
    for payload in [
        json!({"type": "asset-event", "operation": "Record", "behaviour": "RecordEvidence",
               "asset_attributes": {"arc_display_name": "pwned"}}),
        json!({"type": "risk-accepted", "risk": "R-9", "rationale": "fine"}),
        json!({"type": "endorse", "entry": config}),
        json!({"type": "dispute", "entry": config, "reason": "no"}),
        json!({"type": "configuration-reported", "config_sha256": "ff"}),
    ] {
        let e = log
            .add(AUD, door, payload.clone())
            .expect_err(&payload.to_string());
        assert!(
            matches!(audit_error(&e), Some(AuditError::ReadOnly { .. }))
                && e.to_string().contains("may not"),
            "{payload}: {e}"
        );
    }
    // Outside its grant, not even findings.
    let e = log
        .add(
            AUD,
            "device:door-2",
            json!({"type": "incident-reported", "severity": "low", "summary": "x"}),
        )
        .expect_err("not covered");
    assert!(
        matches!(e, IngestError::Apply(ApplyError::NotAllowed { .. })),
        "{e}"
    );
    // A grant's window bounds the findings too, by when they were issued.
    log.add(
        OP,
        OP_SUBJECT,
        grant(
            "w",
            json!({"matching": {"ids": ["door-2"]}}),
            Some((1_000, 2_000)),
        ),
    )
    .expect("granted with a window");
    let finding = || json!({"type": "incident-reported", "severity": "low", "summary": "y"});
    log.add_at(AUD, "device:door-2", finding(), Some(1_500))
        .expect("issued within the window");
    let e = log
        .add_at(AUD, "device:door-2", finding(), Some(2_500))
        .expect_err("issued after the window");
    assert!(
        matches!(e, IngestError::Apply(ApplyError::NotAllowed { .. })),
        "{e}"
    );
    // Revoked: no more findings.
    log.add(
        OP,
        OP_SUBJECT,
        json!({"type": "audit-revoked", "grant": "a"}),
    )
    .expect("revoked");
    let e = log
        .add(
            AUD,
            door,
            json!({"type": "incident-reported", "severity": "low", "summary": "x"}),
        )
        .expect_err("revoked");
    assert!(
        matches!(e, IngestError::Apply(ApplyError::NotAllowed { .. })),
        "{e}"
    );
}
