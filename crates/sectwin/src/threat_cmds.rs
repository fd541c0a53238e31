//! `sectwin threat ...`: threat modeling as code on the command line. Reads
//! the model, rule, suppression and policy files, calls the `threat` crate,
//! writes what it renders, and turns a failed gate into exit code 1 for CI
//! (overdue findings always; with `--fail-on SEVERITY` open findings at or
//! above it, only new ones against `--baseline`; with `--strict` warnings),
//! 2 for a model or rule error, printed as `FILE:LINE:COL`. Models are
//! parsed strictly: an attribute no loaded rule reads is an error.
//!
//! `threat record` hands the findings to the risk register as signed
//! statements on the models they are about: `risk-recorded` for a new or
//! changed finding, `risk-accepted` (until its expiry) for a suppressed one,
//! `risk-mitigated` for one no longer found; unchanged findings sign nothing,
//! so recording every model version keeps each risk's status.
//!
//! Deliberately absent: analysis logic (in `threat`), risk logic (in
//! `risk-register`), and a clock when `--today` is given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use api_types::risks::{Risk, RiskPage, RiskStatus};
use risk::{Date, DeadlinePolicy, Severity};
use threat::analysis::{analyze, diff, gate, Analysis, AnalysisOptions};
use threat::model::{Model, ModelError, SuppressionFile};
use threat::rules::RuleSet;
use threat::vocabulary::Vocabulary;
use threat::{diagram, import, output};

/// Largest rule directory accepted, in files.
const RULE_DIR_FILES_MAX: usize = 1000;

/// Threat subcommands.
#[derive(clap::Subcommand)]
pub enum ThreatCmd {
    /// Analyze a model; exit 1 when an open finding is past its deadline,
    /// or fails the `--fail-on` gate, or (with `--strict`) on a warning.
    Check {
        /// The model (YAML).
        model: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// New, resolved and changed findings between two versions of a model.
    Diff {
        /// The old model.
        old: PathBuf,
        /// The new model.
        new: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: DiffFormat,
    },
    /// A Markdown or HTML report.
    Report {
        /// The model.
        model: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
        /// Write here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The data-flow diagram with trust boundaries as SVG (Graphviz `dot`
    /// when installed, else a built-in layout).
    Diagram {
        /// The model.
        model: PathBuf,
        /// The SVG file to write (`.dot` writes the Graphviz source).
        #[arg(short, long)]
        output: PathBuf,
        /// Use the built-in layout even when `dot` is installed.
        #[arg(long)]
        builtin: bool,
    },
    /// Convert a pytm JSON output or a Threat Dragon v2 model to a sectwin model.
    Import {
        /// Source format.
        #[arg(value_enum)]
        from: ImportFormat,
        /// The file to import.
        file: PathBuf,
        /// The model YAML to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print the JSON Schema of the model file.
    Schema,
    /// List the rule library.
    Rules {
        /// Extra rule directories (every `*.yaml`/`*.yml` file in them).
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
    },
    /// Print an example model: the reference model (a smart-building access
    /// system), or its LLM maintenance assistant.
    Example {
        /// Which example.
        #[arg(value_enum, default_value = "smart-building")]
        name: ExampleName,
    },
    /// Record the findings in the risk register as signed statements on the
    /// device models they are about (new, changed, suppressed, resolved).
    Record(RecordArgs),
}

/// `sectwin threat record`.
#[derive(clap::Args)]
pub struct RecordArgs {
    /// The model (YAML).
    model: PathBuf,
    #[command(flatten)]
    common: Common,
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// The recorder's private key (a manufacturer of the device models).
    #[arg(long)]
    key: PathBuf,
    /// The recorder's stakeholder id.
    #[arg(long = "as")]
    issuer: String,
    /// The model subject (`model:<vendor>/<model>`) for findings on elements
    /// that reference no device model; without it they are skipped.
    #[arg(long)]
    subject: Option<String>,
    /// Recorded risks read per request while comparing with the register
    /// (every page is read).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1000))]
    page_size: u64,
    #[command(flatten)]
    auth: crate::twin_cmds::ClientAuth,
}

/// The CI gate of `threat check`.
#[derive(clap::Args)]
pub struct GateArgs {
    /// Exit 1 when an open (not suppressed) finding at or above this
    /// severity exists: low, medium, high or critical. With `--baseline`,
    /// only findings the baseline does not have count.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    fail_on: Option<Severity>,
    /// What the findings are compared with for `--fail-on`: the JSON output
    /// of an earlier `threat check --format json`, or an earlier version of
    /// the model (analyzed with the same rules). Findings are matched by
    /// their stable ids.
    #[arg(long, value_name = "FILE", requires = "fail_on")]
    baseline: Option<PathBuf>,
    /// Warnings are errors: an expired suppression, or one that matches no
    /// finding, fails the check (exit 1).
    #[arg(long)]
    strict: bool,
}

/// Options shared by the analyzing subcommands.
#[derive(clap::Args)]
pub struct Common {
    /// Extra rule directories (every `*.yaml`/`*.yml` file in them; repeatable).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// A suppressions file (YAML: `suppressions: [{finding|rule+element, reason, expires}]`).
    #[arg(long)]
    suppressions: Option<PathBuf>,
    /// The day to judge deadlines and expiries on (default: the system date, UTC).
    #[arg(long, value_parser = parse_date)]
    today: Option<Date>,
    /// The deadline policy (YAML or JSON; see `risk::DeadlinePolicy`).
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// `threat check` formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CheckFormat {
    /// A table.
    Text,
    /// One JSON object.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// `threat diff` formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DiffFormat {
    /// Lines starting with `+`, `-`, `~`.
    Text,
    /// One JSON object.
    Json,
}

/// `threat report` formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown.
    Markdown,
    /// Self-contained HTML.
    Html,
}

/// `threat example` models.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExampleName {
    /// The reference model: a smart-building access system.
    SmartBuilding,
    /// Its LLM maintenance assistant (agent, tools, vector store).
    MaintenanceAssistant,
}

/// `threat import` sources.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ImportFormat {
    /// `python3 tm.py --json FILE` output of pytm.
    Pytm,
    /// OWASP Threat Dragon v2 JSON.
    ThreatDragon,
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).map_err(|e| e.to_string())
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    match s.parse::<Severity>() {
        Ok(Severity::None) | Err(_) => Err(format!("{s:?}: one of low, medium, high, critical")),
        Ok(sev) => Ok(sev),
    }
}

