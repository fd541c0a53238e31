//! CVE JSON 5.x records (CVE Record Format, `dataVersion` 5.0–5.x) →
//! [`Advisory`], including the ADP containers: CISA's ("CISA ADP
//! Vulnrichment": CVSS, CWE, CPEs, KEV and SSVC decision points) and the CVE
//! Program's. Also [`parse_jsonl_gz`], which reads a gzip JSON-lines dump of
//! records (like CISA's vulnrichment export) from any reader, in parallel.
//!
//! `affected[].versions[]` are normalized: an entry with `lessThan` or
//! `lessThanOrEqual` is an interval from `version` (`0` or `*` meaning "from
//! the first") to that bound (`*` meaning "no upper bound"), split at its
//! `changes[]`; an entry without bound is an exact version, unless its
//! `version` is a range written as text (`< 5.1.1`, `5.5.58 and prior`,
//! `8.5.0 to 8.5.6`, `all versions`: [`crate::prose`]); `status:
//! unaffected` goes to the unaffected lists. Placeholders (`n/a`,
//! `unspecified`, `unknown`) say nothing and are ignored. A malformed CPE in
//! `cpes[]` is dropped into [`Advisory::dropped`] rather than failing the
//! record (IBM's CNA wrote a few). `all_versions` is
//! set for `*`, for `0`..`*`, and for `defaultStatus: affected` with no
//! version listed. Scores are attributed to the CNA, to CISA's ADP or to
//! another ADP. The scheme of a range is the entry's `versionType`
//! (`unspecified` when absent).
//!
//! Read with serde structs of this module (no crate reads CVE 5 with ADP
//! containers); the large `x_legacyV4Record` and other unused parts are
//! skipped unread. Not done here: CVSS computation, CPE parsing, the CVE
//! Services API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::common::{adv_id, adv_timestamp, push_unique};
use crate::error::AdvisoryParseError;
use crate::json::{self, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{
    Advisory, AdvisoryFormat, Affected, Bound, CisaAdp, Cpe, DefaultStatus, Dropped, Kev,
    PackageId, Reference, ScorePublisher, Severity, SeverityScheme, Ssvc, VersionRange,
};

/// Whether `bytes` look like a CVE 5 record (`dataType: CVE_RECORD`, or
/// `cveMetadata` with `containers`).
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "dataType")]
        data_type: Option<String>,
        #[serde(rename = "cveMetadata")]
        cve_metadata: Option<serde::de::IgnoredAny>,
        containers: Option<serde::de::IgnoredAny>,
    }
    json::peek::<Probe>(bytes).is_some_and(|p| {
        p.data_type.as_deref() == Some("CVE_RECORD")
            || (p.cve_metadata.is_some() && p.containers.is_some())
    })
}

/// Parses one CVE 5 record with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Advisory, AdvisoryParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses one CVE 5 record.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Advisory, AdvisoryParseError> {
    let record: Record = json::from_slice(bytes, limits.document_bytes_max)?;
    advisory(record, limits)
}

/// The CISA ADP container's `providerMetadata.shortName`.
pub const CISA_ADP_SHORT_NAME: &str = "CISA-ADP";

