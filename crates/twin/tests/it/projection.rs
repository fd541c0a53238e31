//! The twin model over a realistic building scenario: lifecycle rules as a
//! full table, strict statement parsing, consensus statuses as endorsements
//! and disputes arrive, every refusal leaving the projection unchanged, and
//! the projection rebuilt from the same entries giving identical twins.

use twin::consensus::Status;
use twin::model::{DeviceId, Lifecycle, Role};
use twin::projection::{ApplyError, Projection, Registered};
use twin::statement::{StatementBody, StatementParseError, TYPES};
use twin::{AttributeClass, ConsensusPolicy, StakeholderId};

/// (payload, the error expected).
type ParseCase = (&'static str, fn(&StatementParseError) -> bool);
/// (issuer, subject, payload, the error expected).
type ApplyCase = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ApplyError) -> bool,
);

#[test]
fn lifecycle_transitions_follow_the_table() {
    use Lifecycle::*;
    let all = [
        Manufactured,
        Provisioned,
        Deployed,
        InMaintenance,
        Decommissioned,
    ];
    let allowed = [
        (Manufactured, Provisioned),
        (Provisioned, Deployed),
        (Deployed, InMaintenance),
        (InMaintenance, Deployed),
        (Provisioned, InMaintenance),
        (InMaintenance, Provisioned),
        (Manufactured, Decommissioned),
        (Provisioned, Decommissioned),
        (Deployed, Decommissioned),
        (InMaintenance, Decommissioned),
    ];
    let mut checked = 0;
    for from in all {
        for to in all {
            assert_eq!(
                from.can_become(to),
                allowed.contains(&(from, to)),
                "{from:?} -> {to:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 25);
}

#[test]
fn payloads_parse_strictly() {
    let samples = [
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"7"}"#,
        r#"{"type":"ownership-transferred","owner":"owner.example","operator":"op.example"}"#,
        r#"{"type":"lifecycle-changed","to":"deployed"}"#,
        r#"{"type":"firmware-released","version":"2.4.1","image_sha256":"ab"}"#,
        r#"{"type":"firmware-withdrawn","version":"2.4.1","reason":"bricks some units"}"#,
        r#"{"type":"firmware-installed","version":"2.4.1","image_sha256":"ab","v":1}"#,
        r#"{"type":"configuration-reported","config_sha256":"cd","settings":{"telnet":false}}"#,
        r#"{"type":"ai-model-deployed","name":"person-detect","version":"3","model_sha256":"ef"}"#,
        r#"{"type":"security-test-evidence","target_sha256":"ab","kind":"penetration-test","tool":"burp","report_sha256":"12","result":"findings"}"#,
        r#"{"type":"vulnerability-assessment","vulnerability":"CVE-2024-3596","status":"not_affected","justification":"component not present"}"#,
        r#"{"type":"maintenance-performed","work":"seal replaced"}"#,
        r#"{"type":"incident-reported","severity":"high","summary":"tamper alarm"}"#,
        r#"{"type":"access-granted","grantee":"fix.example","scope":"ssh"}"#,
        r#"{"type":"access-revoked","grantee":"fix.example","scope":"ssh"}"#,
        r#"{"type":"risk-recorded","risk":"R-1","severity":"medium","description":"default password"}"#,
        r#"{"type":"risk-accepted","risk":"R-1","rationale":"isolated VLAN"}"#,
        r#"{"type":"risk-mitigated","risk":"R-1","how":"password rotated"}"#,
        r#"{"type":"risk-transferred","risk":"R-1","to":"fix.example","rationale":"maintenance contract"}"#,
        r#"{"type":"risk-false-positive","risk":"R-1","rationale":"the component is not linked"}"#,
        r#"{"type":"sbom-registered","release":"2.4.1","format":"CycloneDX 1.6","document_sha256":"ab","components":[{"name":"busybox","version":"1.36.1"}]}"#,
        r#"{"type":"release-plan","current":"2.4.1","releases":[{"version":"2.5.0","date":"2027-01-15"}]}"#,
        r#"{"type":"decommissioned","reason":"replaced"}"#,
        r#"{"type":"stakeholder-registered","name":"Acme","roles":["manufacturer"],"keys":[{"pem":"-----BEGIN PUBLIC KEY-----"}]}"#,
        r#"{"type":"key-added","key":{"pem":"-----BEGIN PUBLIC KEY-----","not_after":1900000000}}"#,
        r#"{"type":"key-revoked","kid":"ab12","reason":"laptop stolen"}"#,
        r#"{"type":"sharing-policy","policy":{"id":"p1","grants":[]}}"#,
        r#"{"type":"transparency-policy","policy":{"id":"t1","record_viewers":["authenticated"]}}"#,
        r#"{"type":"ai-use-policy","policy":{"id":"a1","devices":"all","decisions":[{"decision":"alarm","autonomy":"advisory","human_oversight":"guard"}]}}"#,
        r#"{"type":"security-profile","policy":{"id":"cams","devices":"all","behaviours":[{"name":"no-telnet"}]}}"#,
        r#"{"type":"threat-model","policy":{"id":"building","name":"Building","source":"title: b"}}"#,
        r#"{"type":"statement-type-registered","name":"acme/door-event","schema":{"type":"object"}}"#,
        r#"{"type":"endorse","entry":5}"#,
        r#"{"type":"dispute","entry":5,"reason":"no site visit"}"#,
        r#"{"type":"audit-granted","grant":"a-1","auditor":"aud.example","devices":{"matching":{"sites":["hq"]}},"not_before":1767225600,"not_after":1798761599}"#,
        r#"{"type":"audit-revoked","grant":"a-1"}"#,
        r#"{"type":"cra-case-opened","case":"CVE-2024-3400","kind":"vulnerability","vulnerability":"CVE-2024-3400","source":"known-exploited","products":["DC-200"],"evidence":"cisa-kev"}"#,
        r#"{"type":"cra-awareness","case":"CVE-2024-3400","aware_at":1790000000}"#,
        r#"{"type":"cra-report","case":"CVE-2024-3400","stage":"early-warning","report":{"member_states":["DE"]}}"#,
        r#"{"type":"support-period","end":"2031-12-31","note":"five years from launch"}"#,
    ];
    assert_eq!(samples.len(), TYPES.len(), "a sample for every type");
    for (sample, kind) in samples.iter().zip(TYPES) {
        let body =
            StatementBody::parse(sample.as_bytes()).unwrap_or_else(|e| panic!("{sample}: {e}"));
        assert_eq!(body.kind(), *kind);
    }
    // A salt is accepted and ignored (it keeps a confidential payload's
    // digest unguessable).
    let salted =
        StatementBody::parse(br#"{"type":"endorse","entry":5,"salt":"kG3d8Vw2xQp9LmZr4TnYbA"}"#)
            .expect("salted");
    assert_eq!(
        salted,
        StatementBody::parse(br#"{"type":"endorse","entry":5}"#).expect("plain")
    );
    let refusals: [ParseCase; 10] = [
        (r#"{"type":"telepathy"}"#, |e| {
            matches!(e, StatementParseError::UnknownType(_))
        }),
        (r#"{"kind":"endorse"}"#, |e| {
            matches!(e, StatementParseError::MissingType)
        }),
        (r#"{"type":"endorse","entry":5,"extra":1}"#, |e| {
            matches!(e, StatementParseError::Invalid { .. })
        }),
        (r#"{"type":"endorse"}"#, |e| {
            matches!(e, StatementParseError::Invalid { .. })
        }),
        (r#"{"type":"endorse","entry":"five"}"#, |e| {
            matches!(e, StatementParseError::Invalid { .. })
        }),
        (r#"{"type":"endorse","entry":5,"v":2}"#, |e| {
            matches!(e, StatementParseError::UnsupportedVersion(_))
        }),
        (r#"[1,2]"#, |e| matches!(e, StatementParseError::NotJson(_))),
        (r#"{"type":"endorse","entry":5,"salt":"short"}"#, |e| {
            matches!(e, StatementParseError::BadSalt(_))
        }),
        (r#"{"type":"endorse","entry":5,"salt":12345}"#, |e| {
            matches!(e, StatementParseError::BadSalt(_))
        }),
        (r#"{"type":"endorse","entry":5,"salt":""}"#, |e| {
            matches!(e, StatementParseError::BadSalt(_))
        }),
    ];
    for (payload, expected) in refusals {
        let e = StatementBody::parse(payload.as_bytes()).expect_err(payload);
        assert!(expected(&e), "{payload}: {e}");
    }
}

