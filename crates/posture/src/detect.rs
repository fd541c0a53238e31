//! Detection in the manner of AWS IoT Device Defender's rules-based
//! security profiles: a [`Behaviour`] on a reported metric states what is
//! *normal* (as in Device Defender: `all-bytes-out less-than-equals 4096`
//! is normal, more is a violation; `listening-tcp-ports in-port-set [443]`
//! is normal, any other port a violation), with a static threshold or a
//! statistical one (a percentile of the device's own or its group's values
//! over a window, [`MetricWindow`]); consecutive datapoints raise and clear
//! an [`Alarm`] ([`AlarmState`], a pure state machine), whose verification
//! state operators set. [`Monitor`] runs one security profile over the
//! devices it is attached to.
//!
//! A behaviour is written as JSON ([`BehaviourDef`]), with Device
//! Defender's metric names, operator names and statistics:
//!
//! ```json
//! {"name": "bytes-out", "metric": "all-bytes-out",
//!  "criteria": {"comparison_operator": "less-than-equals",
//!               "statistical_threshold": {"statistic": "p90", "baseline": "group"},
//!               "duration_s": 3600, "datapoints_to_alarm": 2, "datapoints_to_clear": 2}}
//! ```
//!
//! Deliberately absent: a clock (datapoints carry their report's
//! timestamp), where profiles come from and who is told of alarms,
//! machine-learning detection.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evidence::Evidence;
use crate::report::{AddressSet, DeviceReport, PortSet};

/// Most consecutive datapoints to alarm or to clear (Device Defender: 10).
pub const DATAPOINTS_MAX: u32 = 10;
/// Most values a [`MetricWindow`] keeps (the oldest go first): bounds the
/// memory of a group baseline whatever the fleet's size.
pub const WINDOW_SAMPLES_MAX: usize = 4096;
/// Longest window, in seconds (Device Defender's longest duration is an
/// hour; a day of a device's own reports is a more useful baseline here).
pub const WINDOW_DURATION_S_MAX: u64 = 7 * 24 * 60 * 60;
/// Most ports or CIDR blocks in one criterion.
pub const CRITERION_ITEMS_MAX: usize = 1024;
/// Longest behaviour name, in bytes (Device Defender: 128 of `[a-zA-Z0-9:_-]`).
pub const BEHAVIOUR_NAME_BYTES_MAX: usize = 128;
/// Fewest values a statistical threshold needs, unless the behaviour says.
pub const SAMPLES_MIN_DEFAULT: usize = 5;

/// A reported metric, by its Device Defender name (without `aws:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// `listening-tcp-ports` (a port set).
    ListeningTcpPorts,
    /// `listening-udp-ports` (a port set).
    ListeningUdpPorts,
    /// `num-listening-tcp-ports`.
    NumListeningTcpPorts,
    /// `num-listening-udp-ports`.
    NumListeningUdpPorts,
    /// `num-established-tcp-connections`.
    NumEstablishedTcpConnections,
    /// `all-bytes-in`.
    AllBytesIn,
    /// `all-bytes-out`.
    AllBytesOut,
    /// `all-packets-in`.
    AllPacketsIn,
    /// `all-packets-out`.
    AllPacketsOut,
    /// `destination-ip-addresses` (an address set).
    DestinationIpAddresses,
    /// `authentication-failures`.
    AuthenticationFailures,
    /// `reboots`.
    Reboots,
    /// `update-attempts`.
    UpdateAttempts,
}

