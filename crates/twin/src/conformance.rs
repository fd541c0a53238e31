//! The conformance suite of the twin projection's store contract (feature
//! `testing`): what every [`ProjectionStore`] must do, checked the same way
//! on the embedded store (`twin-store`) and on PostgreSQL (`pg-store`).
//!
//! [`check`] takes a function that opens the store under test on the same
//! backing storage each time it is called (the previous handle dropped
//! first, as a restarted process would), starting empty. It folds a fleet's
//! statements (registrations, transfers, lifecycle changes, firmware,
//! endorsements, disputes and refused transitions) through an
//! [`OverlayState`] on the store, flushing every few entries, and the same
//! statements into [`MemState`], the reference; then it checks every read
//! against the reference, again after a reopen: twins, pages of devices,
//! the count, search (whose index must follow attributes that changed),
//! histories, digests, claims, refusals and the meta. Then: a write from a
//! stale size is refused and changes nothing; SBOM parts are kept. A failed
//! clause panics with what was expected and what was found.

#![allow(clippy::expect_used, clippy::indexing_slicing)]

use crate::projection::{Projection, Registered};
use crate::statement::SbomComponent;
use crate::store::{index_pairs, Changes, OverlayState, ProjectionStore, StoreError};
use crate::{ConsensusPolicy, DeviceId, MemState, Meta, StakeholderId};

/// Devices of the fleet the suite folds.
const DEVICES: u64 = 60;
/// Entries between two flushes (not a divisor of the rounds: a twin
/// changes several times in one flush, and a flush cuts rounds).
const FLUSH_EVERY: usize = 37;

