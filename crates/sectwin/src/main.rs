//! The `sectwin` binary: argument parsing and output only. Every subcommand
//! calls into the library crates (`log-service`, `witness`, `http-api`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use log_service::{LogConfig, WitnessConfig};

/// mimalloc instead of glibc malloc: with glibc's per-thread arenas the
/// log's resident memory kept growing with its size (`sectwin-bench memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod config;
mod db_cmds;
mod demo;
mod demo_update;
mod demo_vuln;
mod device_cmds;
mod exploit_cmds;
mod log_cmds;
mod ota_cmds;
mod risk_cmds;
mod scitt_cmds;
mod statements;
mod suppress_cmds;
mod threat_cmds;
mod twin_cmds;
mod vuln_cmds;
mod vuln_match;

#[derive(Parser)]
#[command(
    name = "sectwin",
    version,
    about = "A shared, verifiable security twin for every connected device"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve a log (C2SP tlog-tiles read API, POST /log/add, proofs) from a data directory.
    Serve(ServeArgs),
    /// Run the end-to-end demonstration on an embedded instance.
    Demo(demo::DemoArgs),
    /// Move an embedded log into PostgreSQL (its server stopped) and prove
    /// the copy identical: the same checkpoints, the same roots.
    MigrateStore(db_cmds::MigrateStoreArgs),
    /// The PostgreSQL database of a deployment past one machine.
    Db {
        #[command(subcommand)]
        cmd: db_cmds::DbCmd,
    },
    /// Inspect, verify, check and mirror logs.
    Log {
        #[command(subcommand)]
        cmd: log_cmds::LogCmd,
    },
    /// Issuer keys for signed statements.
    Key {
        #[command(subcommand)]
        cmd: scitt_cmds::KeyCmd,
    },
    /// Sign, register and verify SCITT signed statements.
    Statement {
        #[command(subcommand)]
        cmd: scitt_cmds::StatementCmd,
    },
    /// Stakeholders: registration, key rotation and revocation (signed statements).
    Stakeholder {
        #[command(subcommand)]
        cmd: twin_cmds::StakeholderCmd,
    },
    /// Devices: registration by their manufacturer.
    Device {
        #[command(subcommand)]
        cmd: twin_cmds::DeviceCmd,
    },
    /// Show and list security twins over the REST API.
    Twin {
        #[command(subcommand)]
        cmd: twin_cmds::TwinCmd,
    },
    /// API credentials of stakeholders (on the server's data directory).
    Credential {
        #[command(subcommand)]
        cmd: twin_cmds::CredentialCmd,
    },
    /// Rebuild the twins from the log alone (the server must be stopped).
    Reindex(twin_cmds::ReindexArgs),
    /// Run a C2SP tlog-witness.
    Witness {
        #[command(subcommand)]
        cmd: WitnessCmd,
    },
    /// SBOMs of firmware releases, registered as signed statements.
    Sbom {
        #[command(subcommand)]
        cmd: risk_cmds::SbomCmd,
    },
    /// VEX: import (CycloneDX, OpenVEX, CSAF) as signed statements, export.
    Vex {
        #[command(subcommand)]
        cmd: risk_cmds::VexCmd,
    },
    /// The risk register: list, summary, exposure, signed decisions.
    Risks {
        #[command(subcommand)]
        cmd: risk_cmds::RisksCmd,
    },
    /// Score CVSS v3.0/v3.1/v4.0 vectors (`-` reads them from stdin).
    Cvss(vuln_cmds::CvssArgs),
    /// The advisory database (DATA/advisories): import, show, list.
    Vuln {
        #[command(subcommand)]
        cmd: vuln_cmds::VulnCmd,
    },
    /// Threat modeling as code: check, diff, report, diagram, import.
    Threat {
        #[command(subcommand)]
        cmd: threat_cmds::ThreatCmd,
    },
    /// Secure updates: provision a device's trust state, build a release's
    /// offline proof bundle, check an image as the device would.
    Ota {
        #[command(subcommand)]
        cmd: ota_cmds::OtaCmd,
    },
    /// Firmware images: what an image is, with proofs.
    Firmware {
        #[command(subcommand)]
        cmd: ota_cmds::FirmwareCmd,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML file of settings, keyed by these flags' names (`listen =
    /// "127.0.0.1:8470"`); flags and `SECTWIN_*` environment variables win
    /// over it (docs/operations.md).
    #[arg(long, env = "SECTWIN_CONFIG")]
    config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Data directory (created on first start, with the log's signing key).
    #[arg(long, env = "SECTWIN_DATA")]
    data: PathBuf,
    /// Keep the log in this PostgreSQL database
    /// (`postgres://user[:password]@host[:port]/database`, with
    /// `?sslmode=disable|prefer|require|verify-full`) instead of the data
    /// directory; `sectwin db migrate` prepares its schema first. The data
    /// directory keeps the keys and the other stores.
    #[arg(long)]
    database: Option<String>,
    /// The schema of `--database` holding sectwin's tables.
    #[arg(long, default_value = pg_store::SCHEMA_DEFAULT)]
    database_schema: String,
    /// Several nodes on one `--database`: the URL the other nodes reach this
    /// one at (`http://host:port`). Set, this node takes part in the
    /// sequencer's lease: one node sequences and signs, the others serve
    /// reads, forward appends to it and take over when it goes. Every node
    /// needs the same keys (docs/operations.md).
    #[arg(long)]
    advertise_url: Option<String>,
    /// This node's name in the sequencer's lease (default: the advertised
    /// URL's host and port).
    #[arg(long)]
    node_name: Option<String>,
    /// How long the sequencer's lease lasts without renewal, in
    /// milliseconds: a paused or cut-off sequencer is replaced after this
    /// (a killed one sooner: its database connection closes with it).
    #[arg(long, default_value_t = pg_store::LEASE_MS_DEFAULT)]
    lease_ms: u64,
    /// How logs are written to stderr: `text` for people, `json` (one object
    /// a line, with each request's id) for log collectors.
    #[arg(long, value_enum, default_value_t = node::binary::LogFormat::Text)]
    log_format: node::binary::LogFormat,
    /// Address to listen on.
    #[arg(long, default_value = node::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The log's origin (checkpoint first line); only used when the data directory is new.
    #[arg(long)]
    origin: Option<String>,
    /// A witness to ask for cosignatures, as URL=VKEY (repeatable).
    #[arg(long = "witness", value_parser = parse_witness)]
    witnesses: Vec<WitnessConfig>,
    /// How many witnesses must cosign before a checkpoint is published.
    #[arg(long, default_value_t = 0)]
    witness_quorum: usize,
    /// Checkpoint interval in milliseconds.
    #[arg(long, default_value_t = 500)]
    checkpoint_interval_ms: u64,
    /// How often tiles and the index are made durable (bounds replay after a crash).
    #[arg(long, default_value_t = 5000)]
    sync_interval_ms: u64,
    /// Largest entry accepted, in bytes (at most 65535, the C2SP bundle limit).
    #[arg(long, default_value_t = tlog::ENTRY_BYTES_MAX)]
    entry_bytes_max: usize,
    /// Entries waiting for the sequencer before POST /log/add answers 503.
    #[arg(long, default_value_t = 262_144)]
    pending_entries_max: usize,
    /// An issuer whose Signed Statements SCRAPI accepts, as ISSUER=PEMFILE
    /// (an Ed25519 or P-256 public key; repeatable).
    #[arg(long = "issuer-key", value_parser = parse_issuer_key)]
    issuer_keys: Vec<(String, scitt::PublicKey)>,
    /// Oldest CWT iat a statement may carry when it is first registered, in
    /// seconds before this server's clock (a replay of a registered statement
    /// answers its entry whatever its age).
    #[arg(long, default_value_t = transparency::ISSUED_AT_AGE_S_MAX_DEFAULT)]
    issued_at_age_max_s: u64,
    /// How far ahead of this server's clock a statement's CWT iat may be (the
    /// signers' clock skew), in seconds.
    #[arg(long, default_value_t = transparency::ISSUED_AT_AHEAD_S_MAX_DEFAULT)]
    issued_at_ahead_max_s: u64,
    /// An MQTT broker to publish notifications to, as HOST:PORT (e.g.
    /// 127.0.0.1:1883); MQTT subscriptions need it.
    #[arg(long, value_parser = parse_host_port)]
    mqtt: Option<(String, u16)>,
    /// An MQTT broker to take device reports from, as HOST:PORT (e.g.
    /// 127.0.0.1:1883): devices publish signed reports on
    /// `sectwin/devices/{id}/reports` (docs/device-reports.md); this node
    /// subscribes with a persistent session and registers each accepted one.
    #[arg(long, value_parser = parse_host_port)]
    device_broker: Option<(String, u16)>,
    /// Let webhook subscriptions reach loopback, private and link-local
    /// addresses (refused by default: a subscriber could make this server
    /// call services of its own network, or the cloud metadata endpoint).
    #[arg(long)]
    webhook_allow_private: bool,
    /// How often the risk register is compared with the previous one for
    /// notifications, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    risk_interval_ms: u64,
    /// Most HTTP connections open at once (lowered at start so connections
    /// take at most half of the free file descriptors).
    #[arg(long, default_value_t = http_api::serve::CONNECTIONS_MAX_DEFAULT)]
    connections_max: usize,
    /// Time for a request's headers to arrive, in milliseconds.
    #[arg(long, default_value_t = http_api::serve::HEADER_READ_TIMEOUT_MS_DEFAULT)]
    header_read_timeout_ms: u64,
    /// Time a connection may stay open without a request or traffic, in milliseconds.
    #[arg(long, default_value_t = http_api::serve::IDLE_TIMEOUT_MS_DEFAULT)]
    idle_timeout_ms: u64,
    /// Time for a request body to arrive completely, in milliseconds.
    #[arg(long, default_value_t = http_api::serve::BODY_TIMEOUT_MS_DEFAULT)]
    body_timeout_ms: u64,
    /// Free bytes kept for the log on the data volume: blob uploads and
    /// kept payloads that would leave less are refused (507).
    #[arg(long, default_value_t = twin_store::space::LOG_RESERVE_BYTES)]
    log_reserve_bytes: u64,
    /// Archivist blob bytes one stakeholder may keep.
    #[arg(long, default_value_t = twin_store::space::STAKEHOLDER_BLOB_BYTES_MAX)]
    stakeholder_blob_bytes_max: u64,
    /// Longest a stop (SIGTERM, Ctrl-C) waits for the log's final
    /// checkpoint and sync before exiting, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    shutdown_timeout_ms: u64,
    /// Bytes of confidential payloads (kept beside hash envelopes) one
    /// stakeholder may keep.
    #[arg(long, default_value_t = twin_store::space::STAKEHOLDER_PAYLOAD_BYTES_MAX)]
    stakeholder_payload_bytes_max: u64,
}

fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT, got {s:?}"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port number"))?;
    if host.is_empty() {
        return Err(format!("expected HOST:PORT, got {s:?}"));
    }
    Ok((host.to_string(), port))
}

