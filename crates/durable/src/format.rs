//! Format markers: every store keeps, in its directory, a file
//! [`FORMAT_FILE`] with one line `<store> <version>`, so that a build never
//! reads data it does not understand. Opening checks it first:
//!
//! - no marker: the directory is new, or was written before markers existed
//!   (whose format is version 1, the first one): the current version is
//!   written (durably) and the store opens;
//! - the marker names another store: refused (a directory passed in the
//!   wrong place);
//! - a newer version than this build reads: refused, saying so (a newer
//!   build wrote it; a downgrade would misread it);
//! - an older one: answered, for the store to upgrade before use.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The marker's file name inside a store's directory.
pub const FORMAT_FILE: &str = "FORMAT";

/// Why a store's directory cannot be opened by this build.
#[derive(Debug)]
pub enum FormatError {
    /// The directory holds another store's data.
    WrongStore {
        /// The directory.
        dir: PathBuf,
        /// The store expected.
        expected: String,
        /// The store named by the marker.
        found: String,
    },
    /// A newer build wrote it.
    Newer {
        /// The directory.
        dir: PathBuf,
        /// The store.
        store: String,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The marker is not `<store> <version>`.
    Malformed {
        /// The marker file.
        path: PathBuf,
        /// Its first line.
        line: String,
    },
    /// Reading or writing the marker failed.
    Io {
        /// The marker file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::WrongStore {
                dir,
                expected,
                found,
            } => write!(
                f,
                "{} holds the {found} store's data, not the {expected} store's",
                dir.display()
            ),
            FormatError::Newer {
                dir,
                store,
                found,
                supported,
            } => write!(
                f,
                "{} holds the {store} store in format {found}, written by a newer sectwin; \
                 this build reads formats up to {supported}",
                dir.display()
            ),
            FormatError::Malformed { path, line } => write!(
                f,
                "{} is not a format marker (`<store> <version>`): {line:?}",
                path.display()
            ),
            FormatError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for FormatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FormatError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Checks (or writes) the marker of store `store` in `dir`, which this
/// build writes in format `current`; creates `dir` if needed. Answers the
/// version the data is in (at most `current`).
pub fn check_or_init(dir: &Path, store: &str, current: u32) -> Result<u32, FormatError> {
    let path = dir.join(FORMAT_FILE);
    let io_error = |source| FormatError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let line = text.lines().next().unwrap_or("").trim().to_string();
            let parsed = line
                .split_once(' ')
                .and_then(|(name, v)| Some((name, v.parse::<u32>().ok()?)));
            let Some((name, version)) = parsed else {
                return Err(FormatError::Malformed { path, line });
            };
            if name != store {
                return Err(FormatError::WrongStore {
                    dir: dir.to_path_buf(),
                    expected: store.to_string(),
                    found: name.to_string(),
                });
            }
            if version > current {
                return Err(FormatError::Newer {
                    dir: dir.to_path_buf(),
                    store: store.to_string(),
                    found: version,
                    supported: current,
                });
            }
            Ok(version)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io_error)?;
            crate::write(&path, format!("{store} {current}\n").as_bytes()).map_err(io_error)?;
            Ok(current)
        }
        Err(e) => Err(io_error(e)),
    }
}
