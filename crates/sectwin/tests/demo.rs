//! The README's main-job command, `sectwin demo --exit`, runs end to end:
//! every step's success line is printed and the process exits 0.

use std::process::Command;

#[test]
fn the_demo_runs_end_to_end() {
    let data = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_sectwin"))
        .args(["demo", "--exit", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .output()
        .expect("run sectwin demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "receipt verified",
        "answers its existing entry: /entries/0",
        "refused (400 Bad Request)",
        "verified offline (log signature + witness quorum + inclusion)",
        "rejects an altered statement",
        "quorum met",
        "7. twins projected from the 12 logged statements",
        "firmware                     #7   firmware-installed       device:door-ctl-0042   agreed",
        "vulnerability CVE-2024-3596  #9   vulnerability-assessment acme.example           agreed",
        "maintenance                  #10  maintenance-performed    fixit.example          disputed by operator.example",
        "demo complete",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches("receipt verified").count(), 12);
}
