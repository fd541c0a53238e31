//! CVSS v3.0, v3.1 and v4.0 vectors: a strict parser, the scores they
//! define (v3: base, temporal, environmental; v4: CVSS-B, -BT, -BE, -BTE),
//! qualitative severities, and a check of a published score against the
//! recomputed ones.
//!
//! What is computed where, and why:
//! - **Parsing** is ours for every version ([`CvssVector::parse`]): errors name
//!   the bad, duplicated or missing metric, which the RustSec `cvss` crate's
//!   errors do not always do, and we need one metric table for both versions.
//! - **v3.0/v3.1 scores are written by hand** from the FIRST specifications
//!   (v3.1 §7 and Appendix A, v3.0 §8). The `cvss` crate (3.0.0) has no
//!   temporal score at all (its `lib.rs` carries "TODO: CVSS v3.1 Temporal and
//!   Environmental Groups"), and its Roundup truncates `x * 100000` where
//!   Appendix A rounds it to the nearest integer. The formulas are twenty
//!   lines, so owning them costs less than patching around the crate.
//!   Roundup is Appendix A's for both minor versions: v3.0 defines Round up as
//!   "the smallest number, specified to one decimal place, that is equal to or
//!   higher than its input", and Appendix A is how v3.1 computes exactly that
//!   without floating-point artefacts (the v3.0 calculator's `ceil(x * 10)`
//!   turned 4.000000000001 into 4.1).
//! - **v4.0 scores come from the `cvss` crate** (a port of FIRST's reference
//!   calculator: macrovectors, the lookup table and severity distances). We
//!   hand it a canonical vector rebuilt from our parse with only the metrics
//!   that are defined (not `X`), so its nomenclature cannot be confused by an
//!   explicit `X`; the v4 base score is the same computation over the base
//!   metrics alone. `tests-interop/cvss/run.sh` checks every score against an
//!   independent implementation (PyPI `cvss`).
//!
//! Deliberately absent: CVSS v2 (advisories still carry it, but nothing here
//! decides on it), serde (the CLI's JSON is built in the binary), and any
//! guessing: a vector with an unknown metric, a bad value, a duplicate or a
//! missing base metric is refused, never scored with defaults.

use std::fmt;
use std::str::FromStr;

/// Longest vector accepted, in bytes. A v4.0 vector with every metric
/// (including supplemental ones) is about 250 bytes; v3.1 about 130.
pub const VECTOR_BYTES_MAX: usize = 512;

/// Why a vector string was refused. Metric names are the spec's abbreviations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// The string is empty (after trimming whitespace).
    #[error("empty CVSS vector")]
    Empty,
    /// The string is longer than [`VECTOR_BYTES_MAX`].
    #[error("CVSS vector of {len_bytes} bytes is longer than the {VECTOR_BYTES_MAX} allowed")]
    TooLong {
        /// Its length in bytes.
        len_bytes: usize,
    },
    /// The prefix is not `CVSS:3.0`, `CVSS:3.1` or `CVSS:4.0`.
    #[error(
        "unsupported CVSS version prefix {prefix:?} (expected CVSS:3.0, CVSS:3.1 or CVSS:4.0)"
    )]
    UnsupportedVersion {
        /// The first component of the string.
        prefix: String,
    },
    /// A component is not `METRIC:VALUE`.
    #[error("malformed component {component:?}: expected METRIC:VALUE")]
    MalformedComponent {
        /// The component as found between slashes.
        component: String,
    },
    /// A metric that this CVSS version does not define.
    #[error("unknown metric {metric:?} in a CVSS {version} vector")]
    UnknownMetric {
        /// The metric abbreviation found.
        metric: String,
        /// The vector's version.
        version: CvssVersion,
    },
    /// A value the metric does not allow.
    #[error("invalid value {value:?} for metric {metric} (allowed: {allowed})")]
    InvalidValue {
        /// The metric abbreviation.
        metric: &'static str,
        /// The value found.
        value: String,
        /// The allowed values, comma separated.
        allowed: String,
    },
    /// A metric given twice.
    #[error("metric {metric} appears more than once")]
    DuplicateMetric {
        /// The metric abbreviation.
        metric: &'static str,
    },
    /// A mandatory base metric is absent.
    #[error("mandatory base metric {metric} is missing")]
    MissingMetric {
        /// The metric abbreviation.
        metric: &'static str,
    },
    /// The v4.0 scoring library refused a vector our parser accepted (a bug
    /// in one of the two; never expected).
    #[error("CVSS 4.0 scoring refused the canonical vector {vector:?}: {reason}")]
    Scoring {
        /// The canonical vector handed to the scorer.
        vector: String,
        /// The scorer's message.
        reason: String,
    },
}