fn advisory(r: Record, limits: &Limits) -> Result<Advisory, AdvisoryParseError> {
    match r.data_type.as_deref() {
        None | Some("CVE_RECORD") => {}
        Some(other) => {
            return Err(AdvisoryParseError::WrongFormat {
                reason: format!(
                    "`dataType` is `{}`, not `CVE_RECORD`",
                    crate::error::quote(other)
                ),
            })
        }
    }
    let version = r.data_version.as_deref().unwrap_or("");
    if !version.starts_with("5.") {
        return Err(AdvisoryParseError::UnsupportedVersion {
            format: "CVE JSON",
            field: "dataVersion",
            found: version.to_string(),
            supported: "5.x",
        });
    }
    let meta = r.cve_metadata.ok_or_else(|| AdvisoryParseError::Missing {
        field: "cveMetadata".into(),
    })?;
    let id_text = non_empty(meta.cve_id.as_deref()).ok_or_else(|| AdvisoryParseError::Missing {
        field: "cveMetadata.cveId".into(),
    })?;
    let id = adv_id(|| "cveMetadata.cveId".into(), &id_text)?;
    let containers = r.containers.unwrap_or_default();
    let cna = containers.cna.unwrap_or_default();

    let mut advisory = Advisory {
        id,
        aliases: Vec::new(),
        source: AdvisoryFormat::Cve5,
        published: adv_timestamp(
            || "cveMetadata.datePublished".into(),
            meta.date_published.as_deref(),
        )?,
        modified: adv_timestamp(
            || "cveMetadata.dateUpdated".into(),
            meta.date_updated.as_deref(),
        )?,
        withdrawn: if meta.state.as_deref() == Some("REJECTED") {
            adv_timestamp(
                || "cveMetadata.dateRejected".into(),
                meta.date_rejected
                    .as_deref()
                    .or(meta.date_updated.as_deref()),
            )?
        } else {
            None
        },
        summary: non_empty(cna.title.as_deref()),
        description: english(&cna.descriptions).or_else(|| english(&cna.rejected_reasons)),
        cwes: Vec::new(),
        references: Vec::new(),
        severities: Vec::new(),
        cisa_adp: None,
        affected: Vec::new(),
        dropped: Vec::new(),
    };
    let cna_name = non_empty(
        cna.provider_metadata
            .as_ref()
            .and_then(|p| p.short_name.as_deref()),
    )
    .or_else(|| non_empty(meta.assigner_short_name.as_deref()));
    container(
        &cna,
        "containers.cna",
        &ScorePublisher::Cna(cna_name),
        limits,
        &mut advisory,
    )?;
    for (i, adp) in containers.adp.iter().enumerate() {
        let short = non_empty(
            adp.provider_metadata
                .as_ref()
                .and_then(|p| p.short_name.as_deref()),
        );
        let publisher = if short.as_deref() == Some(CISA_ADP_SHORT_NAME) {
            ScorePublisher::CisaAdp
        } else {
            ScorePublisher::Adp(short)
        };
        container(
            adp,
            &format!("containers.adp[{i}]"),
            &publisher,
            limits,
            &mut advisory,
        )?;
    }
    Ok(advisory)
}

fn english(list: &[Description]) -> Option<String> {
    list.iter()
        .find(|d| d.lang.as_deref().is_some_and(|l| l.starts_with("en")))
        .or_else(|| list.first())
        .and_then(|d| non_empty(d.value.as_deref()))
}

