//! The vulnerability-management subcommands: `sectwin cvss` scores CVSS
//! vectors (from arguments, or one per line from stdin with `-`) and prints a
//! table or, with `--json`, JSON lines; `sectwin vuln import|show|list` work
//! on the advisory database in `DATA/advisories` (`advisory-store`), with
//! progress bars on a terminal.
//!
//! Deliberately absent: any scoring, parsing or storage logic (in `vuln`,
//! `vuln-formats` and `advisory-store`) and network access; this file only
//! reads arguments and stdin and formats output.

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use advisory_store::{AdvisoryStore, Progress};
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use vuln::cvss::{CvssVector, Severity};
use vuln::index::{AdvisoryScore, PreparedAdvisory};
use vuln_formats::model::{PackageId, ScorePublisher, SeverityScheme, VersionRange};

/// `sectwin cvss`.
#[derive(clap::Args)]
pub struct CvssArgs {
    /// One JSON object per vector, one per line (JSON lines), in input
    /// order: `vector`, `version`, `base_score`, `base_severity`, `score`,
    /// `score_kind`, `severity` (and `temporal_score`, `environmental_score`
    /// for v3), or `vector` and `error`.
    #[arg(long)]
    json: bool,
    /// CVSS v3.0, v3.1 or v4.0 vectors; `-` reads vectors from stdin, one per
    /// line (blank lines skipped).
    #[arg(required = true)]
    vectors: Vec<String>,
}

/// Scores every vector; exit code 2 if any is invalid (all are still printed).
pub fn cvss(args: CvssArgs) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut invalid = 0usize;
    if !args.json {
        writeln!(
            out,
            "{:<5} {:<8} {:<14} {:<5} {:<8} VECTOR",
            "SCORE", "SEVERITY", "KIND", "BASE", "VERSION"
        )?;
    }
    let mut emit = |out: &mut BufWriter<std::io::StdoutLock<'_>>, input: &str| -> Result<()> {
        let parsed = CvssVector::parse(input);
        if parsed.is_err() {
            invalid += 1;
        }
        if args.json {
            writeln!(out, "{}", json_of(input, &parsed))?;
        } else {
            match &parsed {
                Ok(v) => writeln!(
                    out,
                    "{:<5} {:<8} {:<14} {:<5} {:<8} {}",
                    v.score().to_string(),
                    v.severity().rating_name(),
                    v.score_kind().as_str(),
                    v.base_score().to_string(),
                    v.version().as_str(),
                    input.trim()
                )?,
                Err(e) => writeln!(out, "{:<5} {:<8} error: {e}: {}", "-", "-", input.trim())?,
            }
        }
        Ok(())
    };
    for arg in &args.vectors {
        if arg == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading vectors from stdin")?;
                if !line.trim().is_empty() {
                    emit(&mut out, &line)?;
                }
            }
        } else {
            emit(&mut out, arg)?;
        }
    }
    out.flush()?;
    drop(out);
    if invalid > 0 {
        eprintln!("{invalid} invalid vector(s)");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn json_of(input: &str, parsed: &Result<CvssVector, vuln::cvss::CvssError>) -> Value {
    match parsed {
        Err(e) => json!({ "vector": input.trim(), "error": e.to_string() }),
        Ok(v) => {
            let mut obj = json!({
                "vector": input.trim(),
                "version": v.version().as_str(),
                "base_score": v.base_score().value(),
                "base_severity": v.base_severity().rating_name(),
                "score": v.score().value(),
                "score_kind": v.score_kind().as_str(),
                "severity": v.severity().rating_name(),
            });
            if let (Some(map), Some(t), Some(e)) = (
                obj.as_object_mut(),
                v.temporal_score(),
                v.environmental_score(),
            ) {
                map.insert("temporal_score".into(), json!(t.value()));
                map.insert("environmental_score".into(), json!(e.value()));
            }
            obj
        }
    }
}

/// Failure reasons printed under the import summary table (all are in
/// `--json`).
const FAILURES_SHOWN_MAX: usize = 5;

/// `sectwin vuln ...`: the advisory database.
#[derive(clap::Subcommand)]
pub enum VulnCmd {
    /// Import advisory files and dumps (OSV, CVE JSON 5, NVD CVE API 2.0,
    /// CSAF 2.0; `.json`, `.jsonl`, gzip of either; directories
    /// recursively), incrementally: unchanged advisories are not rewritten.
    Import(ImportArgs),
    /// Show one advisory (by id or alias): scores recomputed from their
    /// vectors, affected packages and CPEs with their ranges.
    Show(ShowArgs),
    /// List stored advisories, worst score first.
    List(ListArgs),
    /// Match SBOMs (CycloneDX or SPDX JSON) against the stored advisories:
    /// each match with its rule, confidence and reason.
    Match(crate::vuln_match::MatchArgs),
    /// How many stored advisories can match at least one component, and
    /// why the others cannot, grouped by reason.
    Coverage(crate::vuln_match::CoverageArgs),
    /// Import a whole known-exploited list (CISA's KEV JSON, or a list in
    /// its format under its own name), replacing the list of that name.
    Kev(crate::exploit_cmds::KevArgs),
    /// Import a day of FIRST's EPSS scores (CSV), keeping each CVE's
    /// history; a day older than the latest imported is refused.
    Epss(crate::exploit_cmds::EpssArgs),
}

/// `sectwin vuln import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Data directory (the advisories are in DATA/advisories).
    #[arg(long, env = "SECTWIN_DATA")]
    data: PathBuf,
    /// Print the summary as JSON (with every failure and changed id).
    #[arg(long)]
    json: bool,
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short)]
    quiet: bool,
    /// Files and directories to import.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// `sectwin vuln show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// Data directory (the advisories are in DATA/advisories).
    #[arg(long, env = "SECTWIN_DATA")]
    data: PathBuf,
    /// Print the stored advisory and its recomputed scores as JSON.
    #[arg(long)]
    json: bool,
    /// The advisory id or an alias of it.
    id: String,
}

