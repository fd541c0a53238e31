//! The deadline policy shared by threat-model findings and the vulnerability
//! risk register: a [`Severity`] from a CVSS score (the CVSS v3.1 §5 bands),
//! a [`DeadlinePolicy`] ("high: fix immediately; medium: next minor release;
//! low: next major release") that resolves against an announced
//! [`ReleasePlan`] or, without one, against day counts, and the
//! [`DeadlineStatus`] of a deadline on a given day.
//!
//! Deliberately absent: a clock ("today" is always passed in), I/O (the
//! caller reads the policy file and hands it to serde), the register itself
//! and its signed statements. Every [`Deadline`] says on what basis it was
//! set ([`DeadlineBasis`]), so a fallback to day counts is never silent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors of the parsers of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskError {
    /// A date that is not a valid `YYYY-MM-DD` calendar date.
    #[error("invalid date {0:?}: expected YYYY-MM-DD")]
    Date(String),
    /// A version that is not `MAJOR.MINOR.PATCH` (or `MAJOR.MINOR`).
    #[error("invalid version {0:?}: expected MAJOR.MINOR.PATCH")]
    Version(String),
    /// A severity name that is not none/low/medium/high/critical.
    #[error("invalid severity {0:?}: expected none, low, medium, high or critical")]
    Severity(String),
}

/// The latest year a [`Date`] may have: far beyond any deadline, small
/// enough that day arithmetic cannot overflow.
pub const DATE_YEAR_MAX: i32 = 9999;
/// The earliest year a [`Date`] may have.
pub const DATE_YEAR_MIN: i32 = 1970;

