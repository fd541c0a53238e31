//! `sectwin serve` as an operator runs it under systemd or Kubernetes: its
//! settings from a TOML file and `SECTWIN_*` variables (flags win over the
//! environment, the environment over the file), `--print-config`, JSON logs
//! carrying each request's id, and a stop on SIGTERM within its bound.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{send_signal, serve_command, Server, SECTWIN};

fn print_config(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(SECTWIN);
    cmd.arg("serve").args(args).arg("--print-config");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sectwin serve --print-config");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setting<'a>(toml: &'a toml::Table, key: &str) -> &'a toml::Value {
    toml.get(key)
        .unwrap_or_else(|| panic!("no {key} in {toml:?}"))
}

#[test]
fn the_printed_configuration_keeps_no_database_password() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data").display().to_string();
    let (ok, out, err) = print_config(
        &["--data", &data],
        &[
            (
                "SECTWIN_DATABASE",
                "postgres://sectwin:hunter2@db.example:5432/sectwin",
            ),
            ("SECTWIN_ADVERTISE_URL", "http://node1.example:8470"),
            ("SECTWIN_LEASE_MS", "2500"),
        ],
    );
    assert!(ok, "{err}");
    assert!(!out.contains("hunter2"), "{out}");
    let printed: toml::Table = out.parse().unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(
        setting(&printed, "database").as_str(),
        Some("postgres://sectwin:***@db.example:5432/sectwin")
    );
    assert_eq!(
        setting(&printed, "advertise_url").as_str(),
        Some("http://node1.example:8470")
    );
    assert_eq!(setting(&printed, "lease_ms").as_integer(), Some(2500));
}

#[test]
fn settings_come_from_flags_then_the_environment_then_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("sectwin.toml");
    std::fs::write(
        &file,
        format!(
            "data = {:?}\nlisten = \"127.0.0.1:9101\"\nwitness_quorum = 1\ncheckpoint-interval-ms = 250\nwebhook_allow_private = true\nwitness = [\"http://w1.example=w1+00000000+AAAA\"]\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .expect("write");
    let config = file.display().to_string();
    let (ok, out, err) = print_config(
        &["--config", &config, "--checkpoint-interval-ms", "300"],
        &[
            ("SECTWIN_WITNESS_QUORUM", "2"),
            ("SECTWIN_CHECKPOINT_INTERVAL_MS", "999"),
        ],
    );
    assert!(ok, "{err}");
    let printed: toml::Table = out.parse().unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(
        setting(&printed, "listen").as_str(),
        Some("127.0.0.1:9101"),
        "the file"
    );
    assert_eq!(
        setting(&printed, "witness_quorum").as_integer(),
        Some(2),
        "the environment over the file"
    );
    assert_eq!(
        setting(&printed, "checkpoint_interval_ms").as_integer(),
        Some(300),
        "the flag over the environment"
    );
    assert_eq!(
        setting(&printed, "webhook_allow_private").as_bool(),
        Some(true)
    );
    assert_eq!(
        setting(&printed, "risk_interval_ms").as_integer(),
        Some(2000),
        "a default"
    );
    assert_eq!(
        setting(&printed, "witness").as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    // Every setting of `serve --help` is in it.
    let help = Command::new(SECTWIN)
        .args(["serve", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    for word in help.split_whitespace() {
        if let Some(long) = word.strip_prefix("--") {
            let long = long.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-');
            if ["help", "config", "print-config", ""].contains(&long) {
                continue;
            }
            let key = long.replace('-', "_");
            assert!(
                out.contains(&format!("{key} =")),
                "--{long} missing from the printed configuration:\n{out}"
            );
        }
    }
    // What is printed, given back as the file, gives the same settings.
    let again = dir.path().join("again.toml");
    std::fs::write(&again, &out).expect("write");
    let (ok, out2, err) = print_config(&["--config", &again.display().to_string()], &[]);
    assert!(ok, "{err}");
    assert_eq!(out2, out);

    // A mistake in the file is named.
    std::fs::write(&file, "data = \"/tmp/x\"\nwitness_qorum = 2\n").expect("write");
    let (ok, _, err) = print_config(&["--config", &config], &[]);
    assert!(!ok);
    assert!(
        err.contains("unknown setting \"witness_qorum\"") && err.contains("witness-quorum"),
        "{err}"
    );
    std::fs::write(&file, "data = \"/tmp/x\"\nwitness_quorum = \"two\"\n").expect("write");
    let (ok, _, err) = print_config(&["--config", &config], &[]);
    assert!(!ok);
    assert!(err.contains("invalid value 'two'"), "{err}");
}

#[test]
fn json_logs_carry_request_ids_and_sigterm_stops_within_the_bound() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = serve_command(
        &dir.path().join("data"),
        &["--log-format", "json", "--shutdown-timeout-ms", "5000"],
    );
    cmd.env("RUST_LOG", "http_api=info,warn");
    let mut server = Server::spawn(cmd);
    let addr = server.wait_ready();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answered = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("http://{addr}/readyz"))
            .header("x-request-id", "probe-7")
            .send()
            .await
            .expect("GET /readyz")
            .status()
            .as_u16()
    });
    assert_eq!(answered, 200);
    // The request's log line, as JSON, names it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let found = server
            .stderr()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["span"]["id"] == "probe-7");
        if let Some(v) = found {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no log line of probe-7:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(line["span"]["route"], "/readyz", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["level"], "INFO", "{line}");
    // Every line on stderr is JSON.
    for l in server.stderr().lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(l).is_ok(),
            "not JSON: {l}"
        );
    }
    let t = Instant::now();
    send_signal(server.pid(), "TERM");
    let status = loop {
        if !server.is_running() {
            break server.stop();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "not stopped:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}\n{}", server.output());
    assert!(server.output().contains("stopped"), "{}", server.output());
}