/// The scenario's entries: (issuer, subject, payload).
const SCENARIO: &[(&str, &str, &str)] = &[
    (
        "acme.example",
        "device:door-7",
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"7"}"#,
    ),
    (
        "acme.example",
        "device:door-7",
        r#"{"type":"ownership-transferred","owner":"owner.example","operator":"op.example","maintainer":"fix.example","site":"building-a"}"#,
    ),
    (
        "acme.example",
        "device:door-7",
        r#"{"type":"lifecycle-changed","to":"provisioned"}"#,
    ),
    (
        "op.example",
        "device:door-7",
        r#"{"type":"lifecycle-changed","to":"deployed"}"#,
    ),
    (
        "acme.example",
        "model:acme/DC-200",
        r#"{"type":"firmware-released","version":"2.4.1","image_sha256":"9f2c"}"#,
    ),
    (
        "device:door-7",
        "device:door-7",
        r#"{"type":"firmware-installed","version":"2.4.1","image_sha256":"9f2c"}"#,
    ),
    (
        "op.example",
        "device:door-7",
        r#"{"type":"endorse","entry":5}"#,
    ),
    (
        "fix.example",
        "device:door-7",
        r#"{"type":"maintenance-performed","work":"seal replaced"}"#,
    ),
    (
        "op.example",
        "device:door-7",
        r#"{"type":"dispute","entry":7,"reason":"no site visit logged"}"#,
    ),
    (
        "acme.example",
        "device:door-7",
        r#"{"type":"vulnerability-assessment","vulnerability":"CVE-2024-3596","status":"not_affected","justification":"RADIUS not used"}"#,
    ),
    (
        "fix.example",
        "device:door-7",
        r#"{"type":"configuration-reported","config_sha256":"c0"}"#,
    ),
];