/// A calendar date (proleptic Gregorian), written `YYYY-MM-DD`. Held as days
/// since 1970-01-01 so that adding days and comparing are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// The date of `year-month-day`, if it exists and lies within
    /// [`DATE_YEAR_MIN`]..=[`DATE_YEAR_MAX`].
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(DATE_YEAR_MIN..=DATE_YEAR_MAX).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Parses `YYYY-MM-DD` (exactly that form: four-digit year, two-digit
    /// month and day).
    pub fn parse(s: &str) -> Result<Date, RiskError> {
        let err = || RiskError::Date(s.to_string());
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, RiskError> {
            let part = s.get(r).ok_or_else(err)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let year = i32::try_from(num(0..4)?).map_err(|_| err())?;
        Date::from_ymd(year, num(5..7)?, num(8..10)?).ok_or_else(err)
    }

    /// This date plus `days` days, capped at the last day of [`DATE_YEAR_MAX`].
    pub fn add_days(self, days: u32) -> Date {
        let max = days_from_civil(DATE_YEAR_MAX, 12, 31);
        let days = i32::try_from(days).unwrap_or(i32::MAX);
        Date(self.0.saturating_add(days).min(max))
    }

    /// Days from `self` to `other` (negative when `other` is earlier).
    pub fn days_until(self, other: Date) -> i64 {
        i64::from(other.0) - i64::from(self.0)
    }

    /// (year, month, day).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// The same day `months` months later, or the month's last day when it
    /// has fewer days (31 January + 1 month = 28 or 29 February), capped at
    /// the last day of [`DATE_YEAR_MAX`].
    pub fn add_months(self, months: u32) -> Date {
        let (y, m, d) = self.ymd();
        let total = i64::from(y) * 12 + i64::from(m - 1) + i64::from(months);
        let year = i32::try_from(total.div_euclid(12)).unwrap_or(DATE_YEAR_MAX);
        if year > DATE_YEAR_MAX {
            return Date(days_from_civil(DATE_YEAR_MAX, 12, 31));
        }
        let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
        Date(days_from_civil(
            year,
            month,
            d.min(days_in_month(year, month)),
        ))
    }

    /// The UTC day of `unix_s` (seconds since the epoch), clamped to the
    /// accepted years.
    pub fn from_unix_s(unix_s: i64) -> Date {
        let min = days_from_civil(DATE_YEAR_MIN, 1, 1);
        let max = days_from_civil(DATE_YEAR_MAX, 12, 31);
        let days = unix_s
            .div_euclid(86_400)
            .clamp(i64::from(min), i64::from(max));
        Date(i32::try_from(days).unwrap_or(max))
    }

    /// Seconds since the epoch at 00:00 UTC of this day.
    pub fn unix_s(self) -> i64 {
        i64::from(self.0) * 86_400
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = RiskError;
    fn from_str(s: &str) -> Result<Date, RiskError> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days`
// (http://howardhinnant.github.io/date_algorithms.html), valid for every
// date in the accepted range.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The qualitative severity of a finding or vulnerability (CVSS v3.1 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Score 0.0.
    None,
    /// Score 0.1 to 3.9.
    Low,
    /// Score 4.0 to 6.9.
    Medium,
    /// Score 7.0 to 8.9.
    High,
    /// Score 9.0 to 10.0.
    Critical,
}

impl Severity {
    /// The band of a CVSS score given in tenths (75 for 7.5); scores above
    /// 10.0 count as critical.
    pub fn from_cvss_tenths(tenths: u8) -> Severity {
        match tenths {
            0 => Severity::None,
            1..=39 => Severity::Low,
            40..=69 => Severity::Medium,
            70..=89 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// `"none"`, `"low"`, `"medium"`, `"high"` or `"critical"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The rating's name as the CVSS specifications write it: `"None"`,
    /// `"Low"`, `"Medium"`, `"High"` or `"Critical"` (what CVSS
    /// calculators print; [`Severity::as_str`] is the lowercase wire form).
    pub fn rating_name(self) -> &'static str {
        match self {
            Severity::None => "None",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }

    /// The policy class of this severity: critical is treated as high.
    pub fn risk_level(self) -> RiskLevel {
        match self {
            Severity::None => RiskLevel::None,
            Severity::Low => RiskLevel::Low,
            Severity::Medium => RiskLevel::Medium,
            Severity::High | Severity::Critical => RiskLevel::High,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = RiskError;
    fn from_str(s: &str) -> Result<Severity, RiskError> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Severity::None),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(RiskError::Severity(s.to_string())),
        }
    }
}

/// The risk level a policy acts on: the severity with critical folded into
/// high ("high: fix immediately").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Nothing to fix.
    None,
    /// Fix by the next major release.
    Low,
    /// Fix by the next minor release.
    Medium,
    /// Fix immediately (or within the policy's configured days).
    High,
}

impl RiskLevel {
    /// `"none"`, `"low"`, `"medium"` or `"high"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A product version `MAJOR.MINOR.PATCH` (a missing patch reads as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl Version {
    /// Parses `MAJOR.MINOR.PATCH` or `MAJOR.MINOR`, with an optional leading `v`.
    pub fn parse(s: &str) -> Result<Version, RiskError> {
        let err = || RiskError::Version(s.to_string());
        let t = s.strip_prefix('v').unwrap_or(s);
        let mut parts = t.split('.');
        let mut next = |required: bool| -> Result<u32, RiskError> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => {
                    p.parse().map_err(|_| err())
                }
                None if !required => Ok(0),
                _ => Err(err()),
            }
        };
        let v = Version {
            major: next(true)?,
            minor: next(true)?,
            patch: next(false)?,
        };
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = RiskError;
    fn from_str(s: &str) -> Result<Version, RiskError> {
        Version::parse(s)
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Version, D::Error> {
        let s = String::deserialize(d)?;
        Version::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An announced release: its version and planned date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The version, e.g. 2.5.0.
    pub version: Version,
    /// The planned date, e.g. 2027-01-15.
    pub date: Date,
}

/// The announced releases of a product and the version it is at now, from
/// which "next minor" and "next major" resolve to dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePlan {
    /// The version released now (deadlines are relative to it).
    pub current: Version,
    /// Announced releases, in any order.
    #[serde(default)]
    pub releases: Vec<Release>,
}

