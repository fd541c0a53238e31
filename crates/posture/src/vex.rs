//! VEX checked against what a device reports. A manufacturer's
//! `not_affected` statement often rests on a fact about the device ("telnetd
//! is not started", "the debug console is fused off"), but no VEX
//! justification (CISA's five, CycloneDX's nine) names that fact. So the
//! manufacturer writes it into the statement's impact text, which every
//! VEX format carries (OpenVEX `impact_statement`, CycloneDX
//! `analysis.detail`, CSAF `threats[category=impact].details`), as one or
//! more *device conditions* in a closed grammar (`docs/vex.md`):
//!
//! ```text
//! device-condition: tcp port 23 not listening
//! device-condition: udp port 1900 not listening
//! device-condition: debug interface ssh disabled
//! device-condition: service telnetd not running
//! ```
//!
//! [`conditions_in`] finds them in the text (each runs from its marker to
//! the next `;`, line break or the end); [`DeviceCondition::check`] holds
//! one against a report, three-valued like the audit's conditions (a fact
//! the report does not carry is unknown, and unknown never contradicts);
//! [`contradictions`] checks every condition of the statements that apply
//! to a device and gives each contradiction with its evidence: the
//! statement (vulnerability, signer, entry, release, component, condition)
//! and the report fields it contradicts, with the report's counter.
//!
//! Deliberately absent: which statements apply to which device (the
//! caller matches the device's model and release), severities (the
//! advisory's, the caller's), who is told what (the sharing policy is the
//! service's), and any I/O.

use std::fmt;

use serde::Serialize;

use crate::evidence::Evidence;
use crate::report::{DeviceReport, ServiceName};

/// The marker that introduces a device condition in a VEX statement's
/// impact text, matched without regard to ASCII case.
pub const CONDITION_MARKER: &str = "device-condition:";

/// Most device conditions read from one statement; the rest are refused
/// ([`ConditionError::TooMany`]). A statement resting on more facts than
/// this is better split by component.
pub const CONDITIONS_MAX: usize = 8;

/// Longest condition text kept in an error, in bytes (the rest is cut, at
/// a character boundary).
pub const CONDITION_TEXT_SHOWN_BYTES_MAX: usize = 80;

/// A transport protocol of a listening port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP (`metrics.listening-tcp-ports`).
    Tcp,
    /// UDP (`metrics.listening-udp-ports`).
    Udp,
}

impl Transport {
    /// The name written in conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// A debug interface a report states (`debug_interfaces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DebugInterface {
    /// JTAG/SWD.
    Jtag,
    /// A UART console.
    Uart,
    /// An SSH server.
    Ssh,
}

impl DebugInterface {
    /// The name written in conditions and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DebugInterface::Jtag => "jtag",
            DebugInterface::Uart => "uart",
            DebugInterface::Ssh => "ssh",
        }
    }
}

/// A fact about the device that a `not_affected` statement rests on, as a
/// device report can show it false.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceCondition {
    /// `tcp port N not listening`, `udp port N not listening` (N from 1
    /// to 65535).
    PortNotListening {
        /// TCP or UDP.
        transport: Transport,
        /// The port.
        port: u16,
    },
    /// `debug interface jtag|uart|ssh disabled`.
    DebugInterfaceDisabled(DebugInterface),
    /// `service NAME not running` (a name as reports write them,
    /// [`ServiceName`], compared without regard to ASCII case).
    ServiceNotRunning(ServiceName),
}

/// Why a condition text is not a device condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// Not one of the condition forms.
    #[error("{text:?} is not a device condition (expected \"tcp|udp port N not listening\", \"debug interface jtag|uart|ssh disabled\" or \"service NAME not running\")")]
    Unknown {
        /// The text, cut to [`CONDITION_TEXT_SHOWN_BYTES_MAX`] bytes.
        text: String,
    },
    /// A port that is not 1 to 65535.
    #[error("{text:?}: a port is a number from 1 to 65535")]
    Port {
        /// The text, cut.
        text: String,
    },
    /// A service name outside [`ServiceName`]'s alphabet or length.
    #[error("{text:?}: a service name is 1 to 64 bytes of ASCII letters, digits and . _ - @ + :")]
    ServiceName {
        /// The text, cut.
        text: String,
    },
    /// More than [`CONDITIONS_MAX`] conditions in one statement.
    #[error("more than {CONDITIONS_MAX} device conditions in one statement")]
    TooMany,
}

