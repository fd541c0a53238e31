//! Published policies: transparency and AI-use policies are statements about
//! their publisher, kept with every version so that the policy in force at
//! any log position can be shown; malformed ones, or ones about another
//! stakeholder, are refused with a precise error and change nothing.

use twin::projection::{ApplyError, Registered};
use twin::published::{PolicyKind, Published, PublishedError};
use twin::{ConsensusPolicy, Projection, StakeholderId};

const TRANSPARENCY: &str = r#"{"type":"transparency-policy","policy":{"id":"acme-t",
  "record_viewers":[{"stakeholder":"audit.example"}],"contact":"psirt@acme.example"}}"#;
const CAMERA_AI: &str = r#"{"type":"ai-use-policy","policy":{"id":"cam-ai",
  "devices":{"matching":{"models":["CAM-9"]}},
  "decisions":[{"decision":"raise an intrusion alarm when a person is detected after hours",
    "model":"person-detector-v3","autonomy":"human-on-the-loop",
    "human_oversight":"the guard on duty reviews every alarm within 5 minutes",
    "override_by":["operator"],"fallback":"motion detection only"}]}}"#;

fn apply(
    p: &mut Projection,
    entry: u64,
    issuer: &str,
    subject: &str,
    payload: &str,
) -> Result<(), ApplyError> {
    p.apply(Registered {
        issued_at: None,
        entry,
        issuer,
        subject,
        payload: payload.as_bytes(),
    })
    .map(|_| ())
}

