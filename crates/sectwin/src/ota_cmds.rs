//! `sectwin ota state|bundle|verify`: secure updates from the command line
//! (`docs/secure-updates.md`). `verify` runs the device's own verifier crate
//! (`ota-verify`), so a workstation answers exactly what a device would.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ota_verify::{digest_image, verify, Options, Refusal, TrustState};

/// `sectwin ota ...`.
#[derive(clap::Subcommand)]
pub enum OtaCmd {
    /// Provision a device: write its trust state (the log's policy, its
    /// manufacturer's and the registry authority's keys, the current
    /// checkpoint) from a served log. Do this over a channel you trust.
    State(StateArgs),
    /// Build the offline proof bundle of a release for a device's state, and
    /// check it with the device's verifier before writing it.
    Bundle(BundleArgs),
    /// Check an image against a bundle as the device would; on success,
    /// optionally write the new state.
    Verify(VerifyArgs),
}

/// `sectwin ota state`.
#[derive(clap::Args)]
pub struct StateArgs {
    /// The sectwin server.
    #[arg(long, env = "SECTWIN_SERVER")]
    server: String,
    /// The device's model, `<vendor>/<model>` or `model:<vendor>/<model>`.
    #[arg(long)]
    model: String,
    /// The device's hardware id.
    #[arg(long)]
    hardware_id: String,
    /// The release the device runs now (its counter becomes the state's).
    #[arg(long)]
    running: Option<String>,
    /// Where to write the state.
    #[arg(long)]
    out: PathBuf,
}

/// `sectwin ota bundle`.
#[derive(clap::Args)]
pub struct BundleArgs {
    /// The sectwin server.
    #[arg(long, env = "SECTWIN_SERVER")]
    server: String,
    /// The release, `<vendor>/<model>@<version>`.
    #[arg(long)]
    release: String,
    /// The device's trust state (the bundle starts at its checkpoint).
    #[arg(long)]
    state: PathBuf,
    /// Where to write the bundle.
    #[arg(long)]
    out: PathBuf,
    /// The image: check the whole bundle with the device's verifier first.
    #[arg(long)]
    image: Option<PathBuf>,
}

/// `sectwin ota verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The firmware image.
    image: PathBuf,
    /// The proof bundle.
    #[arg(long)]
    bundle: PathBuf,
    /// The device's trust state.
    #[arg(long)]
    state: PathBuf,
    /// On success, write the new trust state here (the device persists it
    /// once the image is installed).
    #[arg(long)]
    write_state: Option<PathBuf>,
    /// A trusted current time (unix seconds) to refuse a frozen log with.
    #[arg(long)]
    now: Option<u64>,
    /// How old the checkpoint may be with --now, in seconds.
    #[arg(long, default_value_t = Options::default().checkpoint_age_max_secs)]
    checkpoint_age_max_s: u64,
}

