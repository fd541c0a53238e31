//! The built-in incident rules: pure functions over an admitted report and
//! the context the caller holds (the manufacturer's releases, the endorsed
//! AI models, the device's learned baseline, the log's own history), each
//! giving at most one [`Incident`] of a [`IncidentKind`] with its evidence.
//!
//! - a firmware image no manufacturer release covers (tampering);
//! - an AI model whose digest is not the endorsed one (MITRE ATLAS
//!   AML.T0010.003 AI supply chain compromise of a model, AML.T0018
//!   manipulate AI model);
//! - a newly listening port, or a new destination, not in the device's
//!   baseline ([`NetworkBaseline`]);
//! - a spike of authentication failures against the device's own history
//!   ([`AuthFailureSpike`]);
//! - a firmware version below the release's minimum (a downgrade);
//! - a device silent for N report intervals;
//! - a split view: the checkpoint the device verified disagrees with the
//!   log's history (same size, another root; or a size the log never had).
//!
//! Deliberately absent: state between calls (the caller keeps baselines
//! and histories), the clock (`now` is an argument), deduplication of
//! incidents across reports and their life cycle (signed statements).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use risk::Severity;
use serde_json::Value;
use vuln::version::VersionScheme;

use crate::detect::{MetricWindow, Statistic};
use crate::evidence::Evidence;
use crate::report::{DeviceReport, Sha256};

/// Most destinations a [`NetworkBaseline`] learns; past it, new ones are
/// not learned (and keep being reported as new).
pub const BASELINE_DESTINATIONS_MAX: usize = 4096;

/// What kind of incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentKind {
    /// The firmware image is not one the manufacturer released.
    FirmwareNotReleased,
    /// An AI model's digest is not the endorsed one, or the model is not
    /// endorsed at all.
    AiModelSubstituted,
    /// A port listens that the baseline never saw.
    NewListeningPort,
    /// A destination the baseline never saw.
    NewDestination,
    /// Authentication failures far above the device's own history.
    AuthFailureSpike,
    /// The firmware version is below the minimum the release allows.
    FirmwareBelowMinimum,
    /// No report for N report intervals.
    DeviceSilent,
    /// The device verified a checkpoint the log's history contradicts.
    SplitView,
}

impl IncidentKind {
    /// Every kind.
    pub const ALL: [IncidentKind; 8] = [
        IncidentKind::FirmwareNotReleased,
        IncidentKind::AiModelSubstituted,
        IncidentKind::NewListeningPort,
        IncidentKind::NewDestination,
        IncidentKind::AuthFailureSpike,
        IncidentKind::FirmwareBelowMinimum,
        IncidentKind::DeviceSilent,
        IncidentKind::SplitView,
    ];

    /// The stable label (`firmware_not_released`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::FirmwareNotReleased => "firmware_not_released",
            IncidentKind::AiModelSubstituted => "ai_model_substituted",
            IncidentKind::NewListeningPort => "new_listening_port",
            IncidentKind::NewDestination => "new_destination",
            IncidentKind::AuthFailureSpike => "auth_failure_spike",
            IncidentKind::FirmwareBelowMinimum => "firmware_below_minimum",
            IncidentKind::DeviceSilent => "device_silent",
            IncidentKind::SplitView => "split_view",
        }
    }

    /// One-line title.
    pub fn title(self) -> &'static str {
        match self {
            IncidentKind::FirmwareNotReleased => "Firmware image not released by the manufacturer",
            IncidentKind::AiModelSubstituted => "AI model differs from the endorsed one",
            IncidentKind::NewListeningPort => "New listening port",
            IncidentKind::NewDestination => "New network destination",
            IncidentKind::AuthFailureSpike => "Spike of authentication failures",
            IncidentKind::FirmwareBelowMinimum => "Firmware below the release's minimum version",
            IncidentKind::DeviceSilent => "Device silent",
            IncidentKind::SplitView => "Device saw a split view of the log",
        }
    }

    /// How severe.
    pub fn severity(self) -> Severity {
        match self {
            IncidentKind::FirmwareNotReleased | IncidentKind::SplitView => Severity::Critical,
            IncidentKind::AiModelSubstituted
            | IncidentKind::NewListeningPort
            | IncidentKind::FirmwareBelowMinimum => Severity::High,
            IncidentKind::NewDestination
            | IncidentKind::AuthFailureSpike
            | IncidentKind::DeviceSilent => Severity::Medium,
        }
    }

    /// What it is known as (OWASP IoT Top 10 2018, ETSI EN 303 645, CWE,
    /// MITRE ATLAS, RFCs).
    pub fn references(self) -> &'static [&'static str] {
        match self {
            IncidentKind::FirmwareNotReleased => {
                &["OWASP IoT I4", "ETSI EN 303 645 5.7-1", "CWE-494"]
            }
            IncidentKind::AiModelSubstituted => &[
                "MITRE ATLAS AML.T0010.003",
                "MITRE ATLAS AML.T0018",
                "ETSI EN 303 645 5.7-1",
            ],
            IncidentKind::NewListeningPort => &["OWASP IoT I2", "ETSI EN 303 645 5.6-1"],
            IncidentKind::NewDestination => &["OWASP IoT I2"],
            IncidentKind::AuthFailureSpike => &["OWASP IoT I1", "ETSI EN 303 645 5.1-5", "CWE-307"],
            IncidentKind::FirmwareBelowMinimum => {
                &["OWASP IoT I4", "ETSI EN 303 645 5.3", "CWE-1328"]
            }
            IncidentKind::DeviceSilent => &["OWASP IoT I8"],
            IncidentKind::SplitView => &["RFC 9162 §2.1.4", "C2SP tlog-checkpoint"],
        }
    }
}

