//! SSVC inputs as signed statements (`twin_store::ssvc`): the built-in
//! types, asserting one on a device on the caller's behalf, and the
//! decisions per vulnerability and device group.
//!
//! The manufacturer says Exploitation, Automatable and Technical Impact of
//! a vulnerability of its model (`ssvc-technical`, on one of its devices,
//! for every device of the model); the operator or owner says Mission &
//! Well-being of its devices (`ssvc-mission`, on a device or a group). A
//! decision takes, point by point, the stakeholder's undisputed statement,
//! else CISA's ADP value in the CVE record (a known-exploited listing
//! makes Exploitation `active`), else for Mission & Well-being `medium`
//! (assumed); each value names its source. Disputed statements are shown
//! with who disputes them, and not used.

use std::collections::BTreeMap;
use std::sync::Arc;

use api_types::ssvc::{SsvcGroupDecision, SsvcInputRequest, SsvcInputView, SsvcValue, SsvcView};
use serde_json::json;
use twin::{DeviceId, Role, StakeholderId};
use twin_store::ssvc::{
    SsvcInput, SsvcRecord, MISSION_ROLES, SSVC_MISSION_KEY_FIELDS, SSVC_MISSION_TYPE,
    SSVC_RATIONALE_BYTES_MAX, SSVC_TECHNICAL_KEY_FIELDS, SSVC_TECHNICAL_TYPE,
};
use twin_store::{Projector, RiskService};
use vuln::exploit::{Automatable, Exploitation, MissionWellbeing, TechnicalImpact};

use crate::archivist::{AuthoritySigner, Disclosure};
use crate::delegate::Delegate;
use crate::reads::ReadRecorder;
use crate::ServiceError;

type Res<T> = Result<T, ServiceError>;

/// A decision's inputs as a key: (point, value, source), by point.
type InputsKey = Vec<(String, String, String)>;

/// Devices a decision view looks at, at most.
pub const DECISION_DEVICES_MAX: usize = 100_000;

fn rationale_schema() -> serde_json::Value {
    json!({"type": "string", "minLength": 1, "maxLength": SSVC_RATIONALE_BYTES_MAX, "pattern": "\\S"})
}

/// The manufacturer's technical inputs as a built-in statement type (keyed
/// by vulnerability).
pub fn technical_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: SSVC_TECHNICAL_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "vulnerability": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
                "exploitation": {"enum": ["none", "poc", "active"]},
                "automatable": {"enum": ["yes", "no"]},
                "technical_impact": {"enum": ["partial", "total"]},
                "rationale": rationale_schema(),
            },
            "required": ["vulnerability", "rationale"],
            "anyOf": [{"required": ["exploitation"]}, {"required": ["automatable"]}, {"required": ["technical_impact"]}],
            "additionalProperties": false
        }),
        rule: twin::Rule::new(&[Role::Manufacturer], &[]),
        sets_attributes: None,
        update_field: None,
        description: "a manufacturer's SSVC Exploitation, Automatable and Technical Impact of a vulnerability of its model".into(),
    }
}

/// The operator's or owner's Mission & Well-being as a built-in statement
/// type (keyed by group).
pub fn mission_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: SSVC_MISSION_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "mission_wellbeing": {"enum": ["low", "medium", "high"]},
                "group": {"type": "string", "minLength": 1, "maxLength": 128},
                "rationale": rationale_schema(),
            },
            "required": ["mission_wellbeing", "rationale"],
            "additionalProperties": false
        }),
        rule: twin::Rule::new(&MISSION_ROLES, &[]),
        sets_attributes: None,
        update_field: None,
        description: "an operator's or owner's SSVC Mission & Well-being of its device or group"
            .into(),
    }
}