/// A metric's value in one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricValue<'r> {
    /// A count.
    Count(u64),
    /// A port set.
    Ports(&'r PortSet),
    /// An address set.
    Addresses(&'r AddressSet),
}

impl Metric {
    /// The report field path (`metrics.all-bytes-out`).
    pub fn path(self) -> &'static str {
        match self {
            Metric::ListeningTcpPorts => "metrics.listening-tcp-ports",
            Metric::ListeningUdpPorts => "metrics.listening-udp-ports",
            Metric::NumListeningTcpPorts => "metrics.num-listening-tcp-ports",
            Metric::NumListeningUdpPorts => "metrics.num-listening-udp-ports",
            Metric::NumEstablishedTcpConnections => "metrics.num-established-tcp-connections",
            Metric::AllBytesIn => "metrics.all-bytes-in",
            Metric::AllBytesOut => "metrics.all-bytes-out",
            Metric::AllPacketsIn => "metrics.all-packets-in",
            Metric::AllPacketsOut => "metrics.all-packets-out",
            Metric::DestinationIpAddresses => "metrics.destination-ip-addresses",
            Metric::AuthenticationFailures => "metrics.authentication-failures",
            Metric::Reboots => "metrics.reboots",
            Metric::UpdateAttempts => "metrics.update-attempts",
        }
    }

    /// The metric's value in `report`, if reported.
    pub fn read(self, report: &DeviceReport) -> Option<MetricValue<'_>> {
        let m = report.metrics.as_ref()?;
        let count = |v: Option<u64>| v.map(MetricValue::Count);
        match self {
            Metric::ListeningTcpPorts => m.listening_tcp_ports.as_ref().map(MetricValue::Ports),
            Metric::ListeningUdpPorts => m.listening_udp_ports.as_ref().map(MetricValue::Ports),
            Metric::NumListeningTcpPorts => count(m.num_listening_tcp_ports),
            Metric::NumListeningUdpPorts => count(m.num_listening_udp_ports),
            Metric::NumEstablishedTcpConnections => count(m.num_established_tcp_connections),
            Metric::AllBytesIn => count(m.all_bytes_in),
            Metric::AllBytesOut => count(m.all_bytes_out),
            Metric::AllPacketsIn => count(m.all_packets_in),
            Metric::AllPacketsOut => count(m.all_packets_out),
            Metric::DestinationIpAddresses => m
                .destination_ip_addresses
                .as_ref()
                .map(MetricValue::Addresses),
            Metric::AuthenticationFailures => count(m.authentication_failures),
            Metric::Reboots => count(m.reboots),
            Metric::UpdateAttempts => count(m.update_attempts),
        }
    }

    fn is_count(self) -> bool {
        !matches!(
            self,
            Metric::ListeningTcpPorts | Metric::ListeningUdpPorts | Metric::DestinationIpAddresses
        )
    }
}

/// A comparison or set operator, by its Device Defender name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operator {
    /// Normal when the value is below the threshold.
    LessThan,
    /// Normal when the value is at most the threshold.
    LessThanEquals,
    /// Normal when the value is above the threshold.
    GreaterThan,
    /// Normal when the value is at least the threshold.
    GreaterThanEquals,
    /// Normal when every listening port is in the set.
    InPortSet,
    /// Normal when no listening port is in the set.
    NotInPortSet,
    /// Normal when every destination is in one of the CIDR blocks.
    InCidrSet,
    /// Normal when no destination is in any of the CIDR blocks.
    NotInCidrSet,
}

impl Operator {
    /// The Device Defender name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::LessThan => "less-than",
            Operator::LessThanEquals => "less-than-equals",
            Operator::GreaterThan => "greater-than",
            Operator::GreaterThanEquals => "greater-than-equals",
            Operator::InPortSet => "in-port-set",
            Operator::NotInPortSet => "not-in-port-set",
            Operator::InCidrSet => "in-cidr-set",
            Operator::NotInCidrSet => "not-in-cidr-set",
        }
    }

    /// Whether `value` is normal against `threshold` (comparison operators;
    /// the set operators are never asked).
    fn normal(self, value: u64, threshold: u64) -> bool {
        match self {
            Operator::LessThan => value < threshold,
            Operator::LessThanEquals => value <= threshold,
            Operator::GreaterThan => value > threshold,
            Operator::GreaterThanEquals => value >= threshold,
            _ => true,
        }
    }
}

/// A percentile of a baseline, among Device Defender's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Statistic {
    /// 0.1th percentile.
    #[serde(rename = "p0.1")]
    P0_1,
    /// 1st percentile.
    #[serde(rename = "p1")]
    P1,
    /// 10th percentile.
    #[serde(rename = "p10")]
    P10,
    /// Median.
    #[serde(rename = "p50")]
    P50,
    /// 90th percentile.
    #[serde(rename = "p90")]
    P90,
    /// 99th percentile.
    #[serde(rename = "p99")]
    P99,
    /// 99.9th percentile.
    #[serde(rename = "p99.9")]
    P99_9,
}

