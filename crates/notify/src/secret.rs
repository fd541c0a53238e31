//! Standard Webhooks secrets and signatures.
//!
//! A secret is 24 to 64 random bytes, written `whsec_<base64>` (standard
//! alphabet, padded), as in <https://www.standardwebhooks.com>. The signature
//! of one delivery attempt is
//! `v1,` + base64(HMAC-SHA256(secret bytes, "{webhook-id}.{webhook-timestamp}.{body}")),
//! where the body is the exact bytes sent.
//!
//! Deliberately absent: asymmetric (`v1a`, Ed25519) signatures and secret
//! rotation with several active secrets; a subscriber rotates by
//! re-subscribing with the same id.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

/// The prefix of a secret's textual form.
pub const SECRET_PREFIX: &str = "whsec_";
/// The fewest secret bytes accepted (the spec's lower bound).
pub const SECRET_BYTES_MIN: usize = 24;
/// The most secret bytes accepted (the spec's upper bound).
pub const SECRET_BYTES_MAX: usize = 64;
/// The number of bytes [`WebhookSecret::generate`] draws.
pub const SECRET_BYTES_GENERATED: usize = 32;

/// Why a textual secret was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("webhook secret must start with \"whsec_\"")]
    Prefix,
    /// The rest is not standard base64.
    #[error("webhook secret is not base64 after \"whsec_\"")]
    Base64,
    /// Too few or too many bytes.
    #[error("webhook secret has {bytes} bytes; expected {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX}")]
    Length {
        /// The decoded length.
        bytes: usize,
    },
}

/// A shared HMAC secret of one webhook subscription.
///
/// `Debug` does not show the bytes; [`WebhookSecret::to_whsec`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A fresh secret of [`SECRET_BYTES_GENERATED`] bytes from the OS RNG.
    pub fn generate() -> WebhookSecret {
        let mut bytes = vec![0u8; SECRET_BYTES_GENERATED];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        WebhookSecret(bytes)
    }

    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        WebhookSecret::from_bytes(bytes)
    }

    /// Wraps raw secret bytes (24 to 64 of them).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<WebhookSecret, SecretError> {
        if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&bytes.len()) {
            return Err(SecretError::Length { bytes: bytes.len() });
        }
        Ok(WebhookSecret(bytes))
    }

    /// The textual form, `whsec_<base64>`, to hand to the subscriber.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` header value for one attempt:
    /// `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp_s}.{body}">`.
    pub fn sign(&self, msg_id: &str, timestamp_s: i64, body: &[u8]) -> String {
        // new_from_slice only fails for fixed-size-key MACs; HMAC takes any length.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp_s.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

impl serde::Serialize for WebhookSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_whsec())
    }
}

impl<'de> serde::Deserialize<'de> for WebhookSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WebhookSecret::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks spec (and its reference libraries).
    #[test]
    fn signs_the_spec_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn parse_rejects_bad_secrets() {
        assert_eq!(WebhookSecret::parse("MfKQ"), Err(SecretError::Prefix));
        assert_eq!(WebhookSecret::parse("whsec_!!"), Err(SecretError::Base64));
        assert_eq!(
            WebhookSecret::parse("whsec_AAAA"),
            Err(SecretError::Length { bytes: 3 })
        );
        let generated = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&generated.to_whsec()), Ok(generated));
    }
}