/// The CVSS version of a vector, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CvssVersion {
    /// `CVSS:3.0`.
    V3_0,
    /// `CVSS:3.1`.
    V3_1,
    /// `CVSS:4.0`.
    V4_0,
}

impl CvssVersion {
    /// `"3.0"`, `"3.1"` or `"4.0"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CvssVersion::V3_0 => "3.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V4_0 => "4.0",
        }
    }
}

impl fmt::Display for CvssVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CVSS score, 0.0 to 10.0 with one decimal, held as tenths so that
/// scores compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Score(u8);

impl Score {
    /// The largest score.
    pub const MAX: Score = Score(100);

    /// The score of `tenths` tenths (e.g. 75 for 7.5), if at most 100.
    pub fn from_tenths(tenths: u8) -> Option<Score> {
        (tenths <= 100).then_some(Score(tenths))
    }

    /// A published decimal score (e.g. `7.5`), if it is between 0.0 and 10.0
    /// and has at most one decimal (a tolerance of 0.001 absorbs the binary
    /// representation of decimal numbers).
    pub fn from_f64(value: f64) -> Option<Score> {
        if !value.is_finite() || !(0.0..=10.0).contains(&value) {
            return None;
        }
        let tenths = (value * 10.0).round();
        if (value * 10.0 - tenths).abs() > 0.01 {
            return None;
        }
        // In 0..=100 by the range check above.
        Some(Score(tenths as u8))
    }

    /// The score in tenths.
    pub fn tenths(self) -> u8 {
        self.0
    }

    /// The score as a number (e.g. 7.5).
    pub fn value(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    /// The qualitative severity rating (v3.1 §5, v4.0 §6: the same scale).
    pub fn severity(self) -> Severity {
        Severity::from_cvss_tenths(self.0)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// The qualitative severity rating scale: the one `Severity` of the
/// workspace (`risk::Severity`), whose bands are computed in one place
/// ([`Severity::from_cvss_tenths`]).
pub use risk::Severity;

/// Which score of a vector a [`Score`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScoreKind {
    /// v3 base score.
    Base,
    /// v3 temporal score.
    Temporal,
    /// v3 environmental score (which includes the temporal metrics).
    Environmental,
    /// v4 `CVSS-B`: base metrics only.
    CvssB,
    /// v4 `CVSS-BT`: base and threat metrics.
    CvssBT,
    /// v4 `CVSS-BE`: base and environmental metrics.
    CvssBE,
    /// v4 `CVSS-BTE`: base, threat and environmental metrics.
    CvssBTE,
}

impl ScoreKind {
    /// `"base"`, `"temporal"`, `"environmental"`, `"CVSS-B"`, `"CVSS-BT"`,
    /// `"CVSS-BE"` or `"CVSS-BTE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreKind::Base => "base",
            ScoreKind::Temporal => "temporal",
            ScoreKind::Environmental => "environmental",
            ScoreKind::CvssB => "CVSS-B",
            ScoreKind::CvssBT => "CVSS-BT",
            ScoreKind::CvssBE => "CVSS-BE",
            ScoreKind::CvssBTE => "CVSS-BTE",
        }
    }
}