impl Statistic {
    /// The name (`p90`).
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::P0_1 => "p0.1",
            Statistic::P1 => "p1",
            Statistic::P10 => "p10",
            Statistic::P50 => "p50",
            Statistic::P90 => "p90",
            Statistic::P99 => "p99",
            Statistic::P99_9 => "p99.9",
        }
    }

    /// The percentile in thousandths (p99.9 = 999).
    pub fn per_mille(self) -> u64 {
        match self {
            Statistic::P0_1 => 1,
            Statistic::P1 => 10,
            Statistic::P10 => 100,
            Statistic::P50 => 500,
            Statistic::P90 => 900,
            Statistic::P99 => 990,
            Statistic::P99_9 => 999,
        }
    }
}

/// Whose values a statistical threshold is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineScope {
    /// The device's own earlier reports.
    Device,
    /// Every device the profile is attached to.
    Group,
}

impl BaselineScope {
    fn as_str(self) -> &'static str {
        match self {
            BaselineScope::Device => "device",
            BaselineScope::Group => "group",
        }
    }
}

/// The values of one metric over a sliding window of time: the baseline of
/// a statistical threshold. Values are kept in arrival order and sorted, so
/// a percentile costs nothing and a new value a binary search and a move.
#[derive(Debug, Clone)]
pub struct MetricWindow {
    duration_s: u64,
    samples_max: usize,
    newest: i64,
    by_arrival: VecDeque<(i64, u64)>,
    sorted: Vec<u64>,
}

impl MetricWindow {
    /// An empty window over `duration_s` seconds keeping at most
    /// `samples_max` values (both bounded by the crate's maxima).
    pub fn new(duration_s: u64, samples_max: usize) -> MetricWindow {
        MetricWindow {
            duration_s: duration_s.clamp(1, WINDOW_DURATION_S_MAX),
            samples_max: samples_max.clamp(1, WINDOW_SAMPLES_MAX),
            newest: i64::MIN,
            by_arrival: VecDeque::new(),
            sorted: Vec::new(),
        }
    }

    /// Adds a value reported at `timestamp` (unix seconds), then drops what
    /// is older than the window before the newest timestamp seen, and the
    /// oldest values beyond the sample bound.
    pub fn push(&mut self, timestamp: i64, value: u64) {
        self.newest = self.newest.max(timestamp);
        let oldest = i128::from(self.newest) - i128::from(self.duration_s);
        while let Some(&(t, v)) = self.by_arrival.front() {
            if i128::from(t) > oldest && self.by_arrival.len() < self.samples_max {
                break;
            }
            self.by_arrival.pop_front();
            self.remove_sorted(v);
        }
        if i128::from(timestamp) > oldest {
            self.by_arrival.push_back((timestamp, value));
            let at = self.sorted.partition_point(|x| *x < value);
            self.sorted.insert(at, value);
        }
    }

    fn remove_sorted(&mut self, value: u64) {
        if let Ok(at) = self.sorted.binary_search(&value) {
            self.sorted.remove(at);
        }
    }