fn parse_issuer_key(s: &str) -> Result<(String, scitt::PublicKey), String> {
    let (issuer, file) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ISSUER=PEMFILE, got {s:?}"))?;
    let pem = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
    let key = scitt::PublicKey::from_pem(&pem).map_err(|e| format!("{file}: {e}"))?;
    Ok((issuer.to_string(), key))
}

fn parse_witness(s: &str) -> Result<WitnessConfig, String> {
    let (url, vkey) = s
        .split_once('=')
        .ok_or_else(|| format!("expected URL=VKEY, got {s:?}"))?;
    Ok(WitnessConfig {
        url: url.to_string(),
        vkey: vkey.to_string(),
    })
}

#[derive(Subcommand)]
enum WitnessCmd {
    /// Serve the C2SP tlog-witness API (`POST /add-checkpoint`, `GET /<origin hash>/checkpoint`).
    Serve {
        /// Witness state directory (created on first start, with the witness key).
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8471")]
        listen: SocketAddr,
        /// The witness's name (key name), used only when the directory is new.
        #[arg(long, default_value = "sectwin.localhost/witness")]
        name: String,
        /// Verifier key of a log this witness accepts (repeatable).
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
    },
}

/// The system clock in seconds since the epoch: the CWT `iat` of the
/// statements this binary signs as a client (a node dates what it signs by
/// its own injected clock).
pub(crate) fn now_unix_s() -> i64 {
    clock::Clock::now_unix_s(&clock::SystemClock)
}