/// A model or rule error: exit code 2 with `FILE:LINE:COL: message`.
struct InputError(String);

fn model_err(file: &Path, e: &ModelError) -> InputError {
    InputError(format!("{}:{e}", file.display()))
}

fn today_utc() -> Result<Date> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    let days = u32::try_from(secs / 86_400).context("system clock out of range")?;
    Date::from_ymd(1970, 1, 1)
        .map(|d| d.add_days(days))
        .context("epoch date")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn load_rules(dirs: &[PathBuf]) -> Result<Result<RuleSet, InputError>> {
    let mut set = match RuleSet::default_library() {
        Ok(s) => s,
        Err(e) => return Ok(Err(InputError(format!("default rules: {e}")))),
    };
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading rule directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        if files.len() > RULE_DIR_FILES_MAX {
            bail!(
                "{}: more than {RULE_DIR_FILES_MAX} rule files",
                dir.display()
            );
        }
        for f in files {
            let text = read(&f)?;
            let name = f.display().to_string();
            if let Err(e) = set.add_file(&name, &text) {
                // The error message starts with the file name already.
                return Ok(Err(InputError(match e.position {
                    Some((l, c)) => format!(
                        "{name}:{l}:{c}: {}",
                        e.message.trim_start_matches(&format!("{name}: "))
                    ),
                    None => e.message,
                })));
            }
        }
    }
    Ok(Ok(set))
}

struct Loaded {
    model: Model,
    rules: RuleSet,
    analysis: Analysis,
    today: Date,
}

fn load_and_analyze(
    path: &Path,
    common: &Common,
    rules: Option<&RuleSet>,
) -> Result<Result<Loaded, InputError>> {
    let rules = match rules {
        Some(r) => r.clone(),
        None => match load_rules(&common.rules)? {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        },
    };
    let text = read(path)?;
    // Strict: an attribute that neither the tool nor a loaded rule knows
    // (nor the model's `attribute_names`) is an error, not a threat
    // silently not found.
    let model = match Model::parse_with(&text, &Vocabulary::for_rules(&rules)) {
        Ok(m) => m,
        Err(e) => return Ok(Err(model_err(path, &e))),
    };
    let today = match common.today {
        Some(t) => t,
        None => today_utc()?,
    };
    let policy: DeadlinePolicy = match &common.policy {
        None => DeadlinePolicy::default(),
        Some(p) => match serde_norway::from_str(&read(p)?) {
            Ok(policy) => policy,
            Err(e) => {
                return Ok(Err(model_err(
                    p,
                    &ModelError {
                        position: e.location().map(|l| (l.line(), l.column())),
                        message: e.to_string(),
                    },
                )))
            }
        },
    };
    let suppressions = match &common.suppressions {
        None => Vec::new(),
        Some(p) => match SuppressionFile::parse(&read(p)?) {
            Ok(f) => f.suppressions,
            Err(e) => return Ok(Err(model_err(p, &e))),
        },
    };
    let options = AnalysisOptions {
        found: model.date.unwrap_or(today),
        today,
        policy,
        suppressions,
    };
    let analysis = analyze(&model, &rules, &options);
    Ok(Ok(Loaded {
        model,
        rules,
        analysis,
        today,
    }))
}

