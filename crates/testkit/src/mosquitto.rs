//! A private Mosquitto for tests that stop, kill or restart their broker
//! (the machine's own on 127.0.0.1:1883 is shared and must stay up): its
//! own port and configuration in a directory the test owns, persistence on
//! (a clean stop saves the sessions and their queued messages, as a
//! production broker would), killed on drop. As root it keeps running as
//! root (`user root`): dropping to the `mosquitto` user, it could not
//! write its database in the test's private directory.
//!
//! `mosquitto` must be installed (Debian's package; `/usr/sbin/mosquitto`
//! or on `PATH`); a test that cannot start it fails saying how to get it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for the broker to listen, in milliseconds.
const LISTEN_WAIT_MS: u64 = 10_000;
/// Longest wait for a stopped broker to exit (it saves its database).
const EXIT_WAIT_MS: u64 = 10_000;

/// See the module documentation.
pub struct PrivateBroker {
    child: Option<Child>,
    conf: PathBuf,
    port: u16,
}

impl PrivateBroker {
    /// Starts a broker on a free port with its files under `dir`.
    pub fn start(dir: &Path) -> PrivateBroker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).expect("broker data directory");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\n\
                 user root\n\
                 persistence true\npersistence_location {}/\n\
                 max_queued_messages 0\nmax_inflight_messages 100\n",
                data.display()
            ),
        )
        .expect("broker configuration");
        let mut broker = PrivateBroker {
            child: None,
            conf,
            port,
        };
        broker.restart();
        broker
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it cleanly (SIGTERM: it saves its database) and waits for it
    /// to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_millis(EXIT_WAIT_MS);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("mosquitto did not exit within {EXIT_WAIT_MS} ms of SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts it again (after [`PrivateBroker::stop`]) on the same port and
    /// files, and waits until it listens.
    pub fn restart(&mut self) {
        self.stop();
        let spawn = |bin: &str| {
            Command::new(bin)
                .arg("-c")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("/usr/sbin/mosquitto")
            .or_else(|_| spawn("mosquitto"))
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run the mosquitto binary ({e}); install it: apt-get install mosquitto"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_millis(LISTEN_WAIT_MS);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {} within {LISTEN_WAIT_MS} ms",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