    /// How many values the window holds.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The statistic of the values (nearest-rank percentile: the smallest
    /// value with at least that share of the values at or below it).
    pub fn percentile(&self, statistic: Statistic) -> Option<u64> {
        let n = self.sorted.len() as u64;
        if n == 0 {
            return None;
        }
        let rank = (statistic.per_mille() * n).div_ceil(1000).max(1);
        let index = usize::try_from(rank - 1).ok()?;
        self.sorted.get(index).copied()
    }
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix_bits: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8` or `2001:db8::/32` (host bits must be zero).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.split_once('/')?;
        let network: IpAddr = addr.parse().ok()?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix_bits: u8 = prefix.parse().ok()?;
        let cidr = Cidr {
            network,
            prefix_bits,
        };
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix_bits <= max && cidr.mask(&network) == bits(&network)).then_some(cidr)
    }

    /// Whether `address` is in the network (an IPv4 address is never in an
    /// IPv6 network, nor the reverse).
    pub fn contains(&self, address: &IpAddr) -> bool {
        address.is_ipv4() == self.network.is_ipv4()
            && self.mask(address) == self.mask(&self.network)
    }

    fn mask(&self, address: &IpAddr) -> u128 {
        let width: u32 = if address.is_ipv4() { 32 } else { 128 };
        let keep = u32::from(self.prefix_bits).min(width);
        let shift = width - keep;
        bits(address)
            .checked_shr(shift)
            .unwrap_or(0)
            .checked_shl(shift)
            .unwrap_or(0)
    }
}

fn bits(address: &IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_bits)
    }
}

/// A behaviour as written (JSON or YAML).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourDef {
    /// Its name, unique in its profile.
    pub name: String,
    /// The metric.
    pub metric: Metric,
    /// What is normal.
    pub criteria: CriteriaDef,
}

/// A behaviour's criteria as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriteriaDef {
    /// The operator.
    pub comparison_operator: Operator,
    /// A static threshold: `{"count": N}`, `{"ports": [...]}` or `{"cidrs": [...]}`.
    #[serde(default)]
    pub value: Option<ValueDef>,
    /// A statistical threshold (count metrics, comparison operators).
    #[serde(default)]
    pub statistical_threshold: Option<StatisticalDef>,
    /// The window of a statistical threshold, in seconds.
    #[serde(default)]
    pub duration_s: Option<u64>,
    /// Consecutive violating datapoints that raise an alarm (1 to 10, default 1).
    #[serde(default)]
    pub datapoints_to_alarm: Option<u32>,
    /// Consecutive normal datapoints that clear it (1 to 10, default 1).
    #[serde(default)]
    pub datapoints_to_clear: Option<u32>,
}

/// A static threshold value, as Device Defender writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueDef {
    /// A count.
    Count(u64),
    /// A port set.
    Ports(Vec<u16>),
    /// CIDR blocks.
    Cidrs(Vec<String>),
}

/// A statistical threshold as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticalDef {
    /// The percentile.
    pub statistic: Statistic,
    /// Whose values.
    pub baseline: BaselineScope,
    /// Fewest values before the threshold applies (default
    /// [`SAMPLES_MIN_DEFAULT`]); with fewer, a datapoint is "no data".
    #[serde(default)]
    pub samples_min: Option<usize>,
}

/// A behaviour that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("behaviour {name:?}: {message}")]
pub struct BehaviourError {
    /// The behaviour's name as written.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

/// A threshold for a count metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// A fixed value.
    Static(u64),
    /// A percentile of a baseline over a window.
    Statistical {
        /// The percentile.
        statistic: Statistic,
        /// Whose values.
        baseline: BaselineScope,
        /// The window, in seconds.
        duration_s: u64,
        /// Fewest values before it applies.
        samples_min: usize,
    },
}

/// What a behaviour calls normal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// A count compared with a threshold.
    Compare(Operator, Threshold),
    /// Every port in the set.
    InPortSet(PortSet),
    /// No port in the set.
    NotInPortSet(PortSet),
    /// Every destination in one of the blocks.
    InCidrSet(Vec<Cidr>),
    /// No destination in any of the blocks.
    NotInCidrSet(Vec<Cidr>),
}

/// A checked behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    name: String,
    metric: Metric,
    criterion: Criterion,
    datapoints_to_alarm: u32,
    datapoints_to_clear: u32,
}

/// What a report shows, measured against a behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datapoint {
    /// Normal.
    Normal,
    /// Not normal.
    Violation(Violation),
    /// The metric is not reported, or the baseline has too few values:
    /// neither normal nor violating (the consecutive counts stay as they are).
    NoData,
}

/// A violating datapoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The count, or the ports or addresses that are not normal.
    pub observed: Value,
    /// The threshold it was compared with (a statistic: its value then).
    pub threshold: Option<u64>,
    /// How many values the baseline held (statistical thresholds).
    pub baseline_samples: Option<usize>,
}

impl Behaviour {
    /// Checks a behaviour as written.
    pub fn new(def: &BehaviourDef) -> Result<Behaviour, BehaviourError> {
        let err = |m: &str| BehaviourError {
            name: def.name.chars().take(BEHAVIOUR_NAME_BYTES_MAX).collect(),
            message: m.to_string(),
        };
        let name_ok = !def.name.is_empty()
            && def.name.len() <= BEHAVIOUR_NAME_BYTES_MAX
            && def
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-');
        if !name_ok {
            return Err(err("a name is 1 to 128 of a-z, A-Z, 0-9, ':', '_' and '-'"));
        }
        let c = &def.criteria;
        let datapoints = |v: Option<u32>| match v.unwrap_or(1) {
            n @ 1..=DATAPOINTS_MAX => Ok(n),
            _ => Err(err("datapoints to alarm and to clear are 1 to 10")),
        };
        let datapoints_to_alarm = datapoints(c.datapoints_to_alarm)?;
        let datapoints_to_clear = datapoints(c.datapoints_to_clear)?;
        let op = c.comparison_operator;
        let criterion = match (op, &c.value, &c.statistical_threshold) {
            (_, Some(_), Some(_)) => {
                return Err(err("a value or a statistical threshold, not both"));
            }
            (
                Operator::LessThan
                | Operator::LessThanEquals
                | Operator::GreaterThan
                | Operator::GreaterThanEquals,
                value,
                statistical,
            ) => {
                if !def.metric.is_count() {
                    return Err(err("comparison operators apply to count metrics"));
                }
                let threshold = match (value, statistical) {
                    (Some(ValueDef::Count(n)), None) => Threshold::Static(*n),
                    (None, Some(s)) => {
                        let duration_s = c
                            .duration_s
                            .filter(|d| (1..=WINDOW_DURATION_S_MAX).contains(d))
                            .ok_or_else(|| {
                                err("a statistical threshold needs duration_s, 1 s to 7 days")
                            })?;
                        Threshold::Statistical {
                            statistic: s.statistic,
                            baseline: s.baseline,
                            duration_s,
                            samples_min: s
                                .samples_min
                                .unwrap_or(SAMPLES_MIN_DEFAULT)
                                .clamp(1, WINDOW_SAMPLES_MAX),
                        }
                    }
                    _ => {
                        return Err(err(
                            "a comparison needs {\"count\": N} or a statistical threshold",
                        ))
                    }
                };
                Criterion::Compare(op, threshold)
            }
            (Operator::InPortSet | Operator::NotInPortSet, Some(ValueDef::Ports(ports)), None) => {
                if !matches!(
                    def.metric,
                    Metric::ListeningTcpPorts | Metric::ListeningUdpPorts
                ) {
                    return Err(err(
                        "port sets apply to listening-tcp-ports and listening-udp-ports",
                    ));
                }
                if ports.len() > CRITERION_ITEMS_MAX || ports.contains(&0) {
                    return Err(err("a port set has at most 1024 ports, none 0"));
                }
                let set =
                    PortSet::new(ports.iter().copied()).ok_or_else(|| err("invalid port set"))?;
                if op == Operator::InPortSet {
                    Criterion::InPortSet(set)
                } else {
                    Criterion::NotInPortSet(set)
                }
            }
            (Operator::InCidrSet | Operator::NotInCidrSet, Some(ValueDef::Cidrs(cidrs)), None) => {
                if def.metric != Metric::DestinationIpAddresses {
                    return Err(err("CIDR sets apply to destination-ip-addresses"));
                }
                if cidrs.len() > CRITERION_ITEMS_MAX {
                    return Err(err("a CIDR set has at most 1024 blocks"));
                }
                let blocks = cidrs
                    .iter()
                    .map(|t| {
                        Cidr::parse(t).ok_or_else(|| err(&format!("{t:?} is not a CIDR block")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if op == Operator::InCidrSet {
                    Criterion::InCidrSet(blocks)
                } else {
                    Criterion::NotInCidrSet(blocks)
                }
            }
            _ => return Err(err("the operator does not fit the value")),
        };
        Ok(Behaviour {
            name: def.name.clone(),
            metric: def.metric,
            criterion,
            datapoints_to_alarm,
            datapoints_to_clear,
        })
    }

    /// Parses and checks a behaviour written as JSON.
    pub fn from_json(json: &[u8]) -> Result<Behaviour, BehaviourError> {
        let def: BehaviourDef = serde_json::from_slice(json).map_err(|e| BehaviourError {
            name: String::new(),
            message: e.to_string(),
        })?;
        Behaviour::new(&def)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// What it calls normal.
    pub fn criterion(&self) -> &Criterion {
        &self.criterion
    }

    /// The baseline it reads, if its threshold is statistical: (whose,
    /// window in seconds).
    pub fn baseline(&self) -> Option<(BaselineScope, u64)> {
        match self.criterion {
            Criterion::Compare(
                _,
                Threshold::Statistical {
                    baseline,
                    duration_s,
                    ..
                },
            ) => Some((baseline, duration_s)),
            _ => None,
        }
    }

    /// Measures `report` against the behaviour; `baseline` is the window a
    /// statistical threshold reads (the caller's, before this report's own
    /// value is added to it).
    pub fn evaluate(&self, report: &DeviceReport, baseline: Option<&MetricWindow>) -> Datapoint {
        let Some(value) = self.metric.read(report) else {
            return Datapoint::NoData;
        };
        match (&self.criterion, value) {
            (Criterion::Compare(op, threshold), MetricValue::Count(v)) => {
                let (limit, samples) = match threshold {
                    Threshold::Static(n) => (*n, None),
                    Threshold::Statistical {
                        statistic,
                        samples_min,
                        ..
                    } => {
                        let Some(window) = baseline.filter(|w| w.len() >= *samples_min) else {
                            return Datapoint::NoData;
                        };
                        let Some(p) = window.percentile(*statistic) else {
                            return Datapoint::NoData;
                        };
                        (p, Some(window.len()))
                    }
                };
                if op.normal(v, limit) {
                    Datapoint::Normal
                } else {
                    Datapoint::Violation(Violation {
                        observed: Value::from(v),
                        threshold: Some(limit),
                        baseline_samples: samples,
                    })
                }
            }
            (Criterion::InPortSet(set), MetricValue::Ports(ports)) => {
                ports_violation(ports.as_slice().iter().filter(|p| !set.contains(**p)))
            }
            (Criterion::NotInPortSet(set), MetricValue::Ports(ports)) => {
                ports_violation(ports.as_slice().iter().filter(|p| set.contains(**p)))
            }
            (Criterion::InCidrSet(blocks), MetricValue::Addresses(addrs)) => addresses_violation(
                addrs
                    .as_slice()
                    .iter()
                    .filter(|a| !blocks.iter().any(|b| b.contains(a))),
            ),
            (Criterion::NotInCidrSet(blocks), MetricValue::Addresses(addrs)) => {
                addresses_violation(
                    addrs
                        .as_slice()
                        .iter()
                        .filter(|a| blocks.iter().any(|b| b.contains(a))),
                )
            }
            // Metric and criterion are matched in `new`.
            _ => Datapoint::NoData,
        }
    }

    fn describe(&self, ev: &mut Evidence) {
        match &self.criterion {
            Criterion::Compare(op, t) => {
                ev.context("operator", op.as_str());
                if let Threshold::Statistical {
                    statistic,
                    baseline,
                    duration_s,
                    ..
                } = t
                {
                    ev.context("statistic", statistic.as_str());
                    ev.context("baseline", baseline.as_str());
                    ev.context("duration_s", *duration_s);
                }
            }
            Criterion::InPortSet(s) => {
                ev.context("operator", Operator::InPortSet.as_str());
                ev.context("ports", s.as_slice().to_vec());
            }
            Criterion::NotInPortSet(s) => {
                ev.context("operator", Operator::NotInPortSet.as_str());
                ev.context("ports", s.as_slice().to_vec());
            }
            Criterion::InCidrSet(b) => {
                ev.context("operator", Operator::InCidrSet.as_str());
                ev.context("cidrs", cidr_list(b));
            }
            Criterion::NotInCidrSet(b) => {
                ev.context("operator", Operator::NotInCidrSet.as_str());
                ev.context("cidrs", cidr_list(b));
            }
        }
    }
}

fn cidr_list(blocks: &[Cidr]) -> Vec<String> {
    blocks.iter().map(Cidr::to_string).collect()
}

fn ports_violation<'a>(offending: impl Iterator<Item = &'a u16>) -> Datapoint {
    let v: Vec<u16> = offending.copied().collect();
    if v.is_empty() {
        Datapoint::Normal
    } else {
        Datapoint::Violation(Violation {
            observed: Value::from(v),
            threshold: None,
            baseline_samples: None,
        })
    }
}

fn addresses_violation<'a>(offending: impl Iterator<Item = &'a IpAddr>) -> Datapoint {
    let v: Vec<String> = offending.map(IpAddr::to_string).collect();
    if v.is_empty() {
        Datapoint::Normal
    } else {
        Datapoint::Violation(Violation {
            observed: Value::from(v),
            threshold: None,
            baseline_samples: None,
        })
    }
}

/// What an operator decided an alarm was (Device Defender's verification
/// states), set by a signed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verification {
    /// Not looked at yet.
    #[default]
    Unknown,
    /// A real problem (it becomes an incident).
    TruePositive,
    /// Real, but expected (a planned change).
    BenignPositive,
    /// Not real (the behaviour needs tuning).
    FalsePositive,
}

impl Verification {
    /// The label (`true-positive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Unknown => "unknown",
            Verification::TruePositive => "true-positive",
            Verification::BenignPositive => "benign-positive",
            Verification::FalsePositive => "false-positive",
        }
    }
}

