//! Custom statement types: a stakeholder registers `namespace/name` with a
//! JSON Schema and the roles that may assert it; statements of that type are
//! then validated against the schema and become attributes of the twin with
//! a consensus status, while unregistered types stay refused.

use twin::projection::{ApplyError, Registered};
use twin::statement::StatementParseError;
use twin::{AttributeClass, ConsensusPolicy, DeviceId, Projection, Status};

const DOOR_EVENT: &str = r#"{"type":"statement-type-registered","name":"acme.example/door-event",
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
    let event = r#"{"type":"acme.example/door-event","door":"east","event":"open","badge":"B-17"}"#;
    // Unknown before registration.
    let e = apply(&mut p, "op.example", "device:door-1", event).expect_err("unregistered");
    assert!(
        matches!(e, ApplyError::Parse(StatementParseError::UnknownType(ref t)) if t == "acme.example/door-event"),
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
            r#"{"type":"statement-type-registered","name":"acme.example/bad","schema":{"type":12}}"#.into(),
            |e| matches!(e, ApplyError::CustomType { why, .. } if why.contains("not a valid JSON Schema")),
        ),
        (
            "op.example",
            "device:door-1",
            r#"{"type":"acme.example/door-event","door":"east","event":"smash"}"#.into(),
            |e| matches!(e, ApplyError::Parse(StatementParseError::SchemaViolation { why, .. }) if why.contains("/event")),
        ),
        (
            "op.example",
            "device:door-1",
            r#"{"type":"acme.example/door-event","door":"east","event":"open","colour":"red"}"#.into(),
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
            r#"{"type":"acme.example/door-event","event":"open"}"#.into(),
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
            r#"{"type":"custom","custom_type":"acme.example/door-event","content":{}}"#.into(),
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
    let class = AttributeClass::Custom("acme.example/door-event".into());
    assert!(matches!(p.status(reported), Some(Status::Claimed { .. })));
    apply(
        &mut p,
        "op.example",
        "device:door-1",
        &format!(r#"{{"type":"endorse","entry":{reported}}}"#),
    )
    .expect("endorse");
    assert_eq!(p.status(reported), Some(Status::Agreed));
    let view = p
        .view(&DeviceId::new("door-1").expect("device id"))
        .expect("twin");
    let attr = view
        .attributes
        .iter()
        .find(|a| a.attribute == class)
        .expect("custom attribute");
    let wire = attr.claim.body.to_wire();
    assert_eq!(wire["type"], "acme.example/door-event");
    assert_eq!(wire["badge"], "B-17");
    assert_eq!(attr.claim.body.type_name(), "acme.example/door-event");
    // The history records the custom type's name (sharing policies name it).
    let history = p
        .state()
        .history(&DeviceId::new("door-1").expect("device id"));
    assert!(history
        .iter()
        .any(|(e, k)| *e == reported && k == "acme.example/door-event"));
    // A sharing policy may name the custom type.
    let policy = serde_json::json!({"id":"p","grants":[{"readers":["authenticated"],"devices":"all","types":["acme.example/door-event"]}]});
    twin::sharing::SharingPolicy::parse(&policy).expect("policy naming a custom type");
}

/// Issue 13 item 6: `globex.example/telemetry` registered by another
/// organization with schema `false` would make globex's own statements fail.
/// A namespace belongs to the stakeholder whose id it is; the refusal does not
/// say whether the type exists; the quota is per stakeholder.
#[test]
fn a_namespace_belongs_to_the_stakeholder_it_names() {
    use twin::projection::{CUSTOM_TYPES_MAX, CUSTOM_TYPES_PER_STAKEHOLDER_MAX};
    let mut p = Projection::new(ConsensusPolicy::default());
    let mut entry = 0u64;
    let mut apply = |p: &mut Projection, issuer: &str, subject: &str, payload: String| {
        entry += 1;
        p.apply(Registered {
            issued_at: None,
            entry,
            issuer,
            subject,
            payload: payload.as_bytes(),
        })
    };
    let register = |name: &str, schema: &str| {
        format!(r#"{{"type":"statement-type-registered","name":"{name}","schema":{schema}}}"#)
    };
    let squat = register("globex.example/telemetry", "false");
    let refused = |e: &ApplyError| {
        matches!(e, ApplyError::CustomType { why, .. }
            if why == "acme.example may register types only in its own namespace, acme.example/<name>")
    };
    // Before and after globex registered it: the same refusal (no oracle).
    let e = apply(
        &mut p,
        "acme.example",
        "stakeholder:acme.example",
        squat.clone(),
    )
    .expect_err("squatting another namespace");
    assert!(refused(&e), "{e}");
    // A short namespace is not the stakeholder's either.
    let e = apply(
        &mut p,
        "globex.example",
        "stakeholder:globex.example",
        register("globex/telemetry", "false"),
    )
    .expect_err("globex/ is not globex.example's namespace");
    assert!(
        matches!(e, ApplyError::CustomType { ref why, .. } if why.contains("its own namespace")),
        "{e}"
    );
    apply(
        &mut p,
        "globex.example",
        "stakeholder:globex.example",
        register(
            "globex.example/telemetry",
            r#"{"type":"object","required":["t"]}"#,
        ),
    )
    .expect("globex registers its own type");
    let e = apply(&mut p, "acme.example", "stakeholder:acme.example", squat)
        .expect_err("squatting a registered type");
    assert!(refused(&e), "{e}");
    // Globex's statements satisfy globex's schema, not a squatter's.
    apply(
        &mut p,
        "acme.example",
        "device:t-1",
        r#"{"type":"device-registered","manufacturer":"Acme","model":"T","serial":"1"}"#.into(),
    )
    .expect("device");
    apply(
        &mut p,
        "acme.example",
        "device:t-1",
        r#"{"type":"ownership-transferred","owner":"globex.example"}"#.into(),
    )
    .expect("ownership");
    apply(
        &mut p,
        "globex.example",
        "device:t-1",
        r#"{"type":"globex.example/telemetry","t":21}"#.into(),
    )
    .expect("globex's statement under its own schema");

    // The quota is per stakeholder: acme fills its own, globex still registers.
    const _: () = assert!(CUSTOM_TYPES_PER_STAKEHOLDER_MAX < CUSTOM_TYPES_MAX);
    for i in 0..CUSTOM_TYPES_PER_STAKEHOLDER_MAX {
        apply(
            &mut p,
            "acme.example",
            "stakeholder:acme.example",
            register(&format!("acme.example/t-{i}"), "{}"),
        )
        .expect("within acme's quota");
    }
    let e = apply(
        &mut p,
        "acme.example",
        "stakeholder:acme.example",
        register("acme.example/one-more", "{}"),
    )
    .expect_err("beyond acme's quota");
    assert!(
        matches!(e, ApplyError::CustomType { ref why, .. } if why == &format!("a stakeholder registers at most {CUSTOM_TYPES_PER_STAKEHOLDER_MAX} custom types")),
        "{e}"
    );
    apply(
        &mut p,
        "globex.example",
        "stakeholder:globex.example",
        register("globex.example/other", "{}"),
    )
    .expect("globex's quota is its own");
}

/// The registry authority registers a type on a stakeholder's behalf (its
/// namespace is then the stakeholder's), never in its own name for another.
#[test]
fn the_authority_registers_a_namespace_only_on_its_owners_behalf() {
    use scitt::{Algorithm, SigningKey, StatementBuilder};
    use serde_json::json;
    let key = || SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let (ka, kg) = (key(), key());
    let mut p = Projection::new(ConsensusPolicy::default());
    let mut entry = 0u64;
    let mut add =
        |p: &mut Projection, k: &SigningKey, iss: &str, sub: &str, v: serde_json::Value| {
            let bytes = StatementBuilder::new(iss, sub, v.to_string().as_bytes())
                .content_type("application/json")
                .sign(k);
            entry += 1;
            p.ingest(entry, &bytes)
        };
    let reg = |name: &str, k: &SigningKey| {
        json!({"type": "stakeholder-registered", "name": name, "roles": [],
               "keys": [{"pem": k.public_key().to_pem()}]})
    };
    let auth = "authority.example";
    add(
        &mut p,
        &ka,
        auth,
        "stakeholder:authority.example",
        reg("Authority", &ka),
    )
    .expect("bootstrap");
    add(
        &mut p,
        &ka,
        auth,
        "stakeholder:globex.example",
        reg("Globex", &kg),
    )
    .expect("globex");
    let ty = json!({"type": "statement-type-registered", "name": "globex.example/telemetry", "schema": {}});
    let e = add(
        &mut p,
        &ka,
        auth,
        "stakeholder:authority.example",
        ty.clone(),
    )
    .expect_err("the authority's own namespace is not globex's");
    assert!(e.to_string().contains("only in its own namespace"), "{e}");
    let mut delegated = ty;
    delegated["on_behalf_of"] = json!("globex.example");
    add(&mut p, &ka, auth, "stakeholder:globex.example", delegated).expect("on globex's behalf");
    let t = p
        .meta()
        .custom_types
        .get("globex.example/telemetry")
        .expect("registered");
    assert_eq!(t.owner.0, "globex.example");
}

/// A custom type may name a payload field whose members set the twin's
/// asset attributes (`sets_attributes`): the later statement wins per key,
/// a value that is not an object is refused, and the field must be a plain
/// name. A built-in type (given by the deployment, not registered in the
/// log) does the same and may not take a core type's name.
#[test]
fn custom_and_builtin_types_set_asset_attributes() {
    let mut p =
        Projection::new(ConsensusPolicy::default()).with_builtin_types(crate::asset_events());
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
    };
    for bad in ["", "a.b", "type", "x y"] {
        let ty = format!(
            r#"{{"type":"statement-type-registered","name":"acme.example/bad","schema":{{}},"sets_attributes":"{bad}"}}"#
        );
        let e = apply(&mut p, "acme.example", "stakeholder:acme.example", &ty).expect_err(bad);
        assert!(
            matches!(&e, ApplyError::CustomType { why, .. } if why.contains("sets_attributes")),
            "{bad:?}: {e}"
        );
    }
    apply(
        &mut p,
        "acme.example",
        "stakeholder:acme.example",
        r#"{"type":"statement-type-registered","name":"acme.example/label","schema":{"type":"object"},"sets_attributes":"labels"}"#,
    )
    .expect("a type that sets attributes");
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
        r#"{"type":"acme.example/label","labels":{"site":"hq","floor":1}}"#,
    )
    .expect("labels");
    apply(&mut p, "acme.example", "device:door-1", r#"{"type":"asset-event","operation":"Record","behaviour":"RecordEvidence","asset_attributes":{"floor":2}}"#)
        .expect("a built-in event");
    let e = apply(
        &mut p,
        "acme.example",
        "device:door-1",
        r#"{"type":"acme.example/label","labels":"hq"}"#,
    )
    .expect_err("not an object");
    assert!(e.to_string().contains("labels must be an object"), "{e}");
    let e = apply(
        &mut p,
        "acme.example",
        "device:door-1",
        r#"{"type":"asset-event","operation":"Record"}"#,
    )
    .expect_err("the built-in schema holds");
    assert!(
        matches!(
            e,
            ApplyError::Parse(StatementParseError::SchemaViolation { .. })
        ),
        "{e}"
    );

    let twin = p.twin(&DeviceId::new("door-1").expect("id")).expect("twin");
    let attrs: Vec<(&str, serde_json::Value, u64)> = twin
        .asset_attributes
        .iter()
        .map(|(k, a)| (k.as_str(), a.value.clone(), a.entry))
        .collect();
    assert_eq!(
        attrs,
        vec![
            ("floor", serde_json::json!(2), 8),
            ("site", serde_json::json!("hq"), 7)
        ]
    );
    assert!(twin
        .current
        .contains_key(&AttributeClass::Custom("asset-event".into())));

    // A sharing policy may name the built-in type; a name in no vocabulary
    // is refused when the policy is published.
    let policy = |ty: &str| {
        format!(
            r#"{{"type":"sharing-policy","policy":{{"id":"p1","grants":[{{"readers":[{{"role":"operator"}}],"devices":"all","types":["{ty}"]}}]}}}}"#
        )
    };
    apply(
        &mut p,
        "acme.example",
        "stakeholder:acme.example",
        &policy("asset-event"),
    )
    .expect("a built-in type");
    let e = apply(
        &mut p,
        "acme.example",
        "stakeholder:acme.example",
        &policy("asset-evnt"),
    )
    .expect_err("a typo");
    assert!(e.to_string().contains("asset-evnt"), "{e}");

    // A built-in type cannot shadow the core vocabulary.
    let mut shadow = crate::asset_events()
        .iter()
        .next()
        .cloned()
        .expect("one type");
    shadow.name = "device-registered".into();
    let e = twin::BuiltinTypes::new([shadow]).expect_err("a core name");
    assert!(e.contains("core statement type"), "{e}");
}

/// A keyed built-in type keeps the latest claim per key (here per flag and
/// group), not per type: each key is its own attribute, with its own issuer
/// clock, under the type's one rule.
#[test]
fn a_keyed_builtin_type_keeps_one_claim_per_key() {
    use std::sync::Arc;
    use twin::projection::{keyed_class, status_of, KEYED_CLAIMS_MAX};
    use twin::{BuiltinType, BuiltinTypes, Role, Rule};

    let flag = || BuiltinType {
        name: "flag-set".into(),
        schema: serde_json::json!({
            "type": "object",
            "properties": {"flag": {"type": "string"}, "group": {"type": "string"}},
            "required": ["flag"]
        }),
        rule: Rule::new(&[Role::Operator, Role::Owner], &[]),
        sets_attributes: None,
        update_field: None,
        description: "a flag".into(),
    };
    for (name, fields) in [
        ("flag-sett", vec!["flag"]),
        ("flag-set", vec![]),
        ("flag-set", vec!["type"]),
        ("flag-set", vec!["a b"]),
        ("flag-set", vec!["a", "b", "c", "d", "e"]),
    ] {
        let e = BuiltinTypes::new([flag()])
            .expect("types")
            .keyed(name, &fields)
            .expect_err("a bad key");
        assert!(e.contains(name), "{name} {fields:?}: {e}");
    }
    let types = BuiltinTypes::new([flag()])
        .expect("types")
        .keyed("flag-set", &["flag", "group"])
        .expect("keyed");
    let mut p = Projection::new(ConsensusPolicy::default()).with_builtin_types(Arc::new(types));
    let mut entry = 0u64;
    let mut apply = |p: &mut Projection, issuer: &str, at: i64, payload: &str| {
        entry += 1;
        p.apply(Registered {
            issued_at: Some(at),
            entry,
            issuer,
            subject: "device:door-1",
            payload: payload.as_bytes(),
        })
        .map(|_| entry)
    };
    apply(
        &mut p,
        "acme.example",
        10,
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1"}"#,
    )
    .expect("device");
    apply(
        &mut p,
        "acme.example",
        11,
        r#"{"type":"ownership-transferred","owner":"op.example","operator":"op.example"}"#,
    )
    .expect("sold");
    let a = apply(
        &mut p,
        "op.example",
        100,
        r#"{"type":"flag-set","flag":"A"}"#,
    )
    .expect("A");
    let b = apply(
        &mut p,
        "op.example",
        50,
        r#"{"type":"flag-set","flag":"B"}"#,
    )
    .expect("another key has its own clock");
    let ag = apply(
        &mut p,
        "op.example",
        60,
        r#"{"type":"flag-set","flag":"A","group":"g"}"#,
    )
    .expect("A in a group");
    let e = apply(
        &mut p,
        "op.example",
        90,
        r#"{"type":"flag-set","flag":"A"}"#,
    )
    .expect_err("A's clock is at 100");
    assert!(matches!(e, ApplyError::BackInTime { .. }), "{e}");
    let a2 = apply(
        &mut p,
        "op.example",
        101,
        r#"{"type":"flag-set","flag":"A"}"#,
    )
    .expect("A again");
    let e = apply(
        &mut p,
        "acme.example",
        102,
        r#"{"type":"flag-set","flag":"C"}"#,
    )
    .expect_err("the manufacturer may not");
    assert!(matches!(e, ApplyError::NotAllowed { .. }), "{e}");

    let twin = p.twin(&DeviceId::new("door-1").expect("id")).expect("twin");
    let a_key = serde_json::json!("A");
    let g_key = serde_json::json!("g");
    let b_key = serde_json::json!("B");
    for (class, want) in [
        (keyed_class("flag-set", &[Some(&a_key), None]), Some(a2)),
        (keyed_class("flag-set", &[Some(&b_key), None]), Some(b)),
        (
            keyed_class("flag-set", &[Some(&a_key), Some(&g_key)]),
            Some(ag),
        ),
        (AttributeClass::Custom("flag-set".into()), None),
    ] {
        assert_eq!(twin.current.get(&class).copied(), want, "{class:?}");
    }
    assert_ne!(a, a2);
    let claim = p.claim(a2).expect("claim");
    assert_eq!(
        status_of(&p.meta().policy, &claim),
        Some(Status::Agreed),
        "the type's rule applies to every key"
    );

    // A twin holds a bounded number of keys; an existing key is replaced.
    for i in 0..KEYED_CLAIMS_MAX - 3 {
        let payload = format!(r#"{{"type":"flag-set","flag":"K{i}"}}"#);
        apply(&mut p, "op.example", 200, &payload).expect("room for it");
    }
    let e = apply(
        &mut p,
        "op.example",
        200,
        r#"{"type":"flag-set","flag":"one-too-many"}"#,
    )
    .expect_err("full");
    assert!(e.to_string().contains("keyed claims"), "{e}");
    apply(
        &mut p,
        "op.example",
        201,
        r#"{"type":"flag-set","flag":"A"}"#,
    )
    .expect("an existing key is replaced");
}