fn container(
    c: &Container,
    path: &str,
    publisher: &ScorePublisher,
    limits: &Limits,
    out: &mut Advisory,
) -> Result<(), AdvisoryParseError> {
    for p in &c.problem_types {
        for d in &p.descriptions {
            if let Some(cwe) = non_empty(d.cwe_id.as_deref()) {
                push_unique(&mut out.cwes, cwe);
            }
        }
    }
    for r in &c.references {
        let Some(url) = non_empty(r.url.as_deref()) else {
            continue;
        };
        if !out.references.iter().any(|x| x.url == url) {
            out.references.push(Reference {
                url,
                tags: r.tags.clone(),
            });
        }
    }
    for (i, m) in c.metrics.iter().enumerate() {
        for (cvss, default_scheme) in [
            (&m.cvss_v2_0, SeverityScheme::CvssV2),
            (&m.cvss_v3_0, SeverityScheme::CvssV30),
            (&m.cvss_v3_1, SeverityScheme::CvssV31),
            (&m.cvss_v4_0, SeverityScheme::CvssV40),
        ] {
            let Some(cvss) = cvss else { continue };
            let Some(vector) = non_empty(cvss.vector_string.as_deref()) else {
                return Err(AdvisoryParseError::Missing {
                    field: format!("{path}.metrics[{i}].vectorString"),
                });
            };
            push_unique(
                &mut out.severities,
                Severity {
                    scheme: default_scheme,
                    vector,
                    score: cvss.base_score,
                    publisher: publisher.clone(),
                },
            );
        }
        if let Some(other) = &m.other {
            let is_cisa = *publisher == ScorePublisher::CisaAdp;
            match (other.kind.as_deref(), &other.content) {
                (Some("ssvc"), Some(content)) if is_cisa => {
                    let mut ssvc = Ssvc {
                        exploitation: None,
                        automatable: None,
                        technical_impact: None,
                        version: content.version.clone(),
                        role: content.role.clone(),
                        timestamp: adv_timestamp(
                            || format!("{path}.metrics[{i}].other.content.timestamp"),
                            content.timestamp.as_deref(),
                        )?,
                    };
                    for option in &content.options {
                        for (k, v) in option {
                            let v = v.as_str().map(str::to_string);
                            match k.to_ascii_lowercase().as_str() {
                                "exploitation" => ssvc.exploitation = v,
                                "automatable" => ssvc.automatable = v,
                                "technical impact" => ssvc.technical_impact = v,
                                _ => {}
                            }
                        }
                    }
                    out.cisa_adp.get_or_insert_with(CisaAdp::default).ssvc = Some(ssvc);
                }
                (Some("kev"), Some(content)) if is_cisa => {
                    out.cisa_adp.get_or_insert_with(CisaAdp::default).kev = Some(Kev {
                        date_added: adv_timestamp(
                            || format!("{path}.metrics[{i}].other.content.dateAdded"),
                            content.date_added.as_deref(),
                        )?,
                        reference: non_empty(content.reference.as_deref()),
                    });
                }
                _ => {}
            }
        }
    }
    if out.affected.len() + c.affected.len() > limits.affected_per_advisory_max {
        return Err(AdvisoryParseError::TooMany {
            field: format!("{path}.affected"),
            count_max: limits.affected_per_advisory_max,
        });
    }
    for (i, a) in c.affected.iter().enumerate() {
        let entry = affected(
            a,
            &format!("{path}.affected[{i}]"),
            limits,
            &mut out.dropped,
        )?;
        out.affected.push(entry);
    }
    Ok(())
}

/// Whether a CVE 5 version value is a placeholder saying nothing.
fn placeholder(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "" | "n/a" | "na" | "unspecified" | "unknown" | "-" | "various" | "all"
    )
}