fn ok<T>(what: &str, r: Result<T, StoreError>) -> T {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// The statements of the fleet: (issuer, subject, payload), in log order.
pub fn statements(devices: u64) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut push = |issuer: &str, d: u64, payload: String| {
        out.push((issuer.to_string(), format!("device:d{d:05}"), payload));
    };
    for d in 0..devices {
        push(
            "acme.example",
            d,
            format!(
                r#"{{"type":"device-registered","manufacturer":"Acme","model":"M-{}","serial":"{d}"}}"#,
                d % 7
            ),
        );
    }
    for d in 0..devices {
        push(
            "acme.example",
            d,
            format!(
                r#"{{"type":"ownership-transferred","owner":"owner.example","operator":"op.example","maintainer":"fix.example","site":"site-{}","groups":["g{}"]}}"#,
                d % 13,
                d % 5
            ),
        );
    }
    for to in ["provisioned", "deployed"] {
        for d in 0..devices {
            push(
                "op.example",
                d,
                format!(r#"{{"type":"lifecycle-changed","to":"{to}"}}"#),
            );
        }
    }
    for d in 0..devices {
        push(
            "op.example",
            d,
            format!(
                r#"{{"type":"firmware-installed","version":"2.{}","image_sha256":"{:064x}"}}"#,
                d % 3,
                d % 11
            ),
        );
    }
    let first_firmware = 4 * devices;
    for d in 0..devices {
        let entry = first_firmware + d;
        if d % 4 == 0 {
            push(
                "owner.example",
                d,
                format!(r#"{{"type":"dispute","entry":{entry},"reason":"not seen"}}"#),
            );
        } else {
            push(
                "owner.example",
                d,
                format!(r#"{{"type":"endorse","entry":{entry}}}"#),
            );
        }
    }
    for d in 0..devices {
        // Every third one is illegal (deployed -> manufactured): refused.
        let to = if d % 3 == 0 {
            "manufactured"
        } else {
            "in_maintenance"
        };
        push(
            "op.example",
            d,
            format!(r#"{{"type":"lifecycle-changed","to":"{to}"}}"#),
        );
    }
    // A second site for some: the index must drop the first.
    for d in (0..devices).step_by(2) {
        push(
            "acme.example",
            d,
            r#"{"type":"ownership-transferred","owner":"owner.example","operator":"op.example","maintainer":"fix.example","site":"moved"}"#.to_string(),
        );
    }
    out
}

fn meta() -> Meta {
    Meta {
        policy: ConsensusPolicy::default(),
        ..Meta::default()
    }
}

/// Folds `entries` into `state`, refusals recorded; `flush` after every
/// `flush_every` entries and at the end.
fn fold<S: crate::State>(
    p: &mut Projection<S>,
    entries: &[(String, String, String)],
    mut refuse: impl FnMut(&mut S, u64, String),
    mut flush: impl FnMut(&mut Projection<S>),
    flush_every: usize,
) {
    for (i, (issuer, subject, payload)) in entries.iter().enumerate() {
        let entry = i as u64;
        let r = p
            .apply(Registered {
                issued_at: None,
                entry,
                issuer,
                subject,
                payload: payload.as_bytes(),
            })
            .map_err(crate::IngestError::from);
        if let Err(e) = &r {
            refuse(p.state_mut(), entry, e.to_string());
        }
        p.settle(entry, &r);
        if (i + 1) % flush_every == 0 {
            flush(p);
        }
    }
    flush(p);
}

/// Checks the contract on the store `open` opens (empty at the first call).
pub fn check<S: ProjectionStore>(mut open: impl FnMut() -> S) {
    let store = open();
    empty(&store);

    let entries = statements(DEVICES);
    let mut reference = Projection::with_state(meta(), MemState::default());
    let mut refused = Vec::new();
    fold(
        &mut reference,
        &entries,
        |_, entry, why| refused.push((entry, why)),
        |_| {},
        usize::MAX,
    );
    assert!(!refused.is_empty(), "the fleet's statements refuse some");

    let state = ok("open the overlay", OverlayState::new(store));
    let mut p = Projection::with_state(meta(), state);
    fold(
        &mut p,
        &entries,
        |s, entry, why| s.refuse(entry, why),
        |p| {
            let m = p.meta().clone();
            ok("flush", p.state_mut().flush(&m));
        },
        FLUSH_EVERY,
    );
    drop(p);

    let store = open();
    same_as(&store, &reference, &refused, "after the fold");
    drop(store);
    let store = open();
    same_as(&store, &reference, &refused, "after a reopen");

    stale_write_refused(&store, &reference);
    sbom_parts(&store);
}

fn empty<S: ProjectionStore>(store: &S) {
    assert!(
        ok("load_meta", store.load_meta()).is_none(),
        "an empty store holds no meta"
    );
    assert_eq!(ok("size", store.size()), 0, "an empty store's size");
    let d = DeviceId::new("d00000").expect("a valid id");
    assert!(ok("twin", store.twin(&d)).is_none(), "no twin when empty");
    assert!(ok("devices", store.devices(None, 10)).is_empty());
    assert_eq!(ok("device_count", store.device_count()), 0);
    assert!(ok("search", store.search("model", "M-1", None, 10)).is_empty());
    assert!(ok("history", store.history(&d, None, 10)).is_empty());
    assert!(ok("claim", store.claim(0)).is_none());
    assert!(ok("refusal", store.refusal(0)).is_none());
}

fn same_as<S: ProjectionStore>(
    store: &S,
    reference: &Projection<MemState>,
    refused: &[(u64, String)],
    when: &str,
) {
    let want = reference.meta();
    let got = ok("load_meta", store.load_meta()).expect("a meta after the fold");
    assert_eq!(
        (got.size, got.applied, got.refused),
        (want.size, want.applied, want.refused),
        "{when}: the meta's size, applied and refused"
    );
    assert_eq!(ok("size", store.size()), want.size, "{when}: size");

    // Twins, one by one and in pages.
    let twins: Vec<_> = reference.state().twins().cloned().collect();
    assert_eq!(twins.len() as u64, DEVICES);
    for t in &twins {
        assert_eq!(
            ok("twin", store.twin(&t.device)).as_ref(),
            Some(t),
            "{when}: twin {}",
            t.device.as_str()
        );
    }
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ok("devices", store.devices(after.as_deref(), 7));
        assert!(page.len() <= 7, "{when}: a page holds at most its limit");
        let Some(last) = page.last() else { break };
        after = Some(last.device.as_str().to_string());
        paged.extend(page);
    }
    assert_eq!(paged, twins, "{when}: every twin, paged in id order");
    assert_eq!(ok("device_count", store.device_count()), DEVICES);

    // Search: the index follows the attributes, including changed ones.
    for (attribute, value) in [
        ("model", "M-3"),
        ("site", "site-5"),
        ("site", "moved"),
        ("group", "g2"),
        ("lifecycle", "in_maintenance"),
        ("lifecycle", "deployed"),
        ("lifecycle", "provisioned"),
        ("owner", "owner.example"),
        ("firmware", "2.1"),
        ("serial", "17"),
    ] {
        let want: Vec<DeviceId> = twins
            .iter()
            .filter(|t| index_pairs(t).contains(&(attribute, value)))
            .map(|t| t.device.clone())
            .collect();
        let got = ok("search", store.search(attribute, value, None, 1000));
        assert_eq!(got, want, "{when}: search {attribute} = {value}");
        if want.len() > 2 {
            let after = ok(
                "search",
                store.search(attribute, value, Some(want[0].as_str()), 1),
            );
            assert_eq!(after, vec![want[1].clone()], "{when}: search paged");
        }
    }
    assert!(ok("search", store.search("site", "nowhere", None, 10)).is_empty());

    // Histories, whole and after a cursor.
    for t in &twins {
        let want: Vec<(u64, String)> = reference.state().history(&t.device).to_vec();
        let got = ok("history", store.history(&t.device, None, 1000));
        let got_kinds: Vec<(u64, String)> = got.iter().map(|(e, k, _)| (*e, k.clone())).collect();
        assert_eq!(got_kinds, want, "{when}: history of {}", t.device.as_str());
        for (entry, _, issuer) in &got {
            let claim_issuer = &entries_issuer(*entry);
            assert_eq!(&issuer.0, claim_issuer, "{when}: issuer of entry {entry}");
        }
        if want.len() > 2 {
            let after = ok("history", store.history(&t.device, Some(want[0].0), 1));
            assert_eq!(after.len(), 1);
            assert_eq!(after[0].0, want[1].0, "{when}: history after a cursor");
        }
    }

    // Digests: the firmware images, by digest, in log order.
    for i in 0..11u64 {
        let hex = format!("{i:064x}");
        let mut digest = [0u8; 32];
        for (k, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).expect("hex");
        }
        let want: Vec<(u64, String)> = reference
            .state()
            .digest_entries(&digest)
            .into_iter()
            .map(|(e, f)| (e, f.to_string()))
            .collect();
        assert!(!want.is_empty());
        let got = ok("digest_entries", store.digest_entries(&digest, None, 1000));
        assert_eq!(got, want, "{when}: entries naming digest {i}");
        let after = ok(
            "digest_entries",
            store.digest_entries(&digest, Some(want[0].0), 1000),
        );
        assert_eq!(after, want[1..].to_vec(), "{when}: digests after a cursor");
    }

    // Claims: each twin's current ones, with their endorsements and disputes.
    for t in &twins {
        for entry in t.current.values() {
            assert_eq!(
                ok("claim", store.claim(*entry)),
                reference.claim(*entry),
                "{when}: claim {entry}"
            );
        }
    }

    // Refusals.
    for (entry, why) in refused {
        assert_eq!(
            ok("refusal", store.refusal(*entry)).as_deref(),
            Some(why.as_str()),
            "{when}: why entry {entry} was refused"
        );
    }
    assert!(ok("refusal", store.refusal(0)).is_none());
}

/// The issuer of `entry` in [`statements`] of [`DEVICES`] devices.
fn entries_issuer(entry: u64) -> String {
    let entries = statements(DEVICES);
    entries[entry as usize].0.clone()
}

fn stale_write_refused<S: ProjectionStore>(store: &S, reference: &Projection<MemState>) {
    let size = reference.meta().size;
    let twin = reference.state().twins().next().cloned().expect("a twin");
    let mut changed = twin.clone();
    changed.site = Some("stale".into());
    let mut changes = Changes::default();
    changes
        .twins
        .insert(twin.device.clone(), (changed, Some(twin.clone())));
    let mut m = reference.meta().clone();
    m.size = size + 1;
    match store.write(changes, Some(&m), size - 1) {
        Err(StoreError::Moved { expected, stored }) => {
            assert_eq!((expected, stored), (size - 1, size), "the sizes reported");
        }
        other => panic!("a write from a stale size: expected Moved, got {other:?}"),
    }
    assert_eq!(ok("twin", store.twin(&twin.device)), Some(twin));
    assert!(ok("search", store.search("site", "stale", None, 10)).is_empty());
    assert_eq!(
        ok("size", store.size()),
        size,
        "the refused write moved nothing"
    );
}

fn sbom_parts<S: ProjectionStore>(store: &S) {
    let size = ok("size", store.size());
    let components = vec![
        SbomComponent {
            name: "openssl".into(),
            group: None,
            version: Some("3.0.7".into()),
            purl: Some("pkg:generic/openssl@3.0.7".into()),
            cpe: vec!["cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*".into()],
            sha256: None,
        },
        SbomComponent {
            name: "busybox".into(),
            group: Some("core".into()),
            version: Some("1.36.1".into()),
            purl: None,
            cpe: Vec::new(),
            sha256: Some(format!("{:064x}", 7)),
        },
    ];
    let mut changes = Changes::default();
    changes.sboms.insert(size, components.clone());
    changes.history.push((
        DeviceId::new("d00001").expect("a valid id"),
        size,
        "sbom".into(),
        StakeholderId("acme.example".into()),
    ));
    let mut m = ok("load_meta", store.load_meta()).expect("a meta");
    m.size = size + 1;
    ok("write an SBOM part", store.write(changes, Some(&m), size));
    assert_eq!(ok("sbom_part", store.sbom_part(size)), Some(components));
    assert_eq!(ok("sbom_part", store.sbom_part(size + 7)), None);
    assert_eq!(ok("size", store.size()), size + 1);
    let last = ok(
        "history",
        store.history(&DeviceId::new("d00001").expect("id"), None, 1000),
    );
    assert_eq!(
        last.last().map(|(e, k, _)| (*e, k.as_str())),
        Some((size, "sbom"))
    );
}
