//! Firmware updates as devices tell of them: the update section a built-in
//! statement type may carry ([`crate::BuiltinType::update_field`]; the
//! product's device report) and what a twin keeps of them ([`Updates`]):
//! the device's latest update report of any state and its last installs,
//! each with the log entry and the device's own time, so that a roll-out
//! can be told from the devices' signed statements alone.
//!
//! Deliberately absent: the report's transport and its strict parse (the
//! device channel's), and any judgement of a roll-out (the service's).

use serde::{Deserialize, Serialize};

/// Installs a twin keeps (the latest ones): enough for a roll-out to find
/// when a device first ran a release or a later one across a few updates,
/// while the twin, read whole on every statement about the device, stays
/// small.
pub const INSTALLS_KEPT_MAX: usize = 8;

/// Longest text of an update section (version, failure reason), in bytes
/// (the device report's text bound).
pub const UPDATE_TEXT_BYTES_MAX: usize = 128;

/// What became of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateState {
    /// Started.
    Attempted,
    /// Installed and running.
    Installed,
    /// Failed; the previous image runs.
    Failed,
}

impl UpdateState {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            UpdateState::Attempted => "attempted",
            UpdateState::Installed => "installed",
            UpdateState::Failed => "failed",
        }
    }
}

/// An update section as a statement carries it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSection {
    /// What became of it.
    pub state: UpdateState,
    /// The target version.
    pub version: String,
    /// SHA-256 of the target image, 64 lowercase hex digits.
    pub image_sha256: String,
    /// The manifest's anti-rollback counter.
    #[serde(default)]
    pub release_counter: Option<u64>,
    /// Why it failed.
    #[serde(default)]
    pub reason: Option<String>,
}

impl UpdateSection {
    /// Reads `value` (the statement's update field) as an update section.
    ///
    /// # Errors
    /// What is wrong with it, for the refusal.
    pub fn parse(value: &serde_json::Value) -> Result<UpdateSection, String> {
        let u = UpdateSection::deserialize(value).map_err(|e| format!("update: {e}"))?;
        let text = |s: &str| {
            !s.is_empty() && s.len() <= UPDATE_TEXT_BYTES_MAX && !s.chars().any(char::is_control)
        };
        if !text(&u.version) {
            return Err(format!(
                "update.version: 1 to {UPDATE_TEXT_BYTES_MAX} bytes without control characters"
            ));
        }
        let hex = u.image_sha256.len() == 64
            && u.image_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err("update.image_sha256: 64 lowercase hex digits".into());
        }
        match (u.state, &u.reason) {
            (UpdateState::Failed, Some(r)) if text(r) => Ok(u),
            (UpdateState::Failed, _) => Err("update.reason: a failed update says why".into()),
            (_, Some(_)) => Err("update.reason: only a failed update has a reason".into()),
            (_, None) => Ok(u),
        }
    }
}

/// One update report as the twin keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRecord {
    /// The statement's entry.
    pub entry: u64,
    /// The statement's time (CWT `iat`), Unix seconds, if it has one.
    pub at: Option<i64>,
    /// What became of it.
    pub state: UpdateState,
    /// The target version.
    pub version: String,
    /// The target image's SHA-256.
    pub image_sha256: String,
    /// The manifest's anti-rollback counter, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_counter: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A firmware the device said it installed, with the statement that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Install {
    /// The statement's entry (an update report or a `firmware-installed`).
    pub entry: u64,
    /// The statement's time (CWT `iat`), Unix seconds, if it has one.
    pub at: Option<i64>,
    /// The version.
    pub version: String,
    /// The image's SHA-256.
    pub image_sha256: String,
    /// The statement type that said it (`firmware-installed`, or the
    /// built-in type carrying the update section).
    pub kind: String,
}

/// What a twin keeps of the firmware updates its device told of, in log
/// order: the latest update report (any state) and the last
/// [`INSTALLS_KEPT_MAX`] installs the device itself signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Updates {
    /// The latest update report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<UpdateRecord>,
    /// The device's own installs, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installs: Vec<Install>,
}

impl Updates {
    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.latest.is_none() && self.installs.is_empty()
    }

    /// Keeps `install`, dropping the oldest past [`INSTALLS_KEPT_MAX`].
    pub fn installed(&mut self, install: Install) {
        self.installs.push(install);
        if self.installs.len() > INSTALLS_KEPT_MAX {
            self.installs.remove(0);
        }
    }

    /// The install the twin's firmware rests on, if the device signed it:
    /// the latest install, when the twin's current firmware claim is its
    /// entry.
    pub fn running(&self, firmware_entry: Option<u64>) -> Option<&Install> {
        let last = self.installs.last()?;
        (Some(last.entry) == firmware_entry).then_some(last)
    }
}
