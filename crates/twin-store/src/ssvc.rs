//! SSVC inputs as signed statements of the stakeholders entitled to them
//! (CISA's SSVC: Exploitation, Automatable and Technical Impact are the
//! manufacturer's to say of its product; Mission & Well-being the
//! operator's or owner's to say of its devices):
//!
//! - `ssvc-technical` (a built-in custom type, keyed by vulnerability),
//!   asserted by a device's manufacturer on one of its devices: it holds for
//!   every device of that model the manufacturer registered;
//! - `ssvc-mission` (keyed by group), asserted by a device's operator or
//!   owner: on that device, or with a `group` on every device of the group
//!   on which its issuer holds one of those roles.
//!
//! Each is a twin claim like any other: logged, endorsed or disputed by
//! entry, its consensus status read with it. A disputed input is shown, not
//! used: the decision falls back to the next source (CISA's ADP values in
//! the CVE record, then `medium` for Mission & Well-being). All of it is
//! read from the twins, so `reindex` gives the same inputs.

use twin::projection::{Claim, Twin};
use twin::{AttributeClass, DeviceId, Role, StakeholderId, StatementBody};

use crate::store::{TwinStore, KEYED_ATTRIBUTE};
use crate::StoreError;

/// The statement type of a manufacturer's technical SSVC inputs.
pub const SSVC_TECHNICAL_TYPE: &str = "ssvc-technical";
/// The statement type of an operator's Mission & Well-being.
pub const SSVC_MISSION_TYPE: &str = "ssvc-mission";
/// What a technical input is keyed by.
pub const SSVC_TECHNICAL_KEY_FIELDS: [&str; 1] = ["vulnerability"];
/// What a mission input is keyed by.
pub const SSVC_MISSION_KEY_FIELDS: [&str; 1] = ["group"];
/// Who says Mission & Well-being.
pub const MISSION_ROLES: [Role; 2] = [Role::Operator, Role::Owner];
/// Longest rationale, in bytes.
pub const SSVC_RATIONALE_BYTES_MAX: usize = 1024;

/// Devices read per page when looking for the holders of inputs.
const HOLDERS_PAGE: usize = 1024;

/// What an input says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsvcInput {
    /// The manufacturer's, for a vulnerability of its model.
    Technical {
        /// The vulnerability.
        vulnerability: String,
        /// Exploitation, if it says.
        exploitation: Option<vuln::exploit::Exploitation>,
        /// Automatable, if it says.
        automatable: Option<vuln::exploit::Automatable>,
        /// Technical impact, if it says.
        technical_impact: Option<vuln::exploit::TechnicalImpact>,
    },
    /// The operator's or owner's, for a device or a group.
    Mission {
        /// The group, or `None` for the device alone.
        group: Option<String>,
        /// Mission & Well-being.
        mission: vuln::exploit::MissionWellbeing,
    },
}

/// An input as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SsvcRecord {
    /// Its entry.
    pub entry: u64,
    /// The device it is asserted on.
    pub device: String,
    /// The model of that device, and its manufacturer.
    pub model: (String, StakeholderId),
    /// Who says so (the effective issuer).
    pub issuer: StakeholderId,
    /// What it says.
    pub input: SsvcInput,
    /// Why.
    pub rationale: String,
    /// Its consensus status.
    pub status: Option<twin::Status>,
}

impl SsvcRecord {
    /// Whether someone disputes it.
    pub fn disputed(&self) -> bool {
        matches!(self.status, Some(twin::Status::Disputed { .. }))
    }

    /// The input a claim asserts, if it is one.
    pub fn of(meta: &twin::Meta, twin: &Twin, claim: &Claim) -> Option<SsvcRecord> {
        let StatementBody::Custom {
            custom_type,
            content,
        } = &claim.body
        else {
            return None;
        };
        let text = |k: &str| content.get(k).and_then(|v| v.as_str());
        fn parse<T: std::str::FromStr>(v: Option<&str>) -> Option<Option<T>> {
            v.map(str::parse).transpose().ok()
        }
        let input = match custom_type.as_str() {
            SSVC_TECHNICAL_TYPE => SsvcInput::Technical {
                vulnerability: text("vulnerability")?.to_string(),
                exploitation: parse(text("exploitation"))?,
                automatable: parse(text("automatable"))?,
                technical_impact: parse(text("technical_impact"))?,
            },
            SSVC_MISSION_TYPE => SsvcInput::Mission {
                group: text("group").map(str::to_string),
                mission: text("mission_wellbeing")?.parse().ok()?,
            },
            _ => return None,
        };
        Some(SsvcRecord {
            entry: claim.entry,
            device: twin.device.as_str().to_string(),
            model: (twin.model.clone(), twin.manufacturer.clone()),
            issuer: claim.issuer.clone(),
            input,
            rationale: text("rationale").unwrap_or_default().to_string(),
            status: twin::projection::status_of(&meta.policy, claim),
        })
    }