/// The severity filter of `sectwin vuln list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SeverityArg {
    /// 9.0 to 10.0.
    Critical,
    /// 7.0 to 8.9.
    High,
    /// 4.0 to 6.9.
    Medium,
    /// 0.1 to 3.9.
    Low,
    /// 0.0.
    None,
}

impl SeverityArg {
    fn severity(self) -> Severity {
        match self {
            SeverityArg::Critical => Severity::Critical,
            SeverityArg::High => Severity::High,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::Low => Severity::Low,
            SeverityArg::None => Severity::None,
        }
    }
}

/// `sectwin vuln list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Data directory (the advisories are in DATA/advisories).
    #[arg(long, env = "SECTWIN_DATA")]
    data: PathBuf,
    /// Only advisories whose worst recomputed score has this severity or a
    /// worse one.
    #[arg(long, value_enum)]
    severity: Option<SeverityArg>,
    /// Only advisories in CISA's Known Exploited Vulnerabilities catalog.
    #[arg(long)]
    kev: bool,
    /// At most this many lines.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Runs a `sectwin vuln` subcommand.
pub fn vuln(cmd: VulnCmd) -> Result<ExitCode> {
    match cmd {
        VulnCmd::Import(args) => import(args),
        VulnCmd::Show(args) => show(args),
        VulnCmd::List(args) => list(args),
        VulnCmd::Match(args) => crate::vuln_match::run(args),
        VulnCmd::Coverage(args) => crate::vuln_match::coverage(args),
        VulnCmd::Kev(args) => crate::exploit_cmds::kev(args),
        VulnCmd::Epss(args) => crate::exploit_cmds::epss(args),
    }
}

/// The store of a data directory.
pub(crate) fn open_store(data: &Path) -> Result<AdvisoryStore> {
    let dir = data.join("advisories");
    AdvisoryStore::open(&dir).with_context(|| format!("opening {}", dir.display()))
}

