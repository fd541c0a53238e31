//! Custom statement types: a stakeholder registers `namespace/name` with a
//! JSON Schema and the roles that may assert it; statements of that type are
//! then validated against the schema and become attributes of the twin with
//! a consensus status, while unregistered types stay refused.

use twin::projection::{ApplyError, Registered};
use twin::statement::StatementParseError;
use twin::{AttributeClass, ConsensusPolicy, DeviceId, Projection, Status};

const DOOR_EVENT: &str = r#"{"type":"statement-type-registered","name":"acme/door-event",
  "description":"a door opened or closed",
  "asserted_by":["device","operator"],"endorsed_by":["operator"],
  "schema":{"type":"object","required":["door","event"],"additionalProperties":false,
    "properties":{"door":{"type":"string"},"event":{"enum":["open","close"]},"badge":{"type":"string"}}}}"#;

type Case = (&'static str, &'static str, String, fn(&ApplyError) -> bool);

#[test]
fn custom_types_are_registered_validated_and_projected() {
    let mut p = Projection::new(ConsensusPolicy::default());
    let mut entry = 0u64;
    let mut apply = |p: &mut Projection, issuer: &str, subject: &str, payload: &str| {
        entry += 1;
        p.apply(Registered {
            issued_at: None,
            entry,
            issuer,
            subject,
            payload: payload.as_bytes(),
        })
        .map(|a| (entry, a))
    };
    let event = r#"{"type":"acme/door-event","door":"east","event":"open","badge":"B-17"}"#;
    // Unknown before registration.
    let e = apply(&mut p, "op.example", "device:door-1", event).expect_err("unregistered");
    assert!(
        matches!(e, ApplyError::Parse(StatementParseError::UnknownType(ref t)) if t == "acme/door-event"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("must be registered with a JSON Schema"),
        "{e}"
    );

    apply(
        &mut p,
        "acme.example",
        "stakeholder:acme.example",
        DOOR_EVENT,
    )
    .expect("register the type");
    apply(
        &mut p,
        "acme.example",
        "device:door-1",
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1"}"#,
    )
    .expect("device");
    apply(
        &mut p,
        "acme.example",
        "device:door-1",
        r#"{"type":"ownership-transferred","owner":"op.example","operator":"op.example","maintainer":"fix.example"}"#,
    )
    .expect("ownership");

    let refusals: Vec<Case> = vec![
        (
            "op.example",
            "stakeholder:acme.example",
            DOOR_EVENT.to_string(),
            |e| matches!(e, ApplyError::CustomType { why, .. } if why.contains("only as itself")),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            DOOR_EVENT.to_string(),
            |e| matches!(e, ApplyError::CustomType { why, .. } if why == "already registered"),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            r#"{"type":"statement-type-registered","name":"DoorEvent","schema":{}}"#.into(),
            |e| matches!(e, ApplyError::CustomType { why, .. } if why.contains("namespace/name")),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            r#"{"type":"statement-type-registered","name":"acme/bad","schema":{"type":12}}"#.into(),
            |e| matches!(e, ApplyError::CustomType { why, .. } if why.contains("not a valid JSON Schema")),
        ),
        (
            "op.example",
            "device:door-1",
            r#"{"type":"acme/door-event","door":"east","event":"smash"}"#.into(),
            |e| matches!(e, ApplyError::Parse(StatementParseError::SchemaViolation { why, .. }) if why.contains("/event")),
        ),
        (
            "op.example",
            "device:door-1",
            r#"{"type":"acme/door-event","door":"east","event":"open","colour":"red"}"#.into(),
            |e| {
                matches!(
                    e,
                    ApplyError::Parse(StatementParseError::SchemaViolation { .. })
                )
            },
        ),
        (
            "op.example",
            "device:door-1",
            r#"{"type":"acme/door-event","event":"open"}"#.into(),
            |e| {
                matches!(
                    e,
                    ApplyError::Parse(StatementParseError::SchemaViolation { .. })
                )
            },
        ),
        // The maintainer holds none of the roles that may assert it.
        ("fix.example", "device:door-1", event.to_string(), |e| {
            matches!(
                e,
                ApplyError::NotAllowed {
                    class: "custom",
                    ..
                }
            )
        }),
        // The internal form is not a wire type.
        (
            "op.example",
            "device:door-1",
            r#"{"type":"custom","custom_type":"acme/door-event","content":{}}"#.into(),
            |e| matches!(e, ApplyError::Parse(StatementParseError::UnknownType(_))),
        ),
    ];
    let n = refusals.len();
    for (issuer, subject, payload, expected) in refusals {
        let e = apply(&mut p, issuer, subject, &payload).expect_err(&payload);
        assert!(expected(&e), "{payload}: unexpected {e}");
    }
    assert_eq!(n, 9);

    // The device reports it; the operator's endorsement makes it agreed.
    let (reported, _) =
        apply(&mut p, "device:door-1", "device:door-1", event).expect("custom statement");
    let class = AttributeClass::Custom("acme/door-event".into());
    assert!(matches!(p.status(reported), Some(Status::Claimed { .. })));
    apply(
        &mut p,
        "op.example",
        "device:door-1",
        &format!(r#"{{"type":"endorse","entry":{reported}}}"#),
    )
    .expect("endorse");
    assert_eq!(p.status(reported), Some(Status::Agreed));
    let view = p.view(&DeviceId("door-1".into())).expect("twin");
    let attr = view
        .attributes
        .iter()
        .find(|a| a.attribute == class)
        .expect("custom attribute");
    let wire = attr.claim.body.to_wire();
    assert_eq!(wire["type"], "acme/door-event");
    assert_eq!(wire["badge"], "B-17");
    assert_eq!(attr.claim.body.type_name(), "acme/door-event");
    // The history records the custom type's name (sharing policies name it).
    let history = p.state().history(&DeviceId("door-1".into()));
    assert!(history
        .iter()
        .any(|(e, k)| *e == reported && k == "acme/door-event"));
    // A sharing policy may name the custom type.
    let policy = serde_json::json!({"id":"p","grants":[{"readers":["authenticated"],"devices":"all","types":["acme/door-event"]}]});
    twin::sharing::SharingPolicy::parse(&policy).expect("policy naming a custom type");
}