fn affected(
    a: &CveAffected,
    path: &str,
    limits: &Limits,
    dropped: &mut Vec<Dropped>,
) -> Result<Affected, AdvisoryParseError> {
    let mut package = Vec::new();
    for (i, c) in a.cpes.iter().enumerate() {
        match Cpe::new(c) {
            Ok(cpe) => push_unique(&mut package, PackageId::Cpe { cpe }),
            // A CNA's typo in one CPE must not cost the record: it is
            // dropped and said so.
            Err(e) => dropped.push(Dropped {
                field: format!("{path}.cpes[{i}]"),
                value: crate::error::quote(c),
                expected: e.expected.to_string(),
            }),
        }
    }
    let vendor = non_empty(a.vendor.as_deref()).filter(|v| !placeholder(v));
    let product = non_empty(a.product.as_deref()).filter(|v| !placeholder(v));
    match (vendor, product) {
        (Some(vendor), Some(product)) => package.push(PackageId::VendorProduct { vendor, product }),
        (None, Some(name)) => package.push(PackageId::Name { name }),
        _ => {}
    }
    if let Some(name) = non_empty(a.package_name.as_deref()) {
        package.push(PackageId::Ecosystem {
            ecosystem: non_empty(a.collection_url.as_deref()).unwrap_or_default(),
            name,
        });
    }
    let mut entry = Affected::new(package);
    entry.platforms = a.platforms.clone();
    entry.default_status = match a.default_status.as_deref() {
        Some("affected") => Some(DefaultStatus::Affected),
        Some("unaffected") => Some(DefaultStatus::Unaffected),
        Some("unknown") => Some(DefaultStatus::Unknown),
        Some(other) => {
            return Err(AdvisoryParseError::Invalid {
                field: format!("{path}.defaultStatus"),
                value: crate::error::quote(other),
                expected: "affected, unaffected or unknown".into(),
            })
        }
        None => None,
    };
    if a.versions.len() > limits.versions_per_affected_max {
        return Err(AdvisoryParseError::TooMany {
            field: format!("{path}.versions"),
            count_max: limits.versions_per_affected_max,
        });
    }
    for (i, v) in a.versions.iter().enumerate() {
        let field = || format!("{path}.versions[{i}]");
        let Some(status) = read_status(v.status.as_deref(), &|| format!("{}.status", field()))?
        else {
            continue;
        };
        let version = v.version.as_deref().unwrap_or("").trim();
        let scheme = v.version_type.as_deref().unwrap_or("unspecified");
        let upper = match (v.less_than.as_deref(), v.less_than_or_equal.as_deref()) {
            (Some(b), _) => Some((b.trim(), false)),
            (None, Some(b)) => Some((b.trim(), true)),
            (None, None) => None,
        };
        if upper.is_none() && v.changes.is_empty() {
            // A range written as text in `version` (`< 5.1.1`, `5.5.58 and
            // prior`, `8.5.0 to 8.5.6`, `all versions`).
            match crate::prose::read(version) {
                Some(crate::prose::Prose::All) => {
                    if status == Status::Affected {
                        entry.all_versions = true;
                    }
                    continue;
                }
                Some(crate::prose::Prose::Range(lower, upper)) => {
                    push_range(&mut entry, status, scheme, lower, upper);
                    continue;
                }
                Some(crate::prose::Prose::Exact(exact)) => {
                    let list = match status {
                        Status::Affected => &mut entry.versions,
                        Status::Unaffected => &mut entry.unaffected_versions,
                    };
                    push_unique(list, exact);
                    continue;
                }
                None => {}
            }
        }
        let from_start = matches!(version, "0" | "*" | "") || placeholder(version);
        match upper {
            None if version == "*" => {
                if status == Status::Affected && v.changes.is_empty() {
                    entry.all_versions = true;
                }
            }
            None if placeholder(version) => {}
            None if v.changes.is_empty() => {
                let list = match status {
                    Status::Affected => &mut entry.versions,
                    Status::Unaffected => &mut entry.unaffected_versions,
                };
                push_unique(list, version.to_string());
            }
            _ => {
                // An interval [start, upper), split at its changes.
                let start = (!from_start).then(|| Bound::including(version));
                let end = match upper {
                    Some(("*", _)) | None => None,
                    Some((b, inclusive)) => Some(Bound {
                        version: b.to_string(),
                        inclusive,
                    }),
                };
                let mut segment_start = start;
                let mut segment_status = status;
                for (k, ch) in v.changes.iter().enumerate() {
                    let at =
                        non_empty(ch.at.as_deref()).ok_or_else(|| AdvisoryParseError::Missing {
                            field: format!("{}.changes[{k}].at", field()),
                        })?;
                    let Some(next) = read_status(ch.status.as_deref(), &|| {
                        format!("{}.changes[{k}].status", field())
                    })?
                    else {
                        continue;
                    };
                    push_range(
                        &mut entry,
                        segment_status,
                        scheme,
                        segment_start.take(),
                        Some(Bound::excluding(&at)),
                    );
                    segment_start = Some(Bound::including(&at));
                    segment_status = next;
                }
                push_range(&mut entry, segment_status, scheme, segment_start, end);
            }
        }
    }
    if entry.default_status == Some(DefaultStatus::Affected) && a.versions.is_empty() {
        entry.all_versions = true;
    }
    Ok(entry)
}

