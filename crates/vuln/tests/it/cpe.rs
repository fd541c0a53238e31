//! CPE parsing, binding and NISTIR 7696 matching, data-driven: the examples
//! of NISTIR 7695 (§6.1 URI, §6.2 formatted string) and NISTIR 7696 (§7
//! matching), real CPEs from CISA's vulnrichment ADP data, and the project
//! rules (vendor and product required; version ANY only through a range).

use vuln::cpe::{AttrValue, Cpe, CpeError, CpeMatch, Mismatch, Relation};
use vuln::version::{NvdBounds, VersionRange, VersionScheme};

fn v(s: &str) -> AttrValue {
    AttrValue::Value(s.to_string())
}

/// NISTIR 7695 §6.2.3 (unbind_fs) examples: formatted string to WFN values.
#[test]
fn formatted_string_examples_of_nistir_7695() {
    let cases: &[(&str, [AttrValue; 4], AttrValue)] = &[
        // Example 1.
        (
            r"cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
            [
                v("a"),
                v("microsoft"),
                v("internet_explorer"),
                v(r"8\.0\.6001"),
            ],
            v("beta"),
        ),
        // Example 2: wildcards.
        (
            r"cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*",
            [v("a"), v("microsoft"), v("internet_explorer"), v(r"8\.*")],
            v("sp?"),
        ),
        // Example 3: quoted characters.
        (
            r"cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*",
            [
                v("a"),
                v("hp"),
                v("insight_diagnostics"),
                v(r"7\.4\.0\.1570"),
            ],
            AttrValue::Na,
        ),
        // Example 5.
        (
            r"cpe:2.3:a:foo\\bar:big\$money:2010:*:*:*:special:ipod_touch:80gb:*",
            [v("a"), v(r"foo\\bar"), v(r"big\$money"), v("2010")],
            AttrValue::Any,
        ),
    ];
    for (fs, first, update) in cases {
        let cpe = Cpe::parse(fs).unwrap_or_else(|e| panic!("{fs}: {e}"));
        assert_eq!(
            [cpe.part(), cpe.vendor(), cpe.product(), cpe.version()],
            [&first[0], &first[1], &first[2], &first[3]],
            "{fs}"
        );
        assert_eq!(cpe.update(), update, "{fs}");
        assert_eq!(cpe.to_string(), *fs, "round trip of {fs}");
    }
}

/// NISTIR 7695 §6.1.3 (unbind_uri) examples, shown as formatted strings.
#[test]
fn uri_examples_of_nistir_7695() {
    for (uri, fs) in [
        (
            "cpe:/a:microsoft:internet_explorer:8.0.6001:beta",
            "cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*",
        ),
        (
            "cpe:/a:microsoft:internet_explorer:8.%2a:sp%3f",
            r"cpe:2.3:a:microsoft:internet_explorer:8.\*:sp\?:*:*:*:*:*:*",
        ),
        (
            "cpe:/a:microsoft:internet_explorer:8.%02:sp%01",
            "cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*",
        ),
        (
            "cpe:/a:hp:insight_diagnostics:7.4.0.1570::~~online~win2003~x64~",
            "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:*:*:*:online:win2003:x64:*",
        ),
        (
            "cpe:/a:hp:openview_network_manager:7.51:-:~~~linux~~",
            "cpe:2.3:a:hp:openview_network_manager:7.51:-:*:*:*:linux:*:*",
        ),
        (
            "cpe:/a:foo%5cbar:big%24money_manager_2010:::~~special~ipod_touch~80gb~:en-us",
            r"cpe:2.3:a:foo\\bar:big\$money_manager_2010:*:*:*:en-us:special:ipod_touch:80gb:*",
        ),
        (
            "cpe:/o:linux:linux_kernel",
            "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*",
        ),
    ] {
        let cpe = Cpe::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(cpe.to_string(), fs, "{uri}");
    }
}

