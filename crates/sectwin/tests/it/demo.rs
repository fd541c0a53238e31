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
        "3. the registry authority sectwin.localhost (entry #0) registers 6 stakeholders",
        "#6   ES256   rival.example          operator                   receipt verified",
        "#16  EdDSA   device:door-ctl-0042   firmware-installed         receipt verified",
        "re-registering the first statement answers its existing entry: /entries/7",
        "the same, untagged answers its existing entry: /entries/7",
        "the same, with its receipt attached answers its existing entry: /entries/7",
        "never registered: refused (400 Bad Request: issuer \"acme.example\" has no registered key with kid",
        "back to manufactured: refused (400 Bad Request: device \"door-ctl-0042\" cannot go from Deployed to Manufactured)",
        "an outsider endorsing the door's firmware: refused (400 Bad Request: rival.example holds no role on device \"door-ctl-0042\" that allows this statement",
        "verified offline (log signature + witness quorum + inclusion)",
        "rejects an altered statement",
        "quorum met",
        "23 statements applied, 0 refused",
        "device:door-ctl-0042 (acme.example DC-200), deployed, operator operator.example",
        "firmware                     #16  firmware-installed       device:door-ctl-0042   agreed",
        "vulnerability CVE-2024-3596  #18  vulnerability-assessment acme.example           agreed",
        "maintenance                  #19  maintenance-performed    fixit.example          disputed by operator.example",
        "ai-use lobby-person-detection #22  ai-use-policy            operator.example       raise an intrusion alarm when a person is detected after hours (human-on-the-loop; the guard on duty reviews every alarm within 5 minutes)",
        "rival.example asking for the lobby camera: 404 Not Found",
        "without a token, asking for the door: 200 OK, Acme's published policy shows device-registered [manufacturer=Acme Locks model=DC-200]; vulnerability-assessment [status=fixed vulnerability=CVE-2024-3596]",
        "by anonymous under acme-public-vex",
        "by operator.example under acme-public-vex",
        "10. reindex from the log alone: 23 entries, 23 applied, 0 refused; all 3 twins identical to the live ones",
        "#23  acme.example           sbom-registered (DC-200 2.4.1, 4 comps)  receipt verified",
        "imports an OSV advisory into the shared advisories: SECTWIN-DEMO-2026-0001 (1 new), recorded in the log as entry",
        "rival.example posts a narrowed, newer copy: kept as advisory:rival.example (applies to the 0 releases it made)",
        "risk SECTWIN-DEMO-2026-0001 on device:door-ctl-0042: high (7.5), owner operator.example, status open, deadline ",
        "why: purl pkg:deb/debian/busybox names the advisory's package",
        "rival.example asking for the register: 0 risks",
        "webhook received new-vulnerable-device      door-ctl-0042 runs model:acme/DC-200 firmware 2.4.1 exposed to SECTWIN-DEMO-2026-0001",
        "webhook received fixed-firmware-available   firmware 2.5.0 fixes SECTWIN-DEMO-2026-0001 on door-ctl-0042 (signature verified)",
        "demo complete",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // The deadline counts from discovery (today), not from the advisory's
    // publication (2026-11-01): due now, not overdue.
    let risk = stdout
        .lines()
        .find(|l| l.contains("risk SECTWIN-DEMO-2026-0001 on device:door-ctl-0042"))
        .unwrap_or("");
    assert!(
        risk.contains("(immediate)") && !risk.contains("OVERDUE") && !risk.contains("2026-11-01"),
        "{risk}"
    );
    let anonymous = stdout
        .lines()
        .find(|l| l.contains("without a token"))
        .unwrap_or("");
    assert!(
        !anonymous.contains("firmware") && !anonymous.contains("ownership"),
        "the anonymous view shows only what Acme's policy makes public: {anonymous}"
    );
    // Each stakeholder's private key is left for whoever plays it after the
    // demo (the CLI's --key, the dashboard's own-key signing), owner-only.
    assert!(
        stdout.contains(&format!(
            "their private keys: {}/<id>.key.pem",
            data.path().join("keys").display()
        )),
        "{stdout}"
    );
    for id in [
        "acme.example",
        "vistacam.example",
        "operator.example",
        "fixit.example",
        "audit.example",
        "rival.example",
    ] {
        let file = data.path().join("keys").join(format!("{id}.key.pem"));
        let pem = std::fs::read_to_string(&file).expect("a key file per stakeholder");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{id}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).expect("key").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{id}'s key is readable by others");
        }
    }
    assert!(
        !data.path().join("acme.example.key.pem").exists(),
        "one copy of acme's key, under keys/"
    );
    // 26 statements before the reporting clock, 5 on it (the case, the
    // awareness, three stages).
    assert_eq!(stdout.matches("receipt verified").count(), 31);
    for step in [
        "cra-case-opened CVE-2099-0001 on acme.example (known-exploited",
        "cra-awareness (the clock starts)",
        "cra-report early warning",
        "cra-report notification",
        "the fix: DC-200 2.5.0 available since",
        "cra-report final report",
        "CVE-2099-0001-csaf.json",
    ] {
        assert!(
            stdout.contains(step),
            "the demo's reporting clock: no {step:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("INVALID"));
}
