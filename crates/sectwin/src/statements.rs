//! Every statement payload this binary signs (the commands and the demo),
//! built as a [`twin::StatementBody`] from typed values: a misspelt field or
//! type tag does not compile, and what goes on the wire is
//! [`StatementBody::to_payload`], the same serialization the server parses
//! with [`StatementBody::parse`]. The tests below build every kind of payload
//! these functions make and parse it back.
//!
//! Deliberately absent: signing and submitting (`twin_cmds::sign_and_submit`),
//! reading files and arguments, and JSON that is not a statement (HTTP
//! request bodies, printed output). A statement's genuinely open fields (a
//! sharing or AI-use policy) stay JSON values.

use anyhow::{bail, Result};
use twin::statement::{KeySpec, SbomComponent, Severity, VexStatus};
use twin::{Role, StakeholderId, StatementBody};
use vuln_formats::model::{Component, PackageId, VexStatement};

/// Largest payload of one `sbom-registered` part, in bytes (the log's entry
/// limit is 64 KiB, signature included).
pub const SBOM_PART_BYTES_MAX: usize = 48 * 1024;

/// Room kept in each SBOM part for the fields beside `components`, bytes.
const SBOM_PART_ENVELOPE_BYTES: usize = 1024;

/// The roles named on the command line (`manufacturer`, `operator`,
/// `maintainer`, `auditor`, `owner`, `device`), refused here rather than by
/// the server.
pub fn roles(names: &[String]) -> Result<Vec<Role>> {
    names
        .iter()
        .map(|name| {
            Role::ALL
                .into_iter()
                .find(|r| role_name(*r) == name.as_str())
                .ok_or_else(|| {
                    let known: Vec<&str> = Role::ALL.into_iter().map(role_name).collect();
                    anyhow::anyhow!("unknown role {name:?} (one of {})", known.join(", "))
                })
        })
        .collect()
}

/// A role's name on the wire and on the command line.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manufacturer => "manufacturer",
        Role::Operator => "operator",
        Role::Maintainer => "maintainer",
        Role::Auditor => "auditor",
        Role::Owner => "owner",
        Role::Device => "device",
    }
}

/// `stakeholder-registered`: an organization with its roles and keys (PEM).
pub fn stakeholder_registered(name: &str, roles: Vec<Role>, pems: Vec<String>) -> StatementBody {
    StatementBody::StakeholderRegistered {
        name: name.to_string(),
        roles,
        keys: pems
            .into_iter()
            .map(|pem| KeySpec {
                pem,
                not_before: None,
                not_after: None,
            })
            .collect(),
    }
}

/// `key-added`: a key (PEM) valid for statements issued in the window.
pub fn key_added(pem: String, not_before: Option<i64>, not_after: Option<i64>) -> StatementBody {
    StatementBody::KeyAdded {
        key: KeySpec {
            pem,
            not_before,
            not_after,
        },
    }
}

/// `key-revoked`: the key with thumbprint `kid`.
pub fn key_revoked(kid: &str, reason: Option<String>) -> StatementBody {
    StatementBody::KeyRevoked {
        kid: kid.to_string(),
        reason,
    }
}

/// What a manufacturer says of a device it registers.
pub struct DeviceRegistration {
    /// The manufacturer's display name.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Hardware id, if any.
    pub hardware_id: Option<String>,
    /// The device's own public key (PEM), if it signs statements.
    pub device_key: Option<String>,
}

/// `device-registered`.
pub fn device_registered(d: DeviceRegistration) -> StatementBody {
    StatementBody::DeviceRegistered {
        manufacturer: d.manufacturer,
        model: d.model,
        serial: d.serial,
        hardware_id: d.hardware_id,
        device_key: d.device_key,
    }
}

/// What a `firmware-released` statement says: a release manifest.
#[derive(Debug, Clone, Default)]
pub struct FirmwareRelease {
    /// Version.
    pub version: String,
    /// SHA-256 of the image, hex.
    pub image_sha256: String,
    /// SHA-512 of the image, hex.
    pub image_sha512: Option<String>,
    /// Length in bytes.
    pub image_length: Option<u64>,
    /// Hardware ids it is for.
    pub hardware_ids: Vec<String>,
    /// Anti-rollback counter.
    pub release_counter: Option<u64>,
    /// Lowest version a device may run after it.
    pub min_version: Option<String>,
    /// SBOM reference or digest.
    pub sbom: Option<String>,
    /// SHA-256 of the VEX document.
    pub vex: Option<String>,
    /// Last day of promised security updates.
    pub support_end: Option<String>,
    /// SHA-256 of a reproducible-build attestation.
    pub build_attestation: Option<String>,
}

