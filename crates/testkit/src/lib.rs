//! Helpers shared by the workspace's tests, and only by tests (every crate
//! takes this one as a dev-dependency): a small tmpfs that a test fills to
//! see what a full disk does to the real code, and a private Mosquitto
//! that a test may stop and restart ([`mosquitto::PrivateBroker`]).
//!
//! Mounting needs root or CAP_SYS_ADMIN. A test that needs it and cannot
//! get it fails saying so ([`Tmpfs::mount`]); it never skips silently.

pub mod mosquitto;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for a test, unmounted (lazily) when dropped.
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount`'s syntax: `4m`, `64m`) at `dir`
    /// (created if absent), or says why it could not.
    pub fn try_mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// [`Tmpfs::try_mount`], failing the test with what it needs if the
    /// mount is refused.
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        Tmpfs::try_mount(dir, size).unwrap_or_else(|why| {
            panic!(
                "this test fills a small tmpfs and needs root or CAP_SYS_ADMIN to mount it \
                 (run the tests as root, or in a container with --cap-add SYS_ADMIN): {why}"
            )
        })
    }

    /// Where it is mounted.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Grows (or shrinks) the filesystem in place; its files stay.
    pub fn resize(&self, size: &str) -> Result<(), String> {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Writes a file that takes every free byte; answers its path (remove
    /// it to free the space again).
    pub fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0xA5u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        // Smaller writes take the last partial chunk.
        loop {
            match f.write(&[0xA5u8; 512]) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        path
    }

    /// Bytes free on it now.
    pub fn free_bytes(&self) -> u64 {
        let st = rustix::fs::statvfs(&self.dir).expect("statvfs");
        st.f_bavail.saturating_mul(st.f_frsize)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
