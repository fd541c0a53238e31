//! `sectwin-bench rollout`: issue 18's figure, the roll-out view of one
//! release over a million devices (median of N runs), measured with its
//! ceiling in the same run: reading and decoding every twin of the store
//! (what any view over the whole fleet pays from the store), loading the
//! views' in-memory index of slim twins (what the first view after a start
//! pays), then the view itself as the devices' operator sees it on that
//! index (the sharing decisions, the fold, the rows: every later view), and
//! the fold alone over the twins in memory.
//!
//! The fleet is written straight into a twin store by a bulk load (no log:
//! the view reads the twins, not the statements); each twin carries what
//! the fold of its device's signed update reports leaves
//! (`twin::update::Updates`): 60 % patched to the target over the month
//! after the release, 15 % whose update failed, 10 % whose attempt never
//! ended, the rest still on the old release. A benchmark, not a test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use api_types::rollout::RolloutQuery;
use service::rollout::{measure_index, Measure, Plan, RolloutIndex};
use service::Reader;
use twin::projection::{Release, ReleaseManifest, Twin};
use twin::update::{Install, UpdateRecord, UpdateState, Updates};
use twin::{AttributeClass, DeviceId, Lifecycle, Meta, StakeholderId, State};
use twin_store::{StoreState, TwinStore};

use crate::scratch::Scratch;

