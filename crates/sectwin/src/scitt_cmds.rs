//! `sectwin key ...` and `sectwin statement ...`: the SCITT client side.
//! Generate an issuer key, sign a statement, register it through SCRAPI, and
//! verify a receipt offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use scitt::{Algorithm, PublicKey, SignedStatement, SigningKey, StatementBuilder};

/// `sectwin key ...`.
#[derive(clap::Subcommand)]
pub enum KeyCmd {
    /// Generate an issuer key (PKCS#8 PEM, readable only by you); print its
    /// public key (PEM, stdout) and key id (RFC 9679 thumbprint, stderr).
    Generate {
        /// `eddsa` (Ed25519) or `es256` (P-256).
        #[arg(long, default_value = "eddsa")]
        alg: String,
        /// Where to write the private key (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key (PEM, stdout) and key id (stderr) of a private or
    /// public key file.
    Show {
        /// A PKCS#8 private key or SubjectPublicKeyInfo public key, PEM.
        key: PathBuf,
    },
}

/// `sectwin statement ...`.
#[derive(clap::Subcommand)]
pub enum StatementCmd {
    /// Sign a statement (COSE_Sign1 with kid and CWT iss/sub).
    Sign {
        /// The issuer's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// Issuer (`iss`), e.g. acme.example.
        #[arg(long)]
        issuer: String,
        /// Subject (`sub`), e.g. device:door-ctl-0042.
        #[arg(long)]
        subject: String,
        /// The payload file.
        #[arg(long)]
        payload: PathBuf,
        /// The payload's media type.
        #[arg(long, default_value = "application/json")]
        content_type: String,
        /// Sign the payload's SHA-256 instead (a hash envelope; for large or
        /// confidential payloads), optionally naming where it is kept.
        #[arg(long)]
        hash_envelope: bool,
        /// With --hash-envelope: where the payload can be fetched.
        #[arg(long)]
        location: Option<String>,
        /// When the statement is issued (CWT iat), seconds since the epoch;
        /// default: now. Services register statements only within a window
        /// around their clock, and refuse one older than the issuer's latest
        /// statement on the same attribute.
        #[arg(long)]
        issued_at: Option<i64>,
        /// Where to write the statement.
        #[arg(long)]
        out: PathBuf,
    },
    /// Register a statement through SCRAPI and save its receipt.
    Submit {
        /// The service's base URL, e.g. http://127.0.0.1:8470.
        url: String,
        /// The statement file.
        statement: PathBuf,
        /// Where to write the receipt.
        #[arg(long)]
        receipt: PathBuf,
        /// For a hash envelope about a twin: its payload, kept by the service
        /// beside the log (never in it) and served only under your sharing policy.
        #[arg(long)]
        payload: Option<PathBuf>,
    },
    /// Verify a receipt offline: the statement is in the service's log.
    VerifyReceipt {
        /// The receipt file.
        #[arg(long)]
        receipt: PathBuf,
        /// The statement file (its exact registered bytes).
        #[arg(long)]
        statement: PathBuf,
        /// The service's receipt key (PEM).
        #[arg(long)]
        service_key: PathBuf,
    },
    /// Print a statement's headers and verify its signature with a key.
    Show {
        /// The statement file.
        statement: PathBuf,
        /// The issuer's public key (PEM), to verify the signature.
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads a public key from a public or private key PEM.
fn public_key(path: &Path) -> Result<PublicKey> {
    let pem = read_text(path)?;
    if let Ok(k) = PublicKey::from_pem(&pem) {
        return Ok(k);
    }
    SigningKey::from_pem(&pem)
        .map(|k| k.public_key())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The public key PEM on stdout (so `> key.pub` gives a usable file), its
/// algorithm and key id on stderr.
fn print_key(key: &PublicKey) {
    print!("{}", key.to_pem());
    eprintln!("alg: {}", key.algorithm().name());
    eprintln!("kid: {}", hex::encode(key.thumbprint()));
}

/// Runs `sectwin key ...`.
pub fn key(cmd: KeyCmd) -> Result<ExitCode> {
    match cmd {
        KeyCmd::Generate { alg, out } => {
            let alg = Algorithm::from_name(&alg)
                .with_context(|| format!("unknown algorithm {alg:?}: use eddsa or es256"))?;
            let key = SigningKey::generate(alg, &mut rand_core::OsRng);
            node::write_private(&out, &key.to_pem())?;
            print_key(&key.public_key());
            Ok(ExitCode::SUCCESS)
        }
        KeyCmd::Show { key } => {
            print_key(&public_key(&key)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `sectwin statement ...`.
pub async fn statement(cmd: StatementCmd) -> Result<ExitCode> {
    match cmd {
        StatementCmd::Sign {
            key,
            issuer,
            subject,
            payload,
            content_type,
            hash_envelope,
            location,
            issued_at,
            out,
        } => {
            let key = SigningKey::from_pem(&read_text(&key)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
            let payload = read_bytes(&payload)?;
            let mut builder = StatementBuilder::new(&issuer, &subject, &payload)
                .content_type(&content_type)
                .issued_at(issued_at.unwrap_or_else(crate::now_unix_s));
            if hash_envelope {
                builder = builder.hash_envelope(location.as_deref());
            }
            let bytes = builder.sign(&key);
            if bytes.len() > scitt::STATEMENT_BYTES_MAX {
                bail!(
                    "the statement is {} bytes, more than a log entry may be ({}); use --hash-envelope",
                    bytes.len(),
                    scitt::STATEMENT_BYTES_MAX
                );
            }
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!("{} bytes written to {}", bytes.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
        StatementCmd::Submit {
            url,
            statement,
            receipt,
            payload,
        } => {
            let (location, body) = match payload {
                None => submit(&url, read_bytes(&statement)?).await?,
                Some(p) => {
                    submit_with_payload(&url, read_bytes(&statement)?, read_bytes(&p)?).await?
                }
            };
            std::fs::write(&receipt, &body)
                .with_context(|| format!("writing {}", receipt.display()))?;
            println!(
                "registered as {location}; receipt written to {}",
                receipt.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        StatementCmd::VerifyReceipt {
            receipt,
            statement,
            service_key,
        } => {
            let key = public_key(&service_key)?;
            match scitt::verify_receipt(&read_bytes(&receipt)?, &read_bytes(&statement)?, &key) {
                Ok(v) => {
                    println!(
                        "OK: the statement is entry {} of a tree of {} entries with root {}",
                        v.leaf_index,
                        v.tree_size,
                        v.root.to_base64()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("FAILED: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        StatementCmd::Show { statement, key } => {
            let s = SignedStatement::parse(&read_bytes(&statement)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", statement.display()))?;
            println!("issuer:       {}", s.issuer());
            println!("subject:      {}", s.subject());
            println!("alg:          {}", s.algorithm().name());
            println!("kid:          {}", hex::encode(s.key_id()));
            println!("content type: {}", s.content_type().unwrap_or("-"));
            if let Some(h) = s.payload_hash() {
                println!(
                    "hash envelope of {} at {}",
                    h.preimage_content_type.as_deref().unwrap_or("?"),
                    h.location.as_deref().unwrap_or("?")
                );
            }
            match key {
                None => Ok(ExitCode::SUCCESS),
                Some(k) => match s.verify(&public_key(&k)?) {
                    Ok(()) => {
                        println!("signature:    OK");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => {
                        println!("signature:    FAILED ({e})");
                        Ok(ExitCode::FAILURE)
                    }
                },
            }
        }
    }
}

/// Registers `bytes` through SCRAPI at `url`; answers the entry's location
/// (`/entries/N`) and its receipt, polling for it when the service answers 303.
pub async fn submit(url: &str, bytes: Vec<u8>) -> Result<(String, Vec<u8>)> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = url.trim_end_matches('/').to_string();
    let r = http
        .post(format!("{base}/entries"))
        .header("content-type", "application/cose")
        .body(bytes)
        .send()
        .await
        .with_context(|| format!("connecting to {base}"))?;
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.bytes().await?;
    match status.as_u16() {
        201 => Ok((location.unwrap_or_default(), body.to_vec())),
        303 => {
            // Poll the entry until its receipt is ready.
            let location = location.context("303 without Location")?;
            let mut tries = 0;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let r = http.get(format!("{base}{location}")).send().await?;
                if r.status() == reqwest::StatusCode::OK {
                    return Ok((location, r.bytes().await?.to_vec()));
                }
                tries += 1;
                if tries > 60 {
                    bail!("no receipt for {location} after 30 s");
                }
            }
        }
        _ => bail!("registration refused ({status}): {}", problem_text(&body)),
    }
}

/// Registers a hash envelope with its payload (`POST /api/v1/statements`),
/// then fetches its receipt once a checkpoint covers it.
pub async fn submit_with_payload(
    url: &str,
    statement: Vec<u8>,
    payload: Vec<u8>,
) -> Result<(String, Vec<u8>)> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let base = url.trim_end_matches('/').to_string();
    // A pending receipt answers 302 to itself: poll instead of following it.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let r = http
        .post(format!("{base}/api/v1/statements"))
        .json(&api_types::twins::RegisterStatement {
            statement: b64(&statement),
            payload: b64(&payload),
        })
        .send()
        .await
        .with_context(|| format!("connecting to {base}"))?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    if status != reqwest::StatusCode::CREATED {
        bail!(
            "registration refused ({status}): {}",
            crate::twin_cmds::problem_detail(v)
        );
    }
    let registered: api_types::twins::Registered = crate::twin_cmds::wire(&v)?;
    let location = registered.receipt;
    for _ in 0..60 {
        let r = http.get(format!("{base}{location}")).send().await?;
        if r.status() == reqwest::StatusCode::OK {
            return Ok((location, r.bytes().await?.to_vec()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    bail!("no receipt for {location} after 30 s")
}

/// The entry number in a `/entries/N` location.
pub fn entry_of(location: &str) -> Option<u64> {
    location.rsplit('/').next()?.parse().ok()
}

/// The title and detail of a CBOR problem details body, or the raw text.
pub(crate) fn problem_text(body: &[u8]) -> String {
    match ciborium::from_reader::<ciborium::Value, _>(body) {
        Ok(ciborium::Value::Map(m)) => m
            .iter()
            .filter_map(|(_, v)| match v {
                ciborium::Value::Text(t) => Some(t.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(": "),
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}
