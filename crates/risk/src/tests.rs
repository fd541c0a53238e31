//! Table tests of the deadline policy: dates, severity bands, deadlines per
//! severity with a release plan and without one (fallback), overdue status,
//! and the policy's serde form. No clock is read anywhere.

use super::*;

fn d(s: &str) -> Date {
    Date::parse(s).expect("test date")
}

#[test]
fn dates_parse_print_and_add_days() {
    for (s, ok) in [
        ("2026-01-31", true),
        ("2024-02-29", true),
        ("2025-02-29", false),
        ("2026-13-01", false),
        ("2026-1-01", false),
        ("26-01-01", false),
        ("2026-01-00", false),
        ("+026-01-01", false),
        ("1969-12-31", false),
    ] {
        assert_eq!(Date::parse(s).is_ok(), ok, "{s}");
        if ok {
            assert_eq!(d(s).to_string(), s);
        }
    }
    for (from, days, to) in [
        ("2026-01-31", 1, "2026-02-01"),
        ("2024-02-28", 1, "2024-02-29"),
        ("2026-12-31", 1, "2027-01-01"),
        ("2026-01-10", 90, "2026-04-10"),
        ("2026-01-10", 365, "2027-01-10"),
        ("9999-12-30", 5, "9999-12-31"),
    ] {
        assert_eq!(d(from).add_days(days), d(to), "{from} + {days}");
    }
    assert_eq!(d("2026-01-01").days_until(d("2026-03-01")), 59);
}

#[test]
fn severity_bands_follow_cvss_v3_1() {
    for (tenths, sev) in [
        (0, Severity::None),
        (1, Severity::Low),
        (39, Severity::Low),
        (40, Severity::Medium),
        (69, Severity::Medium),
        (70, Severity::High),
        (89, Severity::High),
        (90, Severity::Critical),
        (100, Severity::Critical),
    ] {
        assert_eq!(Severity::from_cvss_tenths(tenths), sev, "{tenths}");
    }
    assert_eq!(Severity::Critical.risk_level(), RiskLevel::High);
    assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
    assert!("urgent".parse::<Severity>().is_err());
}

fn plan() -> ReleasePlan {
    ReleasePlan {
        current: Version::parse("2.4.1").expect("version"),
        releases: vec![
            Release {
                version: Version::parse("3.0.0").expect("version"),
                date: d("2027-06-01"),
            },
            Release {
                version: Version::parse("2.4.2").expect("version"),
                date: d("2026-11-01"),
            },
            Release {
                version: Version::parse("2.5.0").expect("version"),
                date: d("2027-01-15"),
            },
        ],
    }
}

#[test]
fn deadlines_per_policy_with_and_without_release_plan() {
    let found = d("2026-10-01");
    let with_plan = DeadlinePolicy {
        release_plan: Some(plan()),
        ..DeadlinePolicy::default()
    };
    let v = |s: &str| Version::parse(s).expect("version");
    let cases: Vec<(&DeadlinePolicy, Severity, Option<&str>, DeadlineBasis)> = vec![
        (
            &with_plan,
            Severity::Critical,
            Some("2026-10-01"),
            DeadlineBasis::Immediate,
        ),
        (
            &with_plan,
            Severity::High,
            Some("2026-10-01"),
            DeadlineBasis::Immediate,
        ),
        (
            &with_plan,
            Severity::Medium,
            Some("2027-01-15"),
            DeadlineBasis::Release {
                version: v("2.5.0"),
            },
        ),
        (
            &with_plan,
            Severity::Low,
            Some("2027-06-01"),
            DeadlineBasis::Release {
                version: v("3.0.0"),
            },
        ),
        (&with_plan, Severity::None, None, DeadlineBasis::NoDeadline),
    ];
    let no_plan = DeadlinePolicy::default();
    let days7 = DeadlinePolicy {
        high_days: 7,
        ..DeadlinePolicy::default()
    };
    let more = vec![
        (
            &no_plan,
            Severity::Medium,
            Some("2026-12-30"),
            DeadlineBasis::Fallback {
                days: 90,
                wanted: "next minor".into(),
            },
        ),
        (
            &no_plan,
            Severity::Low,
            Some("2027-10-01"),
            DeadlineBasis::Fallback {
                days: 365,
                wanted: "next major".into(),
            },
        ),
        (
            &days7,
            Severity::High,
            Some("2026-10-08"),
            DeadlineBasis::Days { days: 7 },
        ),
    ];
    for (policy, sev, date, basis) in cases.into_iter().chain(more) {
        let got = policy.deadline(sev, found);
        assert_eq!(got.date, date.map(d), "{sev}");
        assert_eq!(got.basis, basis, "{sev}");
    }
}

#[test]
fn a_plan_without_a_major_release_falls_back_for_low_only() {
    let mut p = plan();
    p.releases.retain(|r| r.version.major == 2);
    let policy = DeadlinePolicy {
        release_plan: Some(p),
        ..DeadlinePolicy::default()
    };
    let found = d("2026-10-01");
    assert!(matches!(
        policy.deadline(Severity::Medium, found).basis,
        DeadlineBasis::Release { .. }
    ));
    assert!(matches!(
        policy.deadline(Severity::Low, found).basis,
        DeadlineBasis::Fallback { .. }
    ));
}

