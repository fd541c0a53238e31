//! FIRST's daily EPSS scores (the Exploit Prediction Scoring System): the
//! CSV FIRST publishes, a comment line
//! `#model_version:v2025.03.14,score_date:2025-03-14T00:00:00+0000`, a header
//! `cve,epss,percentile`, then one row per CVE (`CVE-2024-3400,0.94358,0.99953`).
//!
//! Read as a stream from a reader (a day's file holds about 300,000 rows),
//! each row checked: a CVE id, a probability and a percentile both within
//! 0..=1, no CVE twice. The comment line is optional (older files lack it);
//! the header is not. Errors name the line.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::kev::is_cve_id;

/// Most rows a file may have (FIRST's have about 300,000).
pub const EPSS_ROWS_MAX: usize = 4_000_000;
/// Longest line, in bytes.
pub const EPSS_LINE_BYTES_MAX: usize = 512;

/// Why an EPSS file does not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpssParseError {
    /// The reader failed.
    #[error("reading the file: {0}")]
    Io(String),
    /// A line that breaks the format.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// More rows than [`EPSS_ROWS_MAX`].
    #[error("more than {max} rows")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// No header line.
    #[error("the file is empty: expected a `cve,epss,percentile` header")]
    Empty,
}

/// What the comment line says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpssHeader {
    /// `model_version`, if given.
    pub model_version: Option<String>,
    /// `score_date`, if given (as written).
    pub score_date: Option<String>,
}

impl EpssHeader {
    /// The day of `score_date` (`YYYY-MM-DD`), if given.
    pub fn day(&self) -> Option<&str> {
        self.score_date
            .as_deref()
            .and_then(|d| d.get(..10))
            .filter(|d| crate::kev::is_date(d))
    }
}

/// One row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpssRow {
    /// The CVE.
    pub cve: String,
    /// The probability of exploitation activity in the next 30 days.
    pub epss: f64,
    /// Its percentile among all scored CVEs.
    pub percentile: f64,
}

fn probability(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

/// Reads an EPSS file, calling `on_row` for every row in order; answers
/// what its comment line says and how many rows it had.
pub fn parse<R: BufRead>(
    mut reader: R,
    mut on_row: impl FnMut(EpssRow),
) -> Result<(EpssHeader, usize), EpssParseError> {
    let mut header = EpssHeader::default();
    let mut line = String::new();
    let mut number = 0usize;
    let mut saw_header = false;
    let mut rows = 0usize;
    let mut seen = std::collections::HashSet::new();
    loop {
        line.clear();
        let read = std::io::Read::take(reader.by_ref(), EPSS_LINE_BYTES_MAX as u64 + 1)
            .read_line(&mut line)
            .map_err(|e| EpssParseError::Io(e.to_string()))?;
        if read == 0 {
            break;
        }
        number += 1;
        let err = |message: String| EpssParseError::Line {
            line: number,
            message,
        };
        if read > EPSS_LINE_BYTES_MAX {
            return Err(err(format!("longer than {EPSS_LINE_BYTES_MAX} bytes")));
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        if let Some(comment) = text.strip_prefix('#') {
            if saw_header {
                return Err(err("a comment line after the header".into()));
            }
            for part in comment.split(',') {
                match part.split_once(':') {
                    Some(("model_version", v)) => header.model_version = Some(v.trim().into()),
                    Some(("score_date", v)) => header.score_date = Some(v.trim().into()),
                    _ => {}
                }
            }
            continue;
        }
        if !saw_header {
            if text.trim() != "cve,epss,percentile" {
                return Err(err(format!(
                    "expected the header `cve,epss,percentile`, found {:?}",
                    crate::error::quote(text)
                )));
            }
            saw_header = true;
            continue;
        }
        let mut fields = text.split(',');
        let (Some(cve), Some(epss), Some(percentile), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(err(format!(
                "expected three fields `cve,epss,percentile`, found {:?}",
                crate::error::quote(text)
            )));
        };
        let cve = cve.trim();
        if !is_cve_id(cve) {
            return Err(err(format!(
                "{:?} is not a CVE id",
                crate::error::quote(cve)
            )));
        }
        let Some(epss) = probability(epss) else {
            return Err(err(format!("epss {epss:?} is not a number within 0..=1")));
        };
        let Some(percentile) = probability(percentile) else {
            return Err(err(format!(
                "percentile {percentile:?} is not a number within 0..=1"
            )));
        };
        if !seen.insert(cve.to_string()) {
            return Err(err(format!("{cve} is scored twice")));
        }
        rows += 1;
        if rows > EPSS_ROWS_MAX {
            return Err(EpssParseError::TooMany { max: EPSS_ROWS_MAX });
        }
        on_row(EpssRow {
            cve: cve.to_string(),
            epss,
            percentile,
        });
    }
    if !saw_header {
        return Err(EpssParseError::Empty);
    }
    Ok((header, rows))
}