fn import(args: ImportArgs) -> Result<ExitCode> {
    // A missing path is reported before the store is even created.
    for p in &args.paths {
        if let Err(e) = std::fs::metadata(p) {
            bail!("{}: {e}", p.display());
        }
    }
    let store = open_store(&args.data)?;
    let hidden = args.quiet || !std::io::stderr().is_terminal();
    let progress = Bars::new(hidden);
    let summary = store.import_paths(&args.paths, &progress)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let secs = summary.elapsed.as_secs_f64();
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("elapsed");
            o.insert("elapsed_s".into(), json!(secs));
            o.insert("stored".into(), json!(store.len()));
        }
        writeln!(out, "{v}")?;
    } else {
        let rate = if secs > 0.0 {
            summary.records as f64 / secs
        } else {
            0.0
        };
        let rows: Vec<(&str, String)> = vec![
            (
                "files",
                format!("{} ({} unreadable)", summary.files, summary.files_failed),
            ),
            ("records", summary.records.to_string()),
            ("new", summary.new.to_string()),
            ("updated", summary.updated.to_string()),
            ("unchanged", summary.unchanged.to_string()),
            ("older", summary.older.to_string()),
            ("withdrawn", summary.withdrawn.to_string()),
            ("duplicates", summary.duplicates.to_string()),
            ("failed", summary.failed.to_string()),
            ("score mismatches", summary.score_mismatches.to_string()),
            ("generation", summary.generation.to_string()),
            ("stored", store.len().to_string()),
            ("elapsed", format!("{secs:.2} s")),
            ("records/s", format!("{rate:.0}")),
        ];
        for (k, v) in rows {
            writeln!(out, "{k:<17} {v}")?;
        }
        for f in summary.failures.iter().take(FAILURES_SHOWN_MAX) {
            writeln!(out, "  {}: {}: {}", f.file.display(), f.record, f.reason)?;
        }
        if summary.failed > FAILURES_SHOWN_MAX {
            writeln!(
                out,
                "  ... {} more (--json lists them)",
                summary.failed - FAILURES_SHOWN_MAX
            )?;
        }
    }
    out.flush()?;
    if summary.files == 0 {
        eprintln!("error: no advisory files (*.json, *.jsonl, *.ndjson, *.gz) found");
        return Ok(ExitCode::FAILURE);
    }
    if summary.files_failed == summary.files {
        eprintln!("error: nothing could be read");
        return Ok(ExitCode::FAILURE);
    }
    if summary.failed > 0 {
        // The rest is imported and durable; the status tells scripts and
        // cron jobs that something was not.
        eprintln!(
            "error: {} of {} records could not be imported (listed above)",
            summary.failed, summary.records
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Ends a command that only read `store`: its shutdown (joining fjall's
/// background threads, which poll about every 250 ms) is skipped, as
/// nothing is left to write; the process exits right after.
fn read_only_done(store: AdvisoryStore) {
    std::mem::forget(store);
}

fn show(args: ShowArgs) -> Result<ExitCode> {
    let store = open_store(&args.data)?;
    let result = show_from(&store, &args);
    read_only_done(store);
    result
}

fn show_from(store: &AdvisoryStore, args: &ShowArgs) -> Result<ExitCode> {
    let Some(a) = store.get(&args.id)? else {
        eprintln!("error: no advisory {} in {}", args.id, args.data.display());
        return Ok(ExitCode::FAILURE);
    };
    let prepared = PreparedAdvisory::new(&a);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let scores: Vec<Value> = prepared.scores().iter().map(score_json).collect();
        let v = json!({
            "advisory": a,
            "scores": scores,
            "severity": prepared.severity().map(|s| s.rating_name()),
            "score_mismatch": prepared.has_score_mismatch(),
            "known_exploited": prepared.is_known_exploited(),
            "notes": prepared.notes(),
        });
        writeln!(out, "{v}")?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{} ({:?})", a.id.as_str(), a.source)?;
    if !a.aliases.is_empty() {
        let aliases: Vec<&str> = a.aliases.iter().map(|v| v.as_str()).collect();
        writeln!(out, "aliases:   {}", aliases.join(", "))?;
    }
    for (k, t) in [
        ("published", &a.published),
        ("modified", &a.modified),
        ("withdrawn", &a.withdrawn),
    ] {
        if let Some(t) = t {
            writeln!(out, "{k}: {}", t.as_str())?;
        }
    }
    if let Some(s) = a.summary.as_ref().or(a.description.as_ref()) {
        writeln!(out, "summary:   {}", s.lines().next().unwrap_or_default())?;
    }
    if let Some(adp) = &a.cisa_adp {
        if let Some(kev) = &adp.kev {
            writeln!(
                out,
                "KEV:       listed{}",
                kev.date_added
                    .as_ref()
                    .map(|d| format!(" since {}", d.as_str()))
                    .unwrap_or_default()
            )?;
        }
        if let Some(ssvc) = &adp.ssvc {
            writeln!(
                out,
                "SSVC:      exploitation {}, automatable {}, technical impact {}",
                ssvc.exploitation.as_deref().unwrap_or("-"),
                ssvc.automatable.as_deref().unwrap_or("-"),
                ssvc.technical_impact.as_deref().unwrap_or("-")
            )?;
        }
    }
    let ids: Vec<&str> = std::iter::once(a.id.as_str())
        .chain(a.aliases.iter().map(|x| x.as_str()))
        .collect();
    crate::exploit_cmds::show_lines(store, &ids, &mut out)?;
    writeln!(out, "scores:")?;
    if a.severities.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for s in prepared.scores() {
        let check = match (&s.published, s.published_mismatch()) {
            (Some(p), true) => format!("published {p}: MISMATCH"),
            (Some(p), false) => format!("published {p}: agrees"),
            (None, _) => "no published score".into(),
        };
        writeln!(
            out,
            "  {:<28} {}  recomputed {} ({}), {check}",
            publisher(&s.publisher),
            s.vector,
            s.base(),
            s.base().severity().rating_name()
        )?;
    }
    for s in a.severities.iter().filter(|s| {
        !matches!(
            s.scheme,
            SeverityScheme::CvssV30 | SeverityScheme::CvssV31 | SeverityScheme::CvssV40
        )
    }) {
        writeln!(
            out,
            "  {:<28} {:?} {} (not recomputed)",
            publisher(&s.publisher),
            s.scheme,
            s.vector
        )?;
    }
    writeln!(out, "affected:")?;
    if a.affected.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for e in &a.affected {
        let ids: Vec<String> = e.package.iter().map(package).collect();
        if ids.is_empty() {
            writeln!(out, "  (no package identifier)")?;
        } else {
            writeln!(out, "  {}", ids.join(" | "))?;
        }
        for r in &e.ranges {
            writeln!(out, "    affected {}", range(r))?;
        }
        if !e.versions.is_empty() {
            writeln!(out, "    versions {}", e.versions.join(", "))?;
        }
        if e.all_versions {
            writeln!(out, "    every version")?;
        }
        for r in &e.unaffected_ranges {
            writeln!(out, "    unaffected {}", range(r))?;
        }
        if !e.unaffected_versions.is_empty() {
            writeln!(
                out,
                "    unaffected versions {}",
                e.unaffected_versions.join(", ")
            )?;
        }
    }
    for n in prepared.notes() {
        writeln!(out, "note: {n}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> Result<ExitCode> {
    let store = open_store(&args.data)?;
    let result = list_from(&store, &args);
    read_only_done(store);
    result
}

fn list_from(store: &AdvisoryStore, args: &ListArgs) -> Result<ExitCode> {
    let index = store.load_index()?;
    let floor = args.severity.map(SeverityArg::severity);
    let mut rows: Vec<&PreparedAdvisory> = index
        .advisories()
        .filter(|a| !args.kev || a.is_known_exploited())
        .filter(|a| floor.is_none_or(|f| a.severity().is_some_and(|s| s >= f)))
        .collect();
    rows.sort_by(|a, b| {
        b.worst_score()
            .cmp(&a.worst_score())
            .then_with(|| a.id().cmp(b.id()))
    });
    let total = rows.len();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if !args.json {
        writeln!(
            out,
            "{:<20} {:<5} {:<8} {:<3} SUMMARY",
            "ID", "SCORE", "SEVERITY", "KEV"
        )?;
    }
    for a in rows.iter().take(args.limit) {
        let score = a.worst_score();
        if args.json {
            let v = json!({
                "id": a.id().as_str(),
                "score": score.map(|s| s.value()),
                "severity": a.severity().map(|s| s.rating_name()),
                "known_exploited": a.is_known_exploited(),
                "withdrawn": a.is_withdrawn(),
                "score_mismatch": a.has_score_mismatch(),
                "summary": a.summary(),
            });
            writeln!(out, "{v}")?;
        } else {
            let summary: String = a.summary().unwrap_or_default().chars().take(80).collect();
            writeln!(
                out,
                "{:<20} {:<5} {:<8} {:<3} {}",
                a.id().as_str(),
                score.map_or("-".into(), |s| s.to_string()),
                a.severity().map_or("-", |s| s.rating_name()),
                if a.is_known_exploited() { "yes" } else { "" },
                summary.lines().next().unwrap_or_default()
            )?;
        }
    }
    if !args.json && total > args.limit {
        writeln!(out, "({} of {total} shown; --limit)", args.limit)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn score_json(s: &AdvisoryScore) -> Value {
    json!({
        "publisher": s.publisher,
        "vector": s.vector.to_string(),
        "version": s.vector.version().as_str(),
        "recomputed_base_score": s.base().value(),
        "recomputed_severity": s.base().severity().rating_name(),
        "published_base_score": s.published.map(|p| p.value()),
        "published_mismatch": s.published_mismatch(),
    })
}

fn publisher(p: &ScorePublisher) -> String {
    let (role, name) = match p {
        ScorePublisher::Cna(n) => ("CNA", n),
        ScorePublisher::CisaAdp => ("CISA ADP", &None),
        ScorePublisher::Adp(n) => ("ADP", n),
        ScorePublisher::NvdPrimary(n) => ("NVD primary", n),
        ScorePublisher::NvdSecondary(n) => ("NVD secondary", n),
        ScorePublisher::Publisher(n) => ("publisher", n),
    };
    match name {
        Some(n) => format!("{role} {n}"),
        None => role.to_string(),
    }
}

fn package(p: &PackageId) -> String {
    match p {
        PackageId::Purl { purl } => purl.as_str().to_string(),
        PackageId::Cpe { cpe } => cpe.as_str().to_string(),
        PackageId::Ecosystem { ecosystem, name } => format!("{ecosystem}/{name}"),
        PackageId::VendorProduct { vendor, product } => format!("{vendor} {product}"),
        PackageId::Name { name } => name.clone(),
    }
}

fn range(r: &VersionRange) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &r.introduced {
        parts.push(format!(
            "{} {}",
            if b.inclusive { ">=" } else { ">" },
            b.version
        ));
    }
    if let Some(b) = &r.end {
        parts.push(format!(
            "{} {}",
            if b.inclusive { "<=" } else { "<" },
            b.version
        ));
    }
    if parts.is_empty() {
        parts.push("every version".into());
    }
    format!("{} ({})", parts.join(", "), r.scheme)
}

/// Progress bars on stderr: bytes read (of the files' total size on disk)
/// and records imported.
struct Bars {
    bytes: ProgressBar,
    records: ProgressBar,
    _multi: MultiProgress,
}

impl Bars {
    fn new(hidden: bool) -> Bars {
        let multi = MultiProgress::with_draw_target(if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let bytes = multi.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}",
        ) {
            bytes.set_style(style);
        }
        let records = multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {human_pos} records ({per_sec})")
        {
            records.set_style(style);
        }
        Bars {
            bytes,
            records,
            _multi: multi,
        }
    }
}

impl Progress for Bars {
    fn files(&self, _count: u64, bytes: u64) {
        self.bytes.set_length(bytes);
    }
    fn file_started(&self, path: &Path, _bytes: u64) {
        self.bytes.set_message(path.display().to_string());
    }
    fn bytes_read(&self, n: u64) {
        self.bytes.inc(n);
    }
    fn records(&self, n: u64) {
        self.records.inc(n);
    }
    fn finished(&self) {
        self.bytes.finish_and_clear();
        self.records.finish_and_clear();
    }
}
