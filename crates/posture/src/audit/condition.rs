//! The conditions of posture audit rules: a small, closed set of typed
//! checks over a [`DevicePosture`] (each names the report fields it reads),
//! combined with `all_of`, `any_of` and `not`, written in the rule files as
//! YAML and compiled once into [`Condition`].
//!
//! Evaluation is three-valued: a check on a fact the device did not report
//! is *unknown*, `not unknown` is unknown, and a rule fires only on a
//! definite true, so a device that says nothing is never found at fault
//! for it (and never declared clean either: the caller sees it reported
//! nothing).
//!
//! Why not `threat`'s expression language: it looks fields up by name in a
//! map of dynamically typed values, which would mean building such a map
//! for each of a million devices per audit; these checks read the typed
//! report in place and allocate nothing unless a rule fires.
//!
//! Deliberately absent: arbitrary expressions, arithmetic, any field a
//! check does not name.

use serde::Deserialize;
use vuln::version::VersionScheme;

use super::{DevicePosture, FleetIndex, RuleError};
use crate::evidence::Evidence;
use crate::report::{Credentials, KeyType, TlsVersion};

/// Deepest nesting of `all_of`/`any_of`/`not` in one condition.
pub const CONDITION_DEPTH_MAX: usize = 8;
/// Most checks and combinators in one condition.
pub const CONDITION_NODES_MAX: usize = 64;
/// Most items in one check's list (ports, substrings, values).
pub const CONDITION_ITEMS_MAX: usize = 1024;

const DAY_S: i64 = 24 * 60 * 60;

/// A boolean fact of the report a `flag` check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FlagField {
    /// `secure_boot`.
    #[serde(rename = "secure_boot")]
    SecureBoot,
    /// `secure_storage`.
    #[serde(rename = "secure_storage")]
    SecureStorage,
    /// `logging_enabled`.
    #[serde(rename = "logging_enabled")]
    LoggingEnabled,
    /// `debug_interfaces.jtag`.
    #[serde(rename = "debug_interfaces.jtag")]
    DebugJtag,
    /// `debug_interfaces.uart`.
    #[serde(rename = "debug_interfaces.uart")]
    DebugUart,
    /// `debug_interfaces.ssh`.
    #[serde(rename = "debug_interfaces.ssh")]
    DebugSsh,
}

impl FlagField {
    /// The report field path.
    pub fn path(self) -> &'static str {
        match self {
            FlagField::SecureBoot => "secure_boot",
            FlagField::SecureStorage => "secure_storage",
            FlagField::LoggingEnabled => "logging_enabled",
            FlagField::DebugJtag => "debug_interfaces.jtag",
            FlagField::DebugUart => "debug_interfaces.uart",
            FlagField::DebugSsh => "debug_interfaces.ssh",
        }
    }

    fn read(self, p: &DevicePosture<'_>) -> Option<bool> {
        let r = p.report;
        match self {
            FlagField::SecureBoot => r.secure_boot,
            FlagField::SecureStorage => r.secure_storage,
            FlagField::LoggingEnabled => r.logging_enabled,
            FlagField::DebugJtag => r.debug_interfaces.map(|d| d.jtag),
            FlagField::DebugUart => r.debug_interfaces.map(|d| d.uart),
            FlagField::DebugSsh => r.debug_interfaces.map(|d| d.ssh),
        }
    }
}

