//! Secure updates, the server side (`docs/secure-updates.md`): a model's
//! release manifests, the offline proof bundle a device checks with
//! `ota-verify`, and the trust state a device is provisioned with.
//!
//! Everything here is public, as a TUF repository is: a release manifest is
//! meant to reach every device, and a bundle only carries statements the
//! manufacturer signed for that purpose (its manifest and its key events),
//! with proofs. Nothing here is trusted by the device: it checks the bundle
//! itself.

use std::time::Duration;

use api_types::ota::{
    FirmwareDevice, FirmwareLookup, FirmwareRelease, OpenVulnerability, ProvenEntry,
    ReleaseManifestView, ReleaseVexView, Releases, SbomSummary,
};
use api_types::risks::{RiskQuery, RiskStatus};
use log_service::Log;
use ota_verify::{
    Bundle, ConsistencyProof, KeyOwner, ProvenStatement, TrustState, TrustedKey, BUNDLE_FORMAT,
    KEY_EVENTS_MAX, STATE_FORMAT,
};
use tlog::{LeafIndex, TlogProof, TreeSize};
use twin::projection::Release;
use twin_store::Projector;

use crate::risks::RiskViews;
use crate::{ServiceError, TwinViews};

/// Most releases and devices a firmware lookup proves, each (a page of the
/// digest index holds at most 100 statements).
const FIRMWARE_LOOKUP_ENTRIES_MAX: usize = 100;

/// How long a bundle waits for the twins to reach the published checkpoint
/// (they follow it within milliseconds; the registry's key events must be
/// read at the bundle's checkpoint).
const PROJECTION_WAIT_MS: u64 = 2_000;

/// Entry `index` with its tlog-proof under the checkpoint `note` of `size`.
fn prove(
    prover: &log_service::Prover,
    index: u64,
    size: TreeSize,
    note: &[u8],
) -> Result<ProvenStatement, ServiceError> {
    let i = LeafIndex::new(index);
    let entry = prover.entry(i, size).map_err(ServiceError::internal)?;
    let proof = TlogProof {
        extra: None,
        index: i,
        proof: prover.inclusion(i, size).map_err(ServiceError::internal)?,
        checkpoint: note.to_vec(),
    }
    .encode()
    .map_err(ServiceError::internal)?;
    Ok(ProvenStatement::new(&entry, &proof))
}

/// The secure-update use cases.
#[derive(Clone)]
pub struct OtaViews {
    log: Log,
    projector: Projector,
}

fn model_subject(model: &str) -> Result<String, ServiceError> {
    let subject = if model.starts_with("model:") {
        model.to_string()
    } else {
        format!("model:{model}")
    };
    if subject.len() <= "model:".len() || subject.len() > 256 {
        return Err(ServiceError::invalid(format!(
            "model {model:?}: expected model:<vendor>/<model> (or <vendor>/<model>)"
        )));
    }
    Ok(subject)
}

fn view(subject: &str, r: &Release) -> ReleaseManifestView {
    let m = &r.manifest;
    ReleaseManifestView {
        model: subject.to_string(),
        version: r.version.clone(),
        entry: r.entry,
        manufacturer: r.issuer.0.clone(),
        image_sha256: r.image_sha256.clone(),
        image_sha512: m.image_sha512.clone(),
        image_length: m.image_length,
        hardware_ids: m.hardware_ids.clone(),
        release_counter: m.release_counter,
        min_version: m.min_version.clone(),
        sbom: r.sbom.clone(),
        vex: m.vex.clone(),
        support_end: m.support_end.clone(),
        build_attestation: m.build_attestation.clone(),
        withdrawn: r.withdrawn,
        installable: r.is_installable_manifest(),
    }
}

impl OtaViews {
    /// The use cases over `log` and its twins.
    pub fn new(log: Log, projector: Projector) -> OtaViews {
        OtaViews { log, projector }
    }