/// `firmware-released`.
pub fn firmware_released(r: FirmwareRelease) -> StatementBody {
    StatementBody::FirmwareReleased {
        version: r.version,
        image_sha256: r.image_sha256,
        sbom: r.sbom,
        image_sha512: r.image_sha512,
        image_length: r.image_length,
        hardware_ids: r.hardware_ids,
        release_counter: r.release_counter,
        min_version: r.min_version,
        vex: r.vex,
        support_end: r.support_end,
        build_attestation: r.build_attestation,
    }
}

/// One component of a parsed SBOM as `sbom-registered` records it (its
/// SHA-256 only of its hashes).
pub fn sbom_component(c: &Component) -> SbomComponent {
    SbomComponent {
        name: c.name.clone(),
        group: c.group.clone(),
        version: c.version.clone(),
        purl: c.purl.as_ref().map(|p| p.as_str().to_string()),
        cpe: c.cpes.iter().map(|x| x.as_str().to_string()).collect(),
        sha256: c
            .hashes
            .iter()
            .find(|h| h.alg.as_str() == "SHA-256")
            .map(|h| h.hex.clone()),
    }
}

/// An SBOM of a release, as registered.
pub struct SbomRegistration {
    /// The firmware release (or AI model package version).
    pub release: String,
    /// The original document's format, e.g. `CycloneDX 1.6`.
    pub format: String,
    /// SHA-256 of the original document, hex.
    pub document_sha256: String,
    /// The AI model package it describes, if any.
    pub ai_model: Option<String>,
}

/// The `sbom-registered` statements of an SBOM: its components split into
/// parts whose payloads stay under [`SBOM_PART_BYTES_MAX`] (one part, maybe
/// empty, for an SBOM that fits).
pub fn sbom_parts(sbom: &SbomRegistration, components: Vec<SbomComponent>) -> Vec<StatementBody> {
    let budget = SBOM_PART_BYTES_MAX - SBOM_PART_ENVELOPE_BYTES;
    let mut split: Vec<Vec<SbomComponent>> = vec![Vec::new()];
    let mut bytes = 0usize;
    for c in components {
        // Its JSON and a comma.
        let n = serde_json::to_vec(&c).map_or(0, |v| v.len()) + 1;
        if bytes + n > budget && split.last().is_some_and(|p| !p.is_empty()) {
            split.push(Vec::new());
            bytes = 0;
        }
        bytes += n;
        if let Some(p) = split.last_mut() {
            p.push(c);
        }
    }
    let parts = u32::try_from(split.len()).unwrap_or(u32::MAX);
    split
        .into_iter()
        .zip(1..)
        .map(|(components, part)| StatementBody::SbomRegistered {
            release: sbom.release.clone(),
            format: sbom.format.clone(),
            document_sha256: sbom.document_sha256.clone(),
            part,
            parts,
            components,
            ai_model: sbom.ai_model.clone(),
        })
        .collect()
}

/// A VEX status of a parsed document as the statement says it.
pub fn vex_status(s: vuln_formats::model::VexStatus) -> VexStatus {
    use vuln_formats::model::VexStatus as V;
    match s {
        V::Affected => VexStatus::Affected,
        V::NotAffected => VexStatus::NotAffected,
        V::Fixed => VexStatus::Fixed,
        V::UnderInvestigation => VexStatus::UnderInvestigation,
    }
}

/// The component a VEX statement names: a subcomponent's purl, else a
/// product's purl with a version (a component, not the firmware itself).
fn vex_component(s: &VexStatement) -> Option<String> {
    let purl = |ids: &[PackageId]| {
        ids.iter().find_map(|i| match i {
            PackageId::Purl { purl } => Some(purl.as_str().to_string()),
            _ => None,
        })
    };
    s.products
        .iter()
        .find_map(|p| purl(&p.subcomponents))
        .or_else(|| s.products.iter().find_map(|p| purl(&p.ids)))
}

