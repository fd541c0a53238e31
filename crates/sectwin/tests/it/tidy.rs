//! The tidy test: checks the codebase itself (file docs, banned patterns,
//! dependency direction from `cargo metadata`). It reads files; it runs no code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(items) = std::fs::read_dir(dir) else {
        return;
    };
    for item in items.flatten() {
        let path = item.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `.rs` files under `crates/<krate>/src` of each crate, as (path
/// relative to the workspace, text).
fn crate_sources(crates: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for krate in crates {
        let mut files = Vec::new();
        rust_files(
            &workspace_root().join("crates").join(krate).join("src"),
            &mut files,
        );
        for f in files {
            let relative = f
                .strip_prefix(workspace_root())
                .unwrap_or(&f)
                .display()
                .to_string();
            out.push((relative, std::fs::read_to_string(&f).unwrap_or_default()));
        }
    }
    out
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    assert!(files.len() > 10, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc: {missing:?}"
    );
}

#[test]
fn no_banned_patterns_in_sources() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    let banned = [
        "todo!(",
        "unimplemented!(",
        "dbg!(",
        "#[should_panic",
        "#[ignore]",
    ];
    let mut hits = Vec::new();
    for f in &files {
        if f.ends_with("tidy.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for b in banned {
            if text.contains(b) {
                hits.push(format!("{}: {b}", f.display()));
            }
        }
    }
    assert!(hits.is_empty(), "banned patterns: {hits:#?}");
}

/// Normal (non-dev) dependencies of each workspace crate, by name.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut map = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().expect("name").to_string();
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("dep name").to_string())
            .collect();
        map.insert(name, deps);
    }
    map
}

#[test]
fn dependencies_point_one_way() {
    let deps = dependencies();
    let io_crates = [
        "tokio",
        "axum",
        "hyper",
        "reqwest",
        "fjall",
        "rusqlite",
        "redb",
        "rustix",
        "libc",
        "tower",
        "tower-http",
        "rumqttc",
    ];
    let pure = [
        "tlog",
        "scitt",
        "twin",
        "access",
        "vuln",
        "vuln-formats",
        "risk",
        "threat",
        "posture",
        "risk-register",
        "api-types",
        // The dashboard's embedded assets: no dependency at all (checked below).
        "dashboard",
    ];
    assert!(
        deps["dashboard"].is_empty(),
        "the dashboard crate embeds files and depends on nothing: {:?}",
        deps["dashboard"]
    );
    for p in pure {
        let d = &deps[p];
        for banned in io_crates
            .iter()
            .chain(["log-store", "log-service", "http-api", "witness"].iter())
        {
            assert!(!d.contains(*banned), "pure crate {p} depends on {banned}");
        }
    }
    for (krate, banned) in [
        (
            "log-store",
            vec!["tokio", "axum", "reqwest", "log-service", "http-api"],
        ),
        ("log-service", vec!["axum", "http-api", "serde_json"]),
        (
            "witness",
            vec!["axum", "log-store", "log-service", "http-api"],
        ),
        ("transparency", vec!["axum", "http-api", "serde_json"]),
        ("twin-store", vec!["axum", "http-api", "reqwest"]),
        (
            "pg-store",
            vec!["axum", "http-api", "reqwest", "log-service"],
        ),
        (
            "advisory-store",
            vec!["axum", "http-api", "reqwest", "tokio", "log-service"],
        ),
        // The application services know no protocol edge.
        (
            "service",
            vec!["axum", "http-api", "hyper", "reqwest", "tower"],
        ),
    ] {
        for b in banned {
            assert!(!deps[krate].contains(b), "{krate} must not depend on {b}");
        }
    }
    // What devices report is judged by a pure crate that knows no COSE, MQTT,
    // log, store or twin: of the workspace, only the pure `vuln` and `risk`.
    let workspace: BTreeSet<String> = deps.keys().cloned().collect();
    let posture: Vec<&String> = deps["posture"].intersection(&workspace).collect();
    assert!(
        posture
            .iter()
            .all(|d| ["vuln", "risk"].contains(&d.as_str())),
        "posture may depend on vuln and risk only in the workspace, not {posture:?}"
    );
    // The wire types of the HTTP API are serde and utoipa derives only: no
    // crate of the workspace (the service maps the domain onto them), no I/O.
    let wire: BTreeSet<String> = ["serde", "serde_json", "utoipa"]
        .into_iter()
        .map(String::from)
        .collect();
    assert!(
        deps["api-types"].is_subset(&wire),
        "api-types may depend on serde, serde_json and utoipa only, not {:?}",
        deps["api-types"].difference(&wire).collect::<Vec<_>>()
    );
    // Only the HTTP crate knows axum, and the crates that compose or drive
    // the whole app: the composition root (`node`, which mounts the
    // routers), the binary and the benchmarks.
    for (krate, d) in &deps {
        if d.contains("axum") {
            assert!(
                ["http-api", "node", "sectwin", "bench"].contains(&krate.as_str()),
                "{krate} depends on axum: HTTP stops at http-api"
            );
        }
    }
}

