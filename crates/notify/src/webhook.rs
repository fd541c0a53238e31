//! One Standard Webhooks delivery attempt over HTTP.
//!
//! POSTs the stored body with `webhook-id`, `webhook-timestamp` (this
//! attempt's unix seconds) and `webhook-signature`, and classifies the answer:
//! 2xx delivered; connect errors, timeouts, 408, 429 and 5xx retried (with the
//! `Retry-After` seconds when given); any other status a permanent failure.
//! Redirects are not followed (a 3xx is permanent): a redirect would turn the
//! POST into a GET or send the signed body somewhere the subscriber did not
//! register.
//!
//! Deliberately absent: back-off and state (the notifier decides when to try
//! again), and reading more than [`ERROR_EXCERPT_BYTES_MAX`] of any answer.

use std::time::Duration;

use crate::secret::WebhookSecret;

/// The most bytes of a refusal's body kept in `last_error`.
pub const ERROR_EXCERPT_BYTES_MAX: usize = 256;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Acknowledged.
    Delivered,
    /// Try again later; `retry_after_ms` when the target asked for a delay.
    Retry {
        /// Why it failed.
        error: String,
        /// The target's `Retry-After`, in ms.
        retry_after_ms: Option<u64>,
    },
    /// Refused for good.
    Permanent(String),
}

/// Builds the shared HTTP client (no redirects, the sectwin user agent;
/// names resolved to public addresses only unless `private_allowed`).
pub fn client(private_allowed: bool) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        .redirect(reqwest::redirect::Policy::none());
    if private_allowed {
        return builder.build();
    }
    builder
        .dns_resolver(std::sync::Arc::new(crate::address::PublicResolver))
        .build()
}

/// POSTs `body` to `url`, signed for this attempt.
pub async fn attempt(
    client: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    msg_id: &str,
    body: &[u8],
    timeout: Duration,
    now_unix_s: i64,
) -> Outcome {
    let signature = secret.sign(msg_id, now_unix_s, body);
    let request = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", now_unix_s.to_string())
        .header("webhook-signature", signature)
        .body(body.to_vec());
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Retry {
                error: describe(&e),
                retry_after_ms: None,
            }
        }
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let retry_after_ms = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000));
    let excerpt = excerpt(response).await;
    let error = format!("HTTP {}: {excerpt}", status.as_u16());
    let code = status.as_u16();
    if code == 408 || code == 429 || status.is_server_error() {
        Outcome::Retry {
            error,
            retry_after_ms,
        }
    } else {
        Outcome::Permanent(error)
    }
}

/// The start of the body, lossy UTF-8, at most [`ERROR_EXCERPT_BYTES_MAX`] bytes read.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_EXCERPT_BYTES_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(ERROR_EXCERPT_BYTES_MAX);
    String::from_utf8_lossy(&bytes).trim().to_string()
}

fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else {
        "request error"
    };
    // The source chain carries the useful part ("Connection refused").
    let mut text = format!("{what}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