fn push_range(
    entry: &mut Affected,
    status: Status,
    scheme: &str,
    introduced: Option<Bound>,
    end: Option<Bound>,
) {
    if introduced.is_none() && end.is_none() {
        if status == Status::Affected {
            entry.all_versions = true;
        }
        return;
    }
    let range = VersionRange {
        scheme: scheme.to_string(),
        introduced,
        end,
    };
    match status {
        Status::Affected => entry.ranges.push(range),
        Status::Unaffected => entry.unaffected_ranges.push(range),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Affected,
    Unaffected,
}

/// `affected`/`unaffected`; `None` for `unknown` (says nothing).
fn read_status(
    value: Option<&str>,
    field: &dyn Fn() -> String,
) -> Result<Option<Status>, AdvisoryParseError> {
    match value {
        Some("affected") => Ok(Some(Status::Affected)),
        Some("unaffected") => Ok(Some(Status::Unaffected)),
        Some("unknown") => Ok(None),
        Some(other) => Err(AdvisoryParseError::Invalid {
            field: field(),
            value: crate::error::quote(other),
            expected: "affected, unaffected or unknown".into(),
        }),
        None => Err(AdvisoryParseError::Missing { field: field() }),
    }
}

// --- JSON lines -------------------------------------------------------------

/// Options of [`parse_jsonl`] and [`parse_jsonl_gz`].
#[derive(Clone, Copy, Debug)]
pub struct JsonlOptions {
    /// Parser threads (at least 1). Reading (and gunzipping) runs on one more.
    pub threads: usize,
    /// Bytes of lines handed to a parser thread at once. 1 MiB: large enough
    /// that channel traffic is negligible, small enough to spread evenly.
    pub batch_bytes: usize,
    /// Longest record line accepted; a longer one is reported as
    /// [`AdvisoryParseError::TooLarge`] and skipped.
    pub record_bytes_max: usize,
    /// The limits each record is parsed with.
    pub limits: Limits,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            batch_bytes: 1024 * 1024,
            record_bytes_max: 16 * 1024 * 1024,
            limits: Limits::DEFAULT,
        }
    }
}

/// What a JSON-lines run read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonlSummary {
    /// Non-empty lines read.
    pub records: usize,
    /// Records parsed into an [`Advisory`].
    pub parsed: usize,
    /// Records refused (each was passed to the callback with its error).
    pub failed: usize,
    /// Bytes read (after decompression).
    pub bytes: u64,
}

/// Reads a gzip-compressed JSON-lines stream of CVE 5 records (one record
/// per line, like CISA's vulnrichment export), parsing on
/// `options.threads` threads. `on_record(line, result)` is called on the
/// caller's thread for every non-empty line, in input order (`line` counts
/// from 1); it can count, index or report progress. A read or gzip error
/// stops the run with that error.
pub fn parse_jsonl_gz<R, F>(
    reader: R,
    options: &JsonlOptions,
    on_record: F,
) -> Result<JsonlSummary, std::io::Error>
where
    R: Read + Send,
    F: FnMut(usize, Result<Advisory, AdvisoryParseError>),
{
    parse_jsonl(
        flate2::read::MultiGzDecoder::new(reader),
        options,
        on_record,
    )
}

