//! Suppressions of posture findings: the `finding-suppressed` statement
//! type (a built-in custom type, keyed by rule and group) and its use cases.
//!
//! A device's operator or owner accepts a posture rule's finding on the
//! device, or on every device of a group on which it holds one of those
//! roles, with a reason, until an expiry: `POST
//! /api/v1/devices/{id}/suppressions`, which the service signs as the
//! registry authority *on the caller's behalf* (`on_behalf_of`, as the
//! Archivist API does) and registers in the log. The twin keeps the latest
//! statement per rule and scope, so a new one replaces the old, and lifting
//! one early is a statement that expires when it is issued (`lift: true`).
//! The audit applies the suppressions in force at its time
//! (`twin_store::posture`); a suppressed finding names who suppressed it,
//! why, until when and the entry. Everything is read from the twins, so
//! `reindex` gives the same suppressions.
//!
//! What the fold checks (the schema, the roles) holds for every statement
//! of the log, however signed; what only this service checks (the rule is
//! one of its library's, the expiry is ahead, the device is in the group)
//! depends on the library and the clock, which a fold must not.

use std::collections::HashMap;
use std::sync::Arc;

use api_types::devices::{
    SuppressionRequest, SuppressionView, SuppressionsPage, SuppressionsQuery,
};
use posture::audit::{Finding, RuleSet, Suppression};
use serde_json::{json, Value};
use transparency::TransparencyService;
use twin::projection::Twin;
use twin::{DeviceId, Role, StakeholderId};
use twin_store::posture::{
    SuppressionRecord, SUPPRESSING_ROLES, SUPPRESSION_GROUP_BYTES_MAX, SUPPRESSION_KEY_FIELDS,
    SUPPRESSION_REASON_BYTES_MAX,
};
use twin_store::Projector;

use crate::archivist::{AuthoritySigner, Disclosure};
use crate::reads::{Audit, ReadRecorder, Reader};
use crate::ServiceError;

pub use twin_store::posture::SUPPRESSION_TYPE;

type Res<T> = Result<T, ServiceError>;

/// How far ahead a suppression may expire, in seconds (ten years): an
/// acceptance is reviewed, not forgotten.
pub const EXPIRY_AHEAD_S_MAX: i64 = 10 * 365 * 86_400;

/// What a suppressed finding shows of a suppression whose issuer's sharing
/// policy does not show it to the reader.
pub const WITHHELD_REASON: &str = "(withheld by its issuer's sharing policy)";

/// The suppression as a built-in statement type: asserted on a device by
/// its operator or owner; one current statement per rule and group
/// (`twin::BuiltinTypes::keyed` with
/// [`twin_store::posture::SUPPRESSION_KEY_FIELDS`], which the node's fold
/// rules apply).
pub fn suppression_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: SUPPRESSION_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "rule": {"type": "string", "pattern": "^[A-Z0-9_-]{1,64}$"},
                "reason": {"type": "string", "minLength": 1, "maxLength": SUPPRESSION_REASON_BYTES_MAX, "pattern": "\\S"},
                "expires_at": {"type": "integer", "minimum": 0},
                "group": {"type": "string", "minLength": 1, "maxLength": SUPPRESSION_GROUP_BYTES_MAX}
            },
            "required": ["rule", "reason", "expires_at"],
            "additionalProperties": false
        }),
        rule: twin::Rule::new(&SUPPRESSING_ROLES, &[]),
        sets_attributes: None,
        update_field: None,
        description: "a posture finding accepted on a device or a group, with a reason, until an expiry (docs/device-reports.md)".into(),
    }
}

/// The fields a suppression is keyed by (for `twin::BuiltinTypes::keyed`).
pub fn suppression_key_fields() -> [&'static str; 2] {
    SUPPRESSION_KEY_FIELDS
}

/// The suppression use cases.
#[derive(Clone)]
pub struct SuppressionService {
    projector: Projector,
    scitt: Arc<TransparencyService>,
    reads: ReadRecorder,
    sign: AuthoritySigner,
    rules: Arc<RuleSet>,
}

