//! CVSS parsing and scoring, data-driven: vectors with scores from the FIRST
//! specification documents (v3.0, v3.1, v4.0 examples; the environmental and
//! threat cases also checked against PyPI `cvss` 3.6, the independent
//! implementation of tests-interop/cvss), every refusal with its exact
//! error, and the published-score check.

use vuln::cvss::{CvssError, CvssVector, CvssVersion, Score, ScoreKind, Severity};

fn s(tenths: u8) -> Score {
    Score::from_tenths(tenths).expect("score")
}

#[test]
fn scores_of_known_vectors() {
    // (vector, base, score, kind, severity of score)
    let cases: &[(&str, u8, u8, ScoreKind, Severity)] = &[
        // v3.1 specification examples (CVSS v3.1 Examples document).
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            98,
            98,
            ScoreKind::Base,
            Severity::Critical,
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
            100,
            100,
            ScoreKind::Base,
            Severity::Critical,
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
            61,
            61,
            ScoreKind::Base,
            Severity::Medium,
        ),
        (
            "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            78,
            78,
            ScoreKind::Base,
            Severity::High,
        ),
        (
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N",
            0,
            0,
            ScoreKind::Base,
            Severity::None,
        ),
        (
            "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
            16,
            16,
            ScoreKind::Base,
            Severity::Low,
        ),
        // Temporal: 9.8 x 0.94 x 0.95 x 0.96 = 8.40 -> 8.5 (Roundup).
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:R",
            98,
            85,
            ScoreKind::Temporal,
            Severity::High,
        ),
        // Explicit X defines nothing.
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X/CR:X",
            98,
            98,
            ScoreKind::Base,
            Severity::Critical,
        ),
        // Environmental: 6.42 x MISS(0.626752) + 3.887 = 7.91 -> 8.0.
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/CR:L/IR:L/AR:L",
            98,
            80,
            ScoreKind::Environmental,
            Severity::High,
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H/MS:C",
            88,
            100,
            ScoreKind::Environmental,
            Severity::Critical,
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/MAV:P/MC:N/MI:N/MA:N",
            98,
            0,
            ScoreKind::Environmental,
            Severity::None,
        ),
        // v3.0.
        (
            "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            98,
            98,
            ScoreKind::Base,
            Severity::Critical,
        ),
        (
            "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N",
            64,
            64,
            ScoreKind::Base,
            Severity::Medium,
        ),
        // v4.0 (FIRST calculator and the specification's examples).
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            93,
            93,
            ScoreKind::CvssB,
            Severity::Critical,
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
            100,
            100,
            ScoreKind::CvssB,
            Severity::Critical,
        ),
        (
            "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
            0,
            0,
            ScoreKind::CvssB,
            Severity::None,
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U",
            93,
            81,
            ScoreKind::CvssBT,
            Severity::High,
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/CR:L/IR:L/AR:L",
            93,
            89,
            ScoreKind::CvssBE,
            Severity::High,
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/MSI:S",
            93,
            97,
            ScoreKind::CvssBTE,
            Severity::Critical,
        ),
        // Supplemental metrics do not change the score.
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:P/AU:Y/U:Red",
            93,
            93,
            ScoreKind::CvssB,
            Severity::Critical,
        ),
        // Explicit X: still CVSS-B.
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X",
            93,
            93,
            ScoreKind::CvssB,
            Severity::Critical,
        ),
    ];
    for (vector, base, score, kind, severity) in cases {
        let v = CvssVector::parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
        assert_eq!(
            (v.base_score(), v.score(), v.score_kind(), v.severity()),
            (s(*base), s(*score), *kind, *severity),
            "{vector}"
        );
    }
}

#[test]
fn version_and_canonical_form() {
    let v =
        CvssVector::parse(" CVSS:3.1/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N/E:X ").expect("parses");
    assert_eq!(v.version(), CvssVersion::V3_1);
    assert_eq!(
        v.to_string(),
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X"
    );
    assert_eq!(v.metric("E"), Some("X"));
    assert_eq!(v.metric("RL"), None);
    assert_eq!(v.base_score(), s(98));
}

#[test]
fn refusals_name_the_metric() {
    let base31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    let cases: Vec<(String, CvssError)> = vec![
        ("".into(), CvssError::Empty),
        (
            "CVSS:2.0/AV:N".into(),
            CvssError::UnsupportedVersion {
                prefix: "CVSS:2.0".into(),
            },
        ),
        (
            "AV:N/AC:L/Au:N/C:P/I:P/A:P".into(),
            CvssError::UnsupportedVersion {
                prefix: "AV:N".into(),
            },
        ),
        (
            format!("{base31}/E"),
            CvssError::MalformedComponent {
                component: "E".into(),
            },
        ),
        (
            format!("{base31}/"),
            CvssError::MalformedComponent {
                component: "".into(),
            },
        ),
        (
            format!("{base31}/XX:Y"),
            CvssError::UnknownMetric {
                metric: "XX".into(),
                version: CvssVersion::V3_1,
            },
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q".into(),
            CvssError::InvalidValue {
                metric: "A",
                value: "Q".into(),
                allowed: "H, L, N".into(),
            },
        ),
        (
            "CVSS:3.1/av:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
            CvssError::UnknownMetric {
                metric: "av".into(),
                version: CvssVersion::V3_1,
            },
        ),
        (
            format!("{base31}/AV:L"),
            CvssError::DuplicateMetric { metric: "AV" },
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H".into(),
            CvssError::MissingMetric { metric: "S" },
        ),
        (
            "CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".into(),
            CvssError::MissingMetric { metric: "AT" },
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:H".into(),
            CvssError::InvalidValue {
                metric: "E",
                value: "H".into(),
                allowed: "X, A, P, U".into(),
            },
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/RL:O".into(),
            CvssError::UnknownMetric {
                metric: "RL".into(),
                version: CvssVersion::V4_0,
            },
        ),
        (
            format!("{base31}{}", "/E:X".repeat(200)),
            CvssError::TooLong { len_bytes: 844 },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(CvssVector::parse(&input), Err(expected), "{input}");
    }
    assert_eq!(
        CvssError::DuplicateMetric { metric: "AV" }.to_string(),
        "metric AV appears more than once"
    );
}

#[test]
fn published_scores_are_checked_against_every_recomputed_score() {
    let v = CvssVector::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:R/CR:L")
        .expect("parses");
    let scores: Vec<_> = v.scores();
    assert_eq!(scores.first(), Some(&(ScoreKind::Base, s(98))));
    // (published, agrees, matches)
    for (published, agrees, matches) in [
        (98, true, Some(ScoreKind::Base)),
        (85, false, Some(ScoreKind::Temporal)),
        (
            v.environmental_score().map_or(0, |e| e.tenths()),
            false,
            Some(ScoreKind::Environmental),
        ),
        (75, false, None),
    ] {
        let check = v.check_published_base_score(s(published));
        assert_eq!(
            (check.agrees(), check.matches),
            (agrees, matches),
            "published {published}"
        );
    }
    assert_eq!(Score::from_f64(7.5), Some(s(75)));
    assert_eq!(Score::from_f64(7.55), None);
    assert_eq!(Score::from_f64(10.1), None);
    assert_eq!(s(75).to_string(), "7.5");
}