impl fmt::Display for ScoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published score compared with the recomputed ones
/// ([`CvssVector::check_published_base_score`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedScoreCheck {
    /// The score as published.
    pub published: Score,
    /// The recomputed base score.
    pub base: Score,
    /// Which recomputed score the published one equals, base first; `None`
    /// when it equals none of them.
    pub matches: Option<ScoreKind>,
}

impl PublishedScoreCheck {
    /// Whether the published base score is the recomputed base score.
    pub fn agrees(&self) -> bool {
        self.published == self.base
    }
}

/// A parsed CVSS v3.0, v3.1 or v4.0 vector. Construct with
/// [`CvssVector::parse`]; the version comes from the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvssVector {
    version: CvssVersion,
    /// Value index per metric of the version's table (`None`: absent).
    values: Vec<Option<u8>>,
    scores: Scores,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Scores {
    base: Score,
    /// v3 only.
    temporal: Option<Score>,
    /// v3 only.
    environmental: Option<Score>,
    /// The most specific score and its kind.
    kind: ScoreKind,
    score: Score,
}

impl CvssVector {
    /// Parses and scores a vector (`CVSS:3.1/AV:N/...`, `CVSS:4.0/AV:N/...`).
    /// Metrics may come in any order; names and values are case-sensitive
    /// (upper case, as the specs and their JSON schemas write them);
    /// surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Result<CvssVector, CvssError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(CvssError::Empty);
        }
        if s.len() > VECTOR_BYTES_MAX {
            return Err(CvssError::TooLong { len_bytes: s.len() });
        }
        let mut components = s.split('/');
        let prefix = components.next().unwrap_or_default();
        let version = match prefix {
            "CVSS:3.0" => CvssVersion::V3_0,
            "CVSS:3.1" => CvssVersion::V3_1,
            "CVSS:4.0" => CvssVersion::V4_0,
            other => {
                return Err(CvssError::UnsupportedVersion {
                    prefix: other.to_string(),
                })
            }
        };
        let table = metric_table(version);
        let mut values: Vec<Option<u8>> = vec![None; table.len()];
        for component in components {
            let Some((name, value)) = component.split_once(':') else {
                return Err(CvssError::MalformedComponent {
                    component: component.to_string(),
                });
            };
            let Some((index, def)) = table.iter().enumerate().find(|(_, d)| d.name == name) else {
                return Err(CvssError::UnknownMetric {
                    metric: name.to_string(),
                    version,
                });
            };
            let Some(value_index) = def.values.iter().position(|v| *v == value) else {
                return Err(CvssError::InvalidValue {
                    metric: def.name,
                    value: value.to_string(),
                    allowed: def.values.join(", "),
                });
            };
            let slot = values
                .get_mut(index)
                .ok_or(CvssError::DuplicateMetric { metric: def.name })?;
            if slot.is_some() {
                return Err(CvssError::DuplicateMetric { metric: def.name });
            }
            // Tables have fewer than 256 values per metric.
            *slot = Some(value_index as u8);
        }
        for (def, value) in table.iter().zip(&values) {
            if def.group == Group::Base && value.is_none() {
                return Err(CvssError::MissingMetric { metric: def.name });
            }
        }
        let mut vector = CvssVector {
            version,
            values,
            scores: Scores {
                base: Score(0),
                temporal: None,
                environmental: None,
                kind: ScoreKind::Base,
                score: Score(0),
            },
        };
        vector.scores = match version {
            CvssVersion::V3_0 | CvssVersion::V3_1 => vector.score_v3(),
            CvssVersion::V4_0 => vector.score_v4()?,
        };
        Ok(vector)
    }

    /// The version, from the prefix.
    pub fn version(&self) -> CvssVersion {
        self.version
    }

    /// The base score (v4: `CVSS-B`, the vector's base metrics alone).
    pub fn base_score(&self) -> Score {
        self.scores.base
    }

    /// The v3 temporal score, `None` for v4. Computed whether or not the
    /// vector defines a temporal metric (undefined ones weigh 1).
    pub fn temporal_score(&self) -> Option<Score> {
        self.scores.temporal
    }

    /// The v3 environmental score, `None` for v4. Computed whether or not
    /// the vector defines an environmental metric.
    pub fn environmental_score(&self) -> Option<Score> {
        self.scores.environmental
    }

    /// The most specific score the vector's metrics define: v3 environmental
    /// if an environmental metric is defined (not `X`), else temporal if a
    /// temporal one is, else base; v4 the score of all its metrics, named by
    /// [`CvssVector::score_kind`].
    pub fn score(&self) -> Score {
        self.scores.score
    }

    /// Which score [`CvssVector::score`] is.
    pub fn score_kind(&self) -> ScoreKind {
        self.scores.kind
    }

    /// The severity of [`CvssVector::score`].
    pub fn severity(&self) -> Severity {
        self.scores.score.severity()
    }

    /// The severity of [`CvssVector::base_score`].
    pub fn base_severity(&self) -> Severity {
        self.scores.base.severity()
    }

    /// Every score this vector has, base first.
    pub fn scores(&self) -> Vec<(ScoreKind, Score)> {
        let mut out = vec![(
            if self.version == CvssVersion::V4_0 {
                ScoreKind::CvssB
            } else {
                ScoreKind::Base
            },
            self.scores.base,
        )];
        if let Some(t) = self.scores.temporal {
            out.push((ScoreKind::Temporal, t));
        }
        if let Some(e) = self.scores.environmental {
            out.push((ScoreKind::Environmental, e));
        }
        if self.version == CvssVersion::V4_0 && self.scores.kind != ScoreKind::CvssB {
            out.push((self.scores.kind, self.scores.score));
        }
        out
    }

    /// Compares a score published as this vector's *base* score with the
    /// recomputed scores. A known real-world error is a temporal or
    /// environmental score published as the base score; `matches` says
    /// which score the published one equals, if any.
    pub fn check_published_base_score(&self, published: Score) -> PublishedScoreCheck {
        let matches = self
            .scores()
            .into_iter()
            .find(|(_, s)| *s == published)
            .map(|(k, _)| k);
        PublishedScoreCheck {
            published,
            base: self.scores.base,
            matches,
        }
    }

    /// The value of `metric` as written in the vector, `None` when absent.
    pub fn metric(&self, metric: &str) -> Option<&'static str> {
        let table = metric_table(self.version);
        let index = table.iter().position(|d| d.name == metric)?;
        let value = (*self.values.get(index)?)?;
        table.get(index)?.values.get(usize::from(value)).copied()
    }

    /// Value of `metric` with absent meaning `X` (not defined).
    fn value(&self, metric: &str) -> &'static str {
        self.metric(metric).unwrap_or("X")
    }

    /// Whether any metric of `group` is defined (present and not `X`).
    fn defines(&self, group: Group) -> bool {
        metric_table(self.version)
            .iter()
            .filter(|d| d.group == group)
            .any(|d| self.value(d.name) != "X")
    }

    /// The canonical string of the metrics in `groups` that are defined,
    /// in the specification's order.
    fn canonical(&self, groups: &[Group]) -> String {
        let mut out = format!("CVSS:{}", self.version);
        for def in metric_table(self.version) {
            if !groups.contains(&def.group) {
                continue;
            }
            let v = self.value(def.name);
            if v != "X" {
                out.push('/');
                out.push_str(def.name);
                out.push(':');
                out.push_str(v);
            }
        }
        out
    }

    fn score_v3(&self) -> Scores {
        let minor_1 = self.version == CvssVersion::V3_1;
        let w = |m: &str| v3_weight(m, self.value(m), false);
        let scope_changed = self.value("S") == "C";

        // Base (v3.1 §7.1, v3.0 §8.1).
        let iss = 1.0 - (1.0 - w("C")) * (1.0 - w("I")) * (1.0 - w("A"));
        let impact = if scope_changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        let exploitability =
            8.22 * w("AV") * w("AC") * v3_weight("PR", self.value("PR"), scope_changed) * w("UI");
        let base = if impact <= 0.0 {
            0
        } else if scope_changed {
            roundup((1.08 * (impact + exploitability)).min(10.0))
        } else {
            roundup((impact + exploitability).min(10.0))
        };

        // Temporal (§7.2 / §8.2).
        let temporal_factor = w("E") * w("RL") * w("RC");
        let temporal = roundup(f64::from(base) / 10.0 * temporal_factor);

        // Environmental (§7.3 / §8.3): a modified metric that is X takes the
        // base metric's value.
        let modified = |m: &str, base_metric: &str| {
            let v = self.value(m);
            if v == "X" {
                self.value(base_metric)
            } else {
                v
            }
        };
        let m_scope_changed = modified("MS", "S") == "C";
        let mw = |m: &str, b: &str| v3_weight(b, modified(m, b), m_scope_changed);
        let miss = (1.0
            - (1.0 - mw("MC", "C") * w("CR"))
                * (1.0 - mw("MI", "I") * w("IR"))
                * (1.0 - mw("MA", "A") * w("AR")))
        .min(0.915);
        let m_impact = if !m_scope_changed {
            6.42 * miss
        } else if minor_1 {
            7.52 * (miss - 0.029) - 3.25 * (miss * 0.9731 - 0.02).powi(13)
        } else {
            7.52 * (miss - 0.029) - 3.25 * (miss - 0.02).powi(15)
        };
        let m_exploitability =
            8.22 * mw("MAV", "AV") * mw("MAC", "AC") * mw("MPR", "PR") * mw("MUI", "UI");
        let environmental = if m_impact <= 0.0 {
            0
        } else {
            let inner = if m_scope_changed {
                roundup((1.08 * (m_impact + m_exploitability)).min(10.0))
            } else {
                roundup((m_impact + m_exploitability).min(10.0))
            };
            roundup(f64::from(inner) / 10.0 * temporal_factor)
        };

        let (kind, score) = if self.defines(Group::Environmental) {
            (ScoreKind::Environmental, environmental)
        } else if self.defines(Group::Threat) {
            (ScoreKind::Temporal, temporal)
        } else {
            (ScoreKind::Base, base)
        };
        Scores {
            base: Score(base),
            temporal: Some(Score(temporal)),
            environmental: Some(Score(environmental)),
            kind,
            score: Score(score),
        }
    }

    fn score_v4(&self) -> Result<Scores, CvssError> {
        let threat = self.defines(Group::Threat);
        let environmental = self.defines(Group::Environmental);
        let kind = match (threat, environmental) {
            (false, false) => ScoreKind::CvssB,
            (true, false) => ScoreKind::CvssBT,
            (false, true) => ScoreKind::CvssBE,
            (true, true) => ScoreKind::CvssBTE,
        };
        let base = v4_score(&self.canonical(&[Group::Base]))?;
        let score = if kind == ScoreKind::CvssB {
            base
        } else {
            v4_score(&self.canonical(&[Group::Base, Group::Threat, Group::Environmental]))?
        };
        Ok(Scores {
            base,
            temporal: None,
            environmental: None,
            kind,
            score,
        })
    }
}