/// A condition as written in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionDef {
    /// Every condition holds.
    AllOf(Vec<ConditionDef>),
    /// At least one condition holds.
    AnyOf(Vec<ConditionDef>),
    /// The condition does not hold (unknown stays unknown).
    Not(Box<ConditionDef>),
    /// A boolean report field has this value.
    Flag {
        /// The field.
        field: FlagField,
        /// The value that makes the check hold.
        is: bool,
    },
    /// `credentials` is one of these.
    CredentialsIn(Vec<Credentials>),
    /// `tls.versions` includes one of these.
    TlsVersionOffered(Vec<TlsVersion>),
    /// A name in `tls.cipher_suites` contains one of these substrings.
    CipherSuiteContains(Vec<String>),
    /// One of these ports is listening (`metrics.listening-tcp-ports`,
    /// `metrics.listening-udp-ports`).
    ListeningPortIn {
        /// TCP ports.
        #[serde(default)]
        tcp: Vec<u16>,
        /// UDP ports.
        #[serde(default)]
        udp: Vec<u16>,
    },
    /// `certificate.not_after` is less than this many days after now
    /// (an expired certificate included).
    CertificateExpiresWithinDays(u32),
    /// `certificate.not_before` is this many days or more before now
    /// (Device Defender's age check counts "greater than or equal").
    CertificateAgeAtLeastDays(u32),
    /// The certificate's key is smaller than these (Ed25519 and Ed448
    /// keys are never weak).
    CertificateKeyWeak {
        /// Smallest acceptable RSA modulus, in bits.
        rsa_bits_min: u32,
        /// Smallest acceptable ECDSA curve, in bits.
        ecdsa_bits_min: u32,
    },
    /// The reported certificate is revoked (context from the caller).
    CertificateRevoked,
    /// Another device of the fleet reports the same certificate.
    CertificateShared,
    /// Another device of the fleet reports the same MQTT client id.
    ClientIdConflict,
    /// `firmware.version` is older than the latest release for the model
    /// (generic version ordering; a version that does not parse: unknown).
    FirmwareBehindLatestRelease,
    /// The model's support period ended before now.
    SupportEnded,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Flag(FlagField, bool),
    CredentialsIn(Vec<Credentials>),
    TlsVersionOffered(Vec<TlsVersion>),
    CipherSuiteContains(Vec<String>),
    ListeningPortIn {
        tcp: Vec<u16>,
        udp: Vec<u16>,
    },
    CertificateExpiresWithin {
        seconds: i64,
    },
    CertificateAgeAtLeast {
        seconds: i64,
    },
    CertificateKeyWeak {
        rsa_bits_min: u32,
        ecdsa_bits_min: u32,
    },
    CertificateRevoked,
    CertificateShared,
    ClientIdConflict,
    FirmwareBehindLatestRelease,
    SupportEnded,
}

impl Condition {
    /// Compiles a condition, checking its size, depth and lists.
    pub(crate) fn compile(def: &ConditionDef) -> Result<Condition, RuleError> {
        let mut nodes = 0;
        compile(def, 1, &mut nodes)
    }

