//! `sectwin-bench reprioritize`: issue 19's re-prioritization figures for
//! the register engine alone, in process (no log, no HTTP, no store): the
//! part of the node's register step that scales with the fleet.
//!
//! 1. The advisories of a CVE JSON 5 dump, `releases` generated firmware
//!    releases of `components` components ([`crate::bench_vuln`]'s
//!    generator, as `bench register` uses) and `devices` devices on them,
//!    as a [`risk_register::Snapshot`]; the engine and the first register.
//! 2. One new known-exploited entry (a different CVE exposing many devices
//!    each run): [`risk_register::Engine::register_reprioritized`] with the
//!    one CVE named, median of `runs` (each on the register the run before
//!    made, as the node does).
//! 3. CISA's whole KEV catalogue (the vendored snapshot, 1,404 entries);
//!    then a day of EPSS scores for every CVE of the dump: the whole
//!    register re-prioritized, once each.
//!
//! `bench register` measures the same through a running node, with the
//! twins read and the answer to the API; this one isolates the engine so
//! that its part is measured quickly and without the node's noise. A
//! benchmark, not a test: nothing here asserts a time, but each result is
//! checked against a full build of the same snapshot.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use risk_register::{DeviceFacts, Engine, Register, ReleaseFacts, Snapshot};
use vuln::exploit::{EpssFacts, ExploitIndex, KevFacts};

use crate::bench_vuln::{generate_releases, import_once, release_of_device, Rng};

const MAKER: &str = "maker.example";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn component_of(c: &vuln_formats::model::Component) -> twin::statement::SbomComponent {
    twin::statement::SbomComponent {
        name: c.name.clone(),
        group: c.group.clone(),
        version: c.version.clone(),
        purl: c.purl.as_ref().map(|p| p.as_str().to_string()),
        cpe: c.cpes.iter().map(|x| x.as_str().to_string()).collect(),
        sha256: None,
    }
}

fn kev_entry(list: &str) -> KevFacts {
    KevFacts {
        list: list.to_string(),
        date_added: "2026-12-01".into(),
        due_date: "2026-12-22".into(),
        ransomware: false,
        required_action: "patch".into(),
    }
}

/// The snapshot of the generated fleet.
fn snapshot(
    data: &Path,
    devices: u64,
    releases: u32,
    components: u32,
) -> Result<(Snapshot, vuln::index::AdvisoryIndex)> {
    let (index, _, _, took) = import_once(data)?;
    eprintln!("  advisories imported in {:.1} s", took.as_secs_f64());
    let mut rng = Rng(0x5EC7_u64);
    let generated = generate_releases(&index, releases, components, &mut rng)?;
    let model = |line: u32| format!("model:{MAKER}/L{line:03}");
    let version = |position: u32| format!("1.{position}.0");
    let release_facts: Vec<ReleaseFacts> = generated
        .iter()
        .map(|r| ReleaseFacts {
            model: model(r.line),
            version: version(r.position),
            manufacturer: MAKER.into(),
            components: Some(r.components.iter().map(component_of).collect()),
        })
        .collect();
    let device_facts: Vec<DeviceFacts> = (0..devices)
        .map(|d| {
            let r = &generated[release_of_device(&mut rng, d, generated.len())];
            DeviceFacts {
                device: format!("d{d:07}"),
                model: Some(model(r.line)),
                manufacturer: MAKER.into(),
                owner: Some("owner.example".into()),
                operator: Some("op.example".into()),
                maintainer: None,
                site: Some(format!("site-{}", d % 1000)),
                firmware: Some(version(r.position)),
                ai_model: None,
                firmware_status: Some("agreed".into()),
                decommissioned: false,
                vex: Default::default(),
                decisions: Default::default(),
                findings: Vec::new(),
            }
        })
        .collect();
    let snapshot = Snapshot {
        today: risk::Date::parse("2026-12-05")?,
        policy: risk::DeadlinePolicy::default(),
        releases: release_facts,
        devices: device_facts,
        release_vex: Default::default(),
        release_plans: Default::default(),
        model_risks: Default::default(),
        exploitation: Arc::default(),
        mission: vuln::exploit::MissionWellbeing::Medium,
        missions: Arc::default(),
        ssvc_statements: Arc::default(),
        discovered: Arc::default(),
    };
    Ok((snapshot, index))
}

/// The register re-prioritized for `exploitation`, checked against a full
/// build when `check`; (register, time).
fn step(
    engine: &Engine,
    snapshot: &mut Snapshot,
    previous: &Register,
    exploitation: ExploitIndex,
    only: Option<&BTreeSet<String>>,
    check: bool,
) -> Result<(Register, Duration)> {
    snapshot.exploitation = Arc::new(exploitation);
    let t = Instant::now();
    let (register, _) = engine
        .register_reprioritized(snapshot, previous, only)
        .context("nothing changed")?;
    let took = t.elapsed();
    if check {
        let full = engine.register(snapshot);
        ensure!(
            full == register,
            "the re-prioritized register differs from a full build"
        );
    }
    Ok((register, took))
}