impl FromStr for CvssVector {
    type Err = CvssError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CvssVector::parse(s)
    }
}

impl fmt::Display for CvssVector {
    /// The canonical form: every metric present in the input (including
    /// explicit `X`), in the specification's order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CVSS:{}", self.version)?;
        for def in metric_table(self.version) {
            if let Some(v) = self.metric(def.name) {
                write!(f, "/{}:{}", def.name, v)?;
            }
        }
        Ok(())
    }
}

/// Scores a canonical v4.0 vector with the `cvss` crate.
fn v4_score(canonical: &str) -> Result<Score, CvssError> {
    let vector = cvss::v4::Vector::from_str(canonical).map_err(|e| CvssError::Scoring {
        vector: canonical.to_string(),
        reason: e.to_string(),
    })?;
    let value = vector.score().value();
    Score::from_f64(value).ok_or_else(|| CvssError::Scoring {
        vector: canonical.to_string(),
        reason: format!("score {value} is not a one-decimal number in 0..=10"),
    })
}

/// CVSS v3.1 Appendix A Roundup, returning tenths: the smallest number with
/// one decimal that is at least `x`, computed on `x` rounded to 5 decimals so
/// that floating-point noise (4.000000000001) does not round up.
fn roundup(x: f64) -> u8 {
    let int_input = (x * 100_000.0).round();
    let tenths = if int_input % 10_000.0 == 0.0 {
        int_input / 10_000.0
    } else {
        (int_input / 10_000.0).floor() + 1.0
    };
    // Scores are within 0..=10 by construction (min(…, 10), weights ≤ 1).
    tenths.clamp(0.0, 100.0) as u8
}

