//! Risk decisions signed on the caller's behalf (`POST
//! /api/v1/risks/decisions`): `risk-accepted`, `risk-mitigated`,
//! `risk-transferred` and `risk-false-positive` statements about a risk of
//! the register, built as `twin::StatementBody` values and registered by
//! the registry authority with `on_behalf_of` ([`crate::delegate`]), as the
//! suppressions and the DataTrails layer are. Whether the caller may decide
//! is the twin's rule, the same as for a statement it signs itself
//! (`sectwin risks decide`): the fold refuses, and the refusal is the answer.
//!
//! Deliberately absent: any rule of its own about who decides.

use std::sync::Arc;

use api_types::dashboard::{DecisionRecorded, DecisionRequest, DecisionRequestKind};
use transparency::TransparencyService;
use twin::{StakeholderId, StatementBody};
use twin_store::Projector;

use crate::archivist::{AuthoritySigner, Disclosure};
use crate::delegate::Delegate;
use crate::ServiceError;

/// Longest rationale, in bytes.
pub const RATIONALE_BYTES_MAX: usize = 1024;

/// The decision use case.
#[derive(Clone)]
pub struct DecisionService {
    delegate: Delegate,
}

impl DecisionService {
    /// Decisions registered through `scitt`, waited for on `projector`,
    /// signed by `sign` (the registry authority).
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        sign: AuthoritySigner,
    ) -> DecisionService {
        DecisionService {
            delegate: Delegate::new(projector, scitt, sign),
        }
    }

    /// Registers `req` as `who`'s decision; answers its entry.
    pub async fn record(
        &self,
        who: Option<StakeholderId>,
        req: &DecisionRequest,
    ) -> Result<DecisionRecorded, ServiceError> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("sign in to decide a risk: it is signed on your behalf")
        })?;
        let body = body(req)?;
        if !(req.subject.starts_with("device:") || req.subject.starts_with("model:")) {
            return Err(ServiceError::invalid(format!(
                "subject {:?}: a risk's subject is device:ID or model:VENDOR/MODEL",
                req.subject
            )));
        }
        let kind = body.type_name().to_string();
        let payload: serde_json::Value = body.to_wire();
        let entry = self
            .delegate
            .register(&who, &req.subject, payload, Disclosure::Public)
            .await?;
        Ok(DecisionRecorded {
            entry,
            receipt: format!("/entries/{entry}"),
            kind,
        })
    }
}

/// The statement a request asks for, checked field by field.
fn body(req: &DecisionRequest) -> Result<StatementBody, ServiceError> {
    let rationale = req.rationale.trim();
    if rationale.is_empty() || req.rationale.len() > RATIONALE_BYTES_MAX {
        return Err(ServiceError::invalid(format!(
            "rationale: 1 to {RATIONALE_BYTES_MAX} bytes, not blank"
        )));
    }
    if req.risk.trim().is_empty() {
        return Err(ServiceError::invalid("risk: the risk id is empty"));
    }
    let only = |field: &str, given: bool, kind: DecisionRequestKind| {
        if given {
            Err(ServiceError::invalid(format!(
                "{field} does not apply to a {kind:?} decision"
            )))
        } else {
            Ok(())
        }
    };
    let risk = req.risk.clone();
    let rationale = rationale.to_string();
    Ok(match req.decision {
        DecisionRequestKind::Accept => {
            only("to", req.to.is_some(), req.decision)?;
            if let Some(u) = &req.until {
                risk::Date::parse(u).map_err(|e| {
                    ServiceError::invalid(format!("until {u:?}: expected YYYY-MM-DD ({e})"))
                })?;
            }
            StatementBody::RiskAccepted {
                risk,
                rationale,
                until: req.until.clone(),
            }
        }
        DecisionRequestKind::Mitigate => {
            only("until", req.until.is_some(), req.decision)?;
            only("to", req.to.is_some(), req.decision)?;
            StatementBody::RiskMitigated {
                risk,
                how: rationale,
            }
        }
        DecisionRequestKind::Transfer => {
            only("until", req.until.is_some(), req.decision)?;
            let to = req
                .to
                .clone()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    ServiceError::invalid(
                        "to: a transfer names the stakeholder that takes the risk",
                    )
                })?;
            StatementBody::RiskTransferred {
                risk,
                to: StakeholderId(to),
                rationale,
            }
        }
        DecisionRequestKind::FalsePositive => {
            only("until", req.until.is_some(), req.decision)?;
            only("to", req.to.is_some(), req.decision)?;
            StatementBody::RiskFalsePositive { risk, rationale }
        }
    })
}
