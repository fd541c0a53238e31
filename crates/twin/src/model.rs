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
/// Always valid ([`DeviceId::valid`]): made by [`DeviceId::new`] or
/// [`DeviceId::from_subject`], and checked when read from JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

/// A string that is not a device id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDeviceId {
    /// The start of the refused string.
    pub start: String,
}

impl std::fmt::Display for InvalidDeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not a device id (1 to {DEVICE_ID_BYTES_MAX} bytes, no control characters)",
            self.start
        )
    }
}

impl std::error::Error for InvalidDeviceId {}

impl DeviceId {
    /// `id` as a device id, if it is a valid one ([`DeviceId::valid`]).
    pub fn new(id: impl Into<String>) -> Result<DeviceId, InvalidDeviceId> {
        let id = id.into();
        if DeviceId::valid(&id) {
            Ok(DeviceId(id))
        } else {
            Err(InvalidDeviceId {
                start: id.chars().take(80).collect(),
            })
        }
    }

    /// The device named by a statement subject `device:<id>`, if it is one.
    pub fn from_subject(subject: &str) -> Option<DeviceId> {
        let id = subject.strip_prefix("device:")?;
        DeviceId::new(id).ok()
    }

    /// Whether `id` is a valid device id: 1 to [`DEVICE_ID_BYTES_MAX`] bytes,
    /// no control characters (ids are store keys, separated by NUL).
    pub fn valid(id: &str) -> bool {
        !id.is_empty() && id.len() <= DEVICE_ID_BYTES_MAX && !id.chars().any(char::is_control)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The statement subject naming this device.
    pub fn subject(&self) -> String {
        format!("device:{}", self.0)
    }
}

impl TryFrom<String> for DeviceId {
    type Error = InvalidDeviceId;
    fn try_from(id: String) -> Result<DeviceId, InvalidDeviceId> {
        DeviceId::new(id)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> String {
        id.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for DeviceId {
    fn borrow(&self) -> &str {
        &self.0
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
