//! `sectwin cvss` end to end: the table, JSON lines (`--json`), vectors from
//! stdin (`-`), and exit code 2 with an `error` object for an invalid vector.
//! The scores themselves are tested in `crates/vuln` and cross-checked in
//! tests-interop/cvss.

use std::io::Write;
use std::process::{Command, Stdio};

const V31: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const V31_TEMPORAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:R";
const V40: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U";

/// Runs `sectwin cvss ARGS` with `stdin`; returns (exit code, stdout, stderr).
fn cvss(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sectwin"))
        .arg("cvss")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sectwin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn table_lists_score_severity_kind_and_base() {
    let (code, out, err) = cvss(&[V31, V31_TEMPORAL, V40], "");
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("SCORE"), "{out}");
    for (line, expected) in lines[1..].iter().zip([
        ["9.8", "Critical", "base", "9.8", "3.1"],
        ["8.5", "High", "temporal", "9.8", "3.1"],
        ["8.1", "High", "CVSS-BT", "9.3", "4.0"],
    ]) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cols[..5], expected, "{line}");
    }
}

#[test]
fn json_lines_from_arguments_and_stdin_in_order() {
    let stdin = format!("{V31_TEMPORAL}\n\n  {V40}  \n");
    let (code, out, err) = cvss(&["--json", V31, "-"], &stdin);
    assert_eq!(code, Some(0), "{err}");
    let objs = json_lines(&out);
    assert_eq!(objs.len(), 3, "{out}");
    assert_eq!(
        objs[0],
        serde_json::json!({
            "vector": V31, "version": "3.1", "base_score": 9.8, "base_severity": "Critical",
            "score": 9.8, "score_kind": "base", "severity": "Critical",
            "temporal_score": 9.8, "environmental_score": 9.8,
        })
    );
    assert_eq!(objs[1]["score"], 8.5);
    assert_eq!(objs[1]["score_kind"], "temporal");
    assert_eq!(objs[2]["vector"], V40);
    assert_eq!(objs[2]["base_score"], 9.3);
    assert_eq!(objs[2]["score"], 8.1);
    assert_eq!(objs[2]["severity"], "High");
    assert!(objs[2].get("temporal_score").is_none());
}

#[test]
fn invalid_vector_gives_an_error_object_and_exit_code_2() {
    let bad = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L";
    let (code, out, err) = cvss(&["--json", V31, bad], "");
    assert_eq!(code, Some(2), "{err}");
    let objs = json_lines(&out);
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0]["score"], 9.8);
    assert_eq!(
        objs[1],
        serde_json::json!({ "vector": bad, "error": "metric AV appears more than once" })
    );
    let (code, out, _) = cvss(&["CVSS:3.1/AV:N"], "");
    assert_eq!(code, Some(2));
    assert!(
        out.contains("error: mandatory base metric AC is missing"),
        "{out}"
    );
}