/// `vulnerability-assessment` of one imported VEX statement, scoped to
/// `release` of the model it is signed about.
pub fn vex_assessment(s: &VexStatement, release: &str) -> StatementBody {
    StatementBody::VulnerabilityAssessment {
        vulnerability: s.vulnerability.as_str().to_string(),
        status: vex_status(s.status),
        justification: s.justification.map(|j| j.as_str().to_string()),
        release: Some(release.to_string()),
        component: vex_component(s),
        impact: s
            .impact_statement
            .as_ref()
            .or(s.action_statement.as_ref())
            .cloned(),
    }
}

/// The marked device conditions (`docs/vex.md`) in `statements`' impact
/// texts that are not conditions, each with its vulnerability. sectwin
/// would never check such a statement against devices, so `sectwin vex
/// import` signs none of a document while it has one.
pub fn unreadable_device_conditions(statements: &[VexStatement]) -> Vec<String> {
    let mut out = Vec::new();
    for s in statements {
        let impact = s.impact_statement.as_ref().or(s.action_statement.as_ref());
        let Some(impact) = impact else { continue };
        for e in posture::vex::conditions_in(impact).refused {
            out.push(format!("{}: {e}", s.vulnerability.as_str()));
        }
    }
    out
}

/// A signed decision on a risk: `accept` (until a day, or for good),
/// `mitigate` (the rationale says how), `transfer` (to a stakeholder) or
/// `false-positive`.
pub fn risk_decision(
    decision: &str,
    risk: &str,
    rationale: &str,
    until: Option<String>,
    to: Option<String>,
) -> Result<StatementBody> {
    let risk = risk.to_string();
    let rationale = rationale.to_string();
    Ok(match decision {
        "accept" => StatementBody::RiskAccepted {
            risk,
            rationale,
            until,
        },
        "mitigate" => StatementBody::RiskMitigated {
            risk,
            how: rationale,
        },
        "transfer" => {
            let Some(to) = to else {
                bail!("transfer needs --to STAKEHOLDER");
            };
            StatementBody::RiskTransferred {
                risk,
                to: StakeholderId(to),
                rationale,
            }
        }
        "false-positive" => StatementBody::RiskFalsePositive { risk, rationale },
        other => {
            bail!("the decision is accept, mitigate, transfer or false-positive, not {other:?}")
        }
    })
}

/// A threat model's finding as a recorded risk.
pub struct RecordedRisk {
    /// The risk id (`threat/<finding id>`).
    pub risk: String,
    /// Its severity.
    pub severity: Severity,
    /// The finding's title.
    pub description: String,
    /// Its CVSS vector.
    pub cvss_vector: String,
    /// `threat-model:<name>`.
    pub source: String,
    /// The element it is about.
    pub element: String,
    /// The deadline computed (`YYYY-MM-DD`), if any.
    pub deadline: Option<String>,
}

/// `risk-recorded`.
pub fn risk_recorded(r: RecordedRisk) -> StatementBody {
    StatementBody::RiskRecorded {
        risk: r.risk,
        severity: r.severity,
        description: r.description,
        cvss_vector: Some(r.cvss_vector),
        source: Some(r.source),
        element: Some(r.element),
        deadline: r.deadline,
    }
}

/// `threat-model`: the model file `source`, published under `id` (see
/// [`threat_model_id`]).
pub fn threat_model(id: &str, name: &str, version: Option<&str>, source: &str) -> StatementBody {
    let mut policy = serde_json::json!({"id": id, "name": name, "source": source});
    if let Some(v) = version {
        policy["version"] = v.into();
    }
    StatementBody::ThreatModel { policy }
}

/// The published id of a threat model named `name`: lower-case letters and
/// digits, runs of anything else as one `-` (at most 128 bytes;
/// `threat-model` when nothing is left).
pub fn threat_model_id(name: &str) -> String {
    let mut id = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let mut id = id.trim_end_matches('-').to_string();
    id.truncate(twin::published::POLICY_ID_BYTES_MAX);
    let id = id.trim_end_matches('-').to_string();
    if id.is_empty() {
        "threat-model".into()
    } else {
        id
    }
}

/// `risk-accepted` of a finding the threat model suppresses until `until`.
pub fn risk_suppressed(risk: &str, version: &str, reason: &str, until: String) -> StatementBody {
    StatementBody::RiskAccepted {
        risk: risk.to_string(),
        rationale: format!("suppressed in threat model {version}: {reason}"),
        until: Some(until),
    }
}

/// `risk-mitigated` of a recorded finding that a later version of the
/// threat model no longer has.
pub fn risk_resolved(risk: &str, version: &str) -> StatementBody {
    StatementBody::RiskMitigated {
        risk: risk.to_string(),
        how: format!(
            "no longer found in threat model version {version} (removed, or mitigated by controls in place)"
        ),
    }
}

