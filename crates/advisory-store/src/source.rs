//! Reading advisory files: the files under the given paths, each decoded
//! (gzip or not) and parsed, document by document or line by line, on every
//! core; every record handed on in input order as an [`Advisory`] or a
//! failure naming its file and record.
//!
//! | file name | read as |
//! |---|---|
//! | `*.jsonl`, `*.ndjson` (optionally `.gz`) | one document per line |
//! | anything else (`*.json`, `*.json.gz`, ...) | one document; if that is no known format but its first line is, JSON lines |
//!
//! Directories are walked recursively in name order, taking files named
//! `*.json`, `*.jsonl`, `*.ndjson` and `*.gz`; a file named on the command
//! line is read whatever its name. The format of every document is
//! detected (`vuln_formats::detect`); CVE 5 JSON-lines dumps go through
//! `vuln_formats::cve5::parse_jsonl`, the pipelined parallel reader.
//!
//! Deliberately absent: storing anything (see `import`), network fetching,
//! and formats that carry no advisories (SBOMs and VEX documents are
//! reported as failures, not skipped silently).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use vuln_formats::cve5::{self, JsonlOptions};
use vuln_formats::{Advisory, DocumentFormat};

use crate::StoreError;

/// Largest single JSON document read (decompressed), in bytes: an NVD 2.0
/// page of 2,000 CVEs is about 30 MiB; four times that leaves room.
pub const DOCUMENT_BYTES_MAX: u64 = 128 * 1024 * 1024;

/// Deepest directory level walked below a given path (guards against
/// symlink loops).
pub const DIRECTORY_DEPTH_MAX: usize = 32;

/// Whole-document files parsed together, per thread, before their records
/// are handed on (bounds memory while spreading small files over cores).
const FILES_PER_THREAD_BATCH: usize = 8;

/// Lines of a non-CVE JSON-lines file parsed together, per thread.
const LINES_PER_THREAD_BATCH: usize = 512;

/// What an import reports while it runs. Every method has a no-op default;
/// implementations must be `Sync` because parser threads report bytes.
pub trait Progress: Sync {
    /// The files found: how many and their total size on disk in bytes.
    fn files(&self, _count: u64, _bytes: u64) {}
    /// A file is being read; `bytes` is its size on disk.
    fn file_started(&self, _path: &Path, _bytes: u64) {}
    /// `n` more bytes (as stored on disk, so compressed for `.gz`) were read.
    fn bytes_read(&self, _n: u64) {}
    /// `n` more records were handed to the store.
    fn records(&self, _n: u64) {}
    /// The import is over.
    fn finished(&self) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// One record read: an advisory or why it could not be read.
pub(crate) struct Record {
    /// The file it came from.
    pub(crate) file: PathBuf,
    /// Where in the file (`line 17`, `document`, `document, advisory 3`).
    pub(crate) record: String,
    /// The advisory, or the reason.
    pub(crate) result: Result<Advisory, String>,
}

/// A file to read and its size on disk in bytes.
pub(crate) type FileEntry = (PathBuf, u64);

/// The files under `paths`, in order; a path that does not exist or cannot
/// be read is an error (nothing has been imported yet). Unreadable
/// directories below a given path are returned as failures.
pub(crate) fn collect_files(
    paths: &[PathBuf],
) -> Result<(Vec<FileEntry>, Vec<Record>), StoreError> {
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| StoreError::Path {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, 0, &mut files, &mut failures);
        } else {
            files.push((p.clone(), meta.len()));
        }
    }
    Ok((files, failures))
}

fn walk(dir: &Path, depth: usize, files: &mut Vec<FileEntry>, failures: &mut Vec<Record>) {
    let fail = |failures: &mut Vec<Record>, reason: String| {
        failures.push(Record {
            file: dir.to_path_buf(),
            record: "directory".into(),
            result: Err(reason),
        });
    };
    if depth > DIRECTORY_DEPTH_MAX {
        fail(
            failures,
            format!("deeper than {DIRECTORY_DEPTH_MAX} levels: not walked"),
        );
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return fail(failures, e.to_string()),
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, depth + 1, files, failures),
            Ok(m) => {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if [".json", ".jsonl", ".ndjson", ".gz"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
                {
                    files.push((p, m.len()));
                }
            }
            Err(e) => failures.push(Record {
                file: p,
                record: "file".into(),
                result: Err(e.to_string()),
            }),
        }
    }
}