impl SuppressionService {
    /// The use cases over `projector`'s twins, registering through `scitt`
    /// statements signed by `sign` on the caller's behalf, recording reads
    /// with `reads`, with the built-in rule library.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        reads: ReadRecorder,
        sign: AuthoritySigner,
    ) -> Res<SuppressionService> {
        let rules = RuleSet::default_library().map_err(ServiceError::internal)?;
        Ok(SuppressionService {
            projector,
            scitt,
            reads,
            sign,
            rules: Arc::new(rules),
        })
    }

    /// Suppresses a finding on `device` (or its group), or lifts a
    /// suppression, as `who`; answers the suppression as registered.
    pub async fn suppress(
        &self,
        who: Option<StakeholderId>,
        device: &str,
        req: &SuppressionRequest,
    ) -> Res<SuppressionView> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized(
                "suppressing a finding needs a bearer token of the device's operator or owner",
            )
        })?;
        let now = self.reads.clock().now_unix_s();
        if self.rules.get(&req.rule).is_none() {
            return Err(ServiceError::invalid(format!(
                "rule: no posture rule {:?} in this node's library (GET /api/v1/findings names them)",
                req.rule
            )));
        }
        let reason = req.reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::invalid(
                "reason: say why the finding is accepted (it is empty)",
            ));
        }
        if req.reason.len() > SUPPRESSION_REASON_BYTES_MAX {
            return Err(ServiceError::invalid(format!(
                "reason: at most {SUPPRESSION_REASON_BYTES_MAX} bytes, not {}",
                req.reason.len()
            )));
        }
        let lift = req.lift.unwrap_or(false);
        let expires_at = match (lift, req.expires_at) {
            (true, Some(_)) => {
                return Err(ServiceError::invalid(
                    "expires_at: a lift takes no expiry (it ends the suppression now)",
                ))
            }
            (true, None) => now,
            (false, None) => {
                return Err(ServiceError::invalid(
                    "expires_at: give when the suppression ends (Unix seconds), or lift: true",
                ))
            }
            (false, Some(t)) if t <= now => {
                return Err(ServiceError::invalid(format!(
                    "expires_at: {t} is not in the future (now is {now})"
                )))
            }
            (false, Some(t)) if t > now.saturating_add(EXPIRY_AHEAD_S_MAX) => {
                return Err(ServiceError::invalid(format!(
                    "expires_at: at most {EXPIRY_AHEAD_S_MAX} s (ten years) ahead"
                )))
            }
            (false, Some(t)) => t,
        };
        if let Some(g) = &req.group {
            if g.is_empty()
                || g.len() > SUPPRESSION_GROUP_BYTES_MAX
                || g.chars().any(char::is_control)
            {
                return Err(ServiceError::invalid(format!(
                    "group: 1 to {SUPPRESSION_GROUP_BYTES_MAX} bytes without control characters"
                )));
            }
        }
        let meta = self.projector.meta();
        let not_found =
            || ServiceError::not_found(format!("no device {device:?} (or not shared with you)"));
        let id = DeviceId::new(device).map_err(|_| not_found())?;
        let twin = self
            .projector
            .store()
            .twin(&id)
            .map_err(ServiceError::internal)?
            .ok_or_else(not_found)?;
        let reader = self.reads.reader(Some(who.clone()), &meta);
        reader.sees_device(&twin).ok_or_else(not_found)?;
        let roles = twin::projection::roles_at(&meta, &who, &twin, now);
        if !roles.iter().any(|r| SUPPRESSING_ROLES.contains(r)) {
            return Err(ServiceError::forbidden(format!(
                "only the operator or owner of {device} may suppress findings on it ({} holds {})",
                who.0,
                role_names(&roles)
            )));
        }
        if let Some(g) = &req.group {
            if !twin.groups.contains(g) {
                return Err(ServiceError::invalid(format!(
                    "group: {device} is not in group {g:?} (its groups: {:?})",
                    twin.groups
                )));
            }
        }
        if lift {
            let current = twin_store::posture::suppressions_on(self.projector.store(), &twin)
                .map_err(ServiceError::internal)?;
            let held = current
                .iter()
                .any(|s| s.rule == req.rule && s.group == req.group && s.in_force(now));
            if !held {
                return Err(ServiceError::not_found(format!(
                    "no suppression of {} on {device}{} is in force to lift",
                    req.rule,
                    req.group
                        .as_ref()
                        .map(|g| format!(" for group {g:?}"))
                        .unwrap_or_default()
                )));
            }
        }
        drop(meta);
        let mut payload = json!({
            "type": SUPPRESSION_TYPE,
            "rule": req.rule,
            "reason": reason,
            "expires_at": expires_at,
        });
        if let Some(g) = &req.group {
            payload["group"] = json!(g);
        }
        let entry = self
            .register_on_behalf(&who, &format!("device:{device}"), payload)
            .await?;
        let claim = self
            .projector
            .store()
            .claim(entry)
            .map_err(ServiceError::internal)?
            .and_then(|c| SuppressionRecord::of(&c))
            .ok_or_else(|| ServiceError::internal(format!("entry {entry} holds no suppression")))?;
        Ok(view(&claim, now))
    }

    /// The suppressions `who` may see, filtered.
    pub fn list(&self, who: Option<StakeholderId>, q: &SuppressionsQuery) -> Res<SuppressionsPage> {
        if let Some(rule) = &q.rule {
            if self.rules.get(rule).is_none() {
                return Err(ServiceError::invalid(format!(
                    "rule: no posture rule {rule:?}"
                )));
            }
        }
        let meta = self.projector.meta();
        let reader = self.reads.reader(who, &meta);
        let now = reader.at_s;
        let store = self.projector.store();
        let holders = match &q.device {
            Some(d) => DeviceId::new(d.clone())
                .map(|d| vec![d])
                .unwrap_or_default(),
            None => twin_store::posture::holders(store).map_err(ServiceError::internal)?,
        };
        let mut audit = Audit::default();
        let mut out = Vec::new();
        for id in holders {
            let Some(twin) = store.twin(&id).map_err(ServiceError::internal)? else {
                continue;
            };
            if reader.sees_device(&twin).is_none() {
                continue;
            }
            for s in twin_store::posture::suppressions_on(store, &twin)
                .map_err(ServiceError::internal)?
            {
                if q.rule.as_ref().is_some_and(|r| *r != s.rule)
                    || (!q.all.unwrap_or(false) && !s.in_force(now))
                {
                    continue;
                }
                let Some(seen) = reader.decide(&twin, &s.issuer, SUPPRESSION_TYPE) else {
                    continue;
                };
                audit.note(&s.issuer, seen, s.entry, Some(&twin.device));
                out.push(view(&s, now));
            }
        }
        out.sort_by(|a, b| (&a.device, &a.rule, &a.group).cmp(&(&b.device, &b.rule, &b.group)));
        audit.write(
            &self.reads,
            &reader.who,
            twin::sharing::ReadKind::List,
            None,
        )?;
        Ok(SuppressionsPage {
            suppressions: out,
            as_of: meta.size,
        })
    }

    /// Registers a statement signed by the authority on `caller`'s behalf
    /// and waits until it is projected ([`crate::delegate::Delegate`]).
    async fn register_on_behalf(
        &self,
        caller: &StakeholderId,
        subject: &str,
        payload: Value,
    ) -> Res<u64> {
        crate::delegate::Delegate::new(
            self.projector.clone(),
            self.scitt.clone(),
            self.sign.clone(),
        )
        .register(caller, subject, payload, Disclosure::Public)
        .await
    }
}