#[cfg(test)]
mod tests {
    //! Every payload the functions above (and the demo's scenario) build goes
    //! through the server's own parser and must come back unchanged: a
    //! builder that writes what the server refuses or reads differently fails
    //! here, not against a running node.

    use super::*;

    /// Parses `body`'s wire bytes as the server does and compares.
    #[track_caller]
    fn round_trips(body: &StatementBody) {
        let payload = body.to_payload();
        let parsed = match body {
            StatementBody::Custom { custom_type, .. } => {
                StatementBody::parse_custom(&payload, custom_type)
            }
            _ => StatementBody::parse(&payload),
        };
        match parsed {
            Ok(back) => assert_eq!(&back, body, "{}", String::from_utf8_lossy(&payload)),
            Err(e) => panic!(
                "the server refuses {}: {e}",
                String::from_utf8_lossy(&payload)
            ),
        }
        assert_eq!(
            StatementBody::peek_type(&payload).as_deref(),
            Some(body.type_name())
        );
    }

    fn component(name: &str, n: usize) -> SbomComponent {
        SbomComponent {
            name: name.to_string(),
            group: n.is_multiple_of(2).then(|| "org.example".to_string()),
            version: Some(format!("1.{n}.0")),
            purl: Some(format!("pkg:generic/{name}@1.{n}.0")),
            cpe: if n.is_multiple_of(3) {
                vec![format!("cpe:2.3:a:example:{name}:1.{n}.0:*:*:*:*:*:*:*")]
            } else {
                Vec::new()
            },
            sha256: n.is_multiple_of(5).then(|| "ab".repeat(32)),
        }
    }

    #[test]
    fn every_command_payload_parses_back_unchanged() {
        let roles = roles(&["manufacturer".to_string(), "owner".to_string()]).unwrap();
        let mut bodies = vec![
            stakeholder_registered("Acme Locks", roles, vec!["PEM-1".into(), "PEM-2".into()]),
            stakeholder_registered("No roles", Vec::new(), vec!["PEM".into()]),
            key_added("PEM".into(), None, None),
            key_added("PEM".into(), Some(1_700_000_000), Some(1_800_000_000)),
            key_revoked("ab12", None),
            key_revoked("ab12", Some("leaked".into())),
            device_registered(DeviceRegistration {
                manufacturer: "Acme".into(),
                model: "DC-200".into(),
                serial: "0042".into(),
                hardware_id: None,
                device_key: None,
            }),
            device_registered(DeviceRegistration {
                manufacturer: "Acme".into(),
                model: "DC-200".into(),
                serial: "0042".into(),
                hardware_id: Some("tpm:1234".into()),
                device_key: Some("PEM".into()),
            }),
            risk_recorded(RecordedRisk {
                risk: "threat/T-ABC".into(),
                severity: Severity::High,
                description: "Spoofing of the door controller".into(),
                cvss_vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
                source: "threat-model:building".into(),
                element: "door controller".into(),
                deadline: Some("2027-01-15".into()),
            }),
            risk_suppressed(
                "threat/T-ABC",
                "1.2",
                "accepted by the CISO",
                "2027-06-30".into(),
            ),
            risk_resolved("threat/T-ABC", "1.3"),
        ];
        for decision in ["accept", "mitigate", "transfer", "false-positive"] {
            bodies.push(
                risk_decision(
                    decision,
                    "vuln/CVE-2024-3596",
                    "why",
                    Some("2027-01-01".into()),
                    Some("operator.example".into()),
                )
                .unwrap(),
            );
        }
        bodies.push(risk_decision("accept", "vuln/CVE-1", "why", None, None).unwrap());
        let sbom = SbomRegistration {
            release: "2.4.1".into(),
            format: "CycloneDX 1.6".into(),
            document_sha256: "cd".repeat(32),
            ai_model: None,
        };
        bodies.extend(sbom_parts(&sbom, Vec::new()));
        bodies.extend(sbom_parts(
            &sbom,
            (0..10).map(|n| component("zlib", n)).collect(),
        ));
        bodies.extend(sbom_parts(
            &SbomRegistration {
                ai_model: Some("person-detector".into()),
                ..sbom
            },
            vec![component("weights", 5)],
        ));
        for body in &bodies {
            round_trips(body);
        }
    }