#[test]
fn architecture_md_describes_every_crate() {
    let text =
        std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for krate in dependencies().keys() {
        assert!(
            text.contains(&format!("crates/{krate}")),
            "ARCHITECTURE.md has no code map entry for crates/{krate}"
        );
    }
}

/// The crates that parse bytes from outside (log entries, statements, COSE,
/// advisories, SBOMs, threat models, device reports, credentials) deny the lints for what
/// panics on bad input, crate-wide.
#[test]
fn crates_that_parse_outside_bytes_deny_panicking_lints() {
    let parsers = [
        "tlog",
        "scitt",
        "twin",
        "vuln-formats",
        "vuln",
        "access",
        "threat",
        "posture",
        "durable",
    ];
    for krate in parsers {
        let lib = workspace_root()
            .join("crates")
            .join(krate)
            .join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).expect("lib.rs");
        let head: String = text
            .lines()
            .take_while(|l| {
                !l.starts_with("pub ") && !l.starts_with("mod ") && !l.starts_with("use ")
            })
            .collect::<Vec<_>>()
            .join("\n");
        for lint in ["clippy::unwrap_used", "clippy::indexing_slicing"] {
            assert!(
                head.contains("#![deny(") && head.contains(lint),
                "crates/{krate}/src/lib.rs must deny {lint} crate-wide (it parses outside bytes)"
            );
        }
    }
}