/// [`parse_jsonl_gz`] for an uncompressed stream.
pub fn parse_jsonl<R, F>(
    reader: R,
    options: &JsonlOptions,
    mut on_record: F,
) -> Result<JsonlSummary, std::io::Error>
where
    R: Read + Send,
    F: FnMut(usize, Result<Advisory, AdvisoryParseError>),
{
    let threads = options.threads.max(1);
    let opts = *options;
    // Bounded: at most a few batches in flight per thread, so memory stays
    // small however large the input.
    let (batch_tx, batch_rx) = sync_channel::<Batch>(threads * 2);
    let (parsed_tx, parsed_rx) = sync_channel::<Parsed>(threads * 4);
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let mut summary = JsonlSummary::default();

    std::thread::scope(|scope| {
        let reading = scope.spawn(move || read_batches(reader, &opts, batch_tx));
        for _ in 0..threads {
            let rx: Arc<Mutex<Receiver<Batch>>> = Arc::clone(&batch_rx);
            let tx = parsed_tx.clone();
            scope.spawn(move || loop {
                // The lock is held only to take the next batch.
                let next = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(batch) = next else {
                    return;
                };
                let mut results = Vec::with_capacity(batch.lines.len());
                for &(start, end, line_no) in &batch.lines {
                    let line = batch.buf.get(start..end).unwrap_or(&[]);
                    let result = if line.len() > opts.record_bytes_max {
                        Err(AdvisoryParseError::TooLarge {
                            bytes: line.len(),
                            bytes_max: opts.record_bytes_max,
                        })
                    } else {
                        parse_with(line, &opts.limits)
                    };
                    results.push((line_no, result));
                }
                if tx.send((batch.seq, results)).is_err() {
                    return;
                }
            });
        }
        drop(parsed_tx);
        // Deliver in input order.
        let mut pending = BTreeMap::new();
        let mut next_seq = 0usize;
        for (seq, results) in parsed_rx {
            pending.insert(seq, results);
            while let Some(results) = pending.remove(&next_seq) {
                for (line, result) in results {
                    summary.records += 1;
                    match &result {
                        Ok(_) => summary.parsed += 1,
                        Err(_) => summary.failed += 1,
                    }
                    on_record(line, result);
                }
                next_seq += 1;
            }
        }
        match reading.join() {
            Ok(Ok(bytes)) => {
                summary.bytes = bytes;
                Ok(summary)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::other("the reading thread panicked")),
        }
    })
}

/// Lines handed to a parser thread: one buffer, each line's bounds in it and
/// its line number.
struct Batch {
    seq: usize,
    buf: Vec<u8>,
    lines: Vec<(usize, usize, usize)>,
}

type Parsed = (usize, Vec<(usize, Result<Advisory, AdvisoryParseError>)>);

/// Reads lines into batches. Lines are numbered from 1 counting empty ones,
/// which are not records. A line longer than `record_bytes_max` is kept
/// only up to just over the limit (the parser thread then reports it as too
/// large) and the rest of it is skipped unread into memory.
fn read_batches<R: Read>(
    reader: R,
    opts: &JsonlOptions,
    tx: SyncSender<Batch>,
) -> Result<u64, std::io::Error> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut seq = 0usize;
    let mut line_no = 0usize;
    let mut bytes = 0u64;
    let capacity = opts.batch_bytes + 64 * 1024;
    let mut buf = Vec::with_capacity(capacity);
    let mut lines = Vec::new();
    let limit = opts.record_bytes_max as u64 + 2;
    loop {
        let start = buf.len();
        let n = (&mut reader).take(limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line_no += 1;
        if buf.last() != Some(&b'\n') && n as u64 == limit {
            loop {
                let chunk = reader.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                let (used, done) = match chunk.iter().position(|b| *b == b'\n') {
                    Some(p) => (p + 1, true),
                    None => (chunk.len(), false),
                };
                reader.consume(used);
                bytes += used as u64;
                if done {
                    break;
                }
            }
        }
        let mut end = buf.len();
        while end > start && matches!(buf.get(end - 1), Some(b'\n' | b'\r')) {
            end -= 1;
        }
        let blank = buf
            .get(start..end)
            .is_none_or(|l| l.iter().all(u8::is_ascii_whitespace));
        if blank {
            buf.truncate(start);
        } else {
            lines.push((start, end, line_no));
        }
        if buf.len() >= opts.batch_bytes {
            let batch = Batch {
                seq,
                buf: std::mem::replace(&mut buf, Vec::with_capacity(capacity)),
                lines: std::mem::take(&mut lines),
            };
            tx.send(batch)
                .map_err(|_| std::io::Error::other("the parser threads stopped"))?;
            seq += 1;
        }
    }
    if !lines.is_empty() {
        tx.send(Batch { seq, buf, lines })
            .map_err(|_| std::io::Error::other("the parser threads stopped"))?;
    }
    Ok(bytes)
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "dataType")]
    data_type: Option<String>,
    #[serde(rename = "dataVersion")]
    data_version: Option<String>,
    #[serde(rename = "cveMetadata")]
    cve_metadata: Option<Metadata>,
    containers: Option<Containers>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(rename = "cveId")]
    cve_id: Option<String>,
    state: Option<String>,
    #[serde(rename = "assignerShortName")]
    assigner_short_name: Option<String>,
    #[serde(rename = "datePublished")]
    date_published: Option<String>,
    #[serde(rename = "dateUpdated")]
    date_updated: Option<String>,
    #[serde(rename = "dateRejected")]
    date_rejected: Option<String>,
}