impl ReleasePlan {
    /// The earliest announced release (by version) that raises the minor or
    /// major version above [`ReleasePlan::current`].
    pub fn next_minor(&self) -> Option<&Release> {
        let c = self.current;
        self.releases
            .iter()
            .filter(|r| (r.version.major, r.version.minor) > (c.major, c.minor))
            .min_by_key(|r| r.version)
    }

    /// The earliest announced release (by version) that raises the major
    /// version above [`ReleasePlan::current`].
    pub fn next_major(&self) -> Option<&Release> {
        self.releases
            .iter()
            .filter(|r| r.version.major > self.current.major)
            .min_by_key(|r| r.version)
    }
}

/// Days given to high and critical risks by default: 0, i.e. the deadline is
/// the day the risk was found ("fix immediately").
pub const HIGH_DAYS_DEFAULT: u32 = 0;
/// Days given to medium risks when no release plan names a next minor
/// release: a quarter, a common minor-release cadence.
pub const MEDIUM_FALLBACK_DAYS_DEFAULT: u32 = 90;
/// Days given to low risks when no release plan names a next major release:
/// a year, a common major-release cadence.
pub const LOW_FALLBACK_DAYS_DEFAULT: u32 = 365;

/// The deadline policy: "high: fix immediately; medium: next minor release;
/// low: next major release". Deserializes from YAML or JSON; every field has
/// a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinePolicy {
    /// Days after the finding's date by which high and critical risks must
    /// be fixed (default [`HIGH_DAYS_DEFAULT`] = 0: immediately).
    pub high_days: u32,
    /// Days for medium risks without a next minor release in the plan
    /// (default [`MEDIUM_FALLBACK_DAYS_DEFAULT`]).
    pub medium_fallback_days: u32,
    /// Days for low risks without a next major release in the plan
    /// (default [`LOW_FALLBACK_DAYS_DEFAULT`]).
    pub low_fallback_days: u32,
    /// The release plan, if one is announced.
    pub release_plan: Option<ReleasePlan>,
    /// Days after the finding's date by which a vulnerability on a
    /// known-exploited list must be fixed, whatever its severity, when that
    /// is sooner than the severity's deadline (CISA's BOD 22-01 gives two
    /// weeks: `14`). None (the default): listed vulnerabilities keep their
    /// severity's deadline.
    pub kev_days: Option<u32>,
}

impl Default for DeadlinePolicy {
    fn default() -> DeadlinePolicy {
        DeadlinePolicy {
            high_days: HIGH_DAYS_DEFAULT,
            medium_fallback_days: MEDIUM_FALLBACK_DAYS_DEFAULT,
            low_fallback_days: LOW_FALLBACK_DAYS_DEFAULT,
            release_plan: None,
            kev_days: None,
        }
    }
}

/// Why a deadline is what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum DeadlineBasis {
    /// High or critical: due on the day it was found.
    Immediate,
    /// High or critical with a configured number of days.
    Days {
        /// The days after the finding's date.
        days: u32,
    },
    /// The announced release that must carry the fix.
    Release {
        /// Its version.
        version: Version,
    },
    /// No release plan (or no matching release in it): a day count instead.
    Fallback {
        /// The days after the finding's date.
        days: u32,
        /// Which release was wanted: `"next minor"` or `"next major"`.
        wanted: String,
    },
    /// Severity none: no deadline.
    NoDeadline,
    /// On a known-exploited list: the policy's days for those, sooner than
    /// the severity's deadline.
    KnownExploited {
        /// The days after the finding's date.
        days: u32,
    },
}