    /// Three-valued evaluation: `None` when a fact it needs is unknown.
    pub(crate) fn eval(
        &self,
        p: &DevicePosture<'_>,
        fleet: &FleetIndex<'_>,
        now: i64,
    ) -> Option<bool> {
        let r = p.report;
        match self {
            Condition::All(cs) => {
                let mut unknown = false;
                for c in cs {
                    match c.eval(p, fleet, now) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                (!unknown).then_some(true)
            }
            Condition::Any(cs) => {
                let mut unknown = false;
                for c in cs {
                    match c.eval(p, fleet, now) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                (!unknown).then_some(false)
            }
            Condition::Not(c) => c.eval(p, fleet, now).map(|b| !b),
            Condition::Flag(field, is) => field.read(p).map(|v| v == *is),
            Condition::CredentialsIn(set) => r.credentials.map(|c| set.contains(&c)),
            Condition::TlsVersionOffered(set) => r
                .tls
                .as_ref()
                .map(|t| t.versions.iter().any(|v| set.contains(v))),
            Condition::CipherSuiteContains(parts) => r.tls.as_ref().map(|t| {
                t.cipher_suites
                    .iter()
                    .any(|s| weak_suite(s.as_str(), parts))
            }),
            Condition::ListeningPortIn { tcp, udp } => {
                let m = r.metrics.as_ref();
                let hit = |list: &[u16], set: Option<&crate::report::PortSet>| {
                    if list.is_empty() {
                        return Some(false);
                    }
                    set.map(|s| list.iter().any(|port| s.contains(*port)))
                };
                let t = hit(tcp, m.and_then(|m| m.listening_tcp_ports.as_ref()));
                let u = hit(udp, m.and_then(|m| m.listening_udp_ports.as_ref()));
                match (t, u) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                }
            }
            Condition::CertificateExpiresWithin { seconds } => r
                .certificate
                .as_ref()
                .map(|c| i128::from(c.not_after) - i128::from(now) < i128::from(*seconds)),
            Condition::CertificateAgeAtLeast { seconds } => r
                .certificate
                .as_ref()
                .map(|c| i128::from(now) - i128::from(c.not_before) >= i128::from(*seconds)),
            Condition::CertificateKeyWeak {
                rsa_bits_min,
                ecdsa_bits_min,
            } => r.certificate.as_ref().map(|c| match c.key_type {
                KeyType::Rsa => c.key_bits < *rsa_bits_min,
                KeyType::Ecdsa => c.key_bits < *ecdsa_bits_min,
                KeyType::Ed25519 | KeyType::Ed448 => false,
            }),
            Condition::CertificateRevoked => {
                r.certificate.as_ref()?;
                p.certificate_revoked
            }
            Condition::CertificateShared => r
                .certificate
                .as_ref()
                .map(|c| fleet.certificate_holders(&c.fingerprint_sha256) > 1),
            Condition::ClientIdConflict => r
                .client_id
                .as_ref()
                .map(|id| fleet.client_id_holders(id.as_str()) > 1),
            Condition::FirmwareBehindLatestRelease => {
                let version = r.firmware.as_ref()?.version.as_str();
                let latest = p.latest_release?;
                VersionScheme::Generic
                    .compare(version, latest)
                    .ok()
                    .map(|o| o.is_lt())
            }
            Condition::SupportEnded => p.support_end.map(|end| end < now),
        }
    }

    /// Adds the facts this condition rests on to `ev` (called only when
    /// the rule fired: the only place that allocates).
    pub(crate) fn evidence(
        &self,
        p: &DevicePosture<'_>,
        fleet: &FleetIndex<'_>,
        now: i64,
        ev: &mut Evidence,
    ) {
        let r = p.report;
        match self {
            Condition::All(cs) => cs.iter().for_each(|c| c.evidence(p, fleet, now, ev)),
            Condition::Any(cs) => cs
                .iter()
                .filter(|c| c.eval(p, fleet, now) == Some(true))
                .for_each(|c| c.evidence(p, fleet, now, ev)),
            Condition::Not(c) => c.evidence(p, fleet, now, ev),
            Condition::Flag(field, _) => {
                if let Some(v) = field.read(p) {
                    ev.report(field.path(), v);
                }
            }
            Condition::CredentialsIn(_) => {
                if let Some(c) = r.credentials {
                    ev.report("credentials", c.as_str());
                }
            }
            Condition::TlsVersionOffered(set) => {
                if let Some(t) = &r.tls {
                    let hits: Vec<&str> = t
                        .versions
                        .iter()
                        .filter(|v| set.contains(v))
                        .map(|v| v.as_str())
                        .collect();
                    ev.report("tls.versions", hits);
                }
            }
            Condition::CipherSuiteContains(parts) => {
                if let Some(t) = &r.tls {
                    let hits: Vec<&str> = t
                        .cipher_suites
                        .iter()
                        .map(|s| s.as_str())
                        .filter(|s| weak_suite(s, parts))
                        .collect();
                    ev.report("tls.cipher_suites", hits);
                }
            }
            Condition::ListeningPortIn { tcp, udp } => {
                let Some(m) = &r.metrics else { return };
                if let Some(s) = &m.listening_tcp_ports {
                    let hits: Vec<u16> = tcp.iter().copied().filter(|p| s.contains(*p)).collect();
                    if !hits.is_empty() {
                        ev.report("metrics.listening-tcp-ports", hits);
                    }
                }
                if let Some(s) = &m.listening_udp_ports {
                    let hits: Vec<u16> = udp.iter().copied().filter(|p| s.contains(*p)).collect();
                    if !hits.is_empty() {
                        ev.report("metrics.listening-udp-ports", hits);
                    }
                }
            }
            Condition::CertificateExpiresWithin { .. } => {
                if let Some(c) = &r.certificate {
                    ev.report("certificate.not_after", c.not_after);
                    ev.context("now", now);
                }
            }
            Condition::CertificateAgeAtLeast { .. } => {
                if let Some(c) = &r.certificate {
                    ev.report("certificate.not_before", c.not_before);
                    ev.context("now", now);
                }
            }
            Condition::CertificateKeyWeak { .. } => {
                if let Some(c) = &r.certificate {
                    ev.report("certificate.key_type", c.key_type.as_str());
                    ev.report("certificate.key_bits", c.key_bits);
                }
            }
            Condition::CertificateRevoked => {
                if let Some(c) = &r.certificate {
                    ev.report("certificate.serial", c.serial.as_str());
                    ev.report(
                        "certificate.fingerprint_sha256",
                        c.fingerprint_sha256.to_hex(),
                    );
                    ev.context("certificate_revoked", p.certificate_revoked);
                }
            }
            Condition::CertificateShared => {
                if let Some(c) = &r.certificate {
                    ev.report(
                        "certificate.fingerprint_sha256",
                        c.fingerprint_sha256.to_hex(),
                    );
                    ev.context(
                        "devices_with_certificate",
                        fleet.certificate_holders(&c.fingerprint_sha256),
                    );
                    ev.context(
                        "other_devices",
                        fleet.other_certificate_holders(&c.fingerprint_sha256, p.device),
                    );
                }
            }
            Condition::ClientIdConflict => {
                if let Some(id) = &r.client_id {
                    ev.report("client_id", id.as_str());
                    ev.context(
                        "devices_with_client_id",
                        fleet.client_id_holders(id.as_str()),
                    );
                    ev.context(
                        "other_devices",
                        fleet.other_client_id_holders(id.as_str(), p.device),
                    );
                }
            }
            Condition::FirmwareBehindLatestRelease => {
                if let Some(f) = &r.firmware {
                    ev.report("firmware.version", f.version.as_str());
                }
                ev.context("model", p.model);
                ev.context("latest_release", p.latest_release);
            }
            Condition::SupportEnded => {
                ev.context("model", p.model);
                ev.context("support_end", p.support_end);
                ev.context("now", now);
            }
        }
    }
}

fn weak_suite(suite: &str, parts: &[String]) -> bool {
    parts.iter().any(|p| suite.contains(p.as_str()))
}

fn compile(def: &ConditionDef, depth: usize, nodes: &mut usize) -> Result<Condition, RuleError> {
    *nodes += 1;
    if *nodes > CONDITION_NODES_MAX {
        return Err(RuleError::condition(format!(
            "more than {CONDITION_NODES_MAX} checks"
        )));
    }
    if depth > CONDITION_DEPTH_MAX {
        return Err(RuleError::condition(format!(
            "nested deeper than {CONDITION_DEPTH_MAX}"
        )));
    }
    let list = |what: &str, n: usize| {
        if n == 0 {
            Err(RuleError::condition(format!("{what}: empty list")))
        } else if n > CONDITION_ITEMS_MAX {
            Err(RuleError::condition(format!(
                "{what}: more than {CONDITION_ITEMS_MAX} items"
            )))
        } else {
            Ok(())
        }
    };
    let many = |cs: &[ConditionDef], what: &str, nodes: &mut usize| {
        list(what, cs.len())?;
        cs.iter()
            .map(|c| compile(c, depth + 1, nodes))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match def {
        ConditionDef::AllOf(cs) => Condition::All(many(cs, "all_of", nodes)?),
        ConditionDef::AnyOf(cs) => Condition::Any(many(cs, "any_of", nodes)?),
        ConditionDef::Not(c) => Condition::Not(Box::new(compile(c, depth + 1, nodes)?)),
        ConditionDef::Flag { field, is } => Condition::Flag(*field, *is),
        ConditionDef::CredentialsIn(set) => {
            list("credentials_in", set.len())?;
            Condition::CredentialsIn(set.clone())
        }
        ConditionDef::TlsVersionOffered(set) => {
            list("tls_version_offered", set.len())?;
            Condition::TlsVersionOffered(set.clone())
        }
        ConditionDef::CipherSuiteContains(parts) => {
            list("cipher_suite_contains", parts.len())?;
            if parts.iter().any(String::is_empty) {
                return Err(RuleError::condition(
                    "cipher_suite_contains: an empty substring matches every suite".into(),
                ));
            }
            Condition::CipherSuiteContains(parts.clone())
        }
        ConditionDef::ListeningPortIn { tcp, udp } => {
            list("listening_port_in", tcp.len() + udp.len())?;
            if tcp.contains(&0) || udp.contains(&0) {
                return Err(RuleError::condition(
                    "listening_port_in: port 0 is not a port".into(),
                ));
            }
            Condition::ListeningPortIn {
                tcp: tcp.clone(),
                udp: udp.clone(),
            }
        }
        ConditionDef::CertificateExpiresWithinDays(days) => Condition::CertificateExpiresWithin {
            seconds: i64::from(*days) * DAY_S,
        },
        ConditionDef::CertificateAgeAtLeastDays(days) => Condition::CertificateAgeAtLeast {
            seconds: i64::from(*days) * DAY_S,
        },
        ConditionDef::CertificateKeyWeak {
            rsa_bits_min,
            ecdsa_bits_min,
        } => Condition::CertificateKeyWeak {
            rsa_bits_min: *rsa_bits_min,
            ecdsa_bits_min: *ecdsa_bits_min,
        },
        ConditionDef::CertificateRevoked => Condition::CertificateRevoked,
        ConditionDef::CertificateShared => Condition::CertificateShared,
        ConditionDef::ClientIdConflict => Condition::ClientIdConflict,
        ConditionDef::FirmwareBehindLatestRelease => Condition::FirmwareBehindLatestRelease,
        ConditionDef::SupportEnded => Condition::SupportEnded,
    })
}