/// Reads every file, calling `sink` with each record in input order. A
/// file that cannot be read becomes one failed record; `sink` errors stop
/// the run.
pub(crate) fn read_files(
    files: &[FileEntry],
    threads: usize,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let threads = threads.max(1);
    let mut i = 0;
    while let Some((path, bytes)) = files.get(i) {
        if is_lines_name(path) {
            progress.file_started(path, *bytes);
            read_lines_file(path, threads, progress, sink)?;
            i += 1;
            continue;
        }
        // A run of whole-document files, parsed on every core.
        let run_end = files
            .iter()
            .enumerate()
            .skip(i)
            .take(threads * FILES_PER_THREAD_BATCH)
            .take_while(|(_, (p, _))| !is_lines_name(p))
            .last()
            .map_or(i + 1, |(j, _)| j + 1);
        let batch = files.get(i..run_end).unwrap_or_default();
        let per_thread = batch.len().div_ceil(threads);
        let results: Vec<Vec<Record>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per_thread.max(1))
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for (path, bytes) in chunk {
                            progress.file_started(path, *bytes);
                            out.extend(read_document_file(path, threads, progress));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Record {
                            file: PathBuf::new(),
                            record: "file".into(),
                            result: Err("a parser thread panicked".into()),
                        }]
                    })
                })
                .collect()
        });
        for r in results.into_iter().flatten() {
            sink(r)?;
        }
        i = run_end;
    }
    Ok(())
}

fn strip_gz(path: &Path) -> (bool, String) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match name.strip_suffix(".gz") {
        Some(inner) => (true, inner.to_string()),
        None => (false, name),
    }
}

fn is_lines_name(path: &Path) -> bool {
    let (_, inner) = strip_gz(path);
    inner.ends_with(".jsonl") || inner.ends_with(".ndjson")
}

/// Opens `path`, counting bytes read on disk into `progress`, decompressing
/// when its name ends in `.gz`.
fn open<'p>(path: &Path, progress: &'p dyn Progress) -> std::io::Result<Box<dyn Read + Send + 'p>> {
    let file = Counting {
        inner: File::open(path)?,
        progress,
    };
    let (gz, _) = strip_gz(path);
    Ok(if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 * 1024,
            file,
        )))
    } else {
        Box::new(file)
    })
}

struct Counting<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes_read(n as u64);
        Ok(n)
    }
}

fn file_failure(path: &Path, reason: String) -> Record {
    Record {
        file: path.to_path_buf(),
        record: "file".into(),
        result: Err(reason),
    }
}

/// Parses one document into its advisories, or says why not.
fn parse_document(bytes: &[u8]) -> Result<Vec<Advisory>, String> {
    match vuln_formats::detect(bytes) {
        Some(DocumentFormat::Osv) => vuln_formats::osv::parse(bytes).map_err(|e| e.to_string()),
        Some(DocumentFormat::Cve5) => vuln_formats::cve5::parse(bytes)
            .map(|a| vec![a])
            .map_err(|e| e.to_string()),
        Some(DocumentFormat::NvdApi2) => vuln_formats::nvd::parse(bytes).map_err(|e| e.to_string()),
        Some(DocumentFormat::Csaf) => vuln_formats::csaf::parse(bytes).map_err(|e| e.to_string()),
        Some(other) => Err(format!("a {other:?} document carries no advisories")),
        None => Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(e) => format!("not JSON: {e}"),
                Ok(_) => "not an advisory format this store reads (OSV, CVE 5, NVD 2.0, CSAF 2.0)"
                    .to_string(),
            },
        ),
    }
}

/// The records of one parsed document, named `document` or
/// `document, advisory N` when it holds several.
fn document_records(
    path: &Path,
    record: &str,
    parsed: Result<Vec<Advisory>, String>,
) -> Vec<Record> {
    match parsed {
        Err(reason) => vec![Record {
            file: path.to_path_buf(),
            record: record.to_string(),
            result: Err(reason),
        }],
        Ok(list) => {
            let several = list.len() > 1;
            list.into_iter()
                .enumerate()
                .map(|(i, a)| Record {
                    file: path.to_path_buf(),
                    record: if several {
                        format!("{record}, advisory {}", i + 1)
                    } else {
                        record.to_string()
                    },
                    result: Ok(a),
                })
                .collect()
        }
    }
}

