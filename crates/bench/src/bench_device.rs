//! `sectwin-bench device`: issue 16's figures for devices that speak for
//! themselves, in one run, against a Mosquitto this benchmark starts (its
//! own port and configuration file in the scratch directory, killed at the
//! end), each figure beside the ceiling it is compared with:
//!
//! 1. The broker's ceiling for these payloads: `reports` reports of a
//!    `devices`-device simulated fleet, signed beforehand, published with
//!    QoS 1 by the simulator's publisher while a plain subscriber (QoS 1,
//!    auto-ack, nothing else) counts them: messages/s from the first to the
//!    last received.
//! 2. The batch Ed25519 ceiling: `scitt::verify_many` over the same signed
//!    reports with their devices' keys, in batches of the ingester's size,
//!    on every core (and on one, which is what one ingester task gets).
//! 3. Ingest: a node (its log, twins and registration policy) with the
//!    fleet registered (`device-registered` with `device_key`, signed by a
//!    manufacturer the node's registry knows; not timed, but shown), the
//!    ingester subscribed to the broker, the simulator publishing fresh
//!    reports as fast as the broker takes them (in chunks, see
//!    [`PUBLISH_CHUNK`]):
//!    reports/s from the first publish to the last report accepted (the
//!    ingester's counters), each run checked to accept every report and
//!    refuse none.
//! 4. Latency at half the median ingest rate, ~10 s of reports published
//!    on schedule: publish → durable registration (the ingester's accepted
//!    count reaching the report; reports are delivered and registered in
//!    order), and, for a sample, publish → covered by a published
//!    checkpoint (a receipt can be issued). Publish-to-alarm starts with
//!    the first: no alarm is raised yet.
//! 5. The posture audit of `audit_twins` synthetic twins (most clean, one
//!    in twenty with one planted weakness, every rule of the default
//!    library planted): `FleetIndex::build` + `Auditor::audit_fleet` on one
//!    and two threads, the findings checked against what was planted.
//!
//! A benchmark, not a test: nothing here asserts a time. The publisher (and
//! in 1 the plain subscriber) runs in this process, on the same two cores
//! as what it measures, in every figure alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use device_channel::simulate::{fleet, publish, FirmwareImage, Plant, SimDevice};
use device_channel::topic::REPORTS_TOPIC_FILTER;
use device_channel::{IngestConfig, IngestStats, Ingester};
use log_service::LogConfig;
use posture::audit::{Auditor, DevicePosture, FleetIndex, RuleSet};
use posture::report::{DeviceReport, ReportText, Sha256};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use scitt::{Algorithm, PublicKey, SignedStatement, SigningKey, StatementBuilder};
use serde_json::{json, Value};

use crate::scratch::Scratch;

/// The broker binary (Debian's package path; else `mosquitto` on `PATH`).
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// QoS 1 messages in flight to one client. Mosquitto's default of 20 caps
/// any subscriber that acknowledges only after a durable write (the
/// ingester) at 20 messages per group commit.
const BROKER_INFLIGHT_MAX: u32 = 1_000;
/// Messages queued for one client beyond those in flight (the default,
/// 1000, would drop QoS 1 messages while the ingester is behind the
/// publisher).
const BROKER_QUEUED_MAX: u32 = 1_000_000;
/// How long to wait for the broker to listen.
const BROKER_START_WAIT_MS: u64 = 10_000;
/// The simulated fleet's seed and id prefix.
const FLEET_SEED: u64 = 0x5EC7_DE71;
const FLEET_PREFIX: &str = "bd";
/// One device in this many has a weakness or incident planted in its
/// reports (the ingester registers them all alike).
const FLEET_PLANTED_EVERY: usize = 50;
/// The node's log and its manufacturer.
const ORIGIN: &str = "bench.device.example/log";
const MAKER: &str = "maker.example";
/// `device-registered` statements per `register_batch` during the set-up.
const REGISTER_BATCH: usize = 2048;
/// Statements per `verify_many` call in the ceiling: the ingester's batch.
const VERIFY_BATCH: usize = device_channel::ingest::BATCH_REPORTS_MAX;
/// The throughput runs publish in chunks of this many reports, keeping at
/// most [`OUTSTANDING_MAX`] published and not yet handled by the ingester.
/// Mosquitto 2.0.11 stops keeping `max_inflight_messages` once
/// acknowledgements flow (with 1000, a raw MQTT 3.1.1 subscriber that
/// acknowledged 512 messages once was sent 4,438; the code path is the one
/// eclipse-mosquitto/mosquitto #2301 points at, `db__message_delete_outgoing`)
/// and hands the ingester the whole backlog. That once deadlocked the
/// ingester (its event loop waited on the worker, the worker on room to
/// acknowledge); it now holds such a flood itself, so the throughput runs
/// publish as fast as the broker takes them.
const PUBLISH_CHUNK: usize = 2048;
/// At most this many reports published ahead of the ingester: no limit
/// (more than any run publishes), see [`PUBLISH_CHUNK`].
const OUTSTANDING_MAX: u64 = u64::MAX / 2;
/// Tampered reports planted in the latency run (publish-to-alarm samples).
const ALARM_SAMPLES: usize = 100;
/// Seconds of reports published for the latency figure.
const LATENCY_S: u64 = 10;
/// One report in this many is followed until a checkpoint covers it.
const RECEIPT_SAMPLE_EVERY: usize = 20;
/// How often the ingester's counters are read, in microseconds.
const POLL_US: u64 = 500;
/// How often progress is shown on stderr, in seconds.
const PROGRESS_S: u64 = 5;
/// Longest time without progress before a figure is given up.
const STALL_S_MAX: u64 = 60;
/// Longest wait for the twins to catch up with the log.
const PROJECTED_WAIT_S_MAX: u64 = 600;
/// One synthetic twin in this many has one planted weakness (5 %).
const AUDIT_PLANTED_EVERY: usize = 20;
/// Linux reports thread CPU time in `/proc` in these units (USER_HZ).
const CLOCK_TICKS_PER_S: f64 = 100.0;

/// A message the simulator publishes: (topic, signed report).
type Message = (String, Vec<u8>);