/// An incident on a device, with what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// What kind.
    pub kind: IncidentKind,
    /// The device.
    pub device: String,
    /// The report fields and context.
    pub evidence: Evidence,
}

impl Incident {
    fn new(kind: IncidentKind, device: &str, report_counter: u64) -> Incident {
        Incident {
            kind,
            device: device.to_string(),
            evidence: Evidence::new(report_counter),
        }
    }

    /// The kind's severity.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

/// The firmware releases of a manufacturer (or a model): every released
/// image digest, and the version each was released as.
#[derive(Debug, Clone, Default)]
pub struct Releases {
    by_digest: HashMap<Sha256, String>,
    by_version: HashMap<String, Sha256>,
}

impl Releases {
    /// The releases (version, image digest), in log order: a later release
    /// of one version names its digest.
    pub fn new<'a>(releases: impl IntoIterator<Item = (&'a str, Sha256)>) -> Releases {
        let mut out = Releases::default();
        for (version, digest) in releases {
            out.by_digest.insert(digest, version.to_string());
            out.by_version.insert(version.to_string(), digest);
        }
        out
    }

    /// Whether a release has this image.
    pub fn covers(&self, image: &Sha256) -> bool {
        self.by_digest.contains_key(image)
    }

    /// The image released as `version`.
    pub fn image_of(&self, version: &str) -> Option<&Sha256> {
        self.by_version.get(version)
    }
}

/// A firmware image no release covers: the running one (`firmware`), or
/// the one an `installed` update report names.
pub fn firmware_not_released(
    device: &str,
    report: &DeviceReport,
    releases: &Releases,
) -> Option<Incident> {
    // The running image, or the one an installed update report names.
    let installed = report
        .update
        .as_ref()
        .filter(|u| u.state == crate::report::UpdateState::Installed);
    let ((version_field, image_field), version, image) = match (&report.firmware, installed) {
        (Some(f), _) if !releases.covers(&f.image_sha256) => (
            ("firmware.version", "firmware.image_sha256"),
            &f.version,
            &f.image_sha256,
        ),
        (_, Some(u)) if !releases.covers(&u.image_sha256) => (
            ("update.version", "update.image_sha256"),
            &u.version,
            &u.image_sha256,
        ),
        _ => return None,
    };
    let mut i = Incident::new(IncidentKind::FirmwareNotReleased, device, report.counter);
    i.evidence.report(version_field, version.as_str());
    i.evidence.report(image_field, image.to_hex());
    i.evidence.context(
        "released_image_sha256",
        releases.image_of(version.as_str()).map(Sha256::to_hex),
    );
    Some(i)
}

/// A firmware version below `minimum_version` (the generic firmware
/// version ordering; a version that does not parse decides nothing).
pub fn firmware_below_minimum(
    device: &str,
    report: &DeviceReport,
    minimum_version: &str,
) -> Option<Incident> {
    let f = report.firmware.as_ref()?;
    let below = VersionScheme::Generic
        .compare(f.version.as_str(), minimum_version)
        .ok()?
        .is_lt();
    if !below {
        return None;
    }
    let mut i = Incident::new(IncidentKind::FirmwareBelowMinimum, device, report.counter);
    i.evidence.report("firmware.version", f.version.as_str());
    i.evidence
        .report("firmware.image_sha256", f.image_sha256.to_hex());
    i.evidence.context("minimum_version", minimum_version);
    Some(i)
}