fn write_out(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Runs one threat subcommand.
pub fn run(cmd: ThreatCmd) -> Result<ExitCode> {
    match run_inner(cmd)? {
        Ok(code) => Ok(code),
        Err(InputError(msg)) => {
            eprintln!("error: {msg}");
            Ok(ExitCode::from(2))
        }
    }
}

fn run_inner(cmd: ThreatCmd) -> Result<Result<ExitCode, InputError>> {
    match cmd {
        ThreatCmd::Record(_) => bail!("threat record runs on the async runtime (see main)"),
        ThreatCmd::Check {
            model,
            common,
            format,
            gate: gate_args,
        } => {
            let l = match load_and_analyze(&model, &common, None)? {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            let baseline = match &gate_args.baseline {
                None => None,
                Some(b) => match baseline_ids(b, &common, &l.rules)? {
                    Ok(ids) => Some(ids),
                    Err(e) => return Ok(Err(e)),
                },
            };
            let rendered = match format {
                CheckFormat::Text => output::text(&l.model, &l.analysis, l.today),
                CheckFormat::Json => {
                    serde_json::to_string_pretty(&output::json(&l.model, &l.analysis, l.today))?
                        + "\n"
                }
                CheckFormat::Sarif => {
                    let uri = model.display().to_string();
                    serde_json::to_string_pretty(&output::sarif(&l.rules, &l.analysis, &uri))?
                        + "\n"
                }
            };
            print!("{rendered}");
            let mut failed = false;
            for s in &l.analysis.expired_suppressions {
                eprintln!(
                    "warning: suppression expired on {} and was ignored: {}",
                    s.expires, s.reason
                );
                failed |= gate_args.strict;
            }
            for s in &l.analysis.unused_suppressions {
                eprintln!(
                    "warning: suppression matches no finding: {} ({})",
                    s.finding
                        .clone()
                        .or_else(|| s
                            .rule
                            .clone()
                            .map(|r| format!("{r} on {}", s.element.as_deref().unwrap_or("?"))))
                        .unwrap_or_default(),
                    s.reason
                );
                failed |= gate_args.strict;
            }
            if failed {
                eprintln!("--strict: warnings are errors");
            }
            let overdue: Vec<_> = l.analysis.overdue().collect();
            if !overdue.is_empty() {
                eprintln!(
                    "{} open findings are past their deadline on {}:",
                    overdue.len(),
                    l.today
                );
                for f in overdue {
                    eprintln!(
                        "  {} {} {} on {} (deadline {}, {})",
                        f.id,
                        f.severity,
                        f.rule,
                        f.element,
                        f.deadline.date.map(|d| d.to_string()).unwrap_or_default(),
                        f.deadline.basis
                    );
                }
                failed = true;
            }
            if let Some(threshold) = gate_args.fail_on {
                let over = gate(&l.analysis, threshold, baseline.as_ref());
                if !over.is_empty() {
                    eprintln!(
                        "{} open finding(s) at or above {threshold}{}:",
                        over.len(),
                        if baseline.is_some() {
                            " not in the baseline"
                        } else {
                            ""
                        }
                    );
                    for f in over {
                        eprintln!(
                            "  {} {} {} on {}: {}",
                            f.id, f.severity, f.rule, f.element, f.title
                        );
                    }
                    failed = true;
                }
            }
            Ok(Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }))
        }
        ThreatCmd::Diff {
            old,
            new,
            common,
            format,
        } => {
            let rules = match load_rules(&common.rules)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let a = match load_and_analyze(&old, &common, Some(&rules))? {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            let b = match load_and_analyze(&new, &common, Some(&rules))? {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            let d = diff(&a.analysis, &b.analysis);
            match format {
                DiffFormat::Text => print!("{}", output::diff_text(&d)),
                DiffFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&output::diff_json(&d))?)
                }
            }
            Ok(Ok(ExitCode::SUCCESS))
        }
        ThreatCmd::Report {
            model,
            common,
            format,
            output: out,
        } => {
            let l = match load_and_analyze(&model, &common, None)? {
                Ok(l) => l,
                Err(e) => return Ok(Err(e)),
            };
            let text = match format {
                ReportFormat::Markdown => output::markdown(&l.model, &l.analysis, l.today),
                ReportFormat::Html => output::html(&l.model, &l.analysis, l.today),
            };
            write_out(out.as_deref(), &text)?;
            Ok(Ok(ExitCode::SUCCESS))
        }
        ThreatCmd::Diagram {
            model,
            output: out,
            builtin,
        } => {
            let text = read(&model)?;
            // Lenient: the diagram reads no attribute, and the command takes
            // no rule directories that could declare a model's own ones.
            let m = match Model::parse_lenient(&text) {
                Ok(m) => m,
                Err(e) => return Ok(Err(model_err(&model, &e))),
            };
            if out.extension().is_some_and(|x| x == "dot") {
                write_out(Some(&out), &diagram::dot(&m))?;
                return Ok(Ok(ExitCode::SUCCESS));
            }
            let svg = if builtin {
                None
            } else {
                run_dot(&diagram::dot(&m))
            };
            let svg = match svg {
                Some(svg) => svg,
                None => {
                    if !builtin {
                        eprintln!("note: Graphviz `dot` not found on PATH; using the built-in layered layout");
                    }
                    diagram::svg(&m)
                }
            };
            write_out(Some(&out), &svg)?;
            Ok(Ok(ExitCode::SUCCESS))
        }
        ThreatCmd::Import {
            from,
            file,
            output: out,
        } => {
            let text = read(&file)?;
            let imported = match from {
                ImportFormat::Pytm => import::pytm(&text),
                ImportFormat::ThreatDragon => import::threat_dragon(&text),
            };
            let imported = match imported {
                Ok(i) => i,
                Err(e) => return Ok(Err(model_err(&file, &e))),
            };
            let yaml = match imported.model.to_yaml() {
                Ok(y) => y,
                Err(e) => return Ok(Err(model_err(&file, &e))),
            };
            write_out(Some(&out), &yaml)?;
            println!(
                "imported {} elements, {} flows, {} boundaries into {}",
                imported.model.elements.len(),
                imported.model.flows.len(),
                imported.model.boundaries.len(),
                out.display()
            );
            for n in &imported.notes {
                println!("note: {n}");
            }
            Ok(Ok(ExitCode::SUCCESS))
        }
        ThreatCmd::Schema => {
            println!("{}", threat::model::model_schema());
            Ok(Ok(ExitCode::SUCCESS))
        }
        ThreatCmd::Rules { rules } => {
            let set = match load_rules(&rules)? {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            println!(
                "{:<30} {:<23} {:>4} {:<14} TITLE",
                "RULE", "STRIDE", "CVSS", "FILE"
            );
            for r in &set.rules {
                println!(
                    "{:<30} {:<23} {:>4} {:<14} {}",
                    r.def.id,
                    r.def.stride.as_str(),
                    r.cvss.base_score().to_string(),
                    Path::new(&r.file)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    r.def.title
                );
            }
            println!("{} rules", set.rules.len());
            Ok(Ok(ExitCode::SUCCESS))
        }
        ThreatCmd::Example { name } => {
            print!(
                "{}",
                match name {
                    ExampleName::SmartBuilding => threat::REFERENCE_MODEL,
                    ExampleName::MaintenanceAssistant => threat::LLM_EXAMPLE_MODEL,
                }
            );
            Ok(Ok(ExitCode::SUCCESS))
        }
    }
}

