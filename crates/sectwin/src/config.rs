//! `sectwin serve`'s configuration from three places besides its flags:
//!
//! - an environment variable for every flag: `SECTWIN_` and the flag's name
//!   in capitals with `_` for `-` (`--witness-quorum` is
//!   `SECTWIN_WITNESS_QUORUM`; a repeatable flag takes a comma-separated
//!   list);
//! - a TOML file (`--config FILE`, or `SECTWIN_CONFIG`) whose keys are the
//!   flags' names (`witness_quorum = 2` or `witness-quorum = 2`; a
//!   repeatable flag takes an array);
//! - the defaults.
//!
//! The command line wins over the environment, the environment over the
//! file, the file over the defaults. `--print-config` prints the effective
//! configuration as a TOML file that gives the same settings, and exits.
//!
//! The file is turned into flags for the settings neither the command line
//! nor the environment gave, and the command line is parsed again with
//! them: clap checks every value the same way wherever it came from.

use std::ffi::OsString;

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};

/// The subcommand configured this way.
const SERVE: &str = "serve";
/// The flags that are not settings.
const NOT_SETTINGS: &[&str] = &["help", "config", "print_config"];

/// The environment variable of flag `long`.
pub fn env_name(long: &str) -> String {
    format!("SECTWIN_{}", long.replace('-', "_").to_uppercase())
}

/// `command` with an environment variable on every `serve` flag that has
/// none yet.
pub fn with_env(command: Command) -> Command {
    command.mut_subcommand(SERVE, |serve| {
        serve.mut_args(|arg| {
            let id = arg.get_id().as_str().to_string();
            match arg.get_long() {
                Some(long) if arg.get_env().is_none() && !NOT_SETTINGS.contains(&id.as_str()) => {
                    let name = env_name(long);
                    let delimited = matches!(arg.get_action(), ArgAction::Append);
                    let arg = arg.env(name);
                    if delimited {
                        arg.value_delimiter(',')
                    } else {
                        arg
                    }
                }
                _ => arg,
            }
        })
    })
}

/// The command line `argv` with the settings of `serve --config FILE`
/// that neither it nor the environment gave, as flags after it.
pub fn with_file(command: &Command, argv: Vec<OsString>) -> Result<Vec<OsString>> {
    // Settings the file may give are not required yet.
    let lenient = command
        .clone()
        .mut_subcommand(SERVE, |s| s.mut_args(|a| a.required(false)));
    let Ok(matches) = lenient.try_get_matches_from(argv.clone()) else {
        // clap says what is wrong when the caller parses.
        return Ok(argv);
    };
    let Some((SERVE, serve)) = matches.subcommand() else {
        return Ok(argv);
    };
    let Some(path) = serve.get_one::<std::path::PathBuf>("config") else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{}: not a TOML file", path.display()))?;
    let serve_command = command
        .find_subcommand(SERVE)
        .context("no serve subcommand")?;
    let mut extra = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let Some(arg) = serve_command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .filter(|a| !NOT_SETTINGS.contains(&a.get_id().as_str()))
        else {
            let known: Vec<&str> = settings(serve_command)
                .filter_map(|a| a.get_long())
                .collect();
            bail!(
                "{}: unknown setting {key:?}; the settings are: {}",
                path.display(),
                known.join(", ")
            );
        };
        let from_elsewhere = matches!(
            serve.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if from_elsewhere {
            continue;
        }
        let flag = format!("--{long}");
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        if values.len() > 1 && !matches!(arg.get_action(), ArgAction::Append) {
            bail!("{}: {key} takes one value, not a list", path.display());
        }
        for v in values {
            match (arg.get_action(), v) {
                (ArgAction::SetTrue, toml::Value::Boolean(true)) => extra.push(flag.clone()),
                (ArgAction::SetTrue, toml::Value::Boolean(false)) => {}
                (ArgAction::SetTrue, other) => {
                    bail!("{}: {key} is true or false, not {other}", path.display())
                }
                (_, toml::Value::String(s)) => extra.push(format!("{flag}={s}")),
                (_, toml::Value::Integer(n)) => extra.push(format!("{flag}={n}")),
                (_, toml::Value::Float(n)) => extra.push(format!("{flag}={n}")),
                (_, toml::Value::Boolean(b)) => extra.push(format!("{flag}={b}")),
                (_, other) => bail!(
                    "{}: {key} must be a string or a number, not {}",
                    path.display(),
                    other.type_str()
                ),
            }
        }
    }
    let mut out = argv;
    out.extend(extra.into_iter().map(OsString::from));
    Ok(out)
}

/// The flags of `serve` that are settings.
fn settings(serve: &Command) -> impl Iterator<Item = &clap::Arg> {
    serve
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !NOT_SETTINGS.contains(&a.get_id().as_str()))
}

