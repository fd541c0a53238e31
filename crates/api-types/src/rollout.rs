//! The verified roll-out: how far a firmware release, or the fix of a
//! vulnerability, has reached the fleet, told from the devices' own signed
//! statements (`GET /api/v1/rollout/releases/{vendor}/{model}/{version}`,
//! `GET /api/v1/rollout/vulnerabilities/{id}`). Every device row names the
//! log entry of the device's statement that backs it, so a client can
//! verify it against the log.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Days after the release (or, for a vulnerability, after a device was
/// exposed) past which a device still below it is stuck, by default.
pub const STUCK_AFTER_DAYS_DEFAULT: u32 = 30;
/// Largest `stuck_after_days` accepted (ten years).
pub const STUCK_AFTER_DAYS_MAX: u32 = 3_660;
/// Device rows shown by default (the counts cover every device).
pub const ROLLOUT_ROWS_DEFAULT: usize = 100;
/// Most device rows one answer shows.
pub const ROLLOUT_ROWS_MAX: usize = 1_000;

/// The query of the roll-out views.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RolloutQuery {
    /// Days after which a device not yet patched is stuck (default 30,
    /// 1 to 3660).
    pub stuck_after_days: Option<u32>,
    /// Device rows to show (default 100, at most 1000): stuck devices
    /// first, then by time-to-fix, longest first. The counts, series and
    /// time-to-fix figures cover every device.
    pub rows: Option<usize>,
}

/// Where a device stands in a roll-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// It runs the target release or a later one.
    Patched,
    /// Not yet, and not stuck.
    Pending,
    /// Its last update failed or never finished, or it is still below the
    /// target `stuck_after_days` after it.
    Stuck,
}

/// The latest update a device reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdateView {
    /// `attempted`, `installed` or `failed`.
    pub state: String,
    /// The target version.
    pub version: String,
    /// The target image's SHA-256.
    pub image_sha256: String,
    /// The device's report that says so.
    pub entry: u64,
    /// When, by the device's clock (Unix seconds).
    pub at: Option<i64>,
    /// Why it failed.
    pub reason: Option<String>,
}

/// One device in a roll-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutDevice {
    /// The device.
    pub device: String,
    /// Its model subject (`model:<vendor>/<model>`).
    pub model: String,
    /// The firmware it runs, as its twin says.
    pub firmware: Option<String>,
    /// Where it stands.
    pub state: RolloutState,
    /// Why it is stuck.
    pub stuck_reason: Option<String>,
    /// The log entry of the device's own signed statement its firmware
    /// rests on (an installed update report or its `firmware-installed`);
    /// `null` when no statement of the device's own says what it runs.
    pub evidence_entry: Option<u64>,
    /// When it first ran the target or a later release (its install
    /// statement's time), if its statements say.
    pub patched_at: Option<i64>,
    /// The entry of that install statement.
    pub patched_entry: Option<u64>,
    /// When it was first exposed (a vulnerability roll-out: the later of
    /// its first install of an affected release and the day the
    /// vulnerability was known).
    pub exposed_at: Option<i64>,
    /// Seconds from the release's registration (or the device's exposure)
    /// to its install.
    pub time_to_fix_s: Option<i64>,
    /// Its latest update report.
    pub update: Option<UpdateView>,
    /// The `support_end` of the release it runs, when that day has passed.
    pub support_ended: Option<String>,
}

/// Patched devices at the end of one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Devices running the target or a later release by then (by the
    /// times of their own install statements).
    pub patched: u64,
}

/// Time-to-fix over the devices whose statements say when they were patched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimeToFix {
    /// Devices counted.
    pub devices: u64,
    /// Median, seconds.
    pub median_s: Option<i64>,
    /// 90th percentile, seconds.
    pub p90_s: Option<i64>,
    /// Longest, seconds.
    pub max_s: Option<i64>,
}

/// What one model's devices are measured against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutTarget {
    /// The model subject.
    pub model: String,
    /// The release that fixes (a release roll-out: that release), if any.
    pub version: Option<String>,
    /// Its `firmware-released` entry.
    pub release_entry: Option<u64>,
    /// When it was registered (the statement's time, Unix seconds).
    pub released_at: Option<i64>,
    /// The versions that count as patched (the target and later releases).
    pub patched_versions: Vec<String>,
    /// A vulnerability roll-out: the model's releases exposed to it.
    pub affected_versions: Vec<String>,
}

/// A roll-out as the caller may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutView {
    /// The vulnerability, for a vulnerability roll-out.
    pub vulnerability: Option<String>,
    /// What each model is measured against.
    pub targets: Vec<RolloutTarget>,
    /// Devices counted (of the models, visible to the caller, not
    /// decommissioned; for a vulnerability: those exposed to it).
    pub devices: u64,
    /// Of which patched.
    pub patched: u64,
    /// Not yet patched, not stuck.
    pub pending: u64,
    /// Stuck.
    pub stuck: u64,
    /// Running a release past its support end.
    pub support_ended: u64,
    /// Patched devices day by day, from the release (or the first
    /// exposure) to today.
    pub series: Vec<RolloutDay>,
    /// Time-to-fix.
    pub time_to_fix: TimeToFix,
    /// The days after which a device is stuck.
    pub stuck_after_days: u32,
    /// Device rows: stuck first, then the slowest to be patched.
    pub rows: Vec<RolloutDevice>,
    /// Whether more devices than `rows` were counted.
    pub rows_truncated: bool,
    /// The log size the twins reflect.
    pub as_of: u64,
}