/// The finding ids of `--baseline FILE`: the JSON output of `threat check
/// --format json` (an object with `findings`), or a model analyzed with
/// `rules` and `common`'s options.
fn baseline_ids(
    path: &Path,
    common: &Common,
    rules: &RuleSet,
) -> Result<Result<std::collections::BTreeSet<String>, InputError>> {
    let text = read(path)?;
    if let Ok(serde_json::Value::Object(doc)) = serde_json::from_str::<serde_json::Value>(&text) {
        if let (Some(findings), None) = (doc.get("findings"), doc.get("elements")) {
            let Some(findings) = findings.as_array() else {
                return Ok(Err(InputError(format!(
                    "{}: `findings` is not a list",
                    path.display()
                ))));
            };
            let mut ids = std::collections::BTreeSet::new();
            for f in findings {
                match f.get("id").and_then(serde_json::Value::as_str) {
                    Some(id) => ids.insert(id.to_string()),
                    None => {
                        return Ok(Err(InputError(format!(
                        "{}: a finding without an `id` (not `threat check --format json` output)",
                        path.display()
                    ))))
                    }
                };
            }
            return Ok(Ok(ids));
        }
    }
    Ok(load_and_analyze(path, common, Some(rules))?
        .map(|l| l.analysis.findings.into_iter().map(|f| f.id).collect()))
}

