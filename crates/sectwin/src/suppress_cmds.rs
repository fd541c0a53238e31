//! `sectwin device suppress|suppressions`: accept a posture finding on a
//! device (or a group) with a reason until an expiry, lift it, and list the
//! suppressions. The node signs the `finding-suppressed` statement on the
//! caller's behalf (`POST /api/v1/devices/{id}/suppressions`), so no key is
//! needed here, only the caller's credentials.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use api_types::devices::{SuppressionRequest, SuppressionView, SuppressionsPage};
use serde_json::Value;

use crate::twin_cmds::{api_get, problem_detail, token, urlencode, wire, ClientAuth};

/// Options of `sectwin device suppress`.
#[derive(clap::Args)]
pub struct SuppressArgs {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// Device id.
    device: String,
    /// The posture rule id (e.g. LOGGING_DISABLED_CHECK).
    rule: String,
    /// Why the finding is accepted.
    #[arg(long)]
    reason: String,
    /// How long it holds: a number of days (30d), hours (12h) or minutes (90m).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_s, conflicts_with_all = ["until", "lift"])]
    for_s: Option<i64>,
    /// When it ends, Unix seconds.
    #[arg(long, value_name = "UNIX_SECONDS", conflicts_with = "lift")]
    until: Option<i64>,
    /// Cover every device of this group you operate or own (the device must be in it).
    #[arg(long)]
    group: Option<String>,
    /// Lift the suppression of this rule (and group) now.
    #[arg(long)]
    lift: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    auth: ClientAuth,
}

/// `30d`, `12h` or `90m` in seconds.
fn parse_duration_s(s: &str) -> Result<i64, String> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and d, h or m (30d)"))?;
    let unit_s = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        _ => return Err(format!("{s:?}: expected a number and d, h or m (30d)")),
    };
    if n <= 0 {
        return Err(format!("{s:?}: a duration is positive"));
    }
    n.checked_mul(unit_s)
        .ok_or_else(|| format!("{s:?}: too long"))
}

/// `sectwin device suppress`.
pub async fn suppress(args: SuppressArgs) -> Result<ExitCode> {
    let expires_at = match (args.lift, args.for_s, args.until) {
        (true, _, _) => None,
        (false, Some(d), _) => Some(crate::now_unix_s() + d),
        (false, None, Some(t)) => Some(t),
        (false, None, None) => bail!("give --for DURATION or --until UNIX_SECONDS (or --lift)"),
    };
    let body = SuppressionRequest {
        rule: args.rule.clone(),
        reason: args.reason.clone(),
        expires_at,
        group: args.group.clone(),
        lift: args.lift.then_some(true),
    };
    let token = token(&args.server, &args.auth).await?;
    let path = format!("/api/v1/devices/{}/suppressions", urlencode(&args.device));
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", args.server.trim_end_matches('/')))
        .json(&body);
    if let Some(t) = &token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.with_context(|| format!("POST {path}"))?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status}: {}", problem_detail(v));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let s: SuppressionView = wire(&v)?;
    if args.lift {
        println!("lifted {} on {} (entry {})", s.rule, scope(&s), s.entry);
    } else {
        println!(
            "suppressed {} on {} until {} by {} (entry {}, receipt {})",
            s.rule,
            scope(&s),
            s.expires_at,
            s.by,
            s.entry,
            s.receipt
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn scope(s: &SuppressionView) -> String {
    match &s.group {
        Some(g) => format!("group {g} (asserted on {})", s.device),
        None => s.device.clone(),
    }
}

/// `sectwin device suppressions`: those in force (or all) the caller may see.
pub async fn list(
    server: &str,
    device: Option<&str>,
    rule: Option<&str>,
    all: bool,
    json: bool,
    auth: &ClientAuth,
) -> Result<ExitCode> {
    let token = token(server, auth).await?;
    let mut params = Vec::new();
    if let Some(d) = device {
        params.push(format!("device={}", urlencode(d)));
    }
    if let Some(r) = rule {
        params.push(format!("rule={}", urlencode(r)));
    }
    if all {
        params.push("all=true".into());
    }
    let path = if params.is_empty() {
        "/api/v1/suppressions".to_string()
    } else {
        format!("/api/v1/suppressions?{}", params.join("&"))
    };
    let v = api_get(server, &path, token.as_deref()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let page: SuppressionsPage = wire(&v)?;
    println!(
        "{:<40} {:<28} {:<8} {:<12} {:<20} {:<8} REASON",
        "RULE", "SCOPE", "ENTRY", "EXPIRES", "BY", "STATE"
    );
    for s in &page.suppressions {
        println!(
            "{:<40} {:<28} {:<8} {:<12} {:<20} {:<8} {}",
            s.rule,
            scope(s),
            s.entry,
            s.expires_at,
            s.by,
            if s.in_force { "in force" } else { "ended" },
            s.reason
        );
    }
    if page.suppressions.is_empty() {
        println!("(none)");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_s;

    #[test]
    fn durations_are_days_hours_or_minutes() {
        assert_eq!(parse_duration_s("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration_s("12h"), Ok(12 * 3_600));
        assert_eq!(parse_duration_s("90m"), Ok(90 * 60));
        for bad in ["", "d", "30", "30s", "-1d", "0h", "99999999999999999d"] {
            assert!(parse_duration_s(bad).is_err(), "{bad:?}");
        }
    }
}