/// An active alarm: a behaviour a device violated for
/// `datapoints_to_alarm` reports in a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// The behaviour's name.
    pub behaviour: String,
    /// The device.
    pub device: String,
    /// The timestamp of the report that raised it.
    pub raised_at: i64,
    /// The violation that raised it.
    pub evidence: Evidence,
    /// What operators decided it was.
    pub verification: Verification,
}

/// A change of an alarm.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmEvent {
    /// Raised by this report.
    Raised(Alarm),
    /// Cleared by this report (the alarm as it was).
    Cleared {
        /// The alarm cleared.
        alarm: Alarm,
        /// The counter of the report that cleared it.
        report_counter: u64,
        /// Its timestamp.
        cleared_at: i64,
    },
}

/// The state of one behaviour on one device: consecutive violating and
/// normal datapoints, and the alarm if one is active.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmState {
    violations_in_a_row: u32,
    normal_in_a_row: u32,
    active: Option<Alarm>,
}

impl AlarmState {
    /// The active alarm.
    pub fn active(&self) -> Option<&Alarm> {
        self.active.as_ref()
    }

    /// Moves the state by one datapoint of `report`; says when the alarm
    /// is raised or cleared.
    pub fn step(
        &mut self,
        behaviour: &Behaviour,
        device: &str,
        report: &DeviceReport,
        datapoint: Datapoint,
    ) -> Option<AlarmEvent> {
        match datapoint {
            Datapoint::NoData => None,
            Datapoint::Violation(v) => {
                self.normal_in_a_row = 0;
                self.violations_in_a_row = self.violations_in_a_row.saturating_add(1);
                if self.active.is_some() || self.violations_in_a_row < behaviour.datapoints_to_alarm
                {
                    return None;
                }
                let mut evidence = Evidence::new(report.counter);
                evidence.report(behaviour.metric.path(), v.observed);
                behaviour.describe(&mut evidence);
                if let Some(t) = v.threshold {
                    evidence.context("threshold", t);
                }
                if let Some(n) = v.baseline_samples {
                    evidence.context("baseline_samples", n);
                }
                evidence.context("datapoints_to_alarm", behaviour.datapoints_to_alarm);
                let alarm = Alarm {
                    behaviour: behaviour.name.clone(),
                    device: device.to_string(),
                    raised_at: report.timestamp,
                    evidence,
                    verification: Verification::Unknown,
                };
                self.active = Some(alarm.clone());
                Some(AlarmEvent::Raised(alarm))
            }
            Datapoint::Normal => {
                self.violations_in_a_row = 0;
                self.normal_in_a_row = self.normal_in_a_row.saturating_add(1);
                if self.normal_in_a_row < behaviour.datapoints_to_clear {
                    return None;
                }
                self.active.take().map(|alarm| AlarmEvent::Cleared {
                    alarm,
                    report_counter: report.counter,
                    cleared_at: report.timestamp,
                })
            }
        }
    }