/// The fields each type is keyed by (for `twin::BuiltinTypes::keyed`).
pub fn key_fields() -> [(&'static str, &'static [&'static str]); 2] {
    [
        (SSVC_TECHNICAL_TYPE, &SSVC_TECHNICAL_KEY_FIELDS),
        (SSVC_MISSION_TYPE, &SSVC_MISSION_KEY_FIELDS),
    ]
}

/// The SSVC use cases.
#[derive(Clone)]
pub struct SsvcService {
    projector: Projector,
    risks: Arc<RiskService>,
    reads: ReadRecorder,
    delegate: Delegate,
}

fn status_name(r: &SsvcRecord) -> (String, Vec<String>) {
    match &r.status {
        Some(twin::Status::Agreed) => ("agreed".into(), Vec::new()),
        Some(twin::Status::Disputed { by }) => {
            ("disputed".into(), by.iter().map(|s| s.0.clone()).collect())
        }
        _ => ("claimed".into(), Vec::new()),
    }
}

fn input_view(r: &SsvcRecord) -> SsvcInputView {
    let (status, disputed_by) = status_name(r);
    let mut values = BTreeMap::new();
    let (kind, vulnerability, group) = match &r.input {
        SsvcInput::Technical {
            vulnerability,
            exploitation,
            automatable,
            technical_impact,
        } => {
            if let Some(e) = exploitation {
                values.insert("exploitation".into(), name(e));
            }
            if let Some(a) = automatable {
                values.insert("automatable".into(), name(a));
            }
            if let Some(t) = technical_impact {
                values.insert("technical_impact".into(), name(t));
            }
            ("technical", Some(vulnerability.clone()), None)
        }
        SsvcInput::Mission { group, mission } => {
            values.insert("mission_wellbeing".into(), name(mission));
            ("mission", None, group.clone())
        }
    };
    SsvcInputView {
        entry: r.entry,
        receipt: format!("/entries/{}", r.entry),
        device: r.device.clone(),
        issuer: r.issuer.0.clone(),
        kind: kind.into(),
        vulnerability,
        group,
        values,
        rationale: r.rationale.clone(),
        status,
        disputed_by,
    }
}

fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl SsvcService {
    /// The use cases over `projector`'s twins and `risks`' register.
    pub fn new(
        projector: Projector,
        scitt: Arc<transparency::TransparencyService>,
        risks: Arc<RiskService>,
        reads: ReadRecorder,
        sign: AuthoritySigner,
    ) -> SsvcService {
        let delegate = Delegate::new(projector.clone(), scitt, sign);
        SsvcService {
            projector,
            risks,
            reads,
            delegate,
        }
    }

    /// Asserts an input on `device` as `who`; answers it as registered.
    pub async fn assert(
        &self,
        who: Option<StakeholderId>,
        device: &str,
        req: &SsvcInputRequest,
    ) -> Res<SsvcInputView> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("an SSVC input is a stakeholder's: give its bearer token")
        })?;
        let rationale = req.rationale.trim();
        if rationale.is_empty() || req.rationale.len() > SSVC_RATIONALE_BYTES_MAX {
            return Err(ServiceError::invalid(format!(
                "rationale: say why, in 1 to {SSVC_RATIONALE_BYTES_MAX} bytes"
            )));
        }
        let technical = req.exploitation.is_some()
            || req.automatable.is_some()
            || req.technical_impact.is_some();
        let payload = match (&req.mission_wellbeing, technical) {
            (Some(_), true) => {
                return Err(ServiceError::invalid(
                    "an input is either the manufacturer's technical ones (exploitation, automatable, technical_impact) or Mission & Well-being, not both",
                ))
            }
            (None, false) => {
                return Err(ServiceError::invalid(
                    "say at least one of exploitation, automatable, technical_impact (with vulnerability), or mission_wellbeing",
                ))
            }
            (Some(m), false) => {
                m.parse::<MissionWellbeing>().map_err(|e| ServiceError::invalid(format!("mission_wellbeing: {e}")))?;
                if req.vulnerability.is_some() {
                    return Err(ServiceError::invalid(
                        "vulnerability: Mission & Well-being is of the devices, not of a vulnerability",
                    ));
                }
                let mut p = json!({"type": SSVC_MISSION_TYPE, "mission_wellbeing": m.to_ascii_lowercase(), "rationale": rationale});
                if let Some(g) = &req.group {
                    p["group"] = json!(g);
                }
                p
            }
            (None, true) => {
                let v = req.vulnerability.as_ref().ok_or_else(|| {
                    ServiceError::invalid("vulnerability: technical inputs are about a vulnerability")
                })?;
                if req.group.is_some() {
                    return Err(ServiceError::invalid(
                        "group: technical inputs hold for every device of the model",
                    ));
                }
                let mut p = json!({"type": SSVC_TECHNICAL_TYPE, "vulnerability": v, "rationale": rationale});
                if let Some(e) = &req.exploitation {
                    let e: Exploitation = e.parse().map_err(|e| ServiceError::invalid(format!("exploitation: {e}")))?;
                    p["exploitation"] = json!(name(&e));
                }
                if let Some(a) = &req.automatable {
                    let a: Automatable = a.parse().map_err(|e| ServiceError::invalid(format!("automatable: {e}")))?;
                    p["automatable"] = json!(name(&a));
                }
                if let Some(t) = &req.technical_impact {
                    let t: TechnicalImpact = t.parse().map_err(|e| ServiceError::invalid(format!("technical_impact: {e}")))?;
                    p["technical_impact"] = json!(name(&t));
                }
                p
            }
        };
        let not_found =
            || ServiceError::not_found(format!("no device {device:?} (or not shared with you)"));
        let id = DeviceId::new(device).map_err(|_| not_found())?;
        let twin = self
            .projector
            .store()
            .twin(&id)
            .map_err(ServiceError::internal)?
            .ok_or_else(not_found)?;
        {
            let meta = self.projector.meta();
            let reader = self.reads.reader(Some(who.clone()), &meta);
            reader.sees_device(&twin).ok_or_else(not_found)?;
            if let Some(g) = &req.group {
                if !twin.groups.contains(g) {
                    return Err(ServiceError::invalid(format!(
                        "group: {device} is not in group {g:?} (its groups: {:?})",
                        twin.groups
                    )));
                }
            }
        }
        let entry = self
            .delegate
            .register(&who, &id.subject(), payload, Disclosure::Public)
            .await?;
        let meta = self.projector.meta();
        let claim = self
            .projector
            .store()
            .claim(entry)
            .map_err(ServiceError::internal)?;
        claim
            .as_ref()
            .and_then(|c| SsvcRecord::of(&meta, &twin, c))
            .map(|r| input_view(&r))
            .ok_or_else(|| ServiceError::internal(format!("entry {entry} holds no SSVC input")))
    }

    /// The inputs and decisions of `vulnerability` over the exposed devices
    /// `who` sees.
    pub fn decisions(&self, who: Option<StakeholderId>, vulnerability: &str) -> Res<SsvcView> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("SSVC decisions are read with a bearer token")
        })?;
        let meta = self.projector.meta();
        let store = self.projector.store();
        let admin = meta.registry.authority() == Some(&who);
        let today = twin_store::risks::today(&**self.reads.clock());
        let now = self.reads.clock().now_unix_s();
        let register = self.risks.register(today).map_err(ServiceError::internal)?;
        let all = twin_store::ssvc::all_inputs(store, &meta).map_err(ServiceError::internal)?;
        // CISA's ADP inputs, by the register's vulnerability ids.
        let adp = |id: &str| {
            let id = vuln_formats::VulnId::new(id).ok()?;
            self.risks
                .with_advisories(|ix| ix.advisory(&id).and_then(|a| a.ssvc().cloned()))
        };
        let mut groups: BTreeMap<(String, InputsKey), SsvcGroupDecision> = BTreeMap::new();
        let mut shown: BTreeMap<u64, SsvcInputView> = BTreeMap::new();
        for r in all.iter().filter(|r| {
            matches!(&r.input, SsvcInput::Technical { vulnerability: v, .. } if v == vulnerability)
        }) {
            shown.insert(r.entry, input_view(r));
        }
        let mut seen = 0usize;
        for risk in register.by_vulnerability(vulnerability) {
            let Some(device) = risk.device.as_deref() else {
                continue;
            };
            if !(admin || risk.stakeholders.iter().any(|s| s == &who.0)) {
                continue;
            }
            seen += 1;
            if seen > DECISION_DEVICES_MAX {
                break;
            }
            let Some(twin) = DeviceId::new(device)
                .ok()
                .and_then(|id| store.twin(&id).ok().flatten())
            else {
                continue;
            };
            let mut inputs: BTreeMap<String, SsvcValue> = BTreeMap::new();
            let mut set = |point: &str, value: String, source: String| {
                inputs.insert(point.into(), SsvcValue { value, source });
            };
            let id = risk.vulnerability.as_deref().unwrap_or(vulnerability);
            if let Some(a) = adp(id) {
                set("exploitation", name(&a.exploitation), a.source.clone());
                set("automatable", name(&a.automatable), a.source.clone());
                set(
                    "technical_impact",
                    name(&a.technical_impact),
                    a.source.clone(),
                );
            }
            if risk.exploit.as_deref().is_some_and(|e| !e.kev.is_empty()) {
                set("exploitation", "active".into(), "known-exploited".into());
            }
            for r in all
                .iter()
                .filter(|r| !r.disputed() && r.covers(&meta, &twin, now))
            {
                match &r.input {
                    SsvcInput::Technical {
                        vulnerability: v,
                        exploitation,
                        automatable,
                        technical_impact,
                    } if v == vulnerability || v == id => {
                        let src = format!("{SSVC_TECHNICAL_TYPE}@{}", r.entry);
                        if let Some(e) = exploitation {
                            set("exploitation", name(e), src.clone());
                        }
                        if let Some(a) = automatable {
                            set("automatable", name(a), src.clone());
                        }
                        if let Some(t) = technical_impact {
                            set("technical_impact", name(t), src);
                        }
                    }
                    _ => {}
                }
            }
            // Mission & Well-being: the highest undisputed statement
            // covering the device, else medium.
            let mut mission: Option<(MissionWellbeing, u64)> = None;
            for r in all.iter().filter(|r| r.covers(&meta, &twin, now)) {
                if let SsvcInput::Mission { mission: m, .. } = &r.input {
                    shown.entry(r.entry).or_insert_with(|| input_view(r));
                    if !r.disputed() && mission.is_none_or(|(best, _)| *m > best) {
                        mission = Some((*m, r.entry));
                    }
                }
            }
            match mission {
                Some((m, entry)) => set(
                    "mission_wellbeing",
                    name(&m),
                    format!("{SSVC_MISSION_TYPE}@{entry}"),
                ),
                None => set("mission_wellbeing", "medium".into(), "assumed".into()),
            }
            let parsed = (
                inputs
                    .get("exploitation")
                    .and_then(|v| v.value.parse::<Exploitation>().ok()),
                inputs
                    .get("automatable")
                    .and_then(|v| v.value.parse::<Automatable>().ok()),
                inputs
                    .get("technical_impact")
                    .and_then(|v| v.value.parse::<TechnicalImpact>().ok()),
                inputs
                    .get("mission_wellbeing")
                    .and_then(|v| v.value.parse::<MissionWellbeing>().ok()),
            );
            let decision = match parsed {
                (Some(e), Some(a), Some(t), Some(m)) => Some(
                    vuln::exploit::cisa_decision(e, a, t, m)
                        .as_str()
                        .to_string(),
                ),
                _ => None,
            };
            let key: InputsKey = inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone(), v.source.clone()))
                .collect();
            let g = groups
                .entry((twin.model.clone(), key))
                .or_insert_with(|| SsvcGroupDecision {
                    model: twin.model.clone(),
                    inputs: inputs.clone(),
                    decision,
                    devices: 0,
                    sample: Vec::new(),
                });
            g.devices += 1;
            if g.sample.len() < 20 {
                g.sample.push(device.to_string());
            }
        }
        let mut decisions: Vec<SsvcGroupDecision> = groups.into_values().collect();
        decisions.sort_by(|a, b| b.devices.cmp(&a.devices).then(a.model.cmp(&b.model)));
        Ok(SsvcView {
            vulnerability: vulnerability.to_string(),
            inputs: shown.into_values().collect(),
            decisions,
        })
    }
}