/// The effective settings of `serve` (its `matches` under `command`), as
/// TOML: what was given, from wherever, and every default; a setting
/// without a value as a comment.
pub fn print(command: &Command, matches: &ArgMatches) -> Result<String> {
    let serve_command = command
        .find_subcommand(SERVE)
        .context("no serve subcommand")?;
    let Some((SERVE, serve)) = matches.subcommand() else {
        bail!("not the serve subcommand");
    };
    let mut out = String::from("# sectwin serve: the effective configuration\n");
    for arg in settings(serve_command) {
        let Some(long) = arg.get_long() else { continue };
        let key = long.replace('-', "_");
        if let Some(help) = arg.get_help() {
            let help = help.to_string();
            let first = help.lines().next().unwrap_or("");
            out.push_str(&format!("# {first}\n"));
        }
        let mut raw: Vec<String> = serve
            .get_raw(arg.get_id().as_str())
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        // A configuration printed for a ticket or a review keeps no password.
        if key == "database" {
            raw = raw.iter().map(|url| pg_store::redacted(url)).collect();
        }
        let value = |s: &str| -> toml::Value {
            if let Ok(n) = s.parse::<i64>() {
                toml::Value::Integer(n)
            } else if let Ok(b) = s.parse::<bool>() {
                toml::Value::Boolean(b)
            } else {
                toml::Value::String(s.to_string())
            }
        };
        let line = match (arg.get_action(), raw.as_slice()) {
            (ArgAction::SetTrue, _) => {
                let on = serve.get_flag(arg.get_id().as_str());
                format!("{key} = {on}")
            }
            (ArgAction::Append, values) if !values.is_empty() => {
                let items: Vec<toml::Value> = values.iter().map(|s| value(s)).collect();
                format!("{key} = {}", toml::Value::Array(items))
            }
            (ArgAction::Append, _) => format!("{key} = []"),
            (_, [one]) => format!("{key} = {}", value(one)),
            _ => format!("# {key} = (not set)"),
        };
        out.push_str(&line);
        out.push_str("\n\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> Command {
        Command::new("t").subcommand(
            Command::new(SERVE)
                .arg(
                    clap::Arg::new("config")
                        .long("config")
                        .value_parser(clap::value_parser!(std::path::PathBuf)),
                )
                .arg(
                    clap::Arg::new("print_config")
                        .long("print-config")
                        .action(ArgAction::SetTrue),
                )
                .arg(
                    clap::Arg::new("listen")
                        .long("listen")
                        .default_value("127.0.0.1:1"),
                )
                .arg(
                    clap::Arg::new("quorum")
                        .long("quorum")
                        .value_parser(clap::value_parser!(u32))
                        .default_value("0"),
                )
                .arg(
                    clap::Arg::new("witness")
                        .long("witness")
                        .action(ArgAction::Append),
                )
                .arg(
                    clap::Arg::new("private")
                        .long("private")
                        .action(ArgAction::SetTrue),
                ),
        )
    }

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_file_fills_what_the_command_line_did_not_give() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9\"\nquorum = 2\nwitness = [\"a=1\", \"b=2\"]\nprivate = true\n",
        )
        .expect("write");
        let cmd = command();
        let config = file.to_string_lossy().to_string();
        let args = with_file(
            &cmd,
            argv(&["t", "serve", "--config", &config, "--quorum", "3"]),
        )
        .expect("config");
        let m = cmd.clone().get_matches_from(args);
        let (_, s) = m.subcommand().expect("serve");
        assert_eq!(
            s.get_one::<String>("listen").map(String::as_str),
            Some("0.0.0.0:9")
        );
        assert_eq!(
            s.get_one::<u32>("quorum"),
            Some(&3),
            "the command line wins"
        );
        let w: Vec<&String> = s
            .get_many::<String>("witness")
            .expect("witnesses")
            .collect();
        assert_eq!(w, ["a=1", "b=2"]);
        assert!(s.get_flag("private"));
        // What is printed reads back as the same settings.
        let printed = print(&cmd, &m).expect("print");
        let again = dir.path().join("again.toml");
        std::fs::write(&again, &printed).expect("write");
        let again = again.to_string_lossy().to_string();
        let m2 = cmd.clone().get_matches_from(
            with_file(&cmd, argv(&["t", "serve", "--config", &again])).expect("again"),
        );
        assert_eq!(print(&cmd, &m2).expect("print"), printed);
    }

    #[test]
    fn a_bad_file_is_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().expect("dir");
        let cmd = command();
        for (text, says) in [
            (
                "lisen = \"x\"",
                "unknown setting \"lisen\"; the settings are: listen, quorum",
            ),
            ("quorum = [1, 2]", "quorum takes one value, not a list"),
            ("private = 1", "private is true or false, not 1"),
            (
                "listen = {a = 1}",
                "listen must be a string or a number, not table",
            ),
            ("listen = ", "not a TOML file"),
        ] {
            let file = dir.path().join("bad.toml");
            std::fs::write(&file, text).expect("write");
            let config = file.to_string_lossy().to_string();
            let e = with_file(&cmd, argv(&["t", "serve", "--config", &config])).expect_err(text);
            assert!(format!("{e:#}").contains(says), "{text}: {e:#}");
        }
        // A wrong value is clap's to refuse, as on the command line.
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "quorum = \"many\"").expect("write");
        let config = file.to_string_lossy().to_string();
        let args = with_file(&cmd, argv(&["t", "serve", "--config", &config])).expect("args");
        let e = cmd
            .clone()
            .try_get_matches_from(args)
            .expect_err("not a number");
        assert!(e.to_string().contains("invalid value 'many'"), "{e}");
    }

    #[test]
    fn every_flag_has_its_variable() {
        assert_eq!(env_name("witness-quorum"), "SECTWIN_WITNESS_QUORUM");
        let cmd = with_env(command());
        let serve = cmd.find_subcommand(SERVE).expect("serve");
        let listen = serve
            .get_arguments()
            .find(|a| a.get_id() == "listen")
            .expect("listen");
        assert_eq!(
            listen.get_env().map(|e| e.to_string_lossy().into_owned()),
            Some("SECTWIN_LISTEN".to_string())
        );
        let config = serve
            .get_arguments()
            .find(|a| a.get_id() == "config")
            .expect("config");
        assert!(config.get_env().is_none(), "not a setting");
    }
}