    /// Sets the active alarm's verification state; `false` when no alarm
    /// is active.
    pub fn verify(&mut self, verification: Verification) -> bool {
        match &mut self.active {
            Some(alarm) => {
                alarm.verification = verification;
                true
            }
            None => false,
        }
    }
}

type WindowKey = (Metric, u64);

#[derive(Debug, Default)]
struct DeviceState {
    alarms: Vec<AlarmState>,
    windows: HashMap<WindowKey, MetricWindow>,
}

/// One security profile's behaviours run over the devices it is attached
/// to: per device an [`AlarmState`] per behaviour and its own baselines,
/// and the group's baselines (every attached device's values).
#[derive(Debug)]
pub struct Monitor {
    behaviours: Vec<Behaviour>,
    devices: HashMap<String, DeviceState>,
    group: HashMap<WindowKey, MetricWindow>,
}

impl Monitor {
    /// A monitor of these behaviours (names must be unique).
    pub fn new(behaviours: Vec<Behaviour>) -> Result<Monitor, BehaviourError> {
        for (i, b) in behaviours.iter().enumerate() {
            if behaviours.iter().take(i).any(|o| o.name == b.name) {
                return Err(BehaviourError {
                    name: b.name.clone(),
                    message: "two behaviours of one profile have this name".into(),
                });
            }
        }
        Ok(Monitor {
            behaviours,
            devices: HashMap::new(),
            group: HashMap::new(),
        })
    }