/// Applies `entries` as log entries `first`, `first + 1`, ...
fn apply_all(p: &mut Projection, first: usize, entries: &[(&str, &str, &str)]) {
    for (k, (issuer, subject, payload)) in entries.iter().enumerate() {
        let i = first + k;
        p.apply(Registered {
            issued_at: None,
            entry: i as u64,
            issuer,
            subject,
            payload: payload.as_bytes(),
        })
        .unwrap_or_else(|e| panic!("entry {i}: {e}"));
    }
}

fn door() -> DeviceId {
    DeviceId::new("door-7").expect("device id")
}

#[test]
fn consensus_follows_endorsements_and_disputes() {
    let mut p = Projection::new(ConsensusPolicy::default());
    apply_all(&mut p, 0, &SCENARIO[..6]);
    // Firmware reported by the device: awaiting the operator.
    assert_eq!(
        p.status(5),
        Some(Status::Claimed {
            awaiting: [Role::Operator].into_iter().collect()
        })
    );
    apply_all(&mut p, 6, &SCENARIO[6..]);
    assert_eq!(p.status(5), Some(Status::Agreed));
    assert_eq!(
        p.status(7),
        Some(Status::Disputed {
            by: [StakeholderId("op.example".into())].into_iter().collect()
        })
    );
    assert_eq!(
        p.status(9),
        Some(Status::Agreed),
        "not_affected is the manufacturer's call"
    );
    let view = p.view(&door()).expect("twin");
    assert_eq!(view.twin.lifecycle, Lifecycle::Deployed);
    assert_eq!(view.twin.operator, Some(StakeholderId("op.example".into())));
    assert_eq!(
        p.state()
            .history(&door())
            .iter()
            .map(|(e, _)| *e)
            .collect::<Vec<_>>(),
        (0..=11)
            .filter(|e| *e != 4)
            .filter(|e| *e != 11)
            .collect::<Vec<_>>()
    );
    let firmware = view
        .attributes
        .iter()
        .find(|a| a.attribute == AttributeClass::Firmware)
        .expect("firmware attribute");
    assert_eq!(firmware.claim.entry, 5);
    assert_eq!(firmware.status, Status::Agreed);
    assert_eq!(p.releases("model:acme/DC-200").len(), 1);
    assert_eq!(p.applied(), SCENARIO.len() as u64);
}