/// The crates with no I/O of their own (and the application services,
/// which are given a clock) never read the clock or the file system: time
/// and files come in through their callers, so tests decide them.
#[test]
fn pure_crates_read_no_clock_and_no_file_system() {
    let pure = [
        "tlog",
        "scitt",
        "twin",
        "access",
        "vuln",
        "vuln-formats",
        "risk",
        "threat",
        "posture",
        "risk-register",
        "api-types",
        "service",
        "dashboard",
    ];
    let banned = [
        "SystemTime::now",
        "Instant::now",
        "std::fs::",
        "File::open",
        "File::create",
    ];
    let mut hits = Vec::new();
    for (relative, text) in crate_sources(&pure) {
        for b in banned {
            if text.contains(b) {
                hits.push(format!("{relative}: {b}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "pure crates must be given time and data, not read them: {hits:#?}"
    );
}

/// The node's parts read the wall clock through the `clock::Clock` they are
/// given (token expiry, statement freshness, receipts, notifications, the
/// risk register's day), never directly: the clock is read in `crates/clock`
/// only, and in the few places listed with the reason.
#[test]
fn the_node_reads_the_wall_clock_through_the_injected_clock() {
    let crates = [
        "notify",
        "twin-store",
        "transparency",
        "service",
        "http-api",
        "node",
    ];
    // Nothing is exempt: the command line, which runs without a node, names
    // `clock::SystemClock` where it needs the time.
    let allowed: [(&str, &str); 0] = [];
    let hits: Vec<String> = crate_sources(&crates)
        .into_iter()
        .filter(|(relative, text)| {
            !allowed.iter().any(|(path, _)| path == relative) && text.contains("SystemTime::now")
        })
        .map(|(relative, _)| relative)
        .collect();
    assert!(
        hits.is_empty(),
        "read the time from the injected clock::Clock: {hits:#?}"
    );
}

/// Every statement payload the binary signs is a `twin::StatementBody`
/// (`crates/sectwin/src/statements.rs`, tested against the server's parser):
/// a JSON object literal tagged with a statement type is a payload written by
/// hand, which can drift from what the server parses.
#[test]
fn the_binary_writes_no_statement_payload_by_hand() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates/sectwin/src"), &mut files);
    assert!(!files.is_empty());
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for kind in twin::statement::TYPES {
            for tagged in [
                format!("\"type\":\"{kind}\""),
                // Inside a string literal with escaped quotes.
                format!("\\\"type\\\":\\\"{kind}\\\""),
            ] {
                if squeezed.contains(&tagged) {
                    hits.push(format!("{}: {tagged}", f.display()));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "build statement payloads as twin::StatementBody values: {hits:#?}"
    );
}

/// Most lines a source file may have before it should be split; the files
/// over it are listed with the reason they are not split (yet).
const SOURCE_FILE_LINES_MAX: usize = 1_500;

#[test]
fn no_source_file_over_the_size_budget_without_a_reason() {
    let over_budget = [
        (
            "crates/twin/src/projection.rs",
            "the fold of every statement type over a twin: one match, kept together so that \
             live projection and reindex visibly run the same code",
        ),
        (
            "crates/twin-store/src/store.rs",
            "the twin and payload stores' schema (keys, partitions, bulk load) in one place",
        ),
    ];
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    let mut hits = Vec::new();
    for f in files {
        let relative = f
            .strip_prefix(workspace_root())
            .unwrap_or(&f)
            .display()
            .to_string();
        if !relative.contains("/src/") {
            continue;
        }
        let lines = std::fs::read_to_string(&f)
            .unwrap_or_default()
            .lines()
            .count();
        let excused = over_budget.iter().any(|(path, _)| *path == relative);
        if lines > SOURCE_FILE_LINES_MAX && !excused {
            hits.push(format!("{relative}: {lines} lines"));
        }
    }
    assert!(
        hits.is_empty(),
        "source files over {SOURCE_FILE_LINES_MAX} lines (split them, or list them with a reason): {hits:#?}"
    );
}

/// The HTTP edge decides nothing about who may see what: every sharing
/// decision, read record and role check is made by the application services
/// (`crates/service`), so that every edge (and every later one: the
/// dashboard, the device channel) applies the same rules.
#[test]
fn the_http_edge_makes_no_authorization_decision() {
    let banned = [
        "decide_read(",
        "sharing::decide(",
        ".decide(",
        "sees_device(",
        "Audit::default",
        ".reader(",
        "has_role(",
        "roles_at(",
        "public_by(",
        "record_reads(",
    ];
    let mut hits = Vec::new();
    for (relative, text) in crate_sources(&["http-api"]) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for b in banned {
                if code.contains(b) {
                    hits.push(format!("{relative}:{}: {b}", n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "authorization belongs in crates/service, not in handlers: {hits:#?}"
    );
}

/// The pure domain knows no API it is reached through: the DataTrails
/// (Archivist) vocabulary lives in `crates/service/src/archivist` (its event
/// is a built-in custom type given to the fold), HTTP at the edge. (A
/// threat model's flows may name protocols such as MQTT: that is its domain.)
#[test]
fn the_domain_speaks_no_api_vocabulary() {
    let banned = ["archivist", "datatrails", "axum", "http::"];
    let mut hits = Vec::new();
    for (relative, text) in crate_sources(&["twin", "tlog", "scitt", "vuln", "risk", "threat"]) {
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_ascii_lowercase();
            for b in banned {
                if lower.contains(b) {
                    hits.push(format!("{relative}:{}: {b}", n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "API vocabulary in a pure domain crate: {hits:#?}"
    );
}
