//! The CLI of vulnerability management over a running node:
//! `sectwin sbom register` (a CycloneDX or SPDX document of a firmware
//! release, normalized and signed as `sbom-registered` statements, in parts
//! when large), `sectwin vex import|export` (CycloneDX VEX, OpenVEX and CSAF
//! VEX to and from release-scoped `vulnerability-assessment` statements) and
//! `sectwin risks list|summary|exposure|decide` (the register's views and
//! signed decisions).
//!
//! Deliberately absent: parsing logic (crate `vuln-formats`), risk logic
//! (crate `risk-register`); this file reads files and arguments, signs, submits
//! and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use sha2::Digest as _;
use vuln_formats::model::{PackageId, VexStatement, VexStatus};
use vuln_formats::DocumentFormat;

use crate::statements;
use crate::twin_cmds::{api_get, sign_and_submit, signing_key, token, urlencode, wire, ClientAuth};
use api_types::risks::{Exposure, RiskPage, VexView};

/// Who signs: the server, the key and the stakeholder id.
#[derive(clap::Args, Clone)]
pub struct Signer {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// The signer's private key.
    #[arg(long)]
    key: PathBuf,
    /// The signer's stakeholder id.
    #[arg(long = "as")]
    issuer: String,
}

/// `sectwin sbom ...`.
#[derive(clap::Subcommand)]
pub enum SbomCmd {
    /// Register the SBOM of a firmware release (CycloneDX 1.4–1.7 or SPDX
    /// 2.2/2.3 JSON) as signed `sbom-registered` statements.
    Register {
        #[command(flatten)]
        signer: Signer,
        /// The model subject, `model:<vendor>/<model>`.
        #[arg(long)]
        model: String,
        /// The firmware release (version) it describes; with --ai-model, the
        /// AI model package's version.
        #[arg(long)]
        release: String,
        /// The SBOM describes this AI model package (deployed on devices of
        /// the model as `ai-model-deployed`), not a firmware release.
        #[arg(long)]
        ai_model: Option<String>,
        /// The SBOM document.
        file: PathBuf,
    },
}

/// `sectwin vex ...`.
#[derive(clap::Subcommand)]
pub enum VexCmd {
    /// Register the statements of a VEX document (CycloneDX, OpenVEX, CSAF)
    /// as signed `vulnerability-assessment` statements for a release.
    Import {
        #[command(flatten)]
        signer: Signer,
        /// The model subject, `model:<vendor>/<model>`.
        #[arg(long)]
        model: String,
        /// The firmware release the statements are about.
        #[arg(long)]
        release: String,
        /// The VEX document.
        file: PathBuf,
    },
    /// Print a model's release VEX as a CycloneDX, OpenVEX or CSAF VEX document.
    Export {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        #[command(flatten)]
        auth: ClientAuth,
        /// The model subject.
        #[arg(long)]
        model: String,
        /// Only this release.
        #[arg(long)]
        release: Option<String>,
        /// `openvex`, `cyclonedx` or `csaf`.
        #[arg(long, default_value = "openvex")]
        format: String,
        /// The document's author (default: the manufacturer who signed).
        #[arg(long)]
        author: Option<String>,
    },
}