/// The numeric weight of a v3 metric value (v3.1 §7.4 Table 16, identical
/// in v3.0 §8.4). `X` weighs 1 for temporal metrics and requirements. PR
/// depends on whether the (modified) scope is changed.
fn v3_weight(metric: &str, value: &str, scope_changed: bool) -> f64 {
    match (metric, value) {
        ("AV" | "MAV", "N") => 0.85,
        ("AV" | "MAV", "A") => 0.62,
        ("AV" | "MAV", "L") => 0.55,
        ("AV" | "MAV", "P") => 0.2,
        ("AC" | "MAC", "L") => 0.77,
        ("AC" | "MAC", "H") => 0.44,
        ("PR" | "MPR", "N") => 0.85,
        ("PR" | "MPR", "L") => {
            if scope_changed {
                0.68
            } else {
                0.62
            }
        }
        ("PR" | "MPR", "H") => {
            if scope_changed {
                0.5
            } else {
                0.27
            }
        }
        ("UI" | "MUI", "N") => 0.85,
        ("UI" | "MUI", "R") => 0.62,
        ("C" | "I" | "A" | "MC" | "MI" | "MA", "H") => 0.56,
        ("C" | "I" | "A" | "MC" | "MI" | "MA", "L") => 0.22,
        ("C" | "I" | "A" | "MC" | "MI" | "MA", "N") => 0.0,
        ("E", "F") => 0.97,
        ("E", "P") => 0.94,
        ("E", "U") => 0.91,
        ("RL", "W") => 0.97,
        ("RL", "T") => 0.96,
        ("RL", "O") => 0.95,
        ("RC", "R") => 0.96,
        ("RC", "U") => 0.92,
        ("CR" | "IR" | "AR", "H") => 1.5,
        ("CR" | "IR" | "AR", "L") => 0.5,
        // E:H, E:X, RL:U, RL:X, RC:C, RC:X, requirements M and X.
        _ => 1.0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Base,
    /// v3 temporal, v4 threat.
    Threat,
    Environmental,
    /// v4 supplemental: parsed and validated, never scored.
    Supplemental,
}

struct MetricDef {
    name: &'static str,
    values: &'static [&'static str],
    group: Group,
}

