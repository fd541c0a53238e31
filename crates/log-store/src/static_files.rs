//! The C2SP tlog-tiles static layout on disk: `checkpoint`, `tile/<L>/<N>[.p/<W>]`
//! and `tile/entries/<N>[.p/<W>]` under one directory, so that any static web
//! server or CDN can serve the directory as the log's URL prefix.
//!
//! Files are replaced atomically (write a temporary file, rename it over the
//! target) so that concurrent readers never see a torn file. This module does
//! not fsync individual files: durability comes from [`StaticFiles::sync`]
//! (one `syncfs`), because everything here is re-derivable from the journal.
//!
//! Superseded partial tiles and bundles (`<path>.p/<W>` once `<path>` exists)
//! are deleted after the full file is synced, as C2SP tlog-tiles allows; the
//! store's readers fall back to the full file's prefix. Only full files
//! written by this process are tracked, so a crash may leave some `.p`
//! directories behind; they are harmless.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use tlog::tile::TILE_WIDTH_MAX;
use tlog::{BundleId, TileId};

use crate::StoreError;

const HASH_BYTES: usize = 32;

pub(crate) struct StaticFiles {
    root: PathBuf,
    /// `.p` directories of full tiles and bundles written since the last sync.
    superseded: Mutex<Vec<PathBuf>>,
}

impl StaticFiles {
    pub(crate) fn open(root: &Path) -> Result<StaticFiles, StoreError> {
        fs::create_dir_all(root.join("tile"))
            .map_err(|e| StoreError::io("create static log dir", e))?;
        Ok(StaticFiles {
            root: root.to_path_buf(),
            superseded: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn write(&self, relative: &str, data: &[u8]) -> Result<(), StoreError> {
        let path = self.root.join(relative);
        let parent = path
            .parent()
            .ok_or_else(|| StoreError::Contract(format!("no parent for {relative}")))?;
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StoreError::Contract(format!("no file name in {relative}")))?;
        let tmp = parent.join(format!(".{file_name}.tmp"));
        // A failed write (a full disk) leaves no temporary file taking space.
        let write = |p: &Path| {
            fs::write(p, data).inspect_err(|e| {
                if e.kind() != ErrorKind::NotFound {
                    let _ = fs::remove_file(p);
                }
            })
        };
        if let Err(e) = write(&tmp) {
            if e.kind() != ErrorKind::NotFound {
                return Err(StoreError::io(format!("write {relative}"), e));
            }
            fs::create_dir_all(parent).map_err(|e| StoreError::io("create tile dir", e))?;
            write(&tmp).map_err(|e| StoreError::io(format!("write {relative}"), e))?;
        }
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(format!("rename {relative}"), e))?;
        if relative.starts_with("tile/") && !relative.contains(".p/") {
            let mut partials = path.into_os_string();
            partials.push(".p");
            self.superseded.lock().push(PathBuf::from(partials));
        }
        Ok(())
    }

    pub(crate) fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(self.root.join(relative)) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("read {relative}"), e)),
        }
    }

    /// Reads a hash tile, answering a missing partial tile from the full tile
    /// or a wider partial one (C2SP allows deleting superseded partial tiles,
    /// and the content of a narrower tile is always a prefix of a wider one).
    pub(crate) fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        let want = usize::from(id.width()) * HASH_BYTES;
        self.read_with_prefix(&id.path(), id.width(), |w| {
            TileId::new(id.level(), id.index(), w)
                .map(|t| t.path())
                .ok()
        })
        .map(|found| found.and_then(|data| data.get(..want).map(<[u8]>::to_vec)))
    }

    /// Reads an entry bundle with the same prefix rule as [`Self::read_tile`].
    pub(crate) fn read_bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        let found = self.read_with_prefix(&id.path(), id.width(), |w| {
            BundleId::new(id.index(), w).map(|b| b.path()).ok()
        })?;
        let Some(data) = found else { return Ok(None) };
        crate::bundle_prefix(&data, id).map(Some)
    }

    fn read_with_prefix(
        &self,
        exact: &str,
        width: u16,
        path_of_width: impl Fn(u16) -> Option<String>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(data) = self.read(exact)? {
            return Ok(Some(data));
        }
        if width >= TILE_WIDTH_MAX {
            return Ok(None);
        }
        if let Some(full) = path_of_width(TILE_WIDTH_MAX) {
            if let Some(data) = self.read(&full)? {
                return Ok(Some(data));
            }
        }
        // Try wider partial tiles, narrowest first.
        for w in width + 1..TILE_WIDTH_MAX {
            if let Some(path) = path_of_width(w) {
                if let Some(data) = self.read(&path)? {
                    return Ok(Some(data));
                }
            }
        }
        Ok(None)
    }

    /// Makes every file written so far durable (one `syncfs` of the filesystem
    /// holding the log: cheaper than an fsync per tile at thousands of tiles per
    /// second, and it covers directory entries too).
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let dir = fs::File::open(&self.root).map_err(|e| StoreError::io("open log dir", e))?;
        rustix::fs::syncfs(&dir).map_err(|e| StoreError::io("syncfs", e.into()))?;
        // Taken only once durable: a sync that failed (and is retried) keeps them.
        let superseded = std::mem::take(&mut *self.superseded.lock());
        // The full files are durable now: their partial prefixes may go.
        for partials in superseded {
            match fs::remove_dir_all(&partials) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %partials.display(), error = %e, "removing superseded partial tiles")
                }
            }
        }
        Ok(())
    }
}