    /// A model's releases, in log order.
    pub fn releases(&self, model: &str) -> Result<Releases, ServiceError> {
        let subject = model_subject(model)?;
        let meta = self.projector.meta();
        let releases = meta
            .releases
            .get(&subject)
            .map(|rs| rs.iter().map(|r| view(&subject, r)).collect())
            .unwrap_or_default();
        Ok(Releases {
            model: subject,
            releases,
        })
    }

    /// The release `version` of `model`, latest registration first.
    fn release(&self, subject: &str, version: &str) -> Result<Release, ServiceError> {
        let meta = self.projector.meta();
        let r = meta
            .releases
            .get(subject)
            .and_then(|rs| rs.iter().rev().find(|r| r.version == version))
            .ok_or_else(|| {
                ServiceError::not_found(format!("{subject} has no release {version:?}"))
            })?;
        Ok(r.clone())
    }

    /// The published checkpoint, with the twins caught up with it.
    async fn published(&self) -> Result<log_service::Published, ServiceError> {
        let published = self.log.published();
        if !self
            .projector
            .wait_projected(
                published.size.get(),
                Duration::from_millis(PROJECTION_WAIT_MS),
            )
            .await
        {
            return Err(ServiceError::unavailable(
                "the twins are catching up with the log; try again in a moment",
            ));
        }
        Ok(published)
    }

    /// The tlog-policy a device trusts: this log's key and its witnesses.
    pub fn policy(&self) -> String {
        self.log.policy()
    }

    /// The trust state to provision a device of `model` with, at the current
    /// checkpoint: the policy, the manufacturer's and the authority's keys,
    /// and (when `running` names a release) that release's counter.
    pub async fn provisioning_state(
        &self,
        model: &str,
        hardware_id: &str,
        running: Option<&str>,
    ) -> Result<TrustState, ServiceError> {
        let subject = model_subject(model)?;
        if hardware_id.is_empty() || hardware_id.len() > 256 {
            return Err(ServiceError::invalid(
                "hardware_id: give the device's hardware id (1 to 256 bytes)",
            ));
        }
        let published = self.published().await?;
        let meta = self.projector.meta();
        let releases = meta.releases.get(&subject).cloned().unwrap_or_default();
        let manufacturer = releases.last().map(|r| r.issuer.clone()).ok_or_else(|| {
            ServiceError::not_found(format!(
                "{subject} has no release: its manufacturer is not known yet"
            ))
        })?;
        let (counter, version, entry) = match running {
            None => (0, "0".to_string(), None),
            Some(v) => {
                let r = releases
                    .iter()
                    .rev()
                    .find(|r| r.version == v)
                    .ok_or_else(|| {
                        ServiceError::not_found(format!("{subject} has no release {v:?}"))
                    })?;
                (
                    r.manifest.release_counter.unwrap_or(0),
                    v.to_string(),
                    Some(r.entry),
                )
            }
        };
        let registry = &meta.registry;
        let authority = registry.authority().cloned();
        let mut keys = Vec::new();
        for (owner, id) in [
            (KeyOwner::Manufacturer, Some(manufacturer.clone())),
            (KeyOwner::Authority, authority.clone()),
        ] {
            let Some(s) = id.as_ref().and_then(|id| registry.get(id)) else {
                continue;
            };
            for k in &s.keys {
                keys.push(TrustedKey {
                    owner,
                    kid: k.kid.clone(),
                    pem: k.pem.clone(),
                    added: k.added_at,
                    revoked: k.revoked_at,
                    not_before: k.not_before,
                    not_after: k.not_after,
                });
            }
        }
        keys.truncate(ota_verify::TRUSTED_KEYS_MAX);
        Ok(TrustState {
            format: STATE_FORMAT.into(),
            policy: self.log.policy(),
            manufacturer: manufacturer.0,
            authority: authority.map(|a| a.0),
            model: subject,
            hardware_id: hardware_id.to_string(),
            keys,
            checkpoint: String::from_utf8_lossy(&published.note).into_owned(),
            release_counter: counter,
            version,
            min_version: None,
            manifest_entry: entry,
        })
    }

