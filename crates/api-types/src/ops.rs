//! What an operator's probes read: `/healthz` and `/readyz`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`: the process answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` (a node that cannot answer cannot say otherwise).
    pub status: String,
}

/// `GET /readyz`: whether this node can take traffic, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// What this node does: `sequencer` (it sequences and signs the log).
    pub role: String,
    /// Each check, in a fixed order.
    pub checks: Vec<ReadinessCheck>,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessCheck {
    /// `store`, `log_writer`, `signer`, `projector`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, in words.
    pub detail: String,
}