    #[test]
    fn a_large_sbom_is_split_into_parts_under_the_limit() {
        let sbom = SbomRegistration {
            release: "2.4.1".into(),
            format: "SPDX-2.3".into(),
            document_sha256: "cd".repeat(32),
            ai_model: None,
        };
        let components: Vec<SbomComponent> =
            (0..2_000).map(|n| component(&format!("c{n}"), n)).collect();
        let parts = sbom_parts(&sbom, components.clone());
        assert!(parts.len() > 1, "{} parts", parts.len());
        let mut back = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            round_trips(p);
            assert!(p.to_payload().len() <= SBOM_PART_BYTES_MAX);
            let StatementBody::SbomRegistered {
                part,
                parts: total,
                components,
                ..
            } = p
            else {
                panic!("not an SBOM part: {p:?}");
            };
            assert_eq!((*part as usize, *total as usize), (i + 1, parts.len()));
            back.extend(components.iter().cloned());
        }
        assert_eq!(back, components, "every component once, in order");
    }

    #[test]
    fn unknown_roles_and_decisions_are_refused_before_signing() {
        assert!(roles(&["owner".into(), "landlord".into()])
            .unwrap_err()
            .to_string()
            .contains("landlord"));
        for role in Role::ALL {
            assert_eq!(roles(&[role_name(role).to_string()]).unwrap(), vec![role]);
            // The command line's names are the wire's.
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::String(role_name(role).to_string())
            );
        }
        assert!(risk_decision("transfer", "r", "why", None, None).is_err());
        assert!(risk_decision("ignore", "r", "why", None, None).is_err());
    }

    #[test]
    fn every_demo_payload_parses_back_unchanged() {
        let door_pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
        let facts = crate::demo::facts(door_pem);
        let entries: Vec<u64> = (0..facts.len() as u64).map(|n| n + 1).collect();
        let mut bodies: Vec<StatementBody> = facts
            .iter()
            .map(|(_, _, fact)| fact.body(&entries).unwrap())
            .collect();
        bodies.extend(crate::demo::refused_payloads(7));
        bodies.extend(
            crate::demo_vuln::vuln_statements()
                .into_iter()
                .chain(crate::demo_vuln::fix_statements())
                .map(|(_, _, body)| body),
        );
        for (_, _, roles) in crate::demo::STAKEHOLDERS {
            let names: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
            bodies.push(stakeholder_registered(
                "x",
                super::roles(&names).unwrap(),
                vec![door_pem.into()],
            ));
        }
        for body in &bodies {
            round_trips(body);
        }
        // The open fields are the policies the projection parses.
        for body in &bodies {
            match body {
                StatementBody::SharingPolicy { policy } => {
                    twin::sharing::SharingPolicy::parse(policy).unwrap();
                }
                StatementBody::AiUsePolicy { policy } => {
                    twin::published::AiUsePolicy::parse(policy).unwrap();
                }
                _ => {}
            }
        }
        // Endorse and dispute name the entries of the facts they are about.
        assert!(bodies.contains(&StatementBody::Endorse { entry: 10 }));
    }

    /// A VEX document whose device condition sectwin cannot read is named
    /// with its vulnerability and the reason; readable ones, and statements
    /// without any, pass.
    #[test]
    fn unreadable_device_conditions_are_named_before_signing() {
        let doc = |impact: &str| {
            serde_json::json!({
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex-1",
                "author": "Acme",
                "timestamp": "2025-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {"vulnerability": {"name": "CVE-2024-0001"},
                     "products": [{"@id": "pkg:generic/door@2.4.0"}],
                     "status": "not_affected",
                     "justification": "vulnerable_code_not_in_execute_path",
                     "impact_statement": impact},
                    {"vulnerability": {"name": "CVE-2024-0002"},
                     "products": [{"@id": "pkg:generic/door@2.4.0"}],
                     "status": "fixed"}
                ]
            })
            .to_string()
        };
        let read = |impact: &str| {
            let statements = vuln_formats::openvex::parse(doc(impact).as_bytes()).unwrap();
            unreadable_device_conditions(&statements)
        };
        assert_eq!(
            read("telnetd is off; device-condition: tcp port 23 not listening"),
            Vec::<String>::new()
        );
        assert_eq!(read("telnetd is off"), Vec::<String>::new());
        let refused = read("device-condition: telnet is off");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].starts_with("CVE-2024-0001: \"telnet is off\" is not a device condition"),
            "{refused:?}"
        );
    }
}