    /// The proof bundle for release `version` of `model`, for a device whose
    /// last accepted checkpoint has size `from`.
    pub async fn bundle(
        &self,
        model: &str,
        version: &str,
        from: u64,
    ) -> Result<Bundle, ServiceError> {
        let subject = model_subject(model)?;
        let release = self.release(&subject, version)?;
        if let Some(w) = release.withdrawn {
            return Err(ServiceError::conflict(format!(
                "{subject} {version} was withdrawn by its manufacturer (entry {w}): no bundle is built for it"
            )));
        }
        if !release.is_installable_manifest() {
            return Err(ServiceError::conflict(format!(
                "{subject} {version} is not a release manifest a device can check: it names no image_length, hardware_ids or release_counter"
            )));
        }
        let published = self.published().await?;
        let size = published.size;
        if from > size.get() {
            return Err(ServiceError::invalid(format!(
                "from={from} is beyond the published checkpoint (size {size}): the device holds a checkpoint this log never published (a fork?)"
            )));
        }
        // Key events of the manufacturer and the authority since `from`.
        let meta = self.projector.meta();
        let registry = &meta.registry;
        let mut events: Vec<u64> = Vec::new();
        let ids = [Some(release.issuer.clone()), registry.authority().cloned()];
        for id in ids.iter().flatten() {
            let Some(s) = registry.get(id) else { continue };
            for k in &s.keys {
                // Keys registered with the stakeholder are part of its
                // registration, which provisioning covers.
                if k.added_at >= from && k.added_at < size.get() && k.added_at != s.registered_at {
                    events.push(k.added_at);
                }
                if let Some(r) = k.revoked_at.filter(|r| *r >= from && *r < size.get()) {
                    events.push(r);
                }
            }
        }
        events.sort_unstable();
        events.dedup();
        if events.len() > KEY_EVENTS_MAX {
            return Err(ServiceError::conflict(format!(
                "{} key events since size {from}, more than a bundle carries ({KEY_EVENTS_MAX}): provision the device again",
                events.len()
            )));
        }
        let log = self.log.clone();
        let note = published.note.clone();
        let manifest_entry = release.entry;
        tokio::task::spawn_blocking(move || {
            let prover = log.prover();
            let proven = |index: u64| prove(&prover, index, size, &note);
            let consistency = if from == 0 || from == size.get() {
                Vec::new()
            } else {
                prover
                    .consistency(TreeSize::new(from), size)
                    .map_err(ServiceError::internal)?
            };
            Ok(Bundle {
                format: BUNDLE_FORMAT.into(),
                manifest: proven(manifest_entry)?,
                key_events: events.into_iter().map(proven).collect::<Result<_, _>>()?,
                consistency: ConsistencyProof {
                    from,
                    proof: consistency.iter().map(|h| h.to_base64()).collect(),
                },
            })
        })
        .await
        .map_err(ServiceError::internal)?
    }