impl fmt::Display for DeadlineBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineBasis::Immediate => f.write_str("immediately"),
            DeadlineBasis::Days { days } => write!(f, "within {days} days"),
            DeadlineBasis::Release { version } => write!(f, "release {version}"),
            DeadlineBasis::Fallback { days, wanted } => {
                write!(f, "{days} days (no {wanted} release announced)")
            }
            DeadlineBasis::NoDeadline => f.write_str("no deadline"),
            DeadlineBasis::KnownExploited { days } => {
                write!(f, "within {days} days (known exploited)")
            }
        }
    }
}

/// A deadline: its date (none for severity none) and its basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The date by which the risk must be fixed.
    pub date: Option<Date>,
    /// Why.
    #[serde(flatten)]
    pub basis: DeadlineBasis,
}

impl DeadlinePolicy {
    /// The deadline of a risk of `severity` found on `found`.
    pub fn deadline(&self, severity: Severity, found: Date) -> Deadline {
        let plan = self.release_plan.as_ref();
        match severity.risk_level() {
            RiskLevel::None => Deadline {
                date: None,
                basis: DeadlineBasis::NoDeadline,
            },
            RiskLevel::High if self.high_days == 0 => Deadline {
                date: Some(found),
                basis: DeadlineBasis::Immediate,
            },
            RiskLevel::High => Deadline {
                date: Some(found.add_days(self.high_days)),
                basis: DeadlineBasis::Days {
                    days: self.high_days,
                },
            },
            RiskLevel::Medium => release_or_fallback(
                plan.and_then(ReleasePlan::next_minor),
                found,
                self.medium_fallback_days,
                "next minor",
            ),
            RiskLevel::Low => release_or_fallback(
                plan.and_then(ReleasePlan::next_major),
                found,
                self.low_fallback_days,
                "next major",
            ),
        }
    }
}

impl DeadlinePolicy {
    /// The deadline of a risk of `severity` found on `found`, of a
    /// vulnerability on a known-exploited list when `known_exploited`: the
    /// sooner of the severity's deadline and [`DeadlinePolicy::kev_days`].
    pub fn deadline_of(&self, severity: Severity, found: Date, known_exploited: bool) -> Deadline {
        let by_severity = self.deadline(severity, found);
        let (Some(days), true) = (self.kev_days, known_exploited) else {
            return by_severity;
        };
        let kev = found.add_days(days);
        match by_severity.date {
            Some(d) if d <= kev => by_severity,
            _ => Deadline {
                date: Some(kev),
                basis: DeadlineBasis::KnownExploited { days },
            },
        }
    }
}

fn release_or_fallback(
    release: Option<&Release>,
    found: Date,
    days: u32,
    wanted: &str,
) -> Deadline {
    match release {
        Some(r) => Deadline {
            date: Some(r.date),
            basis: DeadlineBasis::Release { version: r.version },
        },
        None => Deadline {
            date: Some(found.add_days(days)),
            basis: DeadlineBasis::Fallback {
                days,
                wanted: wanted.to_string(),
            },
        },
    }
}

/// Where a deadline stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// No deadline.
    NoDeadline,
    /// Not past yet (due today counts as not past).
    Due {
        /// Days left (0 on the deadline itself).
        days_left: i64,
    },
    /// Past the deadline.
    Overdue {
        /// Days past the deadline (at least 1).
        days_overdue: i64,
    },
}

impl Deadline {
    /// The status of this deadline on `today`.
    pub fn status(&self, today: Date) -> DeadlineStatus {
        match self.date {
            None => DeadlineStatus::NoDeadline,
            Some(d) => {
                let left = today.days_until(d);
                if left >= 0 {
                    DeadlineStatus::Due { days_left: left }
                } else {
                    DeadlineStatus::Overdue {
                        days_overdue: -left,
                    }
                }
            }
        }
    }

    /// Whether this deadline is past on `today`.
    pub fn is_overdue(&self, today: Date) -> bool {
        matches!(self.status(today), DeadlineStatus::Overdue { .. })
    }
}

#[cfg(test)]
mod tests;