/// Renders DOT with Graphviz when `dot` is on PATH.
fn run_dot(dot: &str) -> Option<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(dot.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The severity a recorded risk carries: a finding scored "none" is
/// recorded as low (a finding is a risk to look at).
fn twin_severity(s: risk::Severity) -> risk::Severity {
    match s {
        risk::Severity::None => risk::Severity::Low,
        other => other,
    }
}

/// `sectwin threat record MODEL --server SERVER --key KEY --as ISSUER
/// --token TOKEN` with every other option at its default (the demo's step).
pub(crate) async fn record_with_token(
    model: PathBuf,
    server: String,
    key: PathBuf,
    issuer: String,
    token: String,
) -> Result<ExitCode> {
    record(RecordArgs {
        model,
        common: Common {
            rules: Vec::new(),
            suppressions: None,
            today: None,
            policy: None,
        },
        server,
        key,
        issuer,
        subject: None,
        page_size: 500,
        auth: crate::twin_cmds::ClientAuth::with_token(token),
    })
    .await
}

/// `sectwin threat record`.
pub async fn record(args: RecordArgs) -> Result<ExitCode> {
    let l = match load_and_analyze(&args.model, &args.common, None)? {
        Ok(l) => l,
        Err(InputError(msg)) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let source = format!("threat-model:{}", l.model.target_of_evaluation.name);
    let version = l
        .model
        .version
        .clone()
        .unwrap_or_else(|| "unversioned".into());
    let token = crate::twin_cmds::token(&args.server, &args.auth).await?;
    let key = crate::twin_cmds::signing_key(&args.key)?;
    // The model itself first, so that its findings can be shown on its
    // diagram and checked against exactly what was analysed: published
    // unless the version in force is this very file.
    let published = publish_model(&args, &l, &key, token.as_deref()).await?;
    // (subject, risk) → the register's risk, for this model's source: every
    // page, so that a model with more recorded risks than one page holds
    // neither resubmits the later ones as new nor leaves them unresolved.
    let mut known: std::collections::BTreeMap<(String, String), Risk> =
        std::collections::BTreeMap::new();
    let mut offset = 0usize;
    loop {
        let page = crate::twin_cmds::api_get(
            &args.server,
            &format!(
                "/api/v1/risks?kind=recorded&page_size={}&offset={offset}",
                args.page_size
            ),
            token.as_deref(),
        )
        .await
        .context("reading the recorded risks (give --client-id/--client-secret or --token)")?;
        let page: RiskPage = crate::twin_cmds::wire(&page)?;
        for r in page.risks {
            if r.source.as_deref() == Some(source.as_str()) {
                known.insert((r.subject.clone(), r.risk.clone()), r);
            }
        }
        match page.next_offset {
            Some(next) if next > offset => offset = next,
            _ => break,
        }
    }
    let (mut new, mut changed, mut accepted, mut resolved, mut unchanged, mut skipped) =
        (0, 0, 0, 0, 0, 0);
    let mut seen = std::collections::BTreeSet::new();
    for f in &l.analysis.findings {
        let Some(subject) = f
            .device_model
            .as_ref()
            .map(|dm| format!("model:{dm}"))
            .or_else(|| args.subject.clone())
        else {
            skipped += 1;
            continue;
        };
        let risk_id = format!("threat/{}", f.id);
        seen.insert((subject.clone(), risk_id.clone()));
        let existing = known.get(&(subject.clone(), risk_id.clone()));
        let severity = twin_severity(f.severity);
        let deadline = f.deadline.date.map(|d| d.to_string());
        let same = existing.is_some_and(|r| {
            r.severity.as_str() == severity.as_str()
                && r.cvss_vector.as_deref() == Some(f.cvss_vector.as_str())
                && r.status != RiskStatus::Mitigated
        });
        if !same {
            let payload = crate::statements::risk_recorded(crate::statements::RecordedRisk {
                risk: risk_id.clone(),
                severity,
                description: f.title.clone(),
                cvss_vector: f.cvss_vector.clone(),
                source: source.clone(),
                element: f.element_name.clone(),
                deadline,
            });
            crate::twin_cmds::sign_and_submit(&args.server, &key, &args.issuer, &subject, &payload)
                .await?;
            if existing.is_some() {
                changed += 1;
            } else {
                new += 1;
            }
        } else {
            unchanged += 1;
        }
        if let threat::analysis::FindingStatus::Suppressed { reason, expires } = &f.status {
            let open = existing.is_none_or(|r| r.status == RiskStatus::Open);
            if open {
                let payload = crate::statements::risk_suppressed(
                    &risk_id,
                    &version,
                    reason,
                    expires.to_string(),
                );
                crate::twin_cmds::sign_and_submit(
                    &args.server,
                    &key,
                    &args.issuer,
                    &subject,
                    &payload,
                )
                .await?;
                accepted += 1;
            }
        }
    }
    for ((subject, risk_id), r) in &known {
        if seen.contains(&(subject.clone(), risk_id.clone())) {
            continue;
        }
        if matches!(
            r.status,
            RiskStatus::Open | RiskStatus::Transferred | RiskStatus::Accepted
        ) {
            let payload = crate::statements::risk_resolved(risk_id, &version);
            crate::twin_cmds::sign_and_submit(&args.server, &key, &args.issuer, subject, &payload)
                .await?;
            resolved += 1;
        }
    }
    println!("{published}");
    println!(
        "{source} {version}: {new} new, {changed} changed, {accepted} suppressed (accepted), {resolved} resolved, {unchanged} unchanged, {skipped} skipped (no device model; give --subject)"
    );
    Ok(ExitCode::SUCCESS)
}

/// Publishes the model file of `l` as a `threat-model` statement of
/// `args.issuer` unless the version in force under its id is the same file;
/// says which.
async fn publish_model(
    args: &RecordArgs,
    l: &Loaded,
    key: &scitt::SigningKey,
    token: Option<&str>,
) -> Result<String> {
    use sha2::Digest;
    let source = read(&args.model)?;
    let name = &l.model.target_of_evaluation.name;
    let id = crate::statements::threat_model_id(name);
    let sha256 = hex::encode(sha2::Sha256::digest(source.as_bytes()));
    let list = crate::twin_cmds::api_get(&args.server, "/api/v1/threat-models", token)
        .await
        .context("reading the published threat models")?;
    let list: api_types::dashboard::ThreatModelList = crate::twin_cmds::wire(&list)?;
    if list.models.iter().any(|m| {
        m.owner == args.issuer
            && m.id == id
            && m.superseded_by.is_none()
            && m.source_sha256 == sha256
    }) {
        return Ok(format!(
            "threat model {:?} ({id}): the version in force is this file, not published again",
            name
        ));
    }
    let body = crate::statements::threat_model(&id, name, l.model.version.as_deref(), &source);
    // A threat model says where a system is weak: the log holds only the
    // digest of a salted payload (a hash envelope); the node keeps the
    // payload beside the log and shows it to the stakeholders it concerns.
    let mut wire = body.to_wire();
    let mut salt = [0u8; 24];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    wire[twin::statement::SALT] =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, salt).into();
    let payload = serde_json::to_vec(&wire)?;
    if payload.len() > twin::statement::PAYLOAD_BYTES_MAX {
        bail!(
            "the model file makes a threat-model statement of {} bytes; a statement carries at most {} bytes: split the model",
            payload.len(),
            twin::statement::PAYLOAD_BYTES_MAX
        );
    }
    let subject = format!("stakeholder:{}", args.issuer);
    let statement = scitt::StatementBuilder::new(&args.issuer, &subject, &payload)
        .content_type("application/json")
        .issued_at(crate::now_unix_s())
        .hash_envelope(None)
        .sign(key);
    let (location, _) =
        crate::scitt_cmds::submit_with_payload(&args.server, statement, payload).await?;
    let entry = crate::scitt_cmds::entry_of(&location)
        .with_context(|| format!("unexpected location {location:?}"))?;
    crate::twin_cmds::wait_projected(&args.server, entry).await?;
    Ok(format!(
        "threat model {:?} published as {}/{id} (sha256 {sha256}); see {}/#/threat-models/{}/{id}",
        name, args.issuer, args.server, args.issuer
    ))
}