/// AI models whose digest is not the one `endorsed` gives for their id
/// (`None`: no model of that id is endorsed for the device). One incident
/// lists every such model.
pub fn ai_model_substituted(
    device: &str,
    report: &DeviceReport,
    endorsed: impl Fn(&str) -> Option<Sha256>,
) -> Option<Incident> {
    let models = report.ai_models.as_ref()?;
    let mut reported = Vec::new();
    let mut expected = serde_json::Map::new();
    for m in models.iter() {
        let want = endorsed(m.id.as_str());
        if want == Some(m.model_sha256) {
            continue;
        }
        reported.push(
            serde_json::json!({"id": m.id.as_str(), "model_sha256": m.model_sha256.to_hex()}),
        );
        expected.insert(
            m.id.as_str().to_string(),
            want.map_or(Value::Null, |d| Value::from(d.to_hex())),
        );
    }
    if reported.is_empty() {
        return None;
    }
    let mut i = Incident::new(IncidentKind::AiModelSubstituted, device, report.counter);
    i.evidence.report("ai_models", reported);
    i.evidence
        .context("endorsed_model_sha256", Value::Object(expected));
    Some(i)
}

/// What a device was seen listening on and connecting to while its
/// baseline was learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkBaseline {
    tcp_ports: BTreeSet<u16>,
    udp_ports: BTreeSet<u16>,
    destinations: BTreeSet<IpAddr>,
}

impl NetworkBaseline {
    /// Adds what `report` shows (the caller decides how long it learns).
    pub fn learn(&mut self, report: &DeviceReport) {
        let Some(m) = &report.metrics else { return };
        if let Some(p) = &m.listening_tcp_ports {
            self.tcp_ports.extend(p.as_slice());
        }
        if let Some(p) = &m.listening_udp_ports {
            self.udp_ports.extend(p.as_slice());
        }
        if let Some(d) = &m.destination_ip_addresses {
            for a in d.as_slice() {
                if self.destinations.len() >= BASELINE_DESTINATIONS_MAX {
                    break;
                }
                self.destinations.insert(*a);
            }
        }
    }