/// Drops a replaced register on a thread of its own, as the node does.
fn drop_aside(register: Register) {
    std::thread::spawn(move || drop(register));
}

/// Runs the benchmark and prints its table.
pub fn run(data: &Path, devices: u64, releases: u32, components: u32, runs: usize) -> Result<()> {
    let runs = runs.max(1);
    let (mut snapshot, index) = snapshot(data, devices, releases, components)?;
    let t = Instant::now();
    let engine = Engine::new(&snapshot, &index, &[])?;
    let engine_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut register = engine.register(&snapshot);
    let first_s = t.elapsed().as_secs_f64();
    eprintln!(
        "  engine {engine_s:.1} s, first register {first_s:.1} s: {} release risks",
        register.risks.len()
    );

    // The CVEs exposing the most devices, worst first.
    let mut sized: Vec<(usize, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    for r in register.risks.iter() {
        let Some(v) = r.vulnerability.as_deref() else {
            continue;
        };
        if !v.starts_with("CVE-") || !seen.insert(v.to_string()) {
            continue;
        }
        let n: usize = register
            .risks_of_vulnerability(v)
            .iter()
            .filter_map(|r| {
                Some(register.devices.count_on(&format!(
                    "{}@{}",
                    r.model.as_deref()?,
                    r.release.as_deref()?
                )))
            })
            .sum();
        sized.push((n, v.to_string()));
    }
    sized.sort_by(|a, b| b.cmp(a));
    ensure!(sized.len() > runs, "too few exposing CVEs");

    let mut exploitation = ExploitIndex::new();
    let mut one = Vec::new();
    let mut one_devices = Vec::new();
    for (n, cve) in sized.iter().take(runs) {
        exploitation.entry(cve).kev.push(kev_entry("bench-one"));
        let only: BTreeSet<String> = [cve.clone()].into();
        let (next, took) = step(
            &engine,
            &mut snapshot,
            &register,
            exploitation.clone(),
            Some(&only),
            false,
        )?;
        drop_aside(std::mem::replace(&mut register, next));
        one.push(ms(took));
        one_devices.push(*n as f64);
    }
    // Checked once, after the runs (a full build takes tens of seconds).
    ensure!(
        engine.register(&snapshot) == register,
        "one-entry steps differ from a full build"
    );

    let mut gz = Vec::new();
    std::fs::File::open(crate::bench_exploit::catalogue_path())
        .context("the KEV catalogue")?
        .read_to_end(&mut gz)?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut bytes)?;
    let catalog = vuln_formats::kev::parse(&bytes, &vuln_formats::Limits::DEFAULT)?;
    for e in &catalog.entries {
        exploitation.entry(&e.cve).kev.push(KevFacts {
            list: "cisa-kev".into(),
            date_added: e.date_added.clone(),
            due_date: e.due_date.clone(),
            ransomware: matches!(e.ransomware, vuln_formats::kev::RansomwareUse::Known),
            required_action: e.required_action.clone(),
        });
    }
    let (next, kev_took) = step(
        &engine,
        &mut snapshot,
        &register,
        exploitation.clone(),
        None,
        true,
    )?;
    drop_aside(std::mem::replace(&mut register, next));

    let mut cves: Vec<&str> = index
        .advisories()
        .map(|a| a.id().as_str())
        .filter(|id| id.starts_with("CVE-"))
        .collect();
    cves.sort_unstable();
    for (i, cve) in cves.iter().enumerate() {
        let mut score = ((i * 7919) % 100_000) as f64 / 100_000.0;
        score = score * score * score;
        exploitation.entry(cve).epss = Some(EpssFacts {
            score,
            percentile: (i as f64 + 0.5) / cves.len() as f64,
            day: 20_789,
            previous: None,
        });
    }
    let (next, epss_took) = step(&engine, &mut snapshot, &register, exploitation, None, true)?;
    drop_aside(std::mem::replace(&mut register, next));

    println!(
        "# sectwin-bench reprioritize: {devices} devices on {releases} releases × {components} components; {} release risks (engine alone, in process)",
        register.risks.len()
    );
    println!("| figure | ms |");
    println!("|---|---:|");
    println!(
        "| one new KEV entry (median of {runs}; {:.0} devices each, median) | {:.1} |",
        median(one_devices),
        median(one)
    );
    println!(
        "| whole KEV catalogue ({} entries) | {:.1} |",
        catalog.entries.len(),
        ms(kev_took)
    );
    println!(
        "| EPSS for every CVE of the dump ({} CVEs) | {:.1} |",
        cves.len(),
        ms(epss_took)
    );
    println!("| first register (full build) | {:.1} |", first_s * 1e3);
    Ok(())
}
