//! [`FleetIndex`]: the facts a device's posture cannot show alone (the same
//! certificate or MQTT client id on several devices), gathered in one pass
//! over the fleet's postures before the audit.
//!
//! Deliberately absent: anything per device beyond a count and the first
//! few holders' names (borrowed, not copied): a million devices cost one
//! hash-map entry each, no string.

use std::collections::HashMap;

use super::DevicePosture;
use crate::report::Sha256;

/// How many holders of a certificate or client id an index names (the
/// rest are counted): evidence says "and N others", not a million names.
pub const HOLDERS_NAMED_MAX: usize = 4;

/// Who holds one certificate or client id: how many devices, and the
/// positions of the first few in the indexed slice (4-byte positions, not
/// names: a million entries stay small).
#[derive(Debug, Clone, Copy, Default)]
struct Holders {
    count: u32,
    named: [u32; HOLDERS_NAMED_MAX],
}

impl Holders {
    fn add(&mut self, position: u32) {
        if let Some(slot) = self.named.get_mut(self.count as usize) {
            *slot = position;
        }
        self.count = self.count.saturating_add(1);
    }

    fn others<'a>(&self, devices: &[&'a str], device: &str) -> Vec<&'a str> {
        self.named
            .iter()
            .take(self.count as usize)
            .filter_map(|p| devices.get(*p as usize).copied())
            .filter(|d| *d != device)
            .collect()
    }
}

/// Fleet-wide facts: who reports each certificate fingerprint and each
/// MQTT client id. Built by [`FleetIndex::build`] from the same postures
/// the audit reads; a device missing from it counts as alone.
#[derive(Debug, Clone, Default)]
pub struct FleetIndex<'a> {
    devices: Vec<&'a str>,
    certificates: HashMap<&'a Sha256, Holders>,
    client_ids: HashMap<&'a str, Holders>,
}

impl<'a> FleetIndex<'a> {
    /// Indexes the fleet in one pass, one posture per device (at most
    /// `u32::MAX`; past that, devices are not indexed). Names are kept in
    /// input order, so the same postures in the same order give the same
    /// evidence.
    pub fn build(postures: &[DevicePosture<'a>]) -> FleetIndex<'a> {
        let n = postures.len();
        let mut index = FleetIndex {
            devices: Vec::with_capacity(n),
            certificates: HashMap::with_capacity(n),
            client_ids: HashMap::with_capacity(n),
        };
        for (position, p) in postures.iter().enumerate() {
            let Ok(position) = u32::try_from(position) else {
                break;
            };
            index.devices.push(p.device);
            if let Some(c) = &p.report.certificate {
                index
                    .certificates
                    .entry(&c.fingerprint_sha256)
                    .or_default()
                    .add(position);
            }
            if let Some(id) = &p.report.client_id {
                index
                    .client_ids
                    .entry(id.as_str())
                    .or_default()
                    .add(position);
            }
        }
        index
    }

    /// How many devices report the certificate with this fingerprint.
    pub fn certificate_holders(&self, fingerprint: &Sha256) -> u64 {
        self.certificates
            .get(fingerprint)
            .map_or(0, |h| u64::from(h.count))
    }

    /// Up to [`HOLDERS_NAMED_MAX`] devices other than `device` reporting
    /// this certificate, the first indexed first.
    pub fn other_certificate_holders(&self, fingerprint: &Sha256, device: &str) -> Vec<&'a str> {
        self.certificates
            .get(fingerprint)
            .map_or_else(Vec::new, |h| h.others(&self.devices, device))
    }

    /// How many devices report this MQTT client id.
    pub fn client_id_holders(&self, client_id: &str) -> u64 {
        self.client_ids
            .get(client_id)
            .map_or(0, |h| u64::from(h.count))
    }

    /// Up to [`HOLDERS_NAMED_MAX`] devices other than `device` reporting
    /// this client id.
    pub fn other_client_id_holders(&self, client_id: &str, device: &str) -> Vec<&'a str> {
        self.client_ids
            .get(client_id)
            .map_or_else(Vec::new, |h| h.others(&self.devices, device))
    }
}
