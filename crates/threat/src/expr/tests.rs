//! Tables for the condition language: parse errors with their positions,
//! and evaluation results over a fixed scope.

use super::*;

fn scope() -> MapScope {
    let mut s = MapScope::default();
    let mut el = BTreeMap::new();
    el.insert("type".into(), Value::Str("device".into()));
    el.insert(
        "controls".into(),
        Value::List(vec![Value::Str("secure_boot".into())]),
    );
    el.insert("debug_port".into(), Value::Bool(true));
    el.insert("name".into(), Value::Str("Door controller".into()));
    s.0.insert(Root::Element, el);
    let mut fl = BTreeMap::new();
    fl.insert("encrypted".into(), Value::Bool(false));
    fl.insert("crosses_boundary".into(), Value::Bool(true));
    fl.insert("port".into(), Value::Num(443.0));
    fl.insert("protocol".into(), Value::Str("HTTPS".into()));
    fl.insert("controls".into(), Value::List(vec![]));
    s.0.insert(Root::Flow, fl);
    s
}

#[test]
fn evaluation_table() {
    let s = scope();
    for (text, want) in [
        ("flow.encrypted == false and flow.crosses_boundary", true),
        ("\"secure_boot\" not in element.controls", false),
        ("'secure_boot' in element.controls", true),
        ("element.type in [\"device\", \"gateway\"]", true),
        ("element.type in ['cloud_service']", false),
        ("element.missing == false", false),
        ("element.missing == null", true),
        ("not element.missing", true),
        ("element.debug_port and not flow.encrypted", true),
        ("flow.port >= 443 and flow.port < 444", true),
        ("flow.port > \"a\"", false),
        ("\"TTP\" in flow.protocol", true),
        (
            "flow.encrypted or (element.type == 'device' and flow.port != 80)",
            true,
        ),
        ("(flow.port == 443) == true", true),
        ("element.controls", true),
        ("flow.controls", false),
        ("[]", false),
        ("not not true", true),
        (
            "element.type == 'device' or element.nope == 1 and false",
            true,
        ),
    ] {
        let e = Expr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(e.eval(&s), want, "{text}");
    }
}

#[test]
fn without_controls_hides_only_controls() {
    let s = scope();
    let e = Expr::parse("\"secure_boot\" not in element.controls and element.debug_port")
        .expect("parse");
    assert!(!e.eval(&s));
    assert!(e.eval(&WithoutControls(&s)));
}

#[test]
fn parse_errors_carry_positions() {
    for (text, line, col, needle) in [
        ("flow.encrypted = false", 1, 16, "use `==`"),
        ("flow.encrypted == ", 1, 19, "expected a value"),
        ("device.type == 'x'", 1, 1, "unknown name `device`"),
        (
            "element.type in ['a', element.b]",
            1,
            23,
            "list items must be literals",
        ),
        ("element.type == 'abc", 1, 17, "unterminated string"),
        ("element.a and\n  (element.b or", 2, 16, "expected a value"),
        ("element.a.b", 1, 10, "attributes are flat"),
        ("element.a element.b", 1, 11, "unexpected `element`"),
        ("(element.a", 1, 11, "expected `)`"),
        ("element.a && element.b", 1, 11, "use `and`"),
        ("element.", 1, 9, "expected a field name"),
    ] {
        let err = Expr::parse(text).expect_err(text);
        assert_eq!((err.line, err.col), (line, col), "{text}: {err}");
        assert!(err.message.contains(needle), "{text}: {err}");
    }
}

#[test]
fn limits_are_enforced() {
    let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
    let err = Expr::parse(&deep).expect_err("too deep");
    assert!(err.message.contains("nested deeper"), "{err}");
    let nots = format!("{}true", "not ".repeat(40));
    assert!(Expr::parse(&nots).is_err());
    let long = format!("element.a == '{}'", "x".repeat(EXPR_BYTES_MAX));
    assert!(Expr::parse(&long).is_err());
}

#[test]
fn roots_are_reported() {
    let e = Expr::parse("source.type == 'device' and flow.encrypted").expect("parse");
    assert_eq!(e.roots(), vec![Root::Flow, Root::Source]);
}