    /// What the image with digest `sha256` is, as `who` may see it: the
    /// releases naming it (manifest, SBOM, VEX, open vulnerabilities on the
    /// devices running it, support end) and the devices' own statements of
    /// running it, each entry with its proof under the published checkpoint.
    /// Blocking (reads the register and the log's tiles).
    pub fn firmware(
        &self,
        who: Option<twin::StakeholderId>,
        sha256: &str,
        today: &str,
        twins: &TwinViews,
        risks: &RiskViews,
    ) -> Result<FirmwareLookup, ServiceError> {
        let published = self.log.published();
        let size = published.size;
        let found = twins.digest(who.clone(), sha256, None)?;
        let meta = self.projector.meta();
        let prover = self.log.prover();
        let proven = |index: u64| -> Result<ProvenEntry, ServiceError> {
            let p = prove(&prover, index, size, &published.note)?;
            Ok(ProvenEntry {
                statement: p.statement,
                proof: p.proof,
            })
        };
        let mut releases = Vec::new();
        let mut devices = Vec::new();
        for m in found
            .matches
            .iter()
            .filter(|m| m.statement.entry < size.get())
        {
            let st = &m.statement;
            match st.kind.as_str() {
                "firmware-released" if releases.len() < FIRMWARE_LOOKUP_ENTRIES_MAX => {
                    let Some(r) = meta
                        .releases
                        .get(&st.subject)
                        .and_then(|rs| rs.iter().find(|r| r.entry == st.entry))
                    else {
                        continue;
                    };
                    let vex = meta
                        .release_vex
                        .get(&st.subject)
                        .into_iter()
                        .flatten()
                        .filter(|v| v.release == r.version)
                        .map(|v| ReleaseVexView {
                            vulnerability: v.vulnerability.clone(),
                            status: serde_json::to_value(v.status)
                                .ok()
                                .and_then(|s| s.as_str().map(str::to_string))
                                .unwrap_or_default(),
                            justification: v.justification.clone(),
                            entry: v.entry,
                        })
                        .collect();
                    let sbom = meta
                        .sboms
                        .get(&st.subject)
                        .and_then(|by| by.get(&r.version))
                        .map(|s| SbomSummary {
                            format: s.format.clone(),
                            document_sha256: s.document_sha256.clone(),
                            components: s.components,
                            entries: s.entries.values().copied().collect(),
                        });
                    // The register is for authenticated stakeholders only.
                    let page = match &who {
                        None => None,
                        Some(_) => Some(risks.list(
                            who.clone(),
                            &RiskQuery {
                                model: Some(st.subject.clone()),
                                release: Some(r.version.clone()),
                                status: Some(RiskStatus::Open),
                                page_size: Some(api_types::risks::RISK_PAGE_SIZE_MAX),
                                ..RiskQuery::default()
                            },
                        )?),
                    };
                    let mut open: Vec<OpenVulnerability> = Vec::new();
                    for risk in page.iter().flat_map(|p| &p.risks) {
                        let Some(id) = &risk.vulnerability else {
                            continue;
                        };
                        match open.iter_mut().find(|o| &o.id == id) {
                            Some(o) => o.devices += 1,
                            None => open.push(OpenVulnerability {
                                id: id.clone(),
                                severity: risk.severity,
                                score: risk.score,
                                kev: risk.kev,
                                devices: 1,
                            }),
                        }
                    }
                    releases.push(FirmwareRelease {
                        release: view(&st.subject, r),
                        proof: proven(r.entry)?,
                        sbom,
                        vex,
                        open_vulnerabilities: open,
                        support_ended: r.manifest.support_end.as_deref().is_some_and(|d| d < today),
                    });
                }
                "firmware-installed" if devices.len() < FIRMWARE_LOOKUP_ENTRIES_MAX => {
                    let version = st
                        .statement
                        .as_ref()
                        .and_then(|v| v["version"].as_str())
                        .map(str::to_string);
                    let device = st.subject.strip_prefix("device:").unwrap_or(&st.subject);
                    let current = twin::DeviceId::new(device)
                        .ok()
                        .and_then(|id| self.projector.store().twin(&id).ok().flatten())
                        .is_some_and(|t| t.firmware.is_some() && t.firmware == version);
                    devices.push(FirmwareDevice {
                        device: st.subject.clone(),
                        version,
                        issuer: st.issuer.clone(),
                        current,
                        entry: st.entry,
                        proof: proven(st.entry)?,
                    });
                }
                _ => {}
            }
        }
        Ok(FirmwareLookup {
            sha256: found.sha256,
            policy: self.log.policy(),
            releases,
            devices,
            next_after: found.next_after,
            as_of: size.get(),
        })
    }
}