fn role_names(roles: &std::collections::BTreeSet<Role>) -> String {
    if roles.is_empty() {
        return "no role".into();
    }
    let names: Vec<String> = roles
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{r:?}"))
        })
        .collect();
    names.join(", ")
}

/// A suppression on the wire.
fn view(s: &SuppressionRecord, now: i64) -> SuppressionView {
    SuppressionView {
        rule: s.rule.clone(),
        device: s.device.clone(),
        scope: if s.group.is_some() { "group" } else { "device" }.into(),
        group: s.group.clone(),
        reason: s.reason.clone(),
        expires_at: s.expires_at,
        in_force: s.in_force(now),
        by: s.issuer.0.clone(),
        signed_by: s.signed_by.as_ref().map(|a| a.0.clone()),
        entry: s.entry,
        receipt: format!("/entries/{}", s.entry),
    }
}

/// Every suppression of the log, for an audit at one time: which cover a
/// device, and how a suppressed finding shows the one applied to it.
pub(crate) struct InForce {
    records: Vec<SuppressionRecord>,
    /// The twins the records are asserted on, by device id.
    holders: HashMap<String, Twin>,
}

impl InForce {
    /// Reads every suppression (a scan of the devices holding any).
    pub(crate) fn load(projector: &Projector) -> Res<InForce> {
        let store = projector.store();
        let mut records = Vec::new();
        let mut holders = HashMap::new();
        for id in twin_store::posture::holders(store).map_err(ServiceError::internal)? {
            if let Some(t) = store.twin(&id).map_err(ServiceError::internal)? {
                records.extend(
                    twin_store::posture::suppressions_on(store, &t)
                        .map_err(ServiceError::internal)?,
                );
                holders.insert(id.as_str().to_string(), t);
            }
        }
        Ok(InForce { records, holders })
    }

    /// The suppressions that cover `twin` at `now`, as the audit takes them.
    pub(crate) fn covering(&self, meta: &twin::Meta, twin: &Twin, now: i64) -> Vec<Suppression> {
        twin_store::posture::covering(&self.records, meta, twin, now)
            .into_iter()
            .map(SuppressionRecord::as_posture)
            .collect()
    }

    /// How `f` shows its suppression (if any) to `reader`, noted in
    /// `audit`; `twin` is the finding's device.
    pub(crate) fn shown(
        &self,
        f: &Finding,
        reader: &Reader<'_>,
        twin: &Twin,
        audit: &mut Audit,
    ) -> Option<SuppressionView> {
        let applied = f.suppressed_by.as_ref()?;
        let record = twin_store::posture::covering(&self.records, reader.meta, twin, reader.at_s)
            .into_iter()
            .find(|r| r.is(applied))?;
        let mut v = view(record, reader.at_s);
        let holder = self.holders.get(&record.device).unwrap_or(twin);
        match reader.decide(holder, &record.issuer, SUPPRESSION_TYPE) {
            Some(seen) => audit.note(&record.issuer, seen, record.entry, Some(&holder.device)),
            None => v.reason = WITHHELD_REASON.into(),
        }
        Some(v)
    }
}