/// Runs an `ota` command.
pub async fn run(cmd: OtaCmd) -> Result<ExitCode> {
    match cmd {
        OtaCmd::State(a) => {
            let state =
                fetch_state(&a.server, &a.model, &a.hardware_id, a.running.as_deref()).await?;
            write_private(&a.out, &state.to_json())?;
            println!(
                "trust state for {} ({}) at checkpoint size {}: {} keys, release counter {}, written to {}",
                state.model,
                state.hardware_id,
                checkpoint_size(&state)?,
                state.keys.len(),
                state.release_counter,
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        OtaCmd::Bundle(a) => {
            let (model, version) = a
                .release
                .rsplit_once('@')
                .context("--release: expected <vendor>/<model>@<version>")?;
            let state = read_state(&a.state)?;
            let bundle = fetch_bundle(&a.server, model, version, checkpoint_size(&state)?).await?;
            if let Some(image) = &a.image {
                let bytes =
                    std::fs::read(image).with_context(|| format!("reading {}", image.display()))?;
                let accepted = verify(&digest_image(&bytes), &bundle, &state, &Options::default())
                    .map_err(|r| anyhow::anyhow!("the device would refuse it: {r}"))?;
                println!(
                    "checked with the device's verifier: {} (counter {}) accepted",
                    accepted.version, accepted.release_counter
                );
            }
            std::fs::write(&a.out, &bundle)
                .with_context(|| format!("writing {}", a.out.display()))?;
            println!(
                "bundle for {model} {version} from size {}: {} bytes, written to {}",
                checkpoint_size(&state)?,
                bundle.len(),
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        OtaCmd::Verify(a) => {
            let image = std::fs::read(&a.image)
                .with_context(|| format!("reading {}", a.image.display()))?;
            let bundle = std::fs::read(&a.bundle)
                .with_context(|| format!("reading {}", a.bundle.display()))?;
            let state = read_state(&a.state)?;
            let options = Options {
                now_unix_secs: a.now,
                checkpoint_age_max_secs: a.checkpoint_age_max_s,
            };
            match verify(&digest_image(&image), &bundle, &state, &options) {
                Ok(accepted) => {
                    println!(
                        "ACCEPTED {} {} (release counter {}, manifest entry {}, checkpoint size {}, {} key events)",
                        state.model,
                        accepted.version,
                        accepted.release_counter,
                        accepted.manifest_entry,
                        accepted.checkpoint_size,
                        accepted.key_events
                    );
                    if let Some(path) = &a.write_state {
                        write_private(path, &accepted.state.to_json())?;
                        println!("new trust state written to {}", path.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(r) => {
                    println!("REFUSED ({}): {r}", r.code());
                    Ok(refusal_exit(&r))
                }
            }
        }
    }
}

/// The exit status of a refusal: its code (2..=99 are the verifier's).
fn refusal_exit(r: &Refusal) -> ExitCode {
    ExitCode::from(u8::try_from(r.code().saturating_add(1)).unwrap_or(u8::MAX))
}

/// Reads a trust state.
pub fn read_state(path: &Path) -> Result<TrustState> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    TrustState::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The tree size of the state's checkpoint.
pub fn checkpoint_size(state: &TrustState) -> Result<u64> {
    let note = tlog::Note::parse(state.checkpoint.as_bytes())
        .map_err(|e| anyhow::anyhow!("the state's checkpoint: {e}"))?;
    Ok(tlog::Checkpoint::parse_text(note.text())
        .map_err(|e| anyhow::anyhow!("the state's checkpoint: {e}"))?
        .size()
        .get())
}

/// Writes a file only its owner can read (a state names what a device trusts).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

async fn get(url: String, params: &[(&str, &str)]) -> Result<Vec<u8>> {
    let r = reqwest::Client::new()
        .get(&url)
        .query(params)
        .send()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let status = r.status();
    let body = r.bytes().await?;
    if !status.is_success() {
        bail!(
            "{url}: {status}: {}",
            crate::scitt_cmds::problem_text(&body)
        );
    }
    Ok(body.to_vec())
}

/// `GET /api/v1/ota/state`.
pub async fn fetch_state(
    server: &str,
    model: &str,
    hardware_id: &str,
    running: Option<&str>,
) -> Result<TrustState> {
    let base = server.trim_end_matches('/');
    let mut params = vec![("model", model), ("hardware_id", hardware_id)];
    if let Some(r) = running {
        params.push(("running", r));
    }
    let body = get(format!("{base}/api/v1/ota/state"), &params).await?;
    TrustState::parse(&body).map_err(|e| anyhow::anyhow!("the server's trust state: {e}"))
}

/// `GET /api/v1/ota/bundle`.
pub async fn fetch_bundle(server: &str, model: &str, version: &str, from: u64) -> Result<Vec<u8>> {
    let base = server.trim_end_matches('/');
    let from = from.to_string();
    get(
        format!("{base}/api/v1/ota/bundle"),
        &[("model", model), ("version", version), ("from", &from)],
    )
    .await
}

/// `sectwin firmware ...`.
#[derive(clap::Subcommand)]
pub enum FirmwareCmd {
    /// What an image is: its manufacturer's release (SBOM, VEX, open
    /// vulnerabilities, support end, withdrawn or not) and the devices
    /// running it, each statement checked against the log's proofs.
    Lookup(LookupArgs),
}

/// `sectwin firmware lookup`.
#[derive(clap::Args)]
pub struct LookupArgs {
    /// The image file, or its SHA-256 (64 hex digits).
    image: String,
    /// The sectwin server.
    #[arg(long, env = "SECTWIN_SERVER")]
    server: String,
    /// The tlog-policy to check the proofs with (default: the one the server
    /// names, which proves only that the server is self-consistent).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    auth: crate::twin_cmds::ClientAuth,
    /// Print the answer as JSON (as it came).
    #[arg(long)]
    json: bool,
}

/// Runs a `firmware` command.
pub async fn run_firmware(cmd: FirmwareCmd) -> Result<ExitCode> {
    let FirmwareCmd::Lookup(a) = cmd;
    let sha256 = if a.image.len() == 64 && a.image.bytes().all(|b| b.is_ascii_hexdigit()) {
        a.image.to_ascii_lowercase()
    } else {
        let bytes = std::fs::read(&a.image).with_context(|| format!("reading {}", a.image))?;
        hex::encode(digest_image(&bytes).sha256)
    };
    let base = a.server.trim_end_matches('/');
    let mut req = reqwest::Client::new().get(format!("{base}/api/v1/firmware/{sha256}"));
    if let Some(t) = crate::twin_cmds::token(base, &a.auth).await? {
        req = req.bearer_auth(t);
    }
    let r = req
        .send()
        .await
        .with_context(|| format!("connecting to {base}"))?;
    let status = r.status();
    let body = r.bytes().await?;
    if !status.is_success() {
        bail!("{status}: {}", crate::scitt_cmds::problem_text(&body));
    }
    if a.json {
        println!("{}", String::from_utf8_lossy(&body));
    }
    let lookup: api_types::ota::FirmwareLookup =
        serde_json::from_slice(&body).context("the server's answer")?;
    let (policy_text, pinned) = match &a.policy {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            true,
        ),
        None => (lookup.policy.clone(), false),
    };
    let policy = tlog::Policy::parse(&policy_text).map_err(|e| anyhow::anyhow!("policy: {e}"))?;
    let check = |p: &api_types::ota::ProvenEntry, entry: u64| -> Result<()> {
        let proven = ota_verify::ProvenStatement {
            statement: p.statement.clone(),
            proof: p.proof.clone(),
        };
        let (index, _) = proven
            .verify(&policy)
            .map_err(|e| anyhow::anyhow!("entry {entry}: {e}"))?;
        if index != entry {
            bail!("entry {entry}: the proof is for entry {index}");
        }
        Ok(())
    };
    let mut proofs = 0;
    for r in &lookup.releases {
        check(&r.proof, r.release.entry)?;
        proofs += 1;
    }
    for d in &lookup.devices {
        check(&d.proof, d.entry)?;
        proofs += 1;
    }
    if a.json {
        return Ok(ExitCode::SUCCESS);
    }
    println!("image sha256:{sha256} (log size {})", lookup.as_of);
    if lookup.releases.is_empty() {
        println!("  no release names this image (that you may see): NOT a released image");
    }
    for r in &lookup.releases {
        let m = &r.release;
        println!(
            "  release {} {} by {} (entry {}){}",
            m.model,
            m.version,
            m.manufacturer,
            m.entry,
            match m.withdrawn {
                Some(w) => format!(", WITHDRAWN at entry {w}"),
                None => String::new(),
            }
        );
        println!(
            "    manifest: {} bytes, hardware {}, release counter {}, minimum version {}",
            m.image_length.map_or("?".into(), |l| l.to_string()),
            if m.hardware_ids.is_empty() {
                "-".into()
            } else {
                m.hardware_ids.join(", ")
            },
            m.release_counter.map_or("-".into(), |c| c.to_string()),
            m.min_version.as_deref().unwrap_or("-"),
        );
        println!(
            "    support until {}{}",
            m.support_end.as_deref().unwrap_or("(not stated)"),
            if r.support_ended { ": ENDED" } else { "" }
        );
        match &r.sbom {
            Some(s) => println!(
                "    SBOM: {} sha256:{} ({} components, entries {:?})",
                s.format, s.document_sha256, s.components, s.entries
            ),
            None => println!("    SBOM: none registered"),
        }
        for v in &r.vex {
            println!(
                "    VEX {} {}{} (entry {})",
                v.vulnerability,
                v.status,
                v.justification
                    .as_deref()
                    .map(|j| format!(": {j}"))
                    .unwrap_or_default(),
                v.entry
            );
        }
        if r.open_vulnerabilities.is_empty() {
            println!("    open vulnerabilities on devices running it: none you may see");
        }
        for v in &r.open_vulnerabilities {
            println!(
                "    OPEN {} {} {}{} on {} device(s)",
                v.id,
                v.severity.as_str(),
                v.score.map_or("-".into(), |s| format!("{s:.1}")),
                if v.kev { " KEV" } else { "" },
                v.devices
            );
        }
    }
    let running: Vec<_> = lookup.devices.iter().filter(|d| d.current).collect();
    println!(
        "  devices that said they run it: {} ({} still do)",
        lookup.devices.len(),
        running.len()
    );
    for d in &lookup.devices {
        println!(
            "    {} {} signed by {} (entry {}){}",
            d.device,
            d.version.as_deref().unwrap_or("?"),
            d.issuer,
            d.entry,
            if d.current { "" } else { ", since updated" }
        );
    }
    if lookup.next_after.is_some() {
        println!("  (more statements name it: see GET /api/v1/digests/{sha256}?after=...)");
    }
    println!(
        "  {proofs} proofs verified (inclusion under a checkpoint signed by the log and its witness quorum, policy {})",
        if pinned { "pinned with --policy" } else { "as the server names it" }
    );
    Ok(ExitCode::SUCCESS)
}
