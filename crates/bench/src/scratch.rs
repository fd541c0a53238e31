//! Scratch directories for benchmark runs, shared by every benchmark.

use std::path::PathBuf;

use anyhow::Result;

/// A scratch directory for one benchmark run, removed afterwards.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(base: &Option<PathBuf>, name: &str) -> Result<Scratch> {
        // Default: target/bench in this checkout, on the project's disk
        // (a shared /tmp can be slow to create files in after heavy churn).
        let base = base.clone().unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench")
        });
        let dir = base.join(format!(
            "sectwin-bench-{name}-{}-{}",
            std::process::id(),
            nanos()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

/// Scratch directories are removed only when the whole benchmark is over:
/// deleting thousands of files makes ext4 skip their inodes when allocating
/// new ones for the next 30 s or so, which would slow the next run's tile
/// writes and distort its figure. (Back-to-back `bench` commands should be
/// spaced by that much for the same reason.)
static SCRATCH_TRASH: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut trash) = SCRATCH_TRASH.lock() {
            trash.push(self.0.clone());
        }
    }
}

pub(crate) fn empty_scratch_trash() {
    let trash = match SCRATCH_TRASH.lock() {
        Ok(mut t) => std::mem::take(&mut *t),
        Err(_) => return,
    };
    for dir in trash {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