/// The benchmark's options.
pub struct Options {
    /// Devices in the simulated fleet.
    pub devices: usize,
    /// Reports per throughput run.
    pub reports: usize,
    /// Runs per throughput figure (the median is reported).
    pub runs: usize,
    /// Synthetic twins audited.
    pub audit_twins: usize,
    /// Skip the node: no ingest, no latency.
    pub skip_ingest: bool,
    /// Where to put the node and the broker's files.
    pub dir: Option<PathBuf>,
}

/// Runs the benchmark and prints its table.
pub async fn run(o: Options) -> Result<()> {
    let runs = o.runs.max(1);
    let s = Scratch::new(&o.dir, "device")?;
    let broker = Broker::start(&s.0)?;
    let port = broker.port;
    eprintln!(
        "mosquitto on 127.0.0.1:{port} ({})",
        broker.settings.join(", ")
    );

    // The fleet and the first set of signed reports.
    let started = Instant::now();
    let devices = o.devices;
    let mut sims = tokio::task::spawn_blocking(move || {
        let mut sims = fleet(FLEET_SEED, FLEET_PREFIX, devices);
        for (i, d) in sims.iter_mut().enumerate().step_by(FLEET_PLANTED_EVERY) {
            let plant = Plant::ALL[(i / FLEET_PLANTED_EVERY) % Plant::ALL.len()];
            d.plants.push(plant);
        }
        sims
    })
    .await?;
    let fw = firmware();
    let (back, messages) = signed_reports(sims, 0, o.reports, &fw).await?;
    sims = back;
    let payload_bytes =
        messages.iter().map(|(_, p)| p.len()).sum::<usize>() as f64 / messages.len().max(1) as f64;
    eprintln!(
        "{} devices, {} reports signed ({payload_bytes:.0} bytes each on average) in {:.1} s",
        sims.len(),
        messages.len(),
        started.elapsed().as_secs_f64()
    );

    // 1. The broker's ceiling.
    let mut plain = Vec::new();
    for run in 0..runs {
        let rate = broker_ceiling(port, &messages, run).await?;
        eprintln!("  broker ceiling, run {}: {rate:.0} msgs/s", run + 1);
        plain.push(rate);
    }
    let plain = median(plain);

    // 2. The batch Ed25519 ceiling on the same statements.
    let pairs: Vec<(SignedStatement, PublicKey)> = messages
        .iter()
        .map(|(topic, bytes)| {
            let st = SignedStatement::parse(bytes).map_err(|e| anyhow!("{topic}: {e}"))?;
            let id = topic
                .strip_prefix("sectwin/devices/")
                .and_then(|t| t.strip_suffix("/reports"))
                .context("a reports topic")?;
            let i: usize = id
                .strip_prefix(FLEET_PREFIX)
                .and_then(|n| n.parse().ok())
                .context("a fleet device id")?;
            let key = sims.get(i).context("a fleet device")?.key.public_key();
            Ok((st, key))
        })
        .collect::<Result<_>>()?;
    let pairs = Arc::new(pairs);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut ceilings = BTreeMap::new();
    for threads in [cores, 1] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let p = pairs.clone();
            rates.push(tokio::task::spawn_blocking(move || ed25519_ceiling(&p, threads)).await??);
        }
        let rate = median(rates);
        eprintln!("  Ed25519 batch ceiling, {threads} thread(s): {rate:.0} statements/s");
        ceilings.insert(threads, rate);
    }
    drop(pairs);
    let ceiling = ceilings.get(&cores).copied().unwrap_or(f64::NAN);
    let ceiling_one = ceilings.get(&1).copied().unwrap_or(f64::NAN);

    // 3 and 4. Ingest and latency, through a node.
    let ingest = if o.skip_ingest {
        None
    } else {
        Some(ingest(&s.0, port, sims, messages, runs, &fw, broker.pid()).await?)
    };

    // 5. The posture audit (no broker needed).
    let settings = broker.settings.join(", ");
    drop(broker);
    let twins = o.audit_twins;
    let audit = tokio::task::spawn_blocking(move || audit(twins, runs)).await??;

    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    println!(
        "devices through a real broker: {} simulated devices, {} reports per run ({payload_bytes:.0}-byte COSE_Sign1, Ed25519), median of {runs} runs",
        o.devices, o.reports
    );
    println!(
        "broker: mosquitto {} started by the benchmark on 127.0.0.1:{port}: {settings}",
        broker_version(),
    );
    println!("| figure | value |");
    println!("|---|---:|");
    println!(
        "| broker ceiling: the simulator publishing QoS 1, a plain subscriber (QoS 1, auto-ack) counting, first → last received | {plain:.0} msgs/s |"
    );
    println!(
        "| Ed25519 batch verification ceiling (`scitt::verify_many`, batches of {VERIFY_BATCH}), {cores} threads | {ceiling:.0} statements/s |"
    );
    println!(
        "| Ed25519 batch verification ceiling, 1 thread (one ingester task verifies each batch) | {ceiling_one:.0} statements/s |"
    );
    if let Some(i) = &ingest {
        println!(
            "| set-up, not in the figures: {} `device-registered` (with `device_key`) signed, registered (`register_batch`) and projected | {:.1} s |",
            o.devices, i.setup_s
        );
        println!(
            "| ingest: reports received, checked, batch-verified, registered durably and acknowledged, first publish → last accepted, the publisher as fast as the broker takes them (target ≥ 10,000) | {:.0} reports/s (runs: {}) |",
            i.rate,
            i.rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
        );
        println!("| ratio, ingest / broker ceiling | {:.2} |", i.rate / plain);
        println!(
            "| ratio, ingest / Ed25519 ceiling ({cores} threads; 1 thread) | {:.2}; {:.2} |",
            i.rate / ceiling,
            i.rate / ceiling_one
        );
        println!(
            "| CPU during an ingest run (median run): this process (ingester, log, twins, and the simulator's publisher) / mosquitto, of {cores} cores | {:.2} / {:.2} cores |",
            i.cpu_self, i.cpu_broker
        );
        println!(
            "| same run, by thread (cores) | {} |",
            i.threads
                .iter()
                .map(|(name, c)| format!("{name} {c:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "| twins caught up with the log after the last report accepted (median run) | {:.1} s |",
            i.projected_s
        );
        let l = &i.latency;
        println!(
            "| publish → durable registration (the first part of publish-to-alarm), {} reports at {} reports/s (half the ingest rate), p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
            l.reports,
            l.rate,
            ms(&l.durable, 0.5),
            ms(&l.durable, 0.99),
            l.durable.max() as f64 / 1e3
        );
        println!(
            "| publish → covered by a published checkpoint (receipt), {} sampled of them, p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
            l.receipt.len(),
            ms(&l.receipt, 0.5),
            ms(&l.receipt, 0.99),
            l.receipt.max() as f64 / 1e3
        );
        println!(
            "| detector: a fresh fold of the whole log (as at a restart or reindex), {} reports measured, one thread | {:.1} s ({:.0} reports/s) |",
            i.fold.0,
            i.fold.1,
            i.fold.0 as f64 / i.fold.1.max(1e-9)
        );
        println!(
            "| publish → alarm raised by the detector (a tampered image, `firmware-not-released`), {} planted among them, p50 / p99 / max (target p99 ≤ 1 s) | {:.1} / {:.1} / {:.1} ms |",
            l.alarm.len(),
            ms(&l.alarm, 0.5),
            ms(&l.alarm, 0.99),
            l.alarm.max() as f64 / 1e3
        );
    }
    println!(
        "| posture audit set-up, not in the figures: {} synthetic twins ({} with one planted weakness), built in | {:.1} s |",
        audit.twins, audit.planted, audit.build_s
    );
    for (threads, index_s, audit_s) in &audit.timings {
        println!(
            "| posture audit of {} twins, {} rules, {threads} thread(s): `FleetIndex::build` + `audit_fleet`, medians (target ≤ 10 s) | {:.2} s + {:.2} s = {:.2} s |",
            audit.twins,
            audit.rules,
            index_s,
            audit_s,
            index_s + audit_s
        );
    }
    println!(
        "| findings (every one planted, per rule as planted) | {} on {} devices |",
        audit.findings, audit.planted
    );
    if ingest.is_some() {
        println!("The node's detector folds every registered report while the ingest runs (its cost is in the reports/s); the posture audit runs on read.");
    }
    Ok(())
}

/// The firmware the simulated devices run.
fn firmware() -> FirmwareImage {
    FirmwareImage {
        version: "2.4.0".into(),
        image_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A Mosquitto of our own, killed when dropped.
struct Broker {
    child: Child,
    port: u16,
    settings: Vec<String>,
}

impl Broker {
    fn start(dir: &Path) -> Result<Broker> {
        // A port free now (the broker binds it a moment later).
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let settings = vec![
            format!("max_inflight_messages {BROKER_INFLIGHT_MAX}"),
            format!("max_queued_messages {BROKER_QUEUED_MAX}"),
            "persistence false".to_string(),
            "set_tcp_nodelay true".to_string(),
        ];
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\n{}\nlog_dest file {}\nlog_type error\nlog_type warning\n",
                settings.join("\n"),
                log.display()
            ),
        )?;
        let binary = if Path::new(MOSQUITTO).exists() {
            MOSQUITTO
        } else {
            "mosquitto"
        };
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (apt install mosquitto)"))?;
        let mut broker = Broker {
            child,
            port,
            settings,
        };
        let deadline = Instant::now() + Duration::from_millis(BROKER_START_WAIT_MS);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(broker);
            }
            if let Ok(Some(status)) = broker.child.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                bail!("mosquitto exited ({status}): {log}");
            }
            if Instant::now() > deadline {
                bail!("mosquitto did not listen on {port} within {BROKER_START_WAIT_MS} ms");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn broker_version() -> String {
    let binary = if Path::new(MOSQUITTO).exists() {
        MOSQUITTO
    } else {
        "mosquitto"
    };
    // `mosquitto -h` prints "mosquitto version X" and exits non-zero.
    Command::new(binary)
        .arg("-h")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("mosquitto version "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}

/// `count` signed reports, round-robin over the fleet from device `first`
/// (each device's counter moving on), in publishing order, signed on every
/// core: (topic, payload). Answers the fleet back.
async fn signed_reports(
    sims: Vec<SimDevice>,
    first: usize,
    count: usize,
    fw: &FirmwareImage,
) -> Result<(Vec<SimDevice>, Vec<Message>)> {
    let fw = fw.clone();
    tokio::task::spawn_blocking(move || {
        let mut sims = sims;
        let n = sims.len();
        if n == 0 {
            bail!("no devices");
        }
        let now = clock::Clock::now_unix_s(&clock::SystemClock);
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let per = n.div_ceil(threads).max(1);
        let parts: Vec<Vec<(usize, Message)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sims
                .chunks_mut(per)
                .enumerate()
                .map(|(c, part)| {
                    let fw = &fw;
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for (k, d) in part.iter_mut().enumerate() {
                            let device = c * per + k;
                            // The first message index that goes to `device`.
                            let mut i = (device + n - first % n) % n;
                            while i < count {
                                let report = d.next_report(fw, now);
                                out.push((i, (d.topic(), d.sign(&report))));
                                i += n;
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut slots: Vec<Option<Message>> = vec![None; count];
        for (i, m) in parts.into_iter().flatten() {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(m);
            }
        }
        let messages: Vec<Message> = slots.into_iter().flatten().collect();
        if messages.len() != count {
            bail!("{} of {count} reports signed", messages.len());
        }
        Ok((sims, messages))
    })
    .await?
}

/// Figure 1: `messages` published with QoS 1 while a plain subscriber
/// counts them; messages/s from the first received to the last.
async fn broker_ceiling(port: u16, messages: &[Message], run: usize) -> Result<f64> {
    let n = messages.len() as u64;
    let pid = std::process::id();
    let mut options = MqttOptions::new(format!("bench-plain-{pid}-{run}"), "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    client
        .subscribe(REPORTS_TOPIC_FILTER, QoS::AtLeastOnce)
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(STALL_S_MAX);
    loop {
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("plain subscriber: {e}"),
            Err(_) => bail!("plain subscriber: no SUBACK within {STALL_S_MAX} s"),
        }
    }
    let counter = tokio::spawn(async move {
        let mut first = None;
        let mut last = None;
        let mut count = 0u64;
        while count < n {
            let event = tokio::time::timeout(Duration::from_secs(STALL_S_MAX), eventloop.poll())
                .await
                .map_err(|_| anyhow!("plain subscriber: {count} of {n} received, then nothing for {STALL_S_MAX} s"))?;
            match event {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    let now = Instant::now();
                    first.get_or_insert(now);
                    last = Some(now);
                    count += 1;
                }
                Ok(_) => {}
                Err(e) => bail!("plain subscriber: {e}"),
            }
        }
        Ok::<_, anyhow::Error>((first, last))
    });
    let published = publish(
        "127.0.0.1",
        port,
        &format!("bench-sim-plain-{pid}-{run}"),
        messages.to_vec(),
        0,
    )
    .await?;
    if published.acknowledged != n {
        bail!("{} of {n} publishes acknowledged", published.acknowledged);
    }
    let (first, last) = counter.await??;
    let _ = client.disconnect().await;
    let (Some(first), Some(last)) = (first, last) else {
        bail!("nothing received");
    };
    Ok(n as f64 / last.duration_since(first).as_secs_f64().max(1e-9))
}

/// Figure 2: statements/s of `verify_many` in batches of [`VERIFY_BATCH`]
/// on `threads` threads; every signature must verify.
fn ed25519_ceiling(pairs: &[(SignedStatement, PublicKey)], threads: usize) -> Result<f64> {
    let t = Instant::now();
    let failed: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(pairs.len().div_ceil(threads.max(1)).max(1))
            .map(|part| {
                scope.spawn(move || {
                    let mut failed = 0;
                    for batch in part.chunks(VERIFY_BATCH) {
                        let items: Vec<(&SignedStatement, &PublicKey)> =
                            batch.iter().map(|(s, k)| (s, k)).collect();
                        failed += scitt::verify_many(&items)
                            .iter()
                            .filter(|r| r.is_err())
                            .count();
                    }
                    failed
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(1)).sum()
    });
    let elapsed = t.elapsed().as_secs_f64();
    if failed != 0 {
        bail!("{failed} signatures did not verify: the generator is wrong");
    }
    Ok(pairs.len() as f64 / elapsed)
}

/// Figures 3 and 4.
struct Ingested {
    setup_s: f64,
    rate: f64,
    rates: Vec<f64>,
    cpu_self: f64,
    cpu_broker: f64,
    threads: Vec<(String, f64)>,
    projected_s: f64,
    latency: Latency,
    /// A fresh fold of the whole log by the detector (as after a restart):
    /// reports measured, seconds.
    fold: (u64, f64),
}

struct Latency {
    reports: usize,
    rate: u64,
    durable: hdrhistogram::Histogram<u64>,
    receipt: hdrhistogram::Histogram<u64>,
    alarm: hdrhistogram::Histogram<u64>,
}

/// One ingest run.
struct Run {
    rate: f64,
    cpu_self: f64,
    cpu_broker: f64,
    threads: Vec<(String, f64)>,
    projected_s: f64,
}

async fn ingest(
    dir: &Path,
    port: u16,
    mut sims: Vec<SimDevice>,
    first_messages: Vec<Message>,
    runs: usize,
    fw: &FirmwareImage,
    broker_pid: u32,
) -> Result<Ingested> {
    let started = Instant::now();
    let (node, _) = node::open_node(
        &dir.join("node"),
        Some(ORIGIN),
        LogConfig::default(),
        None,
        transparency::RegistrationPolicy::default(),
    )
    .await?;
    eprintln!(
        "node opened (checkpoint interval {} ms); registering {} devices",
        LogConfig::default().checkpoint_interval.as_millis(),
        sims.len()
    );
    // The manufacturer, through the node's registry.
    let maker = Arc::new(SigningKey::generate(
        Algorithm::EdDSA,
        &mut rand_core::OsRng,
    ));
    let registered = node
        .scitt
        .register(node.authority_statement(
            &format!("stakeholder:{MAKER}"),
            &json!({"type": "stakeholder-registered", "name": MAKER, "roles": ["manufacturer"],
                    "keys": [{"pem": maker.public_key().to_pem()}]}),
        ))
        .await
        .map_err(|e| anyhow!("registering the manufacturer: {e}"))?;
    wait_projected(&node, registered.index.get() + 1).await?;
    // The fleet: one `device-registered` per device, with its key.
    let keys: Arc<Vec<(String, String)>> = Arc::new(
        sims.iter()
            .map(|d| (d.id.clone(), d.key.public_key().to_pem()))
            .collect(),
    );
    let statements = {
        let (keys, maker) = (keys.clone(), maker.clone());
        tokio::task::spawn_blocking(move || {
            let now = clock::Clock::now_unix_s(&clock::SystemClock);
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            std::thread::scope(|scope| {
                let handles: Vec<_> = keys
                    .chunks(keys.len().div_ceil(threads).max(1))
                    .map(|part| {
                        let maker = &maker;
                        scope.spawn(move || {
                            part.iter()
                                .map(|(id, pem)| {
                                    let payload = json!({
                                        "type": "device-registered", "manufacturer": "Maker",
                                        "model": "cam", "serial": id, "device_key": pem,
                                    });
                                    StatementBuilder::new(
                                        MAKER,
                                        &format!("device:{id}"),
                                        payload.to_string().as_bytes(),
                                    )
                                    .content_type("application/json")
                                    .issued_at(now)
                                    .sign(maker)
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        })
        .await?
    };
    if statements.len() != sims.len() {
        bail!(
            "{} of {} device statements signed",
            statements.len(),
            sims.len()
        );
    }
    let mut done = 0usize;
    let mut batches = statements.into_iter().peekable();
    while batches.peek().is_some() {
        let batch: Vec<Vec<u8>> = batches.by_ref().take(REGISTER_BATCH).collect();
        for r in node.scitt.register_batch(batch).await {
            let r = r.map_err(|e| anyhow!("registering a device: {e}"))?;
            if r.duplicate {
                bail!("a device registered twice: the generator is wrong");
            }
        }
        done += REGISTER_BATCH;
        if done.is_multiple_of(REGISTER_BATCH * 16) {
            eprintln!(
                "  {done} devices registered, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    wait_projected(&node, node.log.durable_size().get()).await?;
    let meta = node.projector.meta();
    if meta.refused != 0 {
        bail!("{} statements refused by the twins", meta.refused);
    }
    // The release the healthy devices run: a report of any other image
    // raises a `firmware-not-released` alarm.
    let release = json!({"type": "firmware-released", "version": fw.version,
                         "image_sha256": fw.image_sha256});
    let registered = node
        .scitt
        .register(
            StatementBuilder::new(
                MAKER,
                &format!("model:{MAKER}/cam"),
                release.to_string().as_bytes(),
            )
            .content_type("application/json")
            .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
            .sign(&maker),
        )
        .await
        .map_err(|e| anyhow!("registering the release: {e}"))?;
    wait_projected(&node, registered.index.get() + 1).await?;
    let setup_s = started.elapsed().as_secs_f64();
    eprintln!(
        "{} devices registered and projected in {setup_s:.1} s",
        sims.len()
    );

    // The ingester, on our broker.
    let mut config = IngestConfig::new("127.0.0.1", port, ORIGIN);
    config.client_id = format!("sectwin-ingest-bench-{}", std::process::id());
    let ingester = Ingester::start(
        config,
        node.scitt.clone(),
        node.projector.clone(),
        node.clock.clone(),
        node.device_stats.clone(),
    );
    let stats = ingester.stats();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stats.snapshot().connected {
        if Instant::now() > deadline {
            bail!("the ingester did not connect to the broker within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The subscription is in place once the broker answered SUBACK, which
    // the ingester does not expose: a short wait covers it.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 3. Throughput runs, each on fresh reports (the same bytes again
    //    would be duplicates).
    let per_run = first_messages.len();
    let mut next_device = 0usize;
    let mut results = Vec::new();
    let mut messages = Some(first_messages);
    for run in 0..runs {
        let batch = match messages.take() {
            Some(m) => m,
            None => {
                let (back, m) = signed_reports(sims, next_device, per_run, fw).await?;
                sims = back;
                m
            }
        };
        next_device = (next_device + batch.len()) % sims.len();
        let r = ingest_run(&node, &stats, port, batch, run, broker_pid).await?;
        eprintln!(
            "  ingest, run {}: {:.0} reports/s; twins caught up {:.1} s later",
            run + 1,
            r.rate,
            r.projected_s
        );
        results.push(r);
    }
    let rates: Vec<f64> = results.iter().map(|r| r.rate).collect();
    let rate = median(rates.clone());
    let mid = results
        .iter()
        .min_by(|a, b| (a.rate - rate).abs().total_cmp(&(b.rate - rate).abs()))
        .context("no run")?;

    // 4. Latency at half the median rate.
    let latency_rate = ((rate / 2.0) as u64).max(1);
    let count = (latency_rate * LATENCY_S) as usize;
    // Tampered images planted on healthy devices, spread over the run: the
    // publish-to-alarm figure.
    let n = sims.len();
    let mut planted = Vec::new();
    let step = (count / ALARM_SAMPLES).max(1);
    for i in (step / 2..count).step_by(step) {
        let d = (next_device + i) % n;
        if i < n && sims[d].plants.is_empty() {
            sims[d].plants.push(Plant::TamperedFirmware);
            planted.push((i, sims[d].id.clone()));
        }
    }
    let (back, batch) = signed_reports(sims, next_device, count, fw).await?;
    drop(back);
    eprintln!(
        "latency: {count} reports at {latency_rate} reports/s, {} with a tampered image",
        planted.len()
    );
    let latency = latency_run(&node, &stats, port, batch, latency_rate, planted).await?;

    ingester.shutdown().await;
    // The detector's own rate: a fresh fold of everything registered.
    let fold = {
        let (projector, scitt) = (node.projector.clone(), node.scitt.clone());
        tokio::task::spawn_blocking(move || -> Result<(u64, f64)> {
            let fresh = service::detection::DetectionState::new();
            let t = Instant::now();
            fresh
                .catch_up(&projector, &scitt)
                .map_err(|e| anyhow!("the detector's fold: {e}"))?;
            let measured = fresh.read().reports_measured;
            Ok((measured, t.elapsed().as_secs_f64()))
        })
        .await??
    };
    node.shutdown().await;
    Ok(Ingested {
        fold,
        setup_s,
        rate,
        cpu_self: mid.cpu_self,
        cpu_broker: mid.cpu_broker,
        threads: mid.threads.clone(),
        projected_s: median(results.iter().map(|r| r.projected_s).collect()),
        rates,
        latency,
    })
}

async fn wait_projected(node: &node::Node, size: u64) -> Result<Duration> {
    let t = Instant::now();
    if !node
        .projector
        .wait_projected(size, Duration::from_secs(PROJECTED_WAIT_S_MAX))
        .await
    {
        bail!("the twins did not reach entry {size} within {PROJECTED_WAIT_S_MAX} s");
    }
    Ok(t.elapsed())
}

/// Figure 3, one run: `messages` published as fast as the broker takes
/// them; reports/s from the first publish to the last accepted.
async fn ingest_run(
    node: &node::Node,
    stats: &Arc<IngestStats>,
    port: u16,
    messages: Vec<Message>,
    run: usize,
    broker_pid: u32,
) -> Result<Run> {
    let n = messages.len();
    let before = stats.snapshot();
    let threads_before = task_ticks();
    let broker_before = process_ticks(broker_pid);
    let t0 = Instant::now();
    let watcher = {
        let stats = stats.clone();
        let refused: u64 = before.rejected.values().sum();
        let accepted = before.accepted;
        let received = before.received;
        tokio::task::spawn_blocking(move || {
            accepted_times(&stats, (accepted, received), refused, n)
        })
    };
    // Published in chunks, never more than OUTSTANDING_MAX reports ahead
    // of the ingester (see PUBLISH_CHUNK).
    let handled = |s: &device_channel::StatsSnapshot| {
        s.accepted + s.rejected.values().sum::<u64>()
            - before.accepted
            - before.rejected.values().sum::<u64>()
    };
    let mut published = 0u64;
    let mut rest = messages.into_iter().peekable();
    let mut chunk = 0usize;
    while rest.peek().is_some() {
        while published.saturating_sub(handled(&stats.snapshot()))
            > OUTSTANDING_MAX - PUBLISH_CHUNK as u64
        {
            if watcher.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if watcher.is_finished() {
            break;
        }
        let part: Vec<Message> = rest.by_ref().take(PUBLISH_CHUNK).collect();
        let sent = part.len() as u64;
        let acknowledged = publish(
            "127.0.0.1",
            port,
            &format!("bench-sim-{}-{run}-{chunk}", std::process::id()),
            part,
            0,
        )
        .await?
        .acknowledged;
        if acknowledged != sent {
            bail!("{acknowledged} of {sent} publishes acknowledged");
        }
        published += sent;
        chunk += 1;
    }
    let times = watcher.await??;
    let last = *times.last().context("no report")?;
    let elapsed = last.duration_since(t0).as_secs_f64();
    let threads_after = task_ticks();
    let broker_after = process_ticks(broker_pid);
    check_counts(stats, &before, n)?;
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (tid, (name, ticks)) in &threads_after {
        let was = threads_before.get(tid).map_or(0, |(_, t)| *t);
        *by_name.entry(name.clone()).or_default() += ticks.saturating_sub(was);
    }
    let cores = |ticks: u64| ticks as f64 / CLOCK_TICKS_PER_S / elapsed;
    let cpu_self = cores(by_name.values().sum());
    let mut threads: Vec<(String, f64)> = by_name
        .into_iter()
        .map(|(name, t)| (name, cores(t)))
        .filter(|(_, c)| *c >= 0.01)
        .collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    let cpu_broker = match (broker_before, broker_after) {
        (Some(b), Some(a)) => cores(a.saturating_sub(b)),
        _ => f64::NAN,
    };
    let projected = wait_projected(node, node.log.durable_size().get()).await?;
    Ok(Run {
        rate: n as f64 / elapsed,
        cpu_self,
        cpu_broker,
        threads,
        projected_s: projected.as_secs_f64(),
    })
}

/// Every report of a run accepted, none refused.
fn check_counts(
    stats: &IngestStats,
    before: &device_channel::StatsSnapshot,
    n: usize,
) -> Result<()> {
    let after = stats.snapshot();
    let accepted = after.accepted - before.accepted;
    let refused: BTreeMap<&str, u64> = after
        .rejected
        .iter()
        .map(|(k, v)| (*k, v - before.rejected.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect();
    if accepted != n as u64 || !refused.is_empty() {
        bail!("{n} reports published, {accepted} accepted, refused: {refused:?}");
    }
    Ok(())
}

/// Figure 4: `messages` published at `rate` per second, on schedule; each
/// report's latency from its scheduled publish instant (a late publisher
/// counts against the figure, not for it).
async fn latency_run(
    node: &node::Node,
    stats: &Arc<IngestStats>,
    port: u16,
    messages: Vec<Message>,
    rate: u64,
    planted: Vec<(usize, String)>,
) -> Result<Latency> {
    let n = messages.len();
    let alarms = {
        let detection = node.detection.clone();
        let devices: Vec<String> = planted.iter().map(|(_, d)| d.clone()).collect();
        tokio::task::spawn_blocking(move || alarm_times(&detection, &devices))
    };
    // What the log holds of each sampled report: its registration form.
    let sample: Vec<tlog::Hash> = messages
        .iter()
        .step_by(RECEIPT_SAMPLE_EVERY)
        .map(|(_, bytes)| {
            SignedStatement::parse(bytes)
                .map(|st| tlog::leaf_hash(&st.registration_form()))
                .map_err(|e| anyhow!("{e}"))
        })
        .collect::<Result<_>>()?;
    let before = stats.snapshot();
    let watcher = {
        let stats = stats.clone();
        let refused: u64 = before.rejected.values().sum();
        let accepted = before.accepted;
        let received = before.received;
        tokio::task::spawn_blocking(move || {
            accepted_times(&stats, (accepted, received), refused, n)
        })
    };
    let receipts = {
        let log = node.log.clone();
        tokio::task::spawn_blocking(move || receipt_times(&log, &sample))
    };
    let t0 = Instant::now();
    let published = publish(
        "127.0.0.1",
        port,
        &format!("bench-sim-latency-{}", std::process::id()),
        messages,
        rate,
    )
    .await?;
    if published.acknowledged != n as u64 {
        bail!("{} of {n} publishes acknowledged", published.acknowledged);
    }
    let durable_at = watcher.await??;
    let receipt_at = receipts.await??;
    let alarm_at = alarms.await??;
    check_counts(stats, &before, n)?;
    let due = |i: usize| t0 + Duration::from_secs_f64(i as f64 / rate as f64);
    let histogram = || hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3);
    let mut durable = histogram()?;
    for (i, at) in durable_at.iter().enumerate() {
        durable.saturating_record(at.saturating_duration_since(due(i)).as_micros().max(1) as u64);
    }
    let mut receipt = histogram()?;
    for (k, at) in receipt_at.iter().enumerate() {
        let i = k * RECEIPT_SAMPLE_EVERY;
        receipt.saturating_record(at.saturating_duration_since(due(i)).as_micros().max(1) as u64);
    }
    let mut alarm = histogram()?;
    for ((i, _), at) in planted.iter().zip(&alarm_at) {
        alarm.saturating_record(at.saturating_duration_since(due(*i)).as_micros().max(1) as u64);
    }
    Ok(Latency {
        reports: n,
        rate,
        durable,
        receipt,
        alarm,
    })
}

/// When the detector first held an active `firmware-not-released` alarm
/// on each of `devices` (to within [`POLL_US`]); fails when one has none
/// after [`STALL_S_MAX`].
fn alarm_times(
    detection: &service::detection::DetectionState,
    devices: &[String],
) -> Result<Vec<Instant>> {
    let mut times: Vec<Option<Instant>> = vec![None; devices.len()];
    let started = Instant::now();
    let mut left = devices.len();
    while left > 0 {
        {
            let det = detection.read();
            for (t, d) in times.iter_mut().zip(devices) {
                if t.is_none()
                    && det
                        .alarms_of(d)
                        .any(|a| a.rule == "firmware-not-released" && a.cleared.is_none())
                {
                    *t = Some(Instant::now());
                    left -= 1;
                }
            }
        }
        if started.elapsed() > Duration::from_secs(STALL_S_MAX + LATENCY_S) {
            bail!("{left} of {} planted alarms not raised", devices.len());
        }
        std::thread::sleep(Duration::from_micros(POLL_US));
    }
    Ok(times.into_iter().flatten().collect())
}

/// When the ingester's accepted count reached `from + 1`, `from + 2`, …,
/// `from + count` (to within [`POLL_US`]; `received_from`: the received
/// count at the start, for the progress shown); fails as soon as a report
/// is refused, or when nothing moves for [`STALL_S_MAX`].
fn accepted_times(
    stats: &IngestStats,
    (from, received_from): (u64, u64),
    refused_from: u64,
    count: usize,
) -> Result<Vec<Instant>> {
    let mut times = Vec::with_capacity(count);
    let mut moved = Instant::now();
    let mut shown = Instant::now();
    loop {
        let s = stats.snapshot();
        let now = Instant::now();
        if now.duration_since(shown) > Duration::from_secs(PROGRESS_S) {
            shown = now;
            eprintln!(
                "    {} of {count} accepted, {} received{}",
                s.accepted - from,
                s.received - received_from,
                if s.connected { "" } else { ", disconnected" }
            );
        }
        let refused: u64 = s.rejected.values().sum();
        if refused > refused_from {
            bail!(
                "the ingester refused {} reports ({} accepted so far): {:?}",
                refused - refused_from,
                s.accepted - from,
                s.rejected
            );
        }
        let reached = s.accepted.saturating_sub(from).min(count as u64) as usize;
        if reached > times.len() {
            moved = now;
            times.resize(reached, now);
        }
        if times.len() >= count {
            return Ok(times);
        }
        if moved.elapsed() > Duration::from_secs(STALL_S_MAX) {
            bail!(
                "{} of {count} reports accepted, then none for {STALL_S_MAX} s ({} received)",
                times.len(),
                s.received - received_from
            );
        }
        std::thread::sleep(Duration::from_micros(POLL_US));
    }
}

/// When a published checkpoint first covered each of `sample` (in log
/// order: the reports are registered in publishing order).
fn receipt_times(log: &log_service::Log, sample: &[tlog::Hash]) -> Result<Vec<Instant>> {
    let mut times = Vec::with_capacity(sample.len());
    let mut index: Option<u64> = None;
    let mut moved = Instant::now();
    while let Some(leaf) = sample.get(times.len()) {
        if index.is_none() {
            index = log
                .lookup(leaf)
                .map_err(|e| anyhow!("{e}"))?
                .map(|i| i.get());
        }
        if let Some(i) = index {
            if log.published().size.get() > i {
                let now = Instant::now();
                times.push(now);
                moved = now;
                index = None;
                continue;
            }
        }
        if moved.elapsed() > Duration::from_secs(STALL_S_MAX) {
            bail!(
                "{} of {} sampled reports covered by a checkpoint, then none for {STALL_S_MAX} s",
                times.len(),
                sample.len()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(times)
}

/// CPU time (user + system, clock ticks) of each thread of this process:
/// thread id → (name, ticks).
fn task_ticks() -> BTreeMap<u64, (String, u64)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        if let Some(t) = stat_ticks(&e.path().join("stat")) {
            out.insert(tid, t);
        }
    }
    out
}

/// CPU time (clock ticks) of process `pid`.
fn process_ticks(pid: u32) -> Option<u64> {
    stat_ticks(Path::new(&format!("/proc/{pid}/stat"))).map(|(_, t)| t)
}

/// The name and utime + stime of a `/proc/.../stat` file (proc(5): fields
/// 14 and 15, counted after the parenthesized name, field 2).
fn stat_ticks(path: &Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// Figure 5.
struct Audited {
    twins: usize,
    planted: usize,
    rules: usize,
    build_s: f64,
    /// (threads, index s, audit s), medians.
    timings: Vec<(usize, f64, f64)>,
    findings: usize,
}

/// A weakness planted in a synthetic twin: in its report, or in the
/// twin's context, or shared with the other twins planted alike.
enum Weakness {
    Report(fn(&mut Value, i64)),
    OutdatedFirmware,
    SupportEnded,
    RevokedCertificate,
    SharedCertificate,
    ConflictingClientId,
}

const DAY_S: i64 = 86_400;

/// One weakness per rule of the default library, by rule id.
fn weaknesses() -> Vec<(&'static str, Weakness)> {
    use Weakness::*;
    vec![
        (
            "POSTURE-UNIVERSAL-DEFAULT-PASSWORD",
            Report(|r, _| r["credentials"] = json!("universal-default")),
        ),
        (
            "POSTURE-DEBUG-INTERFACE-ENABLED",
            Report(|r, _| r["debug_interfaces"]["uart"] = json!(true)),
        ),
        (
            "POSTURE-SSH-ENABLED",
            Report(|r, _| r["debug_interfaces"]["ssh"] = json!(true)),
        ),
        (
            "POSTURE-INSECURE-SERVICE",
            Report(|r, _| {
                r["metrics"]["listening-tcp-ports"] = json!([23, 443, 8883]);
                r["metrics"]["num-listening-tcp-ports"] = json!(3);
            }),
        ),
        (
            "POSTURE-NO-SECURE-BOOT",
            Report(|r, _| r["secure_boot"] = json!(false)),
        ),
        (
            "POSTURE-NO-SECURE-STORAGE",
            Report(|r, _| r["secure_storage"] = json!(false)),
        ),
        (
            "POSTURE-LEGACY-TLS",
            Report(|r, _| r["tls"]["versions"] = json!(["TLSv1.0", "TLSv1.2"])),
        ),
        (
            "POSTURE-WEAK-CIPHER-SUITE",
            Report(|r, _| {
                r["tls"]["cipher_suites"] =
                    json!(["TLS_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_SHA"])
            }),
        ),
        ("POSTURE-OUTDATED-FIRMWARE", OutdatedFirmware),
        ("POSTURE-SUPPORT-ENDED", SupportEnded),
        (
            "DEVICE_CERTIFICATE_EXPIRING_CHECK",
            Report(|r, now| r["certificate"]["not_after"] = json!(now + 10 * DAY_S)),
        ),
        ("DEVICE_CERTIFICATE_SHARED_CHECK", SharedCertificate),
        (
            "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK",
            Report(|r, _| {
                r["certificate"]["key_type"] = json!("rsa");
                r["certificate"]["key_bits"] = json!(1024);
            }),
        ),
        (
            "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
            RevokedCertificate,
        ),
        ("CONFLICTING_CLIENT_IDS_CHECK", ConflictingClientId),
        (
            "LOGGING_DISABLED_CHECK",
            Report(|r, _| r["logging_enabled"] = json!(false)),
        ),
        (
            "DEVICE_CERTIFICATE_AGE_CHECK",
            Report(|r, now| r["certificate"]["not_before"] = json!(now - 400 * DAY_S)),
        ),
    ]
}

/// A synthetic twin: its latest report and what the twin knows.
struct Twin {
    id: String,
    report: DeviceReport,
    latest_release: &'static str,
    support_end: i64,
    revoked: bool,
    group: usize,
}

/// Sites the synthetic twins are spread over (groups, for suppressions).
const AUDIT_GROUPS: usize = 100;

fn audit(twins: usize, runs: usize) -> Result<Audited> {
    let rules = RuleSet::default_library().map_err(|e| anyhow!("{e}"))?;
    let plants = weaknesses();
    for rule in rules.rules() {
        if !plants.iter().any(|(id, _)| *id == rule.id()) {
            bail!("rule {} has no planted weakness here", rule.id());
        }
    }
    let now = clock::Clock::now_unix_s(&clock::SystemClock);
    eprintln!("building {twins} synthetic twins");
    let started = Instant::now();
    // The clean report: what a simulated device sends, with a certificate.
    let mut template = fleet(FLEET_SEED ^ 1, "tpl", 1).remove(0);
    let mut clean = template.next_report(&firmware(), now);
    clean["certificate"] = json!({
        "subject": "CN=cam,O=Maker", "issuer": "CN=Maker Device CA,O=Maker",
        "key_type": "ecdsa", "key_bits": 256,
        "not_before": now - 100 * DAY_S, "not_after": now + 300 * DAY_S,
        "serial": "1f2e3d", "fingerprint_sha256": "ab".repeat(32),
    });
    let parse = |v: &Value| {
        DeviceReport::parse(v.to_string().as_bytes()).map_err(|e| anyhow!("template: {e}"))
    };
    let clean_report = parse(&clean)?;
    let templates: Vec<DeviceReport> = plants
        .iter()
        .map(|(_, w)| match w {
            Weakness::Report(patch) => {
                let mut v = clean.clone();
                patch(&mut v, now);
                parse(&v)
            }
            _ => Ok(clean_report.clone()),
        })
        .collect::<Result<_>>()?;
    let groups: Vec<Vec<String>> = (0..AUDIT_GROUPS)
        .map(|g| vec![format!("site-{g:03}")])
        .collect();
    let shared_client_id = ReportText::new("cam-shared-client-id").context("client id")?;
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fleet_twins = Vec::with_capacity(twins);
    for i in 0..twins {
        let id = format!("t{i:07}");
        let plant = i
            .is_multiple_of(AUDIT_PLANTED_EVERY)
            .then(|| (i / AUDIT_PLANTED_EVERY) % plants.len());
        let (mut report, weakness) = match plant {
            Some(k) => {
                let (rule, w) = &plants[k];
                *expected.entry(rule).or_default() += 1;
                (templates[k].clone(), Some(w))
            }
            None => (clean_report.clone(), None),
        };
        report.client_id = if matches!(weakness, Some(Weakness::ConflictingClientId)) {
            Some(shared_client_id.clone())
        } else {
            Some(ReportText::new(id.clone()).context("client id")?)
        };
        if let Some(c) = report.certificate.as_mut() {
            c.fingerprint_sha256 = if matches!(weakness, Some(Weakness::SharedCertificate)) {
                Sha256::from_bytes([0x5a; 32])
            } else {
                let mut b = [0xab; 32];
                b[..8].copy_from_slice(&(i as u64).to_be_bytes());
                Sha256::from_bytes(b)
            };
        }
        fleet_twins.push(Twin {
            id,
            report,
            latest_release: if matches!(weakness, Some(Weakness::OutdatedFirmware)) {
                "2.5.0"
            } else {
                "2.4.0"
            },
            support_end: if matches!(weakness, Some(Weakness::SupportEnded)) {
                now - DAY_S
            } else {
                now + 365 * DAY_S
            },
            revoked: matches!(weakness, Some(Weakness::RevokedCertificate)),
            group: i % AUDIT_GROUPS,
        });
    }
    let planted: usize = expected.values().sum();
    let build_s = started.elapsed().as_secs_f64();
    eprintln!("  built in {build_s:.1} s");
    let postures: Vec<DevicePosture<'_>> = fleet_twins
        .iter()
        .map(|t| DevicePosture {
            device: &t.id,
            groups: &groups[t.group],
            report: &t.report,
            model: Some("cam"),
            latest_release: Some(t.latest_release),
            support_end: Some(t.support_end),
            certificate_revoked: Some(t.revoked),
        })
        .collect();
    let auditor = Auditor::new(&rules, &[], now);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut timings = Vec::new();
    let mut findings_total = 0;
    for threads in [1, cores.max(2)] {
        let (mut index_s, mut audit_s) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let t = Instant::now();
            let index = FleetIndex::build(&postures);
            let indexed = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let findings = auditor.audit_fleet(&postures, &index, threads);
            let audited = t.elapsed().as_secs_f64();
            eprintln!(
                "  audit, {threads} thread(s), run {}: {indexed:.2} s + {audited:.2} s, {} findings",
                run + 1,
                findings.len()
            );
            let mut got: BTreeMap<&str, usize> = BTreeMap::new();
            for f in &findings {
                *got.entry(f.rule.id()).or_default() += 1;
            }
            if got != expected {
                bail!("findings per rule {got:?}, planted {expected:?}: the generator or the audit is wrong");
            }
            findings_total = findings.len();
            drop(findings);
            index_s.push(indexed);
            audit_s.push(audited);
        }
        timings.push((threads, median(index_s), median(audit_s)));
    }
    Ok(Audited {
        twins,
        planted,
        rules: rules.rules().len(),
        build_s,
        timings,
        findings: findings_total,
    })
}