fn main() -> ExitCode {
    let command = config::with_env(Cli::command());
    let argv = match config::with_file(&command, std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let matches = command.clone().get_matches_from(argv);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let mut log_format = node::binary::LogFormat::Text;
    if let Cmd::Serve(args) = &cli.cmd {
        if args.print_config {
            return match config::print(&command, &matches) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        log_format = args.log_format;
    }
    node::binary::run_with(log_format, async move {
        match cli.cmd {
            Cmd::Serve(args) => serve(args).await.map(|()| ExitCode::SUCCESS),
            Cmd::Demo(args) => demo::run(args).await.map(|()| ExitCode::SUCCESS),
            Cmd::Db { cmd } => db_cmds::run(cmd).await,
            Cmd::MigrateStore(args) => db_cmds::migrate_store(args).await,
            Cmd::Log { cmd } => log_cmds::run(cmd).await,
            Cmd::Witness { cmd } => witness_cmd(cmd).await.map(|()| ExitCode::SUCCESS),
            Cmd::Key { cmd } => scitt_cmds::key(cmd),
            Cmd::Statement { cmd } => scitt_cmds::statement(cmd).await,
            Cmd::Stakeholder { cmd } => twin_cmds::stakeholder(cmd).await,
            Cmd::Device { cmd } => twin_cmds::device(cmd).await,
            Cmd::Twin { cmd } => twin_cmds::twin(cmd).await,
            Cmd::Credential { cmd } => twin_cmds::credential(cmd),
            Cmd::Reindex(args) => twin_cmds::reindex(args),
            Cmd::Cvss(args) => vuln_cmds::cvss(args),
            Cmd::Sbom { cmd } => risk_cmds::sbom(cmd).await,
            Cmd::Vex { cmd } => risk_cmds::vex(cmd).await,
            Cmd::Risks { cmd } => risk_cmds::risks(cmd).await,
            Cmd::Vuln { cmd } => vuln_cmds::vuln(cmd),
            Cmd::Threat {
                cmd: threat_cmds::ThreatCmd::Record(args),
            } => threat_cmds::record(args).await,
            Cmd::Threat { cmd } => threat_cmds::run(cmd),
            Cmd::Ota { cmd } => ota_cmds::run(cmd).await,
            Cmd::Firmware { cmd } => ota_cmds::run_firmware(cmd).await,
        }
    })
}

/// Ctrl-C (SIGINT), or SIGTERM (what systemd and Kubernetes send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    // Before the stores open: they and the connections share the limit.
    node::raise_file_limit();
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(args.checkpoint_interval_ms.max(1)),
        sync_interval: Duration::from_millis(args.sync_interval_ms.max(1)),
        entry_bytes_max: args.entry_bytes_max.clamp(1, tlog::ENTRY_BYTES_MAX),
        pending_entries_max: args.pending_entries_max.max(1),
        witnesses: args.witnesses,
        witness_quorum: args.witness_quorum,
        ..LogConfig::default()
    };
    let keys = Arc::new(transparency::StaticKeys::new());
    for (issuer, key) in &args.issuer_keys {
        keys.add(issuer, key.clone());
    }
    let backend = match &args.database {
        Some(url) => {
            let mut options = pg_store::PgOptions::new(url).with_schema(&args.database_schema);
            if let Some(advertised) = &args.advertise_url {
                options.cluster = Some(cluster_options(
                    advertised,
                    args.node_name.as_deref(),
                    args.lease_ms,
                )?);
            }
            node::LogBackend::Postgres(options)
        }
        None if args.advertise_url.is_some() => {
            anyhow::bail!(
                "--advertise-url is for several nodes on one --database: name the database"
            )
        }
        None => node::LogBackend::Embedded,
    };
    let (mut node, created) = node::open_node_on(
        &args.data,
        args.origin.as_deref(),
        config,
        Some(keys),
        transparency::RegistrationPolicy {
            issued_at_required: true,
            issued_at_age_s_max: args.issued_at_age_max_s,
            issued_at_ahead_s_max: args.issued_at_ahead_max_s,
        },
        Arc::new(clock::SystemClock),
        &backend,
    )
    .await?;
    node.set_storage(twin_store::StorageLimits {
        log_reserve_bytes: args.log_reserve_bytes,
        stakeholder_blob_bytes_max: args.stakeholder_blob_bytes_max,
        stakeholder_payload_bytes_max: args.stakeholder_payload_bytes_max,
    });
    node::start_notifications(
        &mut node,
        &args.data,
        node::NotifyConfig {
            mqtt: args.mqtt.clone(),
            interval: Duration::from_millis(args.risk_interval_ms.max(100)),
            webhooks_to_private_addresses: args.webhook_allow_private,
            shared_outbox: match &backend {
                node::LogBackend::Postgres(options) => Some(options.clone()),
                node::LogBackend::Embedded => None,
            },
        },
    )
    .await?;
    if let Some((host, port)) = &args.device_broker {
        node::start_device_channel(&node, host, *port);
        println!("device reports: from mqtt://{host}:{port}/sectwin/devices/+/reports");
    }
    if created {
        println!("created a new log in {}", args.data.display());
    }
    println!("log origin:   {}", node.log.origin());
    println!("verifier key: {}", node.log.vkey());
    println!(
        "registry authority: {} (key {})",
        node.authority.0,
        node::authority_key_path(&args.data).display()
    );
    let limits = node::fit_to_descriptors(http_api::serve::ServeLimits {
        connections_max: args.connections_max.max(1),
        header_read_timeout_ms: args.header_read_timeout_ms.max(1),
        idle_timeout_ms: args.idle_timeout_ms.max(1),
        body_timeout_ms: args.body_timeout_ms.max(1),
    })?;
    let addr =
        node::serve_with_limits(node::app(&node), args.listen, shutdown_signal(), limits).await?;
    println!("connections:  at most {}", limits.connections_max);
    println!("serving on http://{addr}/log/, SCRAPI at http://{addr}/entries, the twins at http://{addr}/api/v1/ (Ctrl-C to stop)");
    shutdown_signal().await;
    println!("stopping: publishing a final checkpoint and syncing");
    let bound = Duration::from_millis(args.shutdown_timeout_ms.max(1));
    if tokio::time::timeout(bound, node.shutdown()).await.is_err() {
        // What was acknowledged is durable already; the next start
        // recovers the rest (the last checkpoint, tiles, the index).
        eprintln!(
            "the log did not stop within {} ms; exiting (the next start recovers)",
            args.shutdown_timeout_ms
        );
        println!("stopped without a final checkpoint");
    } else {
        println!("stopped");
    }
    Ok(())
}

