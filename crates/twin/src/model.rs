//! Stakeholders, devices and the device lifecycle.

use serde::{Deserialize, Serialize};

/// A stakeholder: an organization, named as the SCITT `iss` of its
/// statements (for example `acme.example`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StakeholderId(pub String);

/// Longest device id, in bytes.
pub const DEVICE_ID_BYTES_MAX: usize = 200;

/// A device, named as the SCITT `sub` of statements about it, `device:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub String);

impl DeviceId {
    /// The device named by a statement subject `device:<id>`, if it is one.
    pub fn from_subject(subject: &str) -> Option<DeviceId> {
        let id = subject.strip_prefix("device:")?;
        DeviceId::valid(id).then(|| DeviceId(id.to_string()))
    }

    /// Whether `id` is a valid device id: 1 to [`DEVICE_ID_BYTES_MAX`] bytes,
    /// no control characters (ids are store keys, separated by NUL).
    pub fn valid(id: &str) -> bool {
        !id.is_empty() && id.len() <= DEVICE_ID_BYTES_MAX && !id.chars().any(char::is_control)
    }

    /// The statement subject naming this device.
    pub fn subject(&self) -> String {
        format!("device:{}", self.0)
    }
}

/// What a stakeholder is to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Made it; releases its firmware and assesses its vulnerabilities.
    Manufacturer,
    /// Runs it day to day.
    Operator,
    /// Maintains it under contract.
    Maintainer,
    /// Audits it.
    Auditor,
    /// Owns it.
    Owner,
    /// The device itself, signing with its own key.
    Device,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::Manufacturer,
        Role::Operator,
        Role::Maintainer,
        Role::Auditor,
        Role::Owner,
        Role::Device,
    ];
}

/// A device's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Registered by its manufacturer.
    Manufactured,
    /// Given its identity and credentials for a site.
    Provisioned,
    /// In service.
    Deployed,
    /// Out of service for maintenance.
    InMaintenance,
    /// Retired for good; nothing more can happen to it.
    Decommissioned,
}

impl Lifecycle {
    /// Whether `self → to` is an allowed transition: forward through
    /// provisioning and deployment, in and out of maintenance, and
    /// decommissioning from any live state. Decommissioned is final.
    pub fn can_become(self, to: Lifecycle) -> bool {
        use Lifecycle::*;
        matches!(
            (self, to),
            (Manufactured, Provisioned)
                | (Provisioned, Deployed)
                | (Deployed, InMaintenance)
                | (InMaintenance, Deployed)
                | (Provisioned, InMaintenance)
                | (InMaintenance, Provisioned)
                | (
                    Manufactured | Provisioned | Deployed | InMaintenance,
                    Decommissioned
                )
        )
    }
}