/// `sectwin risks ...`.
#[derive(clap::Subcommand)]
pub enum RisksCmd {
    /// The risk register (what the caller may see).
    List {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        #[command(flatten)]
        auth: ClientAuth,
        /// Filters: device=, vulnerability=, model=, release=, site=,
        /// status=, severity=, kind=, overdue= (repeatable).
        #[arg(long = "filter")]
        filters: Vec<String>,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// The fleet risk summary.
    Summary {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        #[command(flatten)]
        auth: ClientAuth,
    },
    /// Exposure by vulnerability, device, firmware or site.
    Exposure {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        #[command(flatten)]
        auth: ClientAuth,
        /// `vulnerability`, `device`, `firmware` or `site`.
        #[arg(long, default_value = "vulnerability")]
        by: String,
    },
    /// Sign a decision on a risk: accept, mitigate, transfer, false-positive.
    Decide {
        #[command(flatten)]
        signer: Signer,
        /// The subject: `device:<id>` or `model:<vendor>/<model>`.
        #[arg(long)]
        subject: String,
        /// The risk id (`vuln/<ID>` on a device, `vuln/<ID>@<version>` on a
        /// model, or a recorded id such as a threat finding's).
        #[arg(long)]
        risk: String,
        /// `accept`, `mitigate`, `transfer` or `false-positive`.
        decision: String,
        /// Why (for mitigate: how).
        #[arg(long)]
        rationale: String,
        /// accept: until when (YYYY-MM-DD).
        #[arg(long)]
        until: Option<String>,
        /// transfer: to whom (stakeholder id).
        #[arg(long)]
        to: Option<String>,
    },
}

/// `sectwin sbom ...`.
pub async fn sbom(cmd: SbomCmd) -> Result<ExitCode> {
    let SbomCmd::Register {
        signer,
        model,
        release,
        ai_model,
        file,
    } = cmd;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let (sbom, format) = match vuln_formats::detect(&bytes) {
        Some(DocumentFormat::CycloneDx) => (
            vuln_formats::cyclonedx::parse(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
            "CycloneDX",
        ),
        Some(DocumentFormat::Spdx) => (
            vuln_formats::spdx::parse(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
            "SPDX",
        ),
        other => bail!(
            "{}: not a CycloneDX or SPDX SBOM (detected {other:?})",
            file.display()
        ),
    };
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    let components: Vec<_> = sbom
        .components
        .iter()
        .map(statements::sbom_component)
        .collect();
    let count = components.len();
    let registration = statements::SbomRegistration {
        release: release.clone(),
        format: format!("{format} {}", sbom.spec_version).trim().to_string(),
        document_sha256: digest.clone(),
        ai_model,
    };
    let key = signing_key(&signer.key)?;
    for body in statements::sbom_parts(&registration, components) {
        let twin::StatementBody::SbomRegistered {
            part,
            parts,
            components,
            ..
        } = &body
        else {
            bail!("an SBOM part is an sbom-registered statement");
        };
        let (part, parts, n) = (*part, *parts, components.len());
        let entry = sign_and_submit(&signer.server, &key, &signer.issuer, &model, &body).await?;
        println!(
            "registered SBOM part {part}/{parts} of {model} {release} ({n} components) as entry {entry}"
        );
    }
    println!(
        "{count} components from {} ({format}, sha256 {digest})",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn status_name(s: VexStatus) -> &'static str {
    match s {
        VexStatus::Affected => "affected",
        VexStatus::NotAffected => "not_affected",
        VexStatus::Fixed => "fixed",
        VexStatus::UnderInvestigation => "under_investigation",
    }
}

/// `sectwin vex ...`.
pub async fn vex(cmd: VexCmd) -> Result<ExitCode> {
    match cmd {
        VexCmd::Import {
            signer,
            model,
            release,
            file,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let statements = match vuln_formats::detect(&bytes) {
                Some(DocumentFormat::OpenVex) => vuln_formats::openvex::parse(&bytes),
                Some(DocumentFormat::CycloneDx) => vuln_formats::cyclonedx::parse_vex(&bytes),
                Some(DocumentFormat::Csaf) => vuln_formats::csaf::parse_vex(&bytes),
                other => bail!(
                    "{}: not a VEX document (OpenVEX, CycloneDX VEX, CSAF VEX); detected {other:?}",
                    file.display()
                ),
            }
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let unreadable = statements::unreadable_device_conditions(&statements);
            if !unreadable.is_empty() {
                bail!(
                    "{}: device conditions sectwin cannot check (see docs/vex.md); nothing signed:\n  {}",
                    file.display(),
                    unreadable.join("\n  ")
                );
            }
            let key = signing_key(&signer.key)?;
            for s in &statements {
                let body = statements::vex_assessment(s, &release);
                let entry =
                    sign_and_submit(&signer.server, &key, &signer.issuer, &model, &body).await?;
                println!(
                    "{} {} on {model} {release}: entry {entry}",
                    s.vulnerability.as_str(),
                    status_name(s.status)
                );
            }
            println!("{} statements from {}", statements.len(), file.display());
            Ok(ExitCode::SUCCESS)
        }
        VexCmd::Export {
            server,
            auth,
            model,
            release,
            format,
            author,
        } => {
            let t = token(&server, &auth).await?;
            let mut path = format!("/api/v1/vex?model={}", urlencode(&model));
            if let Some(r) = &release {
                path.push_str(&format!("&release={}", urlencode(r)));
            }
            let v: VexView = wire(&api_get(&server, &path, t.as_deref()).await?)?;
            let mut statements = Vec::new();
            let mut signer = None;
            for x in &v.statements {
                let status = match x.status.as_str() {
                    "affected" => VexStatus::Affected,
                    "not_affected" => VexStatus::NotAffected,
                    "fixed" => VexStatus::Fixed,
                    _ => VexStatus::UnderInvestigation,
                };
                let rel = x.release.as_str();
                // The firmware as a package: pkg:generic/<vendor>/<model>@<release>.
                let firmware_purl = vuln_formats::model::Purl::new(&format!(
                    "pkg:generic/{}@{}",
                    model.trim_start_matches("model:"),
                    urlencode(rel)
                ))
                .map_err(|e| anyhow::anyhow!("firmware purl of {model} {rel}: {e}"))?;
                let product = vuln_formats::model::Product {
                    ids: vec![PackageId::Purl {
                        purl: firmware_purl,
                    }],
                    name: Some(format!("{model}@{rel}")),
                    version: Some(rel.to_string()),
                    subcomponents: x
                        .component
                        .as_deref()
                        .and_then(|c| vuln_formats::model::Purl::new(c).ok())
                        .map(|purl| vec![PackageId::Purl { purl }])
                        .unwrap_or_default(),
                    ..Default::default()
                };
                let justification = x
                    .justification
                    .as_deref()
                    .and_then(vuln_formats::model::Justification::from_name);
                statements.push(VexStatement {
                    vulnerability: vuln_formats::model::VulnId::new(&x.vulnerability)
                        .map_err(|e| anyhow::anyhow!("vulnerability id: {e}"))?,
                    aliases: Vec::new(),
                    products: vec![product],
                    status,
                    justification,
                    impact_statement: x.impact.clone().or_else(|| {
                        justification
                            .is_none()
                            .then(|| x.justification.clone())
                            .flatten()
                    }),
                    action_statement: (status == VexStatus::Affected)
                        .then(|| "update to a fixed firmware release".to_string()),
                    timestamp: None,
                    author: Some(x.issuer.clone()),
                });
                signer = signer.or_else(|| Some(x.issuer.clone()));
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let author = author.or(signer).unwrap_or_else(|| "sectwin".into());
            let meta = vuln_formats::export::VexDocumentMeta {
                id: format!(
                    "https://sectwin.invalid/vex/{}/{}",
                    model.trim_start_matches("model:"),
                    release.as_deref().unwrap_or("all")
                ),
                author: author.clone(),
                author_namespace: format!("https://{author}"),
                title: format!("VEX for {model}"),
                timestamp: vuln_formats::model::Timestamp::new(&rfc3339(now))
                    .map_err(|e| anyhow::anyhow!("timestamp: {e}"))?,
                version: 1,
            };
            let doc = match format.as_str() {
                "openvex" => vuln_formats::export::to_openvex(&statements, &meta),
                "cyclonedx" => vuln_formats::export::to_cyclonedx(&statements, &meta),
                "csaf" => vuln_formats::export::to_csaf(&statements, &meta),
                other => bail!("--format must be openvex, cyclonedx or csaf, not {other:?}"),
            }
            .map_err(|e| anyhow::anyhow!("export: {e}"))?;
            println!("{doc}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Unix seconds as RFC 3339 (UTC).
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let date = risk::Date::from_ymd(1970, 1, 1)
        .map(|d| {
            d.add_days(u32::try_from(days).unwrap_or(u32::MAX))
                .to_string()
        })
        .unwrap_or_else(|| "1970-01-01".into());
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `sectwin risks ...`.
pub async fn risks(cmd: RisksCmd) -> Result<ExitCode> {
    match cmd {
        RisksCmd::List {
            server,
            auth,
            filters,
            json,
        } => {
            let t = token(&server, &auth).await?;
            let mut q = Vec::new();
            for f in &filters {
                let (k, v) = f
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--filter wants KEY=VALUE, got {f:?}"))?;
                q.push(format!("{}={}", urlencode(k), urlencode(v)));
            }
            q.push("page_size=1000".into());
            let v = api_get(
                &server,
                &format!("/api/v1/risks?{}", q.join("&")),
                t.as_deref(),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            let page: RiskPage = wire(&v)?;
            println!(
                "{:<9} {:<12} {:<8} {:<11} {:<28} {:<22} {:<16} TITLE",
                "SEVERITY", "STATUS", "OVERDUE", "DEADLINE", "SUBJECT", "RISK", "OWNER"
            );
            for r in &page.risks {
                println!(
                    "{:<9} {:<12} {:<8} {:<11} {:<28} {:<22} {:<16} {}",
                    r.severity.as_str(),
                    r.status.as_str(),
                    if r.overdue { "OVERDUE" } else { "" },
                    r.deadline.date.as_deref().unwrap_or("-"),
                    r.subject,
                    r.risk,
                    r.owner,
                    r.title,
                );
                if let Some(m) = r.matches.first() {
                    println!(
                        "          why: {} ({}, confidence {})",
                        m.reason, m.rule, m.confidence
                    );
                }
                if let Some(f) = &r.fixed_in {
                    println!("          fixed in firmware {f}");
                }
            }
            println!("{} risks (as of log size {})", page.total, page.as_of);
            Ok(ExitCode::SUCCESS)
        }
        RisksCmd::Summary { server, auth } => {
            let t = token(&server, &auth).await?;
            let v = api_get(&server, "/api/v1/risks/summary", t.as_deref()).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        RisksCmd::Exposure { server, auth, by } => {
            let t = token(&server, &auth).await?;
            let v: Exposure = wire(
                &api_get(
                    &server,
                    &format!("/api/v1/exposure?by={}", urlencode(&by)),
                    t.as_deref(),
                )
                .await?,
            )?;
            println!(
                "{:<40} {:>6} {:>10} {:>8} {:>8} WORST",
                by.to_uppercase(),
                "RISKS",
                "UNRESOLVED",
                "OVERDUE",
                "DEVICES"
            );
            for g in &v.groups {
                println!(
                    "{:<40} {:>6} {:>10} {:>8} {:>8} {}",
                    g.key,
                    g.risks,
                    g.unresolved,
                    g.overdue,
                    g.devices,
                    g.worst_severity.map_or("-", |s| s.as_str())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RisksCmd::Decide {
            signer,
            subject,
            risk,
            decision,
            rationale,
            until,
            to,
        } => {
            let body = statements::risk_decision(&decision, &risk, &rationale, until, to)?;
            let key = signing_key(&signer.key)?;
            let entry =
                sign_and_submit(&signer.server, &key, &signer.issuer, &subject, &body).await?;
            println!("{} on {subject} {risk}: entry {entry}", body.type_name());
            Ok(ExitCode::SUCCESS)
        }
    }
}