#[derive(Deserialize, Default)]
struct Containers {
    cna: Option<Container>,
    #[serde(default, deserialize_with = "null_default")]
    adp: Vec<Container>,
}

#[derive(Deserialize, Default)]
struct Container {
    #[serde(rename = "providerMetadata")]
    provider_metadata: Option<ProviderMetadata>,
    title: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    descriptions: Vec<Description>,
    #[serde(rename = "rejectedReasons", default, deserialize_with = "null_default")]
    rejected_reasons: Vec<Description>,
    #[serde(default, deserialize_with = "null_default")]
    affected: Vec<CveAffected>,
    #[serde(rename = "problemTypes", default, deserialize_with = "null_default")]
    problem_types: Vec<ProblemType>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<CveReference>,
    #[serde(default, deserialize_with = "null_default")]
    metrics: Vec<Metric>,
}

#[derive(Deserialize)]
struct ProviderMetadata {
    #[serde(rename = "shortName")]
    short_name: Option<String>,
}

#[derive(Deserialize)]
struct Description {
    lang: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct CveAffected {
    vendor: Option<String>,
    product: Option<String>,
    #[serde(rename = "collectionURL")]
    collection_url: Option<String>,
    #[serde(rename = "packageName")]
    package_name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    cpes: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    platforms: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    versions: Vec<CveVersion>,
    #[serde(rename = "defaultStatus")]
    default_status: Option<String>,
}

#[derive(Deserialize)]
struct CveVersion {
    version: Option<String>,
    status: Option<String>,
    #[serde(rename = "versionType")]
    version_type: Option<String>,
    #[serde(rename = "lessThan")]
    less_than: Option<String>,
    #[serde(rename = "lessThanOrEqual")]
    less_than_or_equal: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    at: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct ProblemType {
    #[serde(default, deserialize_with = "null_default")]
    descriptions: Vec<ProblemDescription>,
}

#[derive(Deserialize)]
struct ProblemDescription {
    #[serde(rename = "cweId")]
    cwe_id: Option<String>,
}

#[derive(Deserialize)]
struct CveReference {
    url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Metric {
    #[serde(rename = "cvssV2_0")]
    cvss_v2_0: Option<Cvss>,
    #[serde(rename = "cvssV3_0")]
    cvss_v3_0: Option<Cvss>,
    #[serde(rename = "cvssV3_1")]
    cvss_v3_1: Option<Cvss>,
    #[serde(rename = "cvssV4_0")]
    cvss_v4_0: Option<Cvss>,
    other: Option<OtherMetric>,
}

#[derive(Deserialize)]
struct Cvss {
    #[serde(rename = "vectorString")]
    vector_string: Option<String>,
    #[serde(
        rename = "baseScore",
        default,
        deserialize_with = "crate::json::lenient_f64"
    )]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct OtherMetric {
    #[serde(rename = "type")]
    kind: Option<String>,
    content: Option<OtherContent>,
}

#[derive(Deserialize)]
struct OtherContent {
    role: Option<String>,
    version: Option<String>,
    timestamp: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    options: Vec<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "dateAdded")]
    date_added: Option<String>,
    reference: Option<String>,
}