#[test]
fn every_refusal_names_its_reason_and_changes_nothing() {
    let mut p = Projection::new(ConsensusPolicy::default());
    apply_all(&mut p, 0, SCENARIO);
    let before = serde_json::to_string(&p.view(&door())).expect("json");
    let applied = p.applied();
    let cases: Vec<ApplyCase> = vec![
        (
            "stranger.example",
            "device:door-7",
            r#"{"type":"firmware-installed","version":"6.6.6","image_sha256":"ee"}"#,
            |e| {
                matches!(
                    e,
                    ApplyError::NotAllowed {
                        class: "firmware",
                        ..
                    }
                )
            },
        ),
        (
            "fix.example",
            "device:door-7",
            r#"{"type":"vulnerability-assessment","vulnerability":"CVE-1","status":"fixed"}"#,
            |e| {
                matches!(
                    e,
                    ApplyError::NotAllowed {
                        class: "vulnerability",
                        ..
                    }
                )
            },
        ),
        (
            "acme.example",
            "device:door-7",
            r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"7"}"#,
            |e| matches!(e, ApplyError::AlreadyRegistered(_)),
        ),
        (
            "acme.example",
            "device:ghost",
            r#"{"type":"incident-reported","severity":"low","summary":"?"}"#,
            |e| matches!(e, ApplyError::UnknownDevice(_)),
        ),
        (
            "op.example",
            "device:door-7",
            r#"{"type":"lifecycle-changed","to":"manufactured"}"#,
            |e| matches!(e, ApplyError::IllegalTransition { .. }),
        ),
        (
            "op.example",
            "door-7",
            r#"{"type":"incident-reported","severity":"low","summary":"?"}"#,
            |e| matches!(e, ApplyError::NotADevice { .. }),
        ),
        (
            "acme.example",
            "device:door-7",
            r#"{"type":"firmware-released","version":"1","image_sha256":"aa"}"#,
            |e| matches!(e, ApplyError::NotAModel(_)),
        ),
        (
            "fix.example",
            "device:door-7",
            r#"{"type":"endorse","entry":7}"#,
            |e| matches!(e, ApplyError::OwnClaim(_)),
        ),
        (
            "stranger.example",
            "device:door-7",
            r#"{"type":"endorse","entry":5}"#,
            |e| matches!(e, ApplyError::NoRole { .. }),
        ),
        (
            "op.example",
            "device:other",
            r#"{"type":"endorse","entry":5}"#,
            |e| matches!(e, ApplyError::SubjectMismatch { .. }),
        ),
        (
            "op.example",
            "device:door-7",
            r#"{"type":"endorse","entry":4}"#,
            |e| matches!(e, ApplyError::UnknownClaim(4)),
        ),
        (
            "op.example",
            "device:door-7",
            r#"{"type":"telepathy"}"#,
            |e| matches!(e, ApplyError::Parse(_)),
        ),
    ];
    let n = cases.len();
    for (k, (issuer, subject, payload, expected)) in cases.into_iter().enumerate() {
        let e = p
            .apply(Registered {
                issued_at: None,
                entry: 100 + k as u64,
                issuer,
                subject,
                payload: payload.as_bytes(),
            })
            .expect_err(payload);
        assert!(expected(&e), "{payload}: unexpected {e}");
    }
    assert_eq!(n, 12);
    assert_eq!(p.applied(), applied);
    assert_eq!(
        serde_json::to_string(&p.view(&door())).expect("json"),
        before
    );

    // Decommissioning is final.
    p.apply(Registered {
        issued_at: None,
        entry: 200,
        issuer: "owner.example",
        subject: "device:door-7",
        payload: br#"{"type":"decommissioned","reason":"replaced"}"#,
    })
    .expect("decommission");
    let e = p
        .apply(Registered {
            issued_at: None,
            entry: 201,
            issuer: "device:door-7",
            subject: "device:door-7",
            payload: br#"{"type":"firmware-installed","version":"2.5","image_sha256":"aa"}"#,
        })
        .expect_err("after decommissioning");
    assert!(matches!(e, ApplyError::Decommissioned(_)), "{e}");
}

