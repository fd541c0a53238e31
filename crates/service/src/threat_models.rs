//! The threat models (`threat-model` statements on their publisher, which
//! `sectwin threat record` registers as hash envelopes: the log holds the
//! digest of a salted payload, the node the model), each with its
//! data-flow diagram and inventory, for the dashboard and any client. A
//! model says where a system is weak: it is shown to its publisher and to
//! the stakeholders who may see a risk recorded from it (the register's
//! visibility: a role on a device of a model it names), never publicly.
//! The findings themselves are read from the register
//! (`GET /api/v1/risks?source=threat-model:<name>`).

use api_types::dashboard::{
    ThreatBoundary, ThreatElement, ThreatFlow, ThreatModelList, ThreatModelSummary, ThreatModelView,
};
use sha2::{Digest, Sha256};
use twin::published::{PolicyKind, PolicyVersion, ThreatModelDoc};
use twin::StakeholderId;
use twin_store::Projector;

use crate::risks::RiskViews;
use crate::ServiceError;

type Res<T> = Result<T, ServiceError>;

/// The `source` of the risks recorded from a threat model, before its name.
pub const THREAT_MODEL_SOURCE: &str = "threat-model:";

/// The threat model views.
#[derive(Clone)]
pub struct ThreatModelViews {
    projector: Projector,
    risks: RiskViews,
}

impl ThreatModelViews {
    /// The threat models published in the log of `projector`, shown to whom
    /// `risks` shows their findings.
    pub fn new(projector: Projector, risks: RiskViews) -> ThreatModelViews {
        ThreatModelViews { projector, risks }
    }

    /// Whether `who` may see the model of `owner` named `name`: its
    /// publisher, or a reader of one of its findings (`sources`).
    fn concerns(
        who: &StakeholderId,
        owner: &StakeholderId,
        name: &str,
        sources: &std::collections::BTreeSet<String>,
    ) -> bool {
        who == owner || sources.contains(&format!("{THREAT_MODEL_SOURCE}{name}"))
    }

    /// Every version of the models `who` may see: those in force first,
    /// then by owner, id and entry.
    pub fn list(&self, who: Option<StakeholderId>) -> Res<ThreatModelList> {
        let Some(who) = who else {
            return Err(unauthorized());
        };
        let sources = self.risks.recorded_sources(Some(who.clone()))?;
        let meta = self.projector.meta();
        let mut models: Vec<ThreatModelSummary> = meta
            .published
            .versions(None)
            .filter(|(_, v)| v.kind == PolicyKind::ThreatModel)
            .filter_map(|(owner, v)| {
                let doc = ThreatModelDoc::parse(&v.policy).ok()?;
                Self::concerns(&who, owner, &doc.name, &sources).then(|| summary(owner, v, &doc))
            })
            .collect();
        models.sort_by(|a, b| {
            (
                a.superseded_by.is_some(),
                &a.owner,
                &a.id,
                std::cmp::Reverse(a.entry),
            )
                .cmp(&(
                    b.superseded_by.is_some(),
                    &b.owner,
                    &b.id,
                    std::cmp::Reverse(b.entry),
                ))
        });
        Ok(ThreatModelList {
            models,
            as_of: meta.size,
        })
    }

    /// The version of `owner`'s model `id` in force, or the one published
    /// at `entry`, with its diagram and inventory, if `who` may see it
    /// (else not found: a model's existence is not told either).
    pub fn get(
        &self,
        who: Option<StakeholderId>,
        owner: &str,
        id: &str,
        entry: Option<u64>,
    ) -> Res<ThreatModelView> {
        let Some(who) = who else {
            return Err(unauthorized());
        };
        let sources = self.risks.recorded_sources(Some(who.clone()))?;
        let meta = self.projector.meta();
        let owner = StakeholderId(owner.to_string());
        let not_found = || {
            ServiceError::not_found(format!(
                "{} has published no threat model {id:?}{}",
                owner.0,
                entry.map(|e| format!(" at entry {e}")).unwrap_or_default()
            ))
        };
        let versions: Vec<(&PolicyVersion, ThreatModelDoc)> = meta
            .published
            .versions(Some(&owner))
            .filter(|(_, v)| v.kind == PolicyKind::ThreatModel && v.id == id)
            .filter_map(|(_, v)| Some((v, ThreatModelDoc::parse(&v.policy).ok()?)))
            .collect();
        let (version, doc) = match entry {
            Some(e) => versions.iter().find(|(v, _)| v.entry == e),
            None => versions.iter().find(|(v, _)| v.superseded_by.is_none()),
        }
        .ok_or_else(not_found)?;
        if !Self::concerns(&who, &owner, &doc.name, &sources) {
            return Err(not_found());
        }
        // Lenient: a published model may use attributes of its owner's own
        // rules, which this node does not have.
        let (title, diagram_svg, problem, elements, flows, boundaries) =
            match threat::model::Model::parse_lenient(&doc.source) {
                Ok(m) => (
                    Some(m.title.clone()),
                    Some(threat::diagram::svg(&m)),
                    None,
                    elements(&m),
                    flows(&m),
                    m.boundaries
                        .iter()
                        .map(|b| ThreatBoundary {
                            id: b.id.clone(),
                            name: b.name.clone(),
                        })
                        .collect(),
                ),
                Err(e) => (
                    None,
                    None,
                    Some(format!("this node cannot read the model: {e}")),
                    Vec::new(),
                    Vec::new(),
                    Vec::new(),
                ),
            };
        Ok(ThreatModelView {
            model: summary(&owner, version, doc),
            title,
            diagram_svg,
            problem,
            elements,
            flows,
            boundaries,
            source: doc.source.clone(),
            versions: versions
                .iter()
                .map(|(v, d)| summary(&owner, v, d))
                .collect(),
        })
    }
}

fn unauthorized() -> ServiceError {
    ServiceError::unauthorized(
        "threat models are shown to the stakeholders they concern: send a bearer token from /oauth/token",
    )
}

fn summary(owner: &StakeholderId, v: &PolicyVersion, doc: &ThreatModelDoc) -> ThreatModelSummary {
    ThreatModelSummary {
        owner: owner.0.clone(),
        id: v.id.clone(),
        name: doc.name.clone(),
        version: doc.version.clone(),
        entry: v.entry,
        receipt: format!("/entries/{}", v.entry),
        superseded_by: v.superseded_by,
        source_sha256: hex::encode(Sha256::digest(doc.source.as_bytes())),
    }
}

fn elements(m: &threat::model::Model) -> Vec<ThreatElement> {
    m.elements
        .iter()
        .map(|e| ThreatElement {
            id: e.id.clone(),
            name: e.name.clone(),
            kind: e.kind.to_string(),
            boundaries: m
                .boundaries
                .iter()
                .filter(|b| b.elements.contains(&e.id))
                .map(|b| b.id.clone())
                .collect(),
            device_model: e.device_model.clone(),
            controls: e.controls.clone(),
        })
        .collect()
}

fn flows(m: &threat::model::Model) -> Vec<ThreatFlow> {
    m.flows
        .iter()
        .map(|f| ThreatFlow {
            id: f.id.clone(),
            name: f.name.clone(),
            from: f.from.clone(),
            to: f.to.clone(),
            protocol: f.protocol.clone(),
            encrypted: f.encrypted,
            authentication: f.authentication.clone(),
            classification: serde_json::to_value(f.classification)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        })
        .collect()
}