#[test]
fn policies_are_published_versioned_and_refused_precisely() {
    let mut p = Projection::new(ConsensusPolicy::default());
    let acme = StakeholderId("acme.example".into());
    apply(
        &mut p,
        1,
        "acme.example",
        "stakeholder:acme.example",
        TRANSPARENCY,
    )
    .expect("transparency");
    apply(
        &mut p,
        2,
        "acme.example",
        "stakeholder:acme.example",
        CAMERA_AI,
    )
    .expect("ai use");

    let t = p.meta().published.transparency(&acme).expect("in force");
    assert!(t.admits(Some(&StakeholderId("audit.example".into()))));
    assert!(!t.admits(Some(&StakeholderId("op.example".into()))));
    assert!(!t.admits(None));

    // A new AI-use policy with the same id replaces the old one; another id adds one.
    let v2 = CAMERA_AI.replace("within 5 minutes", "within 2 minutes");
    apply(&mut p, 5, "acme.example", "stakeholder:acme.example", &v2).expect("v2");
    let door = CAMERA_AI
        .replace("cam-ai", "door-ai")
        .replace("CAM-9", "DC-200");
    apply(&mut p, 6, "acme.example", "stakeholder:acme.example", &door).expect("door");
    let current: Vec<(u64, String)> = p
        .meta()
        .published
        .ai_use()
        .map(|(_, e, pol)| (e, pol.id))
        .collect();
    assert_eq!(
        current,
        vec![(5, "cam-ai".to_string()), (6, "door-ai".to_string())]
    );

    // Which versions were in force when.
    let in_force_at = |at: u64| -> Vec<(PolicyKind, u64)> {
        p.meta()
            .published
            .versions(Some(&acme))
            .filter(|(_, v)| Published::in_force(v, at))
            .map(|(_, v)| (v.kind, v.entry))
            .collect()
    };
    assert_eq!(in_force_at(1), vec![]);
    assert_eq!(
        in_force_at(3),
        vec![(PolicyKind::Transparency, 1), (PolicyKind::AiUse, 2)]
    );
    assert_eq!(
        in_force_at(7),
        vec![
            (PolicyKind::Transparency, 1),
            (PolicyKind::AiUse, 5),
            (PolicyKind::AiUse, 6)
        ]
    );

    // A second transparency policy replaces the first whatever its id.
    let t2 = TRANSPARENCY
        .replace("acme-t", "acme-t2")
        .replace("audit.example", "op.example");
    apply(&mut p, 8, "acme.example", "stakeholder:acme.example", &t2).expect("t2");
    let t = p.meta().published.transparency(&acme).expect("in force");
    assert!(t.admits(Some(&StakeholderId("op.example".into()))));
    assert!(!t.admits(Some(&StakeholderId("audit.example".into()))));

    // Refusals, each precise; none changes anything.
    let before = p.meta().published.clone();
    type Check = fn(&ApplyError) -> bool;
    let refusals: Vec<(&str, &str, String, Check)> = vec![
        (
            "op.example",
            "stakeholder:acme.example",
            CAMERA_AI.into(),
            |e| {
                e.to_string() == "policy refused: op.example may not publish the ai-use policy of acme.example"
            },
        ),
        ("acme.example", "device:cam-1", CAMERA_AI.into(), |e| {
            e.to_string().contains("not a stakeholder")
        }),
        (
            "acme.example",
            "stakeholder:acme.example",
            CAMERA_AI.replace("human-on-the-loop", "yolo"),
            |e| matches!(e, ApplyError::Published(PublishedError::Invalid { kind: "ai-use", why }) if why.contains("unknown variant `yolo`")),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            CAMERA_AI.replace("\"cam-ai\"", "\"cam ai\""),
            |e| matches!(e, ApplyError::Published(PublishedError::BadId(id)) if id == "cam ai"),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            CAMERA_AI.replace(r#"{"models":["CAM-9"]}"#, "{}"),
            |e| matches!(e, ApplyError::Published(PublishedError::EmptyDevices)),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            r#"{"type":"ai-use-policy","policy":{"id":"x","devices":"all","decisions":[]}}"#.into(),
            |e| {
                matches!(
                    e,
                    ApplyError::Published(PublishedError::Count {
                        what: "decisions",
                        count: 0,
                        ..
                    })
                )
            },
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            CAMERA_AI.replace("motion detection only", &"m".repeat(3000)),
            |e| {
                matches!(
                    e,
                    ApplyError::Published(PublishedError::TextTooLong {
                        field: "fallback",
                        bytes: 3000,
                        ..
                    })
                )
            },
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            TRANSPARENCY.replace(
                r#"{"stakeholder":"audit.example"}"#,
                r#"{"role":"auditor"}"#,
            ),
            |e| matches!(e, ApplyError::Published(PublishedError::RoleViewer(r)) if r == "auditor"),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            TRANSPARENCY.replace("\"contact\"", "\"contacts\""),
            |e| matches!(e, ApplyError::Published(PublishedError::Invalid { kind: "transparency", why }) if why.contains("unknown field `contacts`")),
        ),
    ];
    for (i, (issuer, subject, payload, check)) in refusals.iter().enumerate() {
        let e = apply(&mut p, 100 + i as u64, issuer, subject, payload).expect_err("refused");
        assert!(check(&e), "case {i}: {e}");
    }
    assert_eq!(p.meta().published, before, "refusals change nothing");
}

#[test]
fn security_profiles_are_kept_one_per_id_and_refused_precisely() {
    let mut p = Projection::new(ConsensusPolicy::default());
    let profile = |id: &str, behaviours: &str| {
        format!(
            r#"{{"type":"security-profile","policy":{{"id":"{id}","devices":{{"matching":{{"groups":["cams"]}}}},"behaviours":{behaviours}}}}}"#
        )
    };
    let one = r#"[{"name":"no-telnet","metric":"listening-tcp-ports"}]"#;
    let ops = "stakeholder:ops.example";
    apply(&mut p, 1, "ops.example", ops, &profile("cams", one)).expect("first");
    apply(&mut p, 2, "ops.example", ops, &profile("doors", one)).expect("second id");
    apply(&mut p, 3, "ops.example", ops, &profile("cams", one)).expect("replaces cams");
    let mut in_force: Vec<(String, u64)> = p
        .meta()
        .published
        .security_profiles()
        .map(|(_, entry, sp)| (sp.id, entry))
        .collect();
    in_force.sort();
    assert_eq!(
        in_force,
        vec![("cams".to_string(), 3), ("doors".to_string(), 2)]
    );
    // Refused: no behaviours, another's profile, an unknown field.
    let e = apply(&mut p, 4, "ops.example", ops, &profile("x", "[]")).expect_err("empty");
    assert!(
        matches!(
            e,
            ApplyError::Published(PublishedError::Count {
                what: "behaviours",
                ..
            })
        ),
        "{e}"
    );
    let e = apply(&mut p, 5, "other.example", ops, &profile("x", one)).expect_err("theirs");
    assert!(e.to_string().contains("may not publish"), "{e}");
    let e = apply(
        &mut p,
        6,
        "ops.example",
        ops,
        &profile("x", one).replace("\"behaviours\"", "\"behaviors\""),
    )
    .expect_err("unknown field");
    assert!(e.to_string().contains("behaviors"), "{e}");
    assert_eq!(p.meta().published.security_profiles().count(), 2);
}

#[test]
fn threat_models_are_versioned_per_id_and_refused_precisely() {
    let mut p = Projection::new(ConsensusPolicy::default());
    let model = |id: &str, version: &str, source: &str| {
        serde_json::json!({"type":"threat-model","policy":{"id":id,"name":"Building","version":version,"source":source}})
            .to_string()
    };
    apply(
        &mut p,
        1,
        "acme.example",
        "stakeholder:acme.example",
        &model("building", "1", "title: a\n"),
    )
    .expect("v1");
    apply(
        &mut p,
        2,
        "acme.example",
        "stakeholder:acme.example",
        &model("building", "2", "title: b\n"),
    )
    .expect("v2");
    apply(
        &mut p,
        3,
        "acme.example",
        "stakeholder:acme.example",
        &model("plant", "1", "title: c\n"),
    )
    .expect("another id");
    let versions: Vec<(u64, String, Option<u64>)> = p
        .meta()
        .published
        .versions(None)
        .filter(|(_, v)| v.kind == PolicyKind::ThreatModel)
        .map(|(_, v)| (v.entry, v.id.clone(), v.superseded_by))
        .collect();
    assert_eq!(
        versions,
        vec![
            (1, "building".into(), Some(2)),
            (2, "building".into(), None),
            (3, "plant".into(), None),
        ]
    );
    // Refused, each with what is wrong, changing nothing.
    for (entry, issuer, subject, payload, why) in [
        (
            4,
            "acme.example",
            "stakeholder:acme.example",
            model("a b", "1", "x"),
            "is not valid",
        ),
        (
            5,
            "acme.example",
            "stakeholder:acme.example",
            model("a", "1", " \n"),
            "source is empty",
        ),
        (
            6,
            "rival.example",
            "stakeholder:acme.example",
            model("a", "1", "x"),
            "may not publish",
        ),
        (
            7,
            "acme.example",
            "stakeholder:acme.example",
            r#"{"type":"threat-model","policy":{"id":"a","name":"A","source":"x","extra":1}}"#
                .into(),
            "unknown field",
        ),
    ] {
        let e = apply(&mut p, entry, issuer, subject, &payload).expect_err(why);
        assert!(e.to_string().contains(why), "{e}");
    }
    assert_eq!(p.meta().published.versions(None).count(), 3);
}

#[test]
fn statements_name_the_digests_of_what_they_are_about() {
    use twin::statement::{sha256_hex, StatementBody};
    let d = "5d41402abc4b2a76b9719d911017c592AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let bytes = sha256_hex(d).expect("64 hex digits");
    assert_eq!(sha256_hex(&format!("sha256:{d}")), Some(bytes));
    for bad in ["", "aa", &d[1..], &format!("{d}0"), &d.replace('5', "g")] {
        assert_eq!(sha256_hex(bad), None, "{bad}");
    }
    let body = |json: &str| StatementBody::parse(json.as_bytes()).expect("parses");
    let fields = |b: &StatementBody| b.digests().into_iter().map(|(f, _)| f).collect::<Vec<_>>();
    assert_eq!(
        fields(&body(&format!(
            r#"{{"type":"firmware-released","version":"1","image_sha256":"{d}","sbom":"{d}"}}"#
        ))),
        ["firmware image", "SBOM document"]
    );
    // A digest that is not one (the demo's early releases had such) is not indexed.
    assert!(fields(&body(
        r#"{"type":"firmware-installed","version":"1","image_sha256":"aa"}"#
    ))
    .is_empty());
    assert!(fields(&body(r#"{"type":"maintenance-performed","work":"x"}"#)).is_empty());
}