#[test]
fn rebuilding_from_the_same_entries_gives_identical_twins() {
    let mut a = Projection::new(ConsensusPolicy::default());
    let mut b = Projection::new(ConsensusPolicy::default());
    apply_all(&mut a, 0, SCENARIO);
    apply_all(&mut b, 0, SCENARIO);
    let json = |p: &Projection| {
        p.twins()
            .map(|t| serde_json::to_string(&p.view(&t.device)).expect("json"))
            .collect::<Vec<_>>()
    };
    assert_eq!(json(&a), json(&b));
    assert!(!json(&a).is_empty());
}

#[test]
fn check_predicts_apply_and_changes_nothing() {
    let mut p = Projection::new(ConsensusPolicy::default());
    for (i, (issuer, subject, payload)) in SCENARIO.iter().enumerate() {
        let s = Registered {
            issued_at: None,
            entry: i as u64,
            issuer,
            subject,
            payload: payload.as_bytes(),
        };
        let predicted = p.check(s).unwrap_or_else(|e| panic!("check {i}: {e}"));
        let before = p.applied();
        assert_eq!(p.check(s), Ok(predicted.clone()), "check is repeatable");
        assert_eq!(p.applied(), before, "check changed the projection");
        assert_eq!(p.apply(s), Ok(predicted));
    }
    // A refusal is the same error from check and from apply.
    let bad = Registered {
        issued_at: None,
        entry: 99,
        issuer: "op.example",
        subject: "device:door-7",
        payload: br#"{"type":"lifecycle-changed","to":"manufactured"}"#,
    };
    let e = p.check(bad).expect_err("illegal transition");
    assert_eq!(p.apply(bad), Err(e));
}

