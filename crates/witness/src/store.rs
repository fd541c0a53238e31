//! Durable witness state on the local filesystem: per log origin, the latest
//! cosigned checkpoint, and an append-only file of rejected-but-validly-signed
//! checkpoints kept as evidence of log misbehaviour.
//!
//! Why plain files and not a database: the whole state of one log is one
//! cosigned checkpoint of a few hundred bytes, replaced wholesale on every
//! cosignature. "Write a temporary file, fsync it, rename it over the old one,
//! fsync the directory" is atomic and durable on POSIX filesystems, needs no
//! dependency, can be read with `cat`, and the file is exactly what the
//! monitoring endpoint serves. The per-origin serialization that makes
//! check-and-persist atomic lives in the caller ([`crate::Witness`]); this
//! module assumes one writer per origin and enforces one process per
//! directory with an exclusive lock file.
//!
//! Deliberately absent: parsing or verifying what it stores (the caller
//! does), caching, and any deletion (a witness that forgets what it cosigned
//! can be led to cosign a fork).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Evidence kept per origin, in bytes. Only checkpoints validly signed by the
/// log itself get in, so only the log can fill it; past the cap new records
/// are dropped, keeping the earliest proof of misbehaviour (the one that
/// matters) while bounding disk use.
pub(crate) const EVIDENCE_BYTES_MAX_PER_ORIGIN: u64 = 16 * 1024 * 1024;

const CHECKPOINTS_DIR: &str = "checkpoints";
const EVIDENCE_DIR: &str = "evidence";
const LOCK_FILE: &str = "LOCK";
const COSIGNED_SUFFIX: &str = ".cosigned";
const EVIDENCE_SUFFIX: &str = ".evidence";

/// The on-disk state directory. Holding it holds the directory's exclusive
/// lock: two witness processes on one state directory could each cosign a
/// different branch, so the second one fails to open.
#[derive(Debug)]
pub(crate) struct Store {
    checkpoints: PathBuf,
    evidence: PathBuf,
    // Kept open for its lock; released when the process exits.
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) the state directory and locks it.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        // `File::try_lock` is std since 1.89; the workspace toolchain is pinned
        // to 1.95 while `rust-version` still says 1.85 (reported for a bump).
        // The alternatives are unsafe flock via libc or a new dependency.
        #[allow(clippy::incompatible_msrv)]
        let locked = lock.try_lock();
        locked.map_err(|e| match e {
            fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another witness process", dir.display()),
            ),
            fs::TryLockError::Error(e) => e,
        })?;
        let checkpoints = dir.join(CHECKPOINTS_DIR);
        let evidence = dir.join(EVIDENCE_DIR);
        fs::create_dir_all(&checkpoints)?;
        fs::create_dir_all(&evidence)?;
        // The subdirectories' entries must themselves survive a crash.
        sync_dir(dir)?;
        Ok(Self {
            checkpoints,
            evidence,
            _lock: lock,
        })
    }

    /// The latest cosigned checkpoint for the origin whose SHA-256 is
    /// `origin_hex`, or `None` if this witness never cosigned for it.
    pub(crate) fn latest(&self, origin_hex: &OriginHex) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.cosigned_path(origin_hex)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the latest cosigned checkpoint atomically and durably: when
    /// this returns `Ok`, a crash at any point afterwards leaves `bytes` in
    /// place; when it returns `Err`, the old state or the new one is in place,
    /// never a mix.
    pub(crate) fn replace_latest(&self, origin_hex: &OriginHex, bytes: &[u8]) -> io::Result<()> {
        durable::write(&self.cosigned_path(origin_hex), bytes)
    }

    /// Appends one evidence record, durably, unless the origin's evidence file
    /// is full. Returns whether the record was kept.
    pub(crate) fn append_evidence(
        &self,
        origin_hex: &OriginHex,
        record: &[u8],
    ) -> io::Result<bool> {
        let path = self
            .evidence
            .join(format!("{}{EVIDENCE_SUFFIX}", origin_hex.0));
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        let len = f.metadata()?.len();
        let record_len = u64::try_from(record.len()).unwrap_or(u64::MAX);
        if len.saturating_add(record_len) > EVIDENCE_BYTES_MAX_PER_ORIGIN {
            return Ok(false);
        }
        f.write_all(record)?;
        f.sync_all()?;
        if len == 0 {
            // A new file: its directory entry must be durable too.
            sync_dir(&self.evidence)?;
        }
        Ok(true)
    }

    fn cosigned_path(&self, origin_hex: &OriginHex) -> PathBuf {
        self.checkpoints
            .join(format!("{}{COSIGNED_SUFFIX}", origin_hex.0))
    }
}

/// A lowercase hex SHA-256 of an origin: the only thing ever used as a file
/// name, so no attacker-chosen text reaches a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OriginHex(String);

impl OriginHex {
    /// Hashes an origin line (without its newline).
    pub(crate) fn of_origin(origin: &str) -> Self {
        use sha2::Digest;
        Self(hex::encode(sha2::Sha256::digest(origin.as_bytes())))
    }

    /// Accepts exactly 64 lowercase hex digits (the spec's encoding).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(s.to_owned()))
    }
}

/// The lowercase hex SHA-256 of an origin line (without its newline): the
/// `<origin hash>` of the monitoring path `GET <prefix>/<origin hash>/checkpoint`.
pub fn origin_sha256_hex(origin: &str) -> String {
    OriginHex::of_origin(origin).0
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn replace_is_visible_after_reopen_and_second_process_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let o = OriginHex::of_origin("example.com/log");
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.latest(&o).unwrap(), None);
            s.replace_latest(&o, b"one").unwrap();
            s.replace_latest(&o, b"two").unwrap();
            let err = Store::open(dir.path()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.latest(&o).unwrap().as_deref(), Some(&b"two"[..]));
    }

    #[test]
    fn evidence_is_capped_per_origin() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let o = OriginHex::of_origin("example.com/log");
        let big = vec![b'x'; usize::try_from(EVIDENCE_BYTES_MAX_PER_ORIGIN).unwrap() - 10];
        assert!(s.append_evidence(&o, &big).unwrap());
        assert!(!s.append_evidence(&o, b"more than ten bytes").unwrap());
        assert!(s.append_evidence(&o, b"fits").unwrap());
    }

    #[test]
    fn origin_hex_parse_is_strict() {
        let h = OriginHex::of_origin("x");
        assert_eq!(OriginHex::parse(&h.0), Some(h.clone()));
        assert_eq!(OriginHex::parse(&h.0.to_uppercase()), None);
        assert_eq!(OriginHex::parse("../etc/passwd"), None);
        assert_eq!(OriginHex::parse(&h.0[..63]), None);
    }
}