#[test]
fn refusals_name_the_problem() {
    let cases: &[(&str, CpeError)] = &[
        (
            "cpe:2.3:a:vendor:product",
            CpeError::AttributeCount { found: 3 },
        ),
        (
            "cpe:2.3:a:v:p:*:*:*:*:*:*:*:*:*",
            CpeError::AttributeCount { found: 12 },
        ),
        ("wfn:[part=\"a\"]", CpeError::Prefix),
        (
            "cpe:2.3:x:v:p:*:*:*:*:*:*:*:*",
            CpeError::Attribute {
                attribute: "part",
                value: "Value(\"x\")".into(),
                reason: "part is a, o, h or *",
            },
        ),
        (
            "cpe:2.3:a:v:p:1.*.2:*:*:*:*:*:*:*",
            CpeError::Attribute {
                attribute: "version",
                value: "1.*.2".into(),
                reason: "unquoted * only at the start or end",
            },
        ),
        (
            "cpe:2.3:a:v:p:1?2:*:*:*:*:*:*:*",
            CpeError::Attribute {
                attribute: "version",
                value: "1?2".into(),
                reason: "unquoted ? only at the start or end",
            },
        ),
        (
            "cpe:2.3:a:v:p p:1:*:*:*:*:*:*:*",
            CpeError::Attribute {
                attribute: "product",
                value: "p p".into(),
                reason: "an unquoted character other than a letter, digit, _ - . * ?",
            },
        ),
        (
            "cpe:2.3:a:v::1:*:*:*:*:*:*:*",
            CpeError::Attribute {
                attribute: "product",
                value: "".into(),
                reason: "empty (use * for ANY or - for NA)",
            },
        ),
        (
            r"cpe:2.3:a:v:p:1\:*:*:*:*:*:*:*",
            CpeError::AttributeCount { found: 10 },
        ),
        (
            "cpe:/a:v:p:1:2:3:4:5",
            CpeError::UriComponentCount { found: 8 },
        ),
        (
            "cpe:/a:v:p:1%2",
            CpeError::Attribute {
                attribute: "version",
                value: "1%2".into(),
                reason: "truncated %-escape",
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Cpe::parse(input).as_ref(), Err(expected), "{input}");
    }
}

/// NISTIR 7696 §6.2 Table 6-2 (attribute relations) and §7 examples.
#[test]
fn attribute_relations_of_nistir_7696() {
    use Relation::*;
    let cpe = |version: &str| {
        Cpe::parse(&format!("cpe:2.3:a:vendor:product:{version}:*:*:*:*:*:*:*"))
            .unwrap_or_else(|e| panic!("{version}: {e}"))
    };
    // (source version, target version, relation of the version attribute)
    let cases = [
        ("*", "*", Equal),       // ANY, ANY
        ("*", "-", Superset),    // ANY, NA
        ("*", "1.0", Superset),  // ANY, i
        ("*", "1.*", Undefined), // ANY, target with wildcards
        ("-", "*", Subset),
        ("-", "-", Equal),
        ("-", "1.0", Disjoint),
        ("1.0", "*", Subset),
        ("1.0", "-", Disjoint),
        ("1.0", "1.0", Equal),
        ("1.0", "1.1", Disjoint),
        ("1.*", "1.2.3", Superset),
        ("1.*", "2.0", Disjoint),
        ("*.0", "10.0", Superset),
        ("1.?", "1.2", Superset),
        ("1.?", "1.22", Disjoint),
        ("1.??", "1.2", Superset), // the reference algorithm: up to two characters
        ("1.0", "1.0", Equal),
    ];
    for (s, t, rel) in cases {
        assert_eq!(cpe(s).compare(&cpe(t))[3], rel, "source {s} target {t}");
    }
    // Case-insensitive.
    let a = Cpe::parse("cpe:2.3:a:Microsoft:IE:8:*:*:*:*:*:*:*").expect("parses");
    let b = Cpe::parse("cpe:2.3:a:microsoft:ie:8:*:*:*:*:*:*:*").expect("parses");
    assert!(a.is_superset_of(&b));
    // NISTIR 7696 §7 example: source with wildcards in update names the target.
    let source = Cpe::parse("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:sp?:*:*:*:*:*:*")
        .expect("parses");
    let target = Cpe::parse("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:sp2:*:*:*:*:*:*")
        .expect("parses");
    assert!(source.is_superset_of(&target));
    assert!(!target.is_superset_of(&source));
}

#[test]
fn project_rules_on_top_of_name_matching() {
    let scheme = VersionScheme::Generic;
    let range = VersionRange::from_nvd(
        scheme,
        &NvdBounds {
            start_including: Some("2.0".into()),
            end_excluding: Some("2.4.1".into()),
            ..NvdBounds::default()
        },
    )
    .expect("range");
    let p = |s: &str| Cpe::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let device = p("cpe:2.3:o:acme:dc200_firmware:2.3.9:*:*:*:*:*:*:*");
    let cases: Vec<(&str, Option<&VersionRange>, Result<(), Mismatch>)> = vec![
        (
            "cpe:2.3:o:acme:dc200_firmware:2.3.9:*:*:*:*:*:*:*",
            None,
            Ok(()),
        ),
        (
            "cpe:2.3:o:acme:dc200_firmware:*:*:*:*:*:*:*:*",
            Some(&range),
            Ok(()),
        ),
        (
            "cpe:2.3:o:acme:dc200_firmware:*:*:*:*:*:*:*:*",
            None,
            Err(Mismatch::VersionAnyWithoutRange),
        ),
        (
            "cpe:2.3:o:*:dc200_firmware:2.3.9:*:*:*:*:*:*:*",
            None,
            Err(Mismatch::VendorOrProductUnspecified),
        ),
        (
            "cpe:2.3:o:acme:*:2.3.9:*:*:*:*:*:*:*",
            None,
            Err(Mismatch::VendorOrProductUnspecified),
        ),
        (
            "cpe:2.3:o:acme:dc300_firmware:*:*:*:*:*:*:*:*",
            Some(&range),
            Err(Mismatch::Attribute("product")),
        ),
        (
            "cpe:2.3:a:acme:dc200_firmware:*:*:*:*:*:*:*:*",
            Some(&range),
            Err(Mismatch::Attribute("part")),
        ),
        (
            "cpe:2.3:o:acme:dc200_firmware:2.3.8:*:*:*:*:*:*:*",
            None,
            Err(Mismatch::Attribute("version")),
        ),
    ];
    for (source, range, expected) in cases {
        let got = p(source).matches(&device, range);
        match (&got, &expected) {
            (CpeMatch::Match(_), Ok(())) => {}
            (CpeMatch::NoMatch(m), Err(e)) if m == e => {}
            _ => panic!("{source}: got {got:?}, expected {expected:?}"),
        }
    }
    // The match says which interval.
    let source = p("cpe:2.3:o:acme:dc200_firmware:*:*:*:*:*:*:*:*");
    let CpeMatch::Match(Some(interval)) = source.matches(&device, Some(&range)) else {
        panic!("expected a match");
    };
    assert_eq!(interval.to_string(), ">=2.0, <2.4.1");
    let newer = p("cpe:2.3:o:acme:dc200_firmware:2.4.1:*:*:*:*:*:*:*");
    assert_eq!(
        source.matches(&newer, Some(&range)),
        CpeMatch::NoMatch(Mismatch::OutsideRange)
    );
    let versionless = p("cpe:2.3:o:acme:dc200_firmware:-:*:*:*:*:*:*:*");
    assert_eq!(
        source.matches(&versionless, Some(&range)),
        CpeMatch::NoMatch(Mismatch::TargetVersionUnspecified)
    );
}

/// Every CPE of the vulnrichment sample parses and prints back unchanged.
#[test]
fn real_cpes_from_vulnrichment_round_trip() {
    let text = include_str!("../data/vulnrichment-cpes.txt");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cpe = Cpe::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(cpe.to_string(), line);
        assert!(cpe.is_superset_of(&cpe) || line.contains(['*', '?']));
        n += 1;
    }
    assert!(n > 1500, "only {n} CPEs");
}

/// Regressions for the fuzz invariant (printed form re-parses equal): a lone
/// quoted hyphen, `%02` alone (ANY) and doubled wildcards.
#[test]
fn printed_form_reparses_equal() {
    for input in [
        "cpe:/a:v:p:%2d",
        "cpe:/a:v:p:%02",
        "cpe:/a:v:p:%01%01",
        r"cpe:2.3:a:v:p:\-:*:*:*:*:*:*:*",
        r"cpe:2.3:a:v:p:\*:*:*:*:*:*:*:*",
        "cpe:2.3:a:v:p:*1.0?:*:*:*:*:*:*:*",
    ] {
        let cpe = Cpe::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let printed = cpe.to_string();
        assert_eq!(
            Cpe::parse(&printed).as_ref(),
            Ok(&cpe),
            "{input} -> {printed}"
        );
    }
    for bad in [
        "cpe:/a:v:p:%02%02",
        "cpe:/a:v:p:%02%01",
        "cpe:2.3:a:v:p:*?:*:*:*:*:*:*:*",
    ] {
        assert!(Cpe::parse(bad).is_err(), "{bad}");
    }
}