#[test]
fn a_statement_cannot_take_an_attribute_back_in_time_under_its_issuers_clock() {
    let vuln = |cve: &str, status: &str| {
        format!(
            r#"{{"type":"vulnerability-assessment","vulnerability":"{cve}","status":"{status}"}}"#
        )
    };
    let first = SCENARIO.len() as u64;
    let claim = first + 1; // the second case below
    let endorse = format!(r#"{{"type":"endorse","entry":{claim}}}"#);
    let dispute = format!(r#"{{"type":"dispute","entry":{claim},"reason":"seen affected"}}"#);
    let release =
        |v: &str| format!(r#"{{"type":"firmware-released","version":"{v}","image_sha256":"ab"}}"#);
    // (issuer, subject, payload, iat, applied?)
    let cases: Vec<(&str, &str, String, Option<i64>, bool)> = vec![
        (
            "acme.example",
            "device:door-7",
            vuln("CVE-1", "not_affected"),
            Some(1000),
            true,
        ),
        (
            "acme.example",
            "device:door-7",
            vuln("CVE-1", "affected"),
            Some(1010),
            true,
        ),
        // Older than acme's latest on CVE-1: refused.
        (
            "acme.example",
            "device:door-7",
            vuln("CVE-1", "fixed"),
            Some(1005),
            false,
        ),
        // Another attribute has its own clock.
        (
            "acme.example",
            "device:door-7",
            vuln("CVE-2", "affected"),
            Some(900),
            true,
        ),
        // The same second applies in log order.
        (
            "acme.example",
            "device:door-7",
            vuln("CVE-1", "fixed"),
            Some(1010),
            true,
        ),
        // Another issuer's clock is its own, per claim.
        ("op.example", "device:door-7", endorse, Some(500), true),
        ("op.example", "device:door-7", dispute, Some(400), false),
        // Models keep clocks too.
        (
            "acme.example",
            "model:acme/DC-200",
            release("2.5"),
            Some(2000),
            true,
        ),
        (
            "acme.example",
            "model:acme/DC-200",
            release("2.6"),
            Some(1999),
            false,
        ),
        // A statement without iat (a log written before the rule) is not checked.
        (
            "acme.example",
            "device:door-7",
            vuln("CVE-1", "not_affected"),
            None,
            true,
        ),
    ];
    let run = |p: &mut Projection| {
        apply_all(p, 0, SCENARIO);
        for (k, (issuer, subject, payload, issued_at, applies)) in cases.iter().enumerate() {
            let r = p.apply(Registered {
                entry: first + k as u64,
                issuer,
                subject,
                payload: payload.as_bytes(),
                issued_at: *issued_at,
            });
            match (applies, r) {
                (true, Ok(_)) => {}
                (false, Err(ApplyError::BackInTime { issuer: who, .. })) => {
                    assert_eq!(&who, issuer, "case {k}")
                }
                (_, other) => panic!("case {k} {payload}: {other:?}"),
            }
        }
    };
    let mut p = Projection::new(ConsensusPolicy::default());
    run(&mut p);
    let twin = p.twin(&door()).expect("door");
    assert_eq!(
        twin.current
            .get(&AttributeClass::Vulnerability("CVE-1".into())),
        Some(&(first + 9)),
    );
    let acme = StakeholderId("acme.example".into());
    let cve1 = AttributeClass::Vulnerability("CVE-1".into());
    let key = twin::projection::ClockKey::of_class(&cve1, &acme);
    assert_eq!(twin.clocks.latest(key), Some(1010));
    // The clocks survive the store's encoding.
    let json = serde_json::to_string(&twin).expect("json");
    let decoded: twin::projection::Twin = serde_json::from_str(&json).expect("decode");
    assert_eq!(decoded.clocks.latest(key), Some(1010));
    assert_eq!(decoded, twin);
    // A rebuild from the same entries keeps the same clocks.
    let mut again = Projection::new(ConsensusPolicy::default());
    run(&mut again);
    assert_eq!(again.twin(&door()), Some(twin));
}

/// A projection that always had the digest index indexes from entry 0; one
/// resumed from a meta written before it existed says from which position
/// (its size then), so that lookups can tell what a reindex would add.
#[test]
fn the_digest_index_says_from_which_entry_it_holds() {
    let fresh = twin::Projection::new(twin::ConsensusPolicy::default());
    assert_eq!(fresh.meta().digests_from, Some(0));
    let mut old: serde_json::Value = serde_json::to_value(fresh.meta()).expect("meta serializes");
    old.as_object_mut().expect("object").remove("digests_from");
    old["size"] = 10.into();
    let meta: twin::Meta = serde_json::from_value(old).expect("an older meta reads");
    let resumed = twin::Projection::with_state(meta, twin::projection::MemState::default());
    assert_eq!(resumed.meta().digests_from, Some(10));
}