const fn m(name: &'static str, values: &'static [&'static str], group: Group) -> MetricDef {
    MetricDef {
        name,
        values,
        group,
    }
}

/// v3.1 §6 Table 15 (the same metrics and values in v3.0 §6), in order.
static V3_METRICS: [MetricDef; 22] = [
    m("AV", &["N", "A", "L", "P"], Group::Base),
    m("AC", &["L", "H"], Group::Base),
    m("PR", &["N", "L", "H"], Group::Base),
    m("UI", &["N", "R"], Group::Base),
    m("S", &["U", "C"], Group::Base),
    m("C", &["H", "L", "N"], Group::Base),
    m("I", &["H", "L", "N"], Group::Base),
    m("A", &["H", "L", "N"], Group::Base),
    m("E", &["X", "H", "F", "P", "U"], Group::Threat),
    m("RL", &["X", "U", "W", "T", "O"], Group::Threat),
    m("RC", &["X", "C", "R", "U"], Group::Threat),
    m("CR", &["X", "H", "M", "L"], Group::Environmental),
    m("IR", &["X", "H", "M", "L"], Group::Environmental),
    m("AR", &["X", "H", "M", "L"], Group::Environmental),
    m("MAV", &["X", "N", "A", "L", "P"], Group::Environmental),
    m("MAC", &["X", "L", "H"], Group::Environmental),
    m("MPR", &["X", "N", "L", "H"], Group::Environmental),
    m("MUI", &["X", "N", "R"], Group::Environmental),
    m("MS", &["X", "U", "C"], Group::Environmental),
    m("MC", &["X", "H", "L", "N"], Group::Environmental),
    m("MI", &["X", "H", "L", "N"], Group::Environmental),
    m("MA", &["X", "H", "L", "N"], Group::Environmental),
];

/// v4.0 §7 Table 23, in order.
static V4_METRICS: [MetricDef; 32] = [
    m("AV", &["N", "A", "L", "P"], Group::Base),
    m("AC", &["L", "H"], Group::Base),
    m("AT", &["N", "P"], Group::Base),
    m("PR", &["N", "L", "H"], Group::Base),
    m("UI", &["N", "P", "A"], Group::Base),
    m("VC", &["H", "L", "N"], Group::Base),
    m("VI", &["H", "L", "N"], Group::Base),
    m("VA", &["H", "L", "N"], Group::Base),
    m("SC", &["H", "L", "N"], Group::Base),
    m("SI", &["H", "L", "N"], Group::Base),
    m("SA", &["H", "L", "N"], Group::Base),
    m("E", &["X", "A", "P", "U"], Group::Threat),
    m("CR", &["X", "H", "M", "L"], Group::Environmental),
    m("IR", &["X", "H", "M", "L"], Group::Environmental),
    m("AR", &["X", "H", "M", "L"], Group::Environmental),
    m("MAV", &["X", "N", "A", "L", "P"], Group::Environmental),
    m("MAC", &["X", "L", "H"], Group::Environmental),
    m("MAT", &["X", "N", "P"], Group::Environmental),
    m("MPR", &["X", "N", "L", "H"], Group::Environmental),
    m("MUI", &["X", "N", "P", "A"], Group::Environmental),
    m("MVC", &["X", "H", "L", "N"], Group::Environmental),
    m("MVI", &["X", "H", "L", "N"], Group::Environmental),
    m("MVA", &["X", "H", "L", "N"], Group::Environmental),
    m("MSC", &["X", "H", "L", "N"], Group::Environmental),
    m("MSI", &["X", "S", "H", "L", "N"], Group::Environmental),
    m("MSA", &["X", "S", "H", "L", "N"], Group::Environmental),
    m("S", &["X", "N", "P"], Group::Supplemental),
    m("AU", &["X", "N", "Y"], Group::Supplemental),
    m("R", &["X", "A", "U", "I"], Group::Supplemental),
    m("V", &["X", "D", "C"], Group::Supplemental),
    m("RE", &["X", "L", "M", "H"], Group::Supplemental),
    m(
        "U",
        &["X", "Clear", "Green", "Amber", "Red"],
        Group::Supplemental,
    ),
];

fn metric_table(version: CvssVersion) -> &'static [MetricDef] {
    match version {
        CvssVersion::V3_0 | CvssVersion::V3_1 => &V3_METRICS,
        CvssVersion::V4_0 => &V4_METRICS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundup_follows_appendix_a() {
        for (x, tenths) in [
            (4.0, 40),
            (4.02, 41),
            (4.000_000_000_001, 40),
            (3.999_999_999_999, 40),
            (0.0, 0),
            (10.0, 100),
            (4.000_006, 41),
        ] {
            assert_eq!(roundup(x), tenths, "roundup({x})");
        }
    }
}