const MODEL: &str = "model:acme.bench/door";
const ACME: &str = "acme.bench";
const OP: &str = "op.bench";
/// The release's time (2030-06-01T00:00:00Z) and the view's, a month later.
const RELEASED_S: i64 = 1_906_502_400;
const NOW_S: i64 = RELEASED_S + 35 * 86_400;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn digest(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

/// Device `i`'s twin.
fn twin_of(i: u64) -> Result<Twin> {
    let device = DeviceId::new(format!("door-{i:08}")).context("device id")?;
    let base = 10 + i * 8;
    let old = Install {
        entry: base,
        at: Some(RELEASED_S - 30 * 86_400),
        version: "1.0".into(),
        image_sha256: digest(1),
        kind: "device-report".into(),
    };
    let mut updates = Updates::default();
    updates.installed(old);
    let share = i % 20;
    let when = RELEASED_S + i64::try_from(i % (30 * 86_400)).unwrap_or(0);
    let record = |entry: u64, state: UpdateState, reason: Option<&str>| UpdateRecord {
        entry,
        at: Some(when),
        state,
        version: "2.0".into(),
        image_sha256: digest(2),
        release_counter: Some(2),
        reason: reason.map(str::to_string),
    };
    let mut firmware = ("1.0", base);
    if share < 12 {
        updates.installed(Install {
            entry: base + 2,
            at: Some(when + 90),
            version: "2.0".into(),
            image_sha256: digest(2),
            kind: "device-report".into(),
        });
        updates.latest = Some(record(base + 2, UpdateState::Installed, None));
        firmware = ("2.0", base + 2);
    } else if share < 15 {
        updates.latest = Some(record(base + 2, UpdateState::Failed, Some("no space")));
    } else if share < 17 {
        updates.latest = Some(record(base + 1, UpdateState::Attempted, None));
    }
    let mut current = BTreeMap::new();
    current.insert(AttributeClass::Identity, 2 + i);
    current.insert(AttributeClass::Ownership, 3 + i);
    current.insert(AttributeClass::Firmware, firmware.1);
    current.insert(AttributeClass::Custom("device-report".into()), base + 3);
    Ok(Twin {
        device,
        manufacturer: StakeholderId(ACME.into()),
        model: "door".into(),
        serial: format!("SN{i:08}"),
        hardware_id: Some("hw-1".into()),
        device_key: None,
        lifecycle: Lifecycle::Deployed,
        owner: Some(StakeholderId(OP.into())),
        operator: Some(StakeholderId(OP.into())),
        maintainer: None,
        site: Some(format!("site-{}", i % 100)),
        location: None,
        groups: vec!["doors".into()],
        firmware: Some(firmware.0.into()),
        current,
        registered_at: 2 + i,
        updated_at: base + 3,
        statements: 6,
        asset_attributes: BTreeMap::new(),
        clocks: Default::default(),
        updates,
    })
}

fn meta() -> Meta {
    let release = |entry: u64, version: &str, b: u8, support_end: &str| Release {
        entry,
        issuer: StakeholderId(ACME.into()),
        version: version.into(),
        image_sha256: digest(b),
        sbom: None,
        manifest: ReleaseManifest {
            support_end: Some(support_end.into()),
            release_counter: Some(u64::from(b)),
            ..ReleaseManifest::default()
        },
        withdrawn: None,
        issued_at: None,
    };
    let mut meta = Meta::default();
    meta.releases.insert(
        MODEL.into(),
        vec![
            release(0, "1.0", 1, "2030-06-30"),
            release(1, "2.0", 2, "2035-01-01"),
        ],
    );
    meta
}

fn plan(meta: &Meta) -> Result<Plan> {
    let releases = meta.releases.get(MODEL).context("releases")?;
    let mut plan = Plan::release(MODEL, releases, "2.0").context("the release")?;
    plan.since_s = Some(RELEASED_S);
    Ok(plan)
}

/// Runs the benchmark over `devices` twins, `runs` times per figure.
pub fn run(devices: u64, runs: usize, dir: Option<PathBuf>) -> Result<()> {
    let scratch = Scratch::new(&dir, "rollout")?;
    let meta = meta();
    println!("# sectwin-bench rollout: {devices} devices, one release, median of {runs} runs");
    let t = Instant::now();
    let store = TwinStore::open(&scratch.0.join("twins"))?;
    {
        let mut state = StoreState::new(store.clone());
        state.bulk()?;
        for i in 0..devices {
            state.put_twin(twin_of(i)?);
        }
        state.finish(&meta)?;
    }
    println!("fleet written in {:.1} s", t.elapsed().as_secs_f64());
    let query = RolloutQuery {
        stuck_after_days: Some(30),
        rows: Some(100),
    };
    let op = StakeholderId(OP.into());
    let reader = Reader::new(Some(op), &meta, NOW_S);

    // The ceiling: every twin read and decoded, nothing else.
    let mut scan = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let mut after: Option<String> = None;
        let mut n = 0u64;
        loop {
            let page = store.devices(after.as_deref(), 1024)?;
            let Some(last) = page.last() else { break };
            after = Some(last.device.to_string());
            n += page.len() as u64;
        }
        scan.push(t.elapsed());
        anyhow::ensure!(n == devices, "scanned {n} of {devices} twins");
    }
    // The first view after a start: the index loaded from the store.
    let mut loads = Vec::new();
    let mut index = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let ix = RolloutIndex::load(&store, 0).map_err(|e| anyhow::anyhow!("{e}"))?;
        loads.push(t.elapsed());
        index = Some(ix);
    }
    let index = index.context("an index")?;
    anyhow::ensure!(
        index.len() as u64 == devices,
        "indexed {} twins",
        index.len()
    );
    // The view, as the devices' operator, on the loaded index (every view
    // but the first after a start).
    let mut view_times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let (view, _audit) = measure_index(&index, &reader, vec![plan(&meta)?], None, 0, &query)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        view_times.push(t.elapsed());
        last = Some(view);
    }
    let view = last.context("a view")?;
    anyhow::ensure!(view.devices == devices, "counted {} devices", view.devices);
    // The fold alone, over the twins in memory.
    let twins: Vec<Twin> = (0..devices).map(twin_of).collect::<Result<_>>()?;
    let mut fold = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let mut m =
            Measure::new(vec![plan(&meta)?], NOW_S, &query).map_err(|e| anyhow::anyhow!("{e}"))?;
        for twin in &twins {
            m.add(twin);
        }
        let shown = m.shown();
        let v = m
            .finish(&shown, None, 0, |id| {
                // Device ids are door-<i>: the twin is twins[i].
                let i: usize = id
                    .as_str()
                    .trim_start_matches("door-")
                    .parse()
                    .unwrap_or(usize::MAX);
                Ok(twins.get(i).cloned())
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        fold.push(t.elapsed());
        anyhow::ensure!(v.patched == view.patched, "the fold and the view disagree");
    }
    let (scan, load, view_s, fold) = (
        median(scan),
        median(loads),
        median(view_times),
        median(fold),
    );
    println!();
    println!("| figure | median | per device | vs. scan |");
    println!("|---|---|---|---|");
    let per = |d: Duration| d.as_secs_f64() * 1e9 / devices as f64;
    for (name, d) in [
        ("store scan + decode of every twin (ceiling)", scan),
        ("index load: the first view after a start", load),
        (
            "roll-out view of one release (operator, index loaded)",
            view_s,
        ),
        ("roll-out fold alone, twins in memory", fold),
    ] {
        println!(
            "| {name} | {:.3} s | {:.0} ns | {:.2}× |",
            d.as_secs_f64(),
            per(d),
            d.as_secs_f64() / scan.as_secs_f64().max(1e-9)
        );
    }
    println!();
    println!(
        "view: {} devices, {} patched, {} pending, {} stuck, {} past support end; time-to-fix median {} s; {} days in the series",
        view.devices,
        view.patched,
        view.pending,
        view.stuck,
        view.support_ended,
        view.time_to_fix.median_s.unwrap_or_default(),
        view.series.len()
    );
    println!(
        "issue 18 figure (≤ 1 s per release over 1,000,000 devices): {:.3} s",
        view_s.as_secs_f64()
    );
    Ok(())
}