/// This node's part in the sequencer's lease.
fn cluster_options(
    advertised: &str,
    node_name: Option<&str>,
    lease_ms: u64,
) -> Result<pg_store::ClusterOptions> {
    let url = reqwest::Url::parse(advertised)
        .map_err(|e| anyhow::anyhow!("--advertise-url {advertised:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        anyhow::bail!("--advertise-url {advertised:?}: expected http://host:port");
    }
    let node = match node_name {
        Some(name) => name.to_string(),
        None => format!(
            "{}:{}",
            url.host_str().unwrap_or("node"),
            url.port_or_known_default().unwrap_or(80)
        ),
    };
    if node.is_empty() || node.len() > 200 {
        anyhow::bail!("--node-name: 1 to 200 characters");
    }
    Ok(pg_store::ClusterOptions {
        node,
        url: advertised.trim_end_matches('/').to_string(),
        lease_ms,
    })
}

async fn witness_cmd(cmd: WitnessCmd) -> Result<()> {
    match cmd {
        WitnessCmd::Serve {
            data,
            listen,
            name,
            logs,
        } => {
            let w = open_witness(&data, &name, &logs)?;
            println!("witness:      {}", w.name());
            println!("verifier key: {}", w.vkey());
            let app = http_api::witness::router(Arc::new(w))
                .layer(axum::middleware::from_fn(http_api::problem::fill_errors));
            let addr = node::serve(app, listen, shutdown_signal()).await?;
            println!("serving on http://{addr}/ (Ctrl-C to stop)");
            shutdown_signal().await;
            Ok(())
        }
    }
}

/// Opens a witness state directory, creating its key on first start.
pub(crate) fn open_witness(
    data: &std::path::Path,
    name: &str,
    logs: &[String],
) -> Result<witness::Witness> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let key_path = data.join("witness.key");
    let cosigner = if key_path.exists() {
        let skey = std::fs::read_to_string(&key_path)?;
        tlog::Cosigner::from_skey(skey.trim()).map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        let c = tlog::Cosigner::generate(name, &mut rand_core::OsRng)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        node::write_private(&key_path, &format!("{}\n", c.skey()))?;
        std::fs::write(data.join("witness.vkey"), format!("{}\n", c.vkey()))?;
        c
    };
    let verifiers = logs
        .iter()
        .map(|v| tlog::Verifier::from_vkey(v).map_err(|e| anyhow::anyhow!("log key {v:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    witness::Witness::open(
        &data.join("state"),
        cosigner,
        verifiers,
        Arc::new(witness::SystemClock),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}
