//! Replacing a store directory with one rebuilt beside it (`reindex`), so
//! that a crash at any point leaves either the old store or the new one in
//! place, never none.
//!
//! The swap is two renames: `live` → `live.old`, then `fresh` → `live`, each
//! made durable by an fsync of the parent directory, then `live.old` is
//! removed. A crash between the renames leaves no `live` and a `live.old`:
//! [`recover`] (run by [`crate::TwinStore::open`]) puts the old store back,
//! and the rebuild can be run again. A crash after the second rename leaves
//! both: the new store stays and the old one is removed.

use std::io;
use std::path::{Path, PathBuf};

/// Where the store `live` is kept while a swap runs.
pub fn old_of(live: &Path) -> PathBuf {
    let mut name = live.file_name().unwrap_or_default().to_os_string();
    name.push(".old");
    live.with_file_name(name)
}

use durable::{parent_of, sync_dir};

/// Brings `live` back to a whole store after a crash during [`swap_in`].
pub fn recover(live: &Path) -> io::Result<()> {
    let old = old_of(live);
    if !old.exists() {
        return Ok(());
    }
    if live.exists() {
        // The swap finished its renames: the new store is in place.
        std::fs::remove_dir_all(&old)?;
    } else {
        // Stopped between the renames: the old store goes back.
        std::fs::rename(&old, live)?;
    }
    sync_dir(parent_of(live))
}

/// Replaces the store directory `live` with `fresh` (complete, closed, in the
/// same parent directory), crash-safely (see the module documentation).
pub fn swap_in(live: &Path, fresh: &Path) -> io::Result<()> {
    recover(live)?;
    let parent = parent_of(live);
    // The new store's files are durable before it is named live.
    sync_tree(fresh)?;
    let old = old_of(live);
    if live.exists() {
        std::fs::rename(live, &old)?;
        sync_dir(parent)?;
    }
    std::fs::rename(fresh, live)?;
    sync_dir(parent)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
        sync_dir(parent)?;
    }
    Ok(())
}

/// fsyncs every file and directory under `dir`.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    sync_dir(dir)
}