impl DeviceCondition {
    /// Parses one condition (the text after the marker), keywords without
    /// regard to ASCII case, words separated by any whitespace.
    pub fn parse(text: &str) -> Result<DeviceCondition, ConditionError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let is = |w: &str, k: &str| w.eq_ignore_ascii_case(k);
        let unknown = || ConditionError::Unknown { text: shown(text) };
        match words.as_slice() {
            [t, p, n, not, listening]
                if is(p, "port") && is(not, "not") && is(listening, "listening") =>
            {
                let transport = if is(t, "tcp") {
                    Transport::Tcp
                } else if is(t, "udp") {
                    Transport::Udp
                } else {
                    return Err(unknown());
                };
                let port = n
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0 && n.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ConditionError::Port { text: shown(text) })?;
                Ok(DeviceCondition::PortNotListening { transport, port })
            }
            [d, i, which, disabled]
                if is(d, "debug") && is(i, "interface") && is(disabled, "disabled") =>
            {
                let which = [
                    DebugInterface::Jtag,
                    DebugInterface::Uart,
                    DebugInterface::Ssh,
                ]
                .into_iter()
                .find(|x| is(which, x.as_str()))
                .ok_or_else(unknown)?;
                Ok(DeviceCondition::DebugInterfaceDisabled(which))
            }
            [s, name, not, running]
                if is(s, "service") && is(not, "not") && is(running, "running") =>
            {
                ServiceName::new(*name)
                    .map(DeviceCondition::ServiceNotRunning)
                    .ok_or_else(|| ConditionError::ServiceName { text: shown(text) })
            }
            _ => Err(unknown()),
        }
    }

    /// Holds this condition against `report`, adding the report fields it
    /// read to `evidence` when they contradict it.
    pub fn check(&self, report: &DeviceReport, evidence: &mut Evidence) -> Verdict {
        match self {
            DeviceCondition::PortNotListening { transport, port } => {
                let Some(m) = &report.metrics else {
                    return Verdict::Unknown;
                };
                let (list, count, field) = match transport {
                    Transport::Tcp => (
                        &m.listening_tcp_ports,
                        m.num_listening_tcp_ports,
                        "metrics.listening-tcp-ports",
                    ),
                    Transport::Udp => (
                        &m.listening_udp_ports,
                        m.num_listening_udp_ports,
                        "metrics.listening-udp-ports",
                    ),
                };
                let Some(list) = list else {
                    return Verdict::Unknown;
                };
                if list.contains(*port) {
                    evidence.report(field, list.as_slice().to_vec());
                    Verdict::Contradicted
                } else if count.is_some_and(|c| c > list.len() as u64) {
                    // The device listens on more ports than it listed (the
                    // list is bounded): this one may be among the others.
                    Verdict::Unknown
                } else {
                    Verdict::Holds
                }
            }
            DeviceCondition::DebugInterfaceDisabled(which) => {
                let Some(d) = &report.debug_interfaces else {
                    return Verdict::Unknown;
                };
                let (enabled, field) = match which {
                    DebugInterface::Jtag => (d.jtag, "debug_interfaces.jtag"),
                    DebugInterface::Uart => (d.uart, "debug_interfaces.uart"),
                    DebugInterface::Ssh => (d.ssh, "debug_interfaces.ssh"),
                };
                if enabled {
                    evidence.report(field, true);
                    Verdict::Contradicted
                } else {
                    Verdict::Holds
                }
            }
            DeviceCondition::ServiceNotRunning(name) => {
                let Some(services) = &report.services else {
                    return Verdict::Unknown;
                };
                if services.find(name.as_str()).is_some() {
                    let names: Vec<&str> = services
                        .as_slice()
                        .iter()
                        .map(ServiceName::as_str)
                        .collect();
                    evidence.report("services", names);
                    Verdict::Contradicted
                } else {
                    Verdict::Holds
                }
            }
        }
    }

    /// The top-level report field the condition reads (what a reader must
    /// be allowed to see of a report to be shown that it contradicts).
    pub fn report_section(&self) -> &'static str {
        match self {
            DeviceCondition::PortNotListening { .. } => "metrics",
            DeviceCondition::DebugInterfaceDisabled(_) => "debug_interfaces",
            DeviceCondition::ServiceNotRunning(_) => "services",
        }
    }

    /// What a device that contradicts it shows, in a few words ("tcp port
    /// 23 listening").
    pub fn contradicted_by(&self) -> String {
        match self {
            DeviceCondition::PortNotListening { transport, port } => {
                format!("{} port {port} listening", transport.as_str())
            }
            DeviceCondition::DebugInterfaceDisabled(which) => {
                format!("debug interface {} enabled", which.as_str())
            }
            DeviceCondition::ServiceNotRunning(name) => format!("service {name} running"),
        }
    }
}

/// The canonical text: what [`DeviceCondition::parse`] reads back.
impl fmt::Display for DeviceCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceCondition::PortNotListening { transport, port } => {
                write!(f, "{} port {port} not listening", transport.as_str())
            }
            DeviceCondition::DebugInterfaceDisabled(which) => {
                write!(f, "debug interface {} disabled", which.as_str())
            }
            DeviceCondition::ServiceNotRunning(name) => write!(f, "service {name} not running"),
        }
    }
}