fn read_document_file(path: &Path, threads: usize, progress: &dyn Progress) -> Vec<Record> {
    let mut bytes = Vec::new();
    let read =
        open(path, progress).and_then(|r| r.take(DOCUMENT_BYTES_MAX + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return vec![file_failure(path, e.to_string())];
    }
    if bytes.len() as u64 > DOCUMENT_BYTES_MAX {
        return vec![file_failure(
            path,
            format!("larger than {DOCUMENT_BYTES_MAX} bytes (name it .jsonl if it is JSON lines)"),
        )];
    }
    let parsed = parse_document(&bytes);
    if parsed.is_err() {
        // JSON lines under another name: several lines, the first alone a
        // document.
        let lines: Vec<(usize, &[u8])> = numbered_lines(&bytes);
        if lines.len() > 1
            && lines
                .first()
                .is_some_and(|(_, l)| vuln_formats::detect(l).is_some())
        {
            let mut out = Vec::new();
            progress.records(lines.len() as u64);
            parse_lines_parallel(path, &lines, threads, &mut |r| {
                out.push(r);
                Ok(())
            })
            .ok();
            return out;
        }
    }
    progress.records(parsed.as_ref().map_or(1, |l| l.len() as u64));
    document_records(path, "document", parsed)
}

/// Non-empty lines with their numbers (from 1).
fn numbered_lines(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.trim_ascii().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// Parses lines on `threads` threads; hands on their records in order.
fn parse_lines_parallel(
    path: &Path,
    lines: &[(usize, &[u8])],
    threads: usize,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for batch in lines.chunks(threads * LINES_PER_THREAD_BATCH) {
        let per_thread = batch.len().div_ceil(threads).max(1);
        let results: Vec<Vec<Record>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .flat_map(|(n, l)| {
                                document_records(path, &format!("line {n}"), parse_document(l))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![file_failure(path, "a parser thread panicked".into())]
                    })
                })
                .collect()
        });
        for r in results.into_iter().flatten() {
            sink(r)?;
        }
    }
    Ok(())
}

fn read_lines_file(
    path: &Path,
    threads: usize,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    // The first non-empty line tells the format; CVE 5 dumps take the
    // pipelined reader. Read from a separate handle, not counted.
    let first = match first_line(path) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(()),
        Err(e) => return sink(file_failure(path, e.to_string())),
    };
    let reader = match open(path, progress) {
        Ok(r) => r,
        Err(e) => return sink(file_failure(path, e.to_string())),
    };
    if vuln_formats::detect(&first) == Some(DocumentFormat::Cve5) {
        let options = JsonlOptions {
            threads,
            ..JsonlOptions::default()
        };
        let mut stopped = None;
        let run = cve5::parse_jsonl(reader, &options, |line, result| {
            if stopped.is_some() {
                return;
            }
            progress.records(1);
            let r = Record {
                file: path.to_path_buf(),
                record: format!("line {line}"),
                result: result.map_err(|e| e.to_string()),
            };
            if let Err(e) = sink(r) {
                stopped = Some(e);
            }
        });
        if let Some(e) = stopped {
            return Err(e);
        }
        return match run {
            Ok(_) => Ok(()),
            Err(e) => sink(file_failure(path, format!("reading stopped: {e}"))),
        };
    }
    // Any other format: batches of lines parsed on every core.
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    let mut pending: Vec<(usize, Vec<u8>)> = Vec::new();
    loop {
        buf.clear();
        let n = match (&mut reader)
            .take(DOCUMENT_BYTES_MAX + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(n) => n,
            Err(e) => {
                flush_lines(path, &mut pending, threads, progress, sink)?;
                return sink(file_failure(path, format!("reading stopped: {e}")));
            }
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.len() as u64 > DOCUMENT_BYTES_MAX {
            flush_lines(path, &mut pending, threads, progress, sink)?;
            return sink(file_failure(
                path,
                format!(
                    "line {line_no} is larger than {DOCUMENT_BYTES_MAX} bytes: reading stopped"
                ),
            ));
        }
        if !buf.trim_ascii().is_empty() {
            pending.push((line_no, std::mem::take(&mut buf)));
        }
        if pending.len() >= threads * LINES_PER_THREAD_BATCH {
            flush_lines(path, &mut pending, threads, progress, sink)?;
        }
    }
    flush_lines(path, &mut pending, threads, progress, sink)
}

fn flush_lines(
    path: &Path,
    pending: &mut Vec<(usize, Vec<u8>)>,
    threads: usize,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let lines: Vec<(usize, &[u8])> = pending.iter().map(|(n, l)| (*n, l.as_slice())).collect();
    progress.records(lines.len() as u64);
    parse_lines_parallel(path, &lines, threads, sink)?;
    pending.clear();
    Ok(())
}

fn first_line(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut reader = BufReader::new(open(path, &NoProgress)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(DOCUMENT_BYTES_MAX + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        if !line.trim_ascii().is_empty() {
            return Ok(Some(line));
        }
    }
}