    /// The behaviours.
    pub fn behaviours(&self) -> &[Behaviour] {
        &self.behaviours
    }

    /// Measures an admitted report of `device` against every behaviour
    /// (each baseline as it was before this report), then adds its values
    /// to the device's and the group's baselines. Events in behaviour order.
    pub fn observe(&mut self, device: &str, report: &DeviceReport) -> Vec<AlarmEvent> {
        let state = self.devices.entry(device.to_string()).or_default();
        state
            .alarms
            .resize_with(self.behaviours.len(), AlarmState::default);
        let mut events = Vec::new();
        for (b, alarm) in self.behaviours.iter().zip(state.alarms.iter_mut()) {
            let window = b.baseline().and_then(|(scope, duration_s)| {
                let key = (b.metric, duration_s);
                match scope {
                    BaselineScope::Device => state.windows.get(&key),
                    BaselineScope::Group => self.group.get(&key),
                }
            });
            let datapoint = b.evaluate(report, window);
            events.extend(alarm.step(b, device, report, datapoint));
        }
        let mut fed: Vec<(BaselineScope, WindowKey)> = Vec::new();
        for b in &self.behaviours {
            let Some((scope, duration_s)) = b.baseline() else {
                continue;
            };
            let Some(MetricValue::Count(v)) = b.metric.read(report) else {
                continue;
            };
            let key = (b.metric, duration_s);
            // Two behaviours reading one baseline feed it once.
            if fed.contains(&(scope, key)) {
                continue;
            }
            fed.push((scope, key));
            let windows = match scope {
                BaselineScope::Device => &mut state.windows,
                BaselineScope::Group => &mut self.group,
            };
            windows
                .entry(key)
                .or_insert_with(|| MetricWindow::new(duration_s, WINDOW_SAMPLES_MAX))
                .push(report.timestamp, v);
        }
        events
    }

    /// The alarm state of a behaviour on a device.
    pub fn alarm(&self, device: &str, behaviour: &str) -> Option<&AlarmState> {
        let i = self.behaviours.iter().position(|b| b.name == behaviour)?;
        self.devices.get(device)?.alarms.get(i)
    }

    /// Sets the verification state of a device's active alarm on a
    /// behaviour; `false` when there is none.
    pub fn verify(&mut self, device: &str, behaviour: &str, verification: Verification) -> bool {
        let Some(i) = self.behaviours.iter().position(|b| b.name == behaviour) else {
            return false;
        };
        self.devices
            .get_mut(device)
            .and_then(|s| s.alarms.get_mut(i))
            .is_some_and(|a| a.verify(verification))
    }
}