#[test]
fn overdue_only_after_the_deadline_day() {
    let deadline = DeadlinePolicy::default().deadline(Severity::High, d("2026-10-01"));
    assert_eq!(
        deadline.status(d("2026-09-30")),
        DeadlineStatus::Due { days_left: 1 }
    );
    assert_eq!(
        deadline.status(d("2026-10-01")),
        DeadlineStatus::Due { days_left: 0 }
    );
    assert_eq!(
        deadline.status(d("2026-10-03")),
        DeadlineStatus::Overdue { days_overdue: 2 }
    );
    assert!(!DeadlinePolicy::default()
        .deadline(Severity::None, d("2026-10-01"))
        .is_overdue(d("2030-01-01")));
}

#[test]
fn policy_reads_from_json_with_defaults_and_refuses_unknown_fields() {
    let p: DeadlinePolicy = serde_json::from_str(
        r#"{"high_days": 3, "release_plan": {"current": "2.4.0",
            "releases": [{"version": "2.5.0", "date": "2027-01-15"}]}}"#,
    )
    .expect("policy");
    assert_eq!(p.high_days, 3);
    assert_eq!(p.medium_fallback_days, MEDIUM_FALLBACK_DAYS_DEFAULT);
    assert_eq!(
        p.deadline(Severity::Medium, d("2026-01-01")).date,
        Some(d("2027-01-15"))
    );
    assert!(serde_json::from_str::<DeadlinePolicy>(r#"{"hi_days": 3}"#).is_err());
    assert!(serde_json::from_str::<DeadlinePolicy>(
        r#"{"release_plan": {"current": "2.x", "releases": []}}"#
    )
    .is_err());
    let json = serde_json::to_value(p.deadline(Severity::Low, d("2026-01-01"))).expect("json");
    assert_eq!(json["basis"], "fallback");
    assert_eq!(json["date"], "2027-01-01");
}

#[test]
fn versions_parse() {
    for (s, ok) in [
        ("2.5.0", true),
        ("v3.1", true),
        ("2", false),
        ("2.x.0", false),
        ("1.2.3.4", false),
        ("", false),
    ] {
        assert_eq!(Version::parse(s).is_ok(), ok, "{s}");
    }
    assert!(Version::parse("2.10.0").expect("v") > Version::parse("2.9.9").expect("v"));
}

#[test]
fn known_exploited_deadlines_are_the_sooner_of_the_two() {
    let found = Date::parse("2026-12-01").expect("date");
    let policy = DeadlinePolicy {
        kev_days: Some(14),
        ..DeadlinePolicy::default()
    };
    // Medium: 90 days by default, 14 when listed.
    let listed = policy.deadline_of(Severity::Medium, found, true);
    assert_eq!(listed.date, Some(found.add_days(14)));
    assert_eq!(listed.basis, DeadlineBasis::KnownExploited { days: 14 });
    assert_eq!(listed.basis.to_string(), "within 14 days (known exploited)");
    assert_eq!(
        policy.deadline_of(Severity::Medium, found, false),
        policy.deadline(Severity::Medium, found)
    );
    // High is due at once: sooner than 14 days, kept.
    assert_eq!(
        policy.deadline_of(Severity::High, found, true).basis,
        DeadlineBasis::Immediate
    );
    // Severity none, but exploited: the list's deadline.
    assert_eq!(
        policy.deadline_of(Severity::None, found, true).date,
        Some(found.add_days(14))
    );
    // Without kev_days, a listing changes nothing.
    let plain = DeadlinePolicy::default();
    assert_eq!(
        plain.deadline_of(Severity::Low, found, true),
        plain.deadline(Severity::Low, found)
    );
    let parsed: DeadlinePolicy = serde_json::from_str(r#"{"kev_days": 7}"#).expect("policy");
    assert_eq!(parsed.kev_days, Some(7));
}

#[test]
fn months_are_calendar_months_clamped_to_the_month_end() {
    let d = |s: &str| Date::parse(s).expect("date");
    for (from, months, to) in [
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2026-09-11", 1, "2026-10-11"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-03-31", 13, "2027-04-30"),
        ("2026-05-01", 0, "2026-05-01"),
    ] {
        assert_eq!(d(from).add_months(months), d(to), "{from} + {months}");
    }
}

#[test]
fn unix_seconds_map_to_utc_days_and_back() {
    // 2026-09-11T00:00:00Z and one second before it.
    let day = Date::parse("2026-09-11").expect("date");
    assert_eq!(day.unix_s(), 1_789_084_800);
    assert_eq!(Date::from_unix_s(1_789_084_800), day);
    assert_eq!(Date::from_unix_s(1_789_084_799).to_string(), "2026-09-10");
    assert_eq!(Date::from_unix_s(1_789_084_800 + 86_399), day);
}