    /// New listening ports and new destinations in `report`: up to two
    /// incidents, ports first.
    pub fn new_activity(&self, device: &str, report: &DeviceReport) -> Vec<Incident> {
        let mut out = Vec::new();
        let Some(m) = &report.metrics else {
            return out;
        };
        let new_tcp: Vec<u16> = m
            .listening_tcp_ports
            .as_ref()
            .map(|p| {
                p.as_slice()
                    .iter()
                    .copied()
                    .filter(|x| !self.tcp_ports.contains(x))
                    .collect()
            })
            .unwrap_or_default();
        let new_udp: Vec<u16> = m
            .listening_udp_ports
            .as_ref()
            .map(|p| {
                p.as_slice()
                    .iter()
                    .copied()
                    .filter(|x| !self.udp_ports.contains(x))
                    .collect()
            })
            .unwrap_or_default();
        if !new_tcp.is_empty() || !new_udp.is_empty() {
            let mut i = Incident::new(IncidentKind::NewListeningPort, device, report.counter);
            if !new_tcp.is_empty() {
                i.evidence.report("metrics.listening-tcp-ports", new_tcp);
            }
            if !new_udp.is_empty() {
                i.evidence.report("metrics.listening-udp-ports", new_udp);
            }
            i.evidence.context(
                "baseline_tcp_ports",
                self.tcp_ports.iter().copied().collect::<Vec<_>>(),
            );
            i.evidence.context(
                "baseline_udp_ports",
                self.udp_ports.iter().copied().collect::<Vec<_>>(),
            );
            out.push(i);
        }
        let new_destinations: Vec<String> = m
            .destination_ip_addresses
            .as_ref()
            .map(|d| {
                d.as_slice()
                    .iter()
                    .filter(|a| !self.destinations.contains(a))
                    .map(IpAddr::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if !new_destinations.is_empty() {
            let mut i = Incident::new(IncidentKind::NewDestination, device, report.counter);
            i.evidence
                .report("metrics.destination-ip-addresses", new_destinations);
            i.evidence
                .context("baseline_destinations", self.destinations.len());
            out.push(i);
        }
        out
    }
}

/// When authentication failures are a spike: above `floor` and above
/// `factor` times the `statistic` of the device's own recent values, once
/// the history holds `samples_min` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailureSpike {
    /// The percentile of the history compared with.
    pub statistic: Statistic,
    /// How many times that percentile is a spike.
    pub factor: u64,
    /// Fewest failures that can be a spike (a device with a zero baseline
    /// and one typo is not under attack).
    pub floor: u64,
    /// Fewest values in the history before it decides.
    pub samples_min: usize,
}

impl Default for AuthFailureSpike {
    fn default() -> AuthFailureSpike {
        AuthFailureSpike {
            statistic: Statistic::P99,
            factor: 3,
            floor: 10,
            samples_min: 12,
        }
    }
}

impl AuthFailureSpike {
    /// Checks `report` against the device's `history` of
    /// `authentication-failures` (before this report's value is added).
    pub fn check(
        &self,
        device: &str,
        report: &DeviceReport,
        history: &MetricWindow,
    ) -> Option<Incident> {
        let failures = report.metrics.as_ref()?.authentication_failures?;
        if history.len() < self.samples_min {
            return None;
        }
        let baseline = history.percentile(self.statistic)?;
        let threshold = baseline.saturating_mul(self.factor).max(self.floor);
        if failures <= threshold {
            return None;
        }
        let mut i = Incident::new(IncidentKind::AuthFailureSpike, device, report.counter);
        i.evidence
            .report("metrics.authentication-failures", failures);
        i.evidence.context("statistic", self.statistic.as_str());
        i.evidence.context("baseline", baseline);
        i.evidence.context("factor", self.factor);
        i.evidence.context("threshold", threshold);
        i.evidence.context("baseline_samples", history.len());
        Some(i)
    }
}

/// A device whose last admitted report (counter `last_counter`, admitted
/// at `last_seen` by the caller's clock) is more than `intervals_max`
/// report intervals of `interval_s` before `now` (unix seconds).
pub fn device_silent(
    device: &str,
    last_counter: u64,
    last_seen: i64,
    interval_s: u64,
    intervals_max: u32,
    now: i64,
) -> Option<Incident> {
    let silent_s = i128::from(now) - i128::from(last_seen);
    let allowed_s = i128::from(interval_s) * i128::from(intervals_max);
    if interval_s == 0 || silent_s <= allowed_s {
        return None;
    }
    let mut i = Incident::new(IncidentKind::DeviceSilent, device, last_counter);
    i.evidence.context("last_seen", last_seen);
    i.evidence.context("now", now);
    i.evidence.context("interval_s", interval_s);
    i.evidence.context("intervals_max", intervals_max);
    let missed = u64::try_from(silent_s / i128::from(interval_s)).unwrap_or(u64::MAX);
    i.evidence.context("intervals_missed", missed);
    Some(i)
}

/// The checkpoint the device saw against the log's history: `log_size` is
/// the log's largest published tree size and `root_at(size)` its root
/// hash at any size up to that (RFC 9162 §2.1.1; the caller computes it
/// from its tiles). A size above `log_size`, or another root at the same
/// size, is a split view, with both checkpoints as evidence; a size the
/// caller cannot answer for decides nothing.
pub fn split_view(
    device: &str,
    report: &DeviceReport,
    log_size: u64,
    root_at: impl Fn(u64) -> Option<Sha256>,
) -> Option<Incident> {
    let seen = report.checkpoint_seen?;
    let (ours_size, ours_root) = if seen.size > log_size {
        (log_size, root_at(log_size))
    } else {
        match root_at(seen.size) {
            Some(root) if root == seen.root_hash => return None,
            Some(root) => (seen.size, Some(root)),
            None => return None,
        }
    };
    let mut i = Incident::new(IncidentKind::SplitView, device, report.counter);
    i.evidence.report("checkpoint_seen.size", seen.size);
    i.evidence
        .report("checkpoint_seen.root_hash", seen.root_hash.to_hex());
    i.evidence.context("log_size", ours_size);
    i.evidence
        .context("log_root_hash", ours_root.map(|r| r.to_hex()));
    i.evidence.context(
        "reason",
        if seen.size > log_size {
            "the device saw a tree larger than the log's"
        } else {
            "the device saw another root at a size the log has"
        },
    );
    Some(i)
}