impl Serialize for DeviceCondition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a report says of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The report shows the condition true.
    Holds,
    /// The report shows it false.
    Contradicted,
    /// The report does not carry the fact (or not all of it).
    Unknown,
}

/// The device conditions of one statement's impact text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The conditions read, in the order written, without repeats.
    pub conditions: Vec<DeviceCondition>,
    /// The marked texts that are not conditions (never checked: a
    /// manufacturer should hear of them when it signs).
    pub refused: Vec<ConditionError>,
}

/// The device conditions in `impact` (a VEX statement's impact text): each
/// [`CONDITION_MARKER`] (any ASCII case) starts one, which runs to the
/// next `;`, line break or the end of the text; surrounding whitespace and
/// one final `.` are not part of it.
pub fn conditions_in(impact: &str) -> Conditions {
    let mut out = Conditions::default();
    let lower = impact.to_ascii_lowercase();
    let mut from = 0;
    let mut marked = 0;
    while let Some(at) = lower
        .get(from..)
        .and_then(|rest| rest.find(CONDITION_MARKER))
    {
        let start = from + at + CONDITION_MARKER.len();
        let rest = impact.get(start..).unwrap_or_default();
        let len = rest.find([';', '\n', '\r']).unwrap_or(rest.len());
        from = start + len;
        marked += 1;
        if marked > CONDITIONS_MAX {
            out.refused.push(ConditionError::TooMany);
            break;
        }
        let text = rest.get(..len).unwrap_or_default().trim();
        let text = text.strip_suffix('.').unwrap_or(text).trim_end();
        match DeviceCondition::parse(text) {
            Ok(c) if !out.conditions.contains(&c) => out.conditions.push(c),
            Ok(_) => {}
            Err(e) => out.refused.push(e),
        }
    }
    out
}

/// A `not_affected` statement that applies to the device being checked,
/// with its conditions.
#[derive(Debug, Clone, Copy)]
pub struct NotAffected<'a> {
    /// The vulnerability.
    pub vulnerability: &'a str,
    /// Who signed it (the manufacturer).
    pub issuer: &'a str,
    /// Its log entry.
    pub entry: u64,
    /// The firmware release it is about.
    pub release: &'a str,
    /// The component it is about, if one.
    pub component: Option<&'a str>,
    /// Its device conditions.
    pub conditions: &'a [DeviceCondition],
}

/// One condition of one statement that a device's report shows false.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contradiction {
    /// The device.
    pub device: String,
    /// The statement's vulnerability.
    pub vulnerability: String,
    /// Who signed the statement.
    pub issuer: String,
    /// The statement's log entry.
    pub vex_entry: u64,
    /// The release the statement is about.
    pub release: String,
    /// The component it is about, if one.
    pub component: Option<String>,
    /// The condition the report contradicts.
    pub condition: DeviceCondition,
    /// The report fields that contradict it (with the report's counter)
    /// and the statement's own fields as context.
    pub evidence: Evidence,
}

/// Every condition of `statements` (those that apply to `device`: its
/// model, its release) that `report` contradicts, statement by statement
/// in the order given, conditions in their order. A condition the report
/// cannot decide gives nothing.
pub fn contradictions(
    device: &str,
    report: &DeviceReport,
    statements: &[NotAffected<'_>],
) -> Vec<Contradiction> {
    let mut out = Vec::new();
    for s in statements {
        for c in s.conditions {
            let mut evidence = Evidence::new(report.counter);
            if c.check(report, &mut evidence) != Verdict::Contradicted {
                continue;
            }
            if let Some(f) = &report.firmware {
                evidence.report("firmware.version", f.version.as_str());
            }
            evidence.context("vex.vulnerability", s.vulnerability);
            evidence.context("vex.issuer", s.issuer);
            evidence.context("vex.entry", s.entry);
            evidence.context("vex.release", s.release);
            if let Some(component) = s.component {
                evidence.context("vex.component", component);
            }
            evidence.context("vex.condition", c.to_string());
            out.push(Contradiction {
                device: device.to_string(),
                vulnerability: s.vulnerability.to_string(),
                issuer: s.issuer.to_string(),
                vex_entry: s.entry,
                release: s.release.to_string(),
                component: s.component.map(str::to_string),
                condition: c.clone(),
                evidence,
            });
        }
    }
    out
}

/// `text` cut to [`CONDITION_TEXT_SHOWN_BYTES_MAX`] bytes at a character
/// boundary.
fn shown(text: &str) -> String {
    let mut end = text.len().min(CONDITION_TEXT_SHOWN_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_string()
}