    /// Whether it covers `twin` at `now_unix_s`: a technical input every
    /// device of its model by its manufacturer; a mission input its device,
    /// or its group's devices, while its issuer is their operator or owner.
    pub fn covers(&self, meta: &twin::Meta, twin: &Twin, now_unix_s: i64) -> bool {
        match &self.input {
            SsvcInput::Technical { .. } => {
                twin.model == self.model.0 && twin.manufacturer == self.model.1
            }
            SsvcInput::Mission { group, .. } => {
                let scoped = match group {
                    None => twin.device.as_str() == self.device,
                    Some(g) => twin.groups.iter().any(|x| x == g),
                };
                scoped
                    && twin::projection::roles_at(meta, &self.issuer, twin, now_unix_s)
                        .iter()
                        .any(|r| MISSION_ROLES.contains(r))
            }
        }
    }
}

/// The inputs asserted on `twin`.
pub fn inputs_on(
    store: &TwinStore,
    meta: &twin::Meta,
    twin: &Twin,
) -> Result<Vec<SsvcRecord>, StoreError> {
    let mut out = Vec::new();
    for (class, entry) in &twin.current {
        let AttributeClass::Custom(k) = class else {
            continue;
        };
        let (ty, keyed) = twin::projection::custom_type_of(k);
        if !keyed || (ty != SSVC_TECHNICAL_TYPE && ty != SSVC_MISSION_TYPE) {
            continue;
        }
        if let Some(r) = store
            .claim(*entry)?
            .as_ref()
            .and_then(|c| SsvcRecord::of(meta, twin, c))
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// What the register takes of the SSVC inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegisterInputs {
    /// The undisputed technical inputs: the latest per manufacturer, model
    /// and vulnerability, by entry.
    pub technical: risk_register::SsvcStatements,
    /// Each device's Mission & Well-being: the highest undisputed mission
    /// input covering it.
    pub missions: std::collections::BTreeMap<String, vuln::exploit::MissionWellbeing>,
}

/// The inputs the register takes, as they stand at `now_unix_s` (a group's
/// mission input covers the devices of the group on which its issuer is
/// then operator or owner).
pub fn register_inputs(
    store: &TwinStore,
    meta: &twin::Meta,
    now_unix_s: i64,
) -> Result<RegisterInputs, StoreError> {
    let mut out = RegisterInputs::default();
    let mut all = all_inputs(store, meta)?;
    all.sort_by_key(|r| r.entry);
    for r in all {
        if r.disputed() {
            continue;
        }
        match r.input {
            SsvcInput::Technical {
                vulnerability,
                exploitation,
                automatable,
                technical_impact,
            } => {
                out.technical.insert(
                    (r.model.1 .0.clone(), r.model.0.clone(), vulnerability),
                    risk_register::SsvcStatement {
                        entry: r.entry,
                        exploitation,
                        automatable,
                        technical_impact,
                    },
                );
            }
            SsvcInput::Mission { ref group, mission } => {
                let mut covered = |t: &Twin| {
                    if r.covers(meta, t, now_unix_s) {
                        let m = out
                            .missions
                            .entry(t.device.as_str().to_string())
                            .or_insert(mission);
                        *m = (*m).max(mission);
                    }
                };
                match group {
                    None => {
                        let id = DeviceId::new(r.device.clone())
                            .map_err(|e| StoreError::Db(format!("ssvc input {}: {e}", r.entry)))?;
                        if let Some(t) = store.twin(&id)? {
                            covered(&t);
                        }
                    }
                    Some(g) => {
                        let mut after: Option<String> = None;
                        loop {
                            let page = store.search("group", g, after.as_deref(), HOLDERS_PAGE)?;
                            let full = page.len() == HOLDERS_PAGE;
                            after = page.last().map(|d| d.as_str().to_string());
                            for id in page {
                                if let Some(t) = store.twin(&id)? {
                                    covered(&t);
                                }
                            }
                            if !full {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Every SSVC input of the log, by device.
pub fn all_inputs(store: &TwinStore, meta: &twin::Meta) -> Result<Vec<SsvcRecord>, StoreError> {
    let mut holders: Vec<DeviceId> = Vec::new();
    for ty in [SSVC_TECHNICAL_TYPE, SSVC_MISSION_TYPE] {
        let mut after: Option<String> = None;
        loop {
            let page = store.search(KEYED_ATTRIBUTE, ty, after.as_deref(), HOLDERS_PAGE)?;
            let full = page.len() == HOLDERS_PAGE;
            after = page.last().map(|d| d.as_str().to_string());
            holders.extend(page);
            if !full {
                break;
            }
        }
    }
    holders.sort();
    holders.dedup();
    let mut out = Vec::new();
    for id in holders {
        if let Some(t) = store.twin(&id)? {
            out.extend(inputs_on(store, meta, &t)?);
        }
    }
    Ok(out)
}
