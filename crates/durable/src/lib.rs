//! Whole-file writes that a crash cannot tear, for every writer in the
//! workspace that replaces a file (credentials, the Archivist side data,
//! the witness's latest cosigned checkpoint, verification state).
//!
//! [`write()`]: the bytes go to a temporary file beside the target (a unique
//! name: concurrent writers never share one), which is fsynced, renamed over
//! the target, and the directory fsynced so that the rename itself survives
//! a crash. When it returns `Ok`, the new contents are durable; when it
//! returns `Err` or the process dies, the target holds the old contents or
//! the new ones, never a mix, and no temporary file is left behind by a
//! failed write (a full disk gets its space back).
//!
//! Not for the log's own files: the log store's tiles are derived from its
//! journal and synced by its group commit (`log-store`'s stated durability).

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod format;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Who may read the file written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// The process's umask decides (usually readable by all).
    #[default]
    Default,
    /// Its owner only (mode 0600): keys, credentials.
    OwnerOnly,
}

/// Replaces `path` with `bytes`, durably and atomically (see the crate
/// documentation). The directory must exist.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, Access::Default)
}

/// [`write()`], readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, Access::OwnerOnly)
}

/// [`write()`] with the given access.
pub fn write_with(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let written = (|| {
        let mut f = open_new(&tmp, access)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(parent_of(path))
}

/// Makes the entries of directory `dir` (created, renamed or removed files)
/// durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether `name` is a temporary file [`write()`] makes (left by a process
/// that died mid-write; safe to remove).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARK)
}

const TEMP_MARK: &str = ".durable-tmp.";

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(
        ".{}{TEMP_MARK}{}.{n}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(parent_of(path).join(tmp))
}

fn open_new(path: &Path, access: Access) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::OwnerOnly {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    options.open(path)
}
