//! Tests of tokens and the grant: the exact token format (MAC recomputed
//! here with `hmac`), every tampered byte refused, wrong key, expiry and
//! not-yet-valid boundaries, malformed tokens, the grant's refusals and
//! scopes, the stakeholder binding, and revocation ending live tokens.

use access::{
    parse_scope, CredentialError, Credentials, GrantError, ScopeError, TokenClaims, TokenError,
    TokenIssuer, TokenKey, CLOCK_SKEW_S_MAX, CREDENTIAL_RANDOM_BYTES, SCOPE_TOKENS_MAX,
    SCOPE_TOKEN_BYTES_MAX, TOKEN_BYTES_MAX, TOKEN_LIFETIME_S_DEFAULT, TOKEN_LIFETIME_S_MAX,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NOW: u64 = 1_700_000_000;
const KEY: [u8; 32] = [0x42; 32];

fn claims(stakeholder: &str) -> TokenClaims {
    TokenClaims {
        client_id: "sc_00112233445566778899aabbccddeeff".into(),
        stakeholder: stakeholder.into(),
        scope: vec!["statements:write".into()],
        iat: NOW,
        exp: NOW + 3600,
    }
}

/// `st1.<claims_b64>.<HMAC-SHA256(key, "st1." || claims_b64)>`, built here
/// independently of the crate.
fn forge(key: &[u8], claims_json: &[u8]) -> String {
    let claims_b64 = URL_SAFE_NO_PAD.encode(claims_json);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("st1.{claims_b64}").as_bytes());
    let mac_b64 = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("st1.{claims_b64}.{mac_b64}")
}

#[test]
fn token_format_is_prefix_claims_and_hmac_over_both() {
    let key = TokenKey::from_bytes(KEY);
    let c = claims("acme.example");
    let token = key.issue(&c);
    let json = serde_json::to_vec(&c).expect("json");
    assert_eq!(token, forge(&KEY, &json));
    assert_eq!(key.verify(&token, NOW), Ok(c));
}

#[test]
fn every_tampered_byte_is_refused() {
    let key = TokenKey::from_bytes(KEY);
    let token = key.issue(&claims("acme.example"));
    let bytes = token.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'B', b'-', b'.', b'='] {
            if bytes[i] == replacement {
                continue;
            }
            let mut t = bytes.to_vec();
            t[i] = replacement;
            let t = String::from_utf8(t).expect("ascii");
            let got = key.verify(&t, NOW);
            assert!(
                matches!(
                    got,
                    Err(TokenError::BadSignature) | Err(TokenError::Malformed(_))
                ),
                "byte {i} set to {:?}: {got:?}",
                replacement as char
            );
        }
    }
    // Truncated and extended tokens too.
    for cut in 0..bytes.len() {
        assert!(key.verify(&token[..cut], NOW).is_err(), "cut at {cut}");
    }
    assert!(key.verify(&format!("{token}A"), NOW).is_err());
    assert!(key.verify(&format!("{token}.x"), NOW).is_err());
}

#[test]
fn a_token_never_verifies_under_another_key() {
    let token = TokenKey::from_bytes(KEY).issue(&claims("acme.example"));
    for other in [[0u8; 32], [0x43; 32], {
        let mut k = KEY;
        k[31] ^= 1;
        k
    }] {
        assert_eq!(
            TokenKey::from_bytes(other).verify(&token, NOW),
            Err(TokenError::BadSignature)
        );
    }
}

#[test]
fn claims_swapped_between_stakeholders_are_refused() {
    let key = TokenKey::from_bytes(KEY);
    let a = key.issue(&claims("acme.example"));
    let b = key.issue(&claims("globex.example"));
    let a_parts: Vec<&str> = a.split('.').collect();
    let b_parts: Vec<&str> = b.split('.').collect();
    // Organization B's claims under organization A's MAC.
    let spliced = format!("st1.{}.{}", b_parts[1], a_parts[2]);
    assert_eq!(key.verify(&spliced, NOW), Err(TokenError::BadSignature));
    assert_eq!(key.verify(&a, NOW).expect("a").stakeholder, "acme.example");
    assert_eq!(
        key.verify(&b, NOW).expect("b").stakeholder,
        "globex.example"
    );
}

#[test]
fn validity_period_boundaries() {
    let key = TokenKey::from_bytes(KEY);
    let c = claims("acme.example");
    let token = key.issue(&c);
    let cases: &[(&str, u64, Result<(), TokenError>)] = &[
        ("at issue", c.iat, Ok(())),
        ("last valid second", c.exp - 1, Ok(())),
        (
            "at exp",
            c.exp,
            Err(TokenError::Expired { exp_unix_s: c.exp }),
        ),
        (
            "long after",
            u64::MAX,
            Err(TokenError::Expired { exp_unix_s: c.exp }),
        ),
        (
            "clock behind by the skew allowed",
            c.iat - CLOCK_SKEW_S_MAX,
            Ok(()),
        ),
        (
            "clock behind by more",
            c.iat - CLOCK_SKEW_S_MAX - 1,
            Err(TokenError::NotYetValid { iat_unix_s: c.iat }),
        ),
        (
            "clock at zero",
            0,
            Err(TokenError::NotYetValid { iat_unix_s: c.iat }),
        ),
    ];
    for (what, now, want) in cases {
        assert_eq!(key.verify(&token, *now).map(|_| ()), *want, "{what}");
    }
}

#[test]
fn malformed_tokens() {
    let key = TokenKey::from_bytes(KEY);
    let good = key.issue(&claims("acme.example"));
    let parts: Vec<&str> = good.split('.').collect();
    let short_mac = URL_SAFE_NO_PAD.encode([0u8; 31]);
    let long_mac = URL_SAFE_NO_PAD.encode([0u8; 33]);
    let padded_mac = base64::engine::general_purpose::URL_SAFE.encode([0u8; 32]);
    let std_alphabet_mac = base64::engine::general_purpose::STANDARD_NO_PAD.encode([0xfb; 32]);
    let too_long = format!("st1.{}.{}", "A".repeat(TOKEN_BYTES_MAX), parts[2]);
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("prefix only", "st1".into()),
        ("two parts", format!("st1.{}", parts[1])),
        ("empty parts", "st1..".into()),
        ("other version", format!("st2.{}.{}", parts[1], parts[2])),
        ("four parts", format!("{good}.{}", parts[2])),
        ("31-byte MAC", format!("st1.{}.{short_mac}", parts[1])),
        ("33-byte MAC", format!("st1.{}.{long_mac}", parts[1])),
        ("padded MAC", format!("st1.{}.{padded_mac}", parts[1])),
        (
            "standard-alphabet MAC",
            format!("st1.{}.{std_alphabet_mac}", parts[1]),
        ),
        ("longer than the limit", too_long),
    ];
    for (what, token) in cases {
        assert!(
            matches!(key.verify(&token, NOW), Err(TokenError::Malformed(_))),
            "{what}: {:?}",
            key.verify(&token, NOW)
        );
    }
}

#[test]
fn correctly_maced_but_invalid_claims_are_malformed() {
    let key = TokenKey::from_bytes(KEY);
    let good = serde_json::to_value(claims("acme.example")).expect("json");
    let mut extra = good.clone();
    extra["admin"] = true.into();
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("exp");
    let mut wrong_type = good.clone();
    wrong_type["exp"] = "tomorrow".into();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"hello".to_vec()),
        ("unknown claim", serde_json::to_vec(&extra).expect("json")),
        ("missing exp", serde_json::to_vec(&missing).expect("json")),
        (
            "exp a string",
            serde_json::to_vec(&wrong_type).expect("json"),
        ),
    ];
    for (what, json) in cases {
        assert!(
            matches!(
                key.verify(&forge(&KEY, &json), NOW),
                Err(TokenError::Malformed(_))
            ),
            "{what}"
        );
    }
    // The same construction with the valid claims verifies.
    let json = serde_json::to_vec(&good).expect("json");
    assert!(key.verify(&forge(&KEY, &json), NOW).is_ok());
}

#[test]
fn debug_does_not_show_the_key_or_the_token() {
    let key = TokenKey::from_bytes([0xab; 32]);
    let shown = format!("{key:?}");
    assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab"));
    let mut credentials = Credentials::default();
    let (cred, secret) = credentials
        .create("acme.example", "", [1; CREDENTIAL_RANDOM_BYTES], NOW)
        .expect("create");
    let issuer = TokenIssuer::new(key);
    let grant = issuer
        .grant(&credentials, cred.client_id(), &secret, None, NOW)
        .expect("grant");
    let shown = format!("{grant:?} {issuer:?}");
    assert!(!shown.contains(&grant.access_token), "{shown}");
    assert!(!shown.contains("171"), "{shown}");
}

/// Credentials of two organizations and an issuer allowing two scopes.
struct Fixture {
    credentials: Credentials,
    issuer: TokenIssuer,
    acme: (String, String),
    globex: (String, String),
}

fn fixture() -> Fixture {
    let mut credentials = Credentials::default();
    let (a, a_secret) = credentials
        .create("acme.example", "a", [1; CREDENTIAL_RANDOM_BYTES], NOW)
        .expect("a");
    let (b, b_secret) = credentials
        .create("globex.example", "b", [2; CREDENTIAL_RANDOM_BYTES], NOW)
        .expect("b");
    let issuer = TokenIssuer::new(TokenKey::from_bytes(KEY))
        .with_scopes_allowed(["statements:write", "twins:read"])
        .expect("scopes");
    Fixture {
        credentials,
        issuer,
        acme: (a.client_id().to_string(), a_secret),
        globex: (b.client_id().to_string(), b_secret),
    }
}

#[test]
fn a_grant_acts_for_its_credentials_stakeholder_only() {
    let f = fixture();
    for ((id, secret), org) in [(&f.acme, "acme.example"), (&f.globex, "globex.example")] {
        let grant = f
            .issuer
            .grant(&f.credentials, id, secret, None, NOW)
            .expect("grant");
        assert_eq!(grant.claims.client_id, *id);
        assert_eq!(grant.claims.stakeholder, org);
        assert_eq!(grant.claims.iat, NOW);
        assert_eq!(grant.claims.exp, NOW + TOKEN_LIFETIME_S_DEFAULT);
        assert_eq!(grant.expires_in_s(), TOKEN_LIFETIME_S_DEFAULT);
        let claims = f
            .issuer
            .authenticate(&f.credentials, &grant.access_token, NOW + 1)
            .expect("authenticates");
        assert_eq!(claims, grant.claims);
    }
}

#[test]
fn grant_refusals() {
    let f = fixture();
    let mut revoked = f.credentials.clone();
    revoked.revoke(&f.acme.0).expect("revoke");
    let (a, a_secret) = f.acme.clone();
    let (_, b_secret) = f.globex.clone();
    /// (what, credentials, client id, secret, scope, expected error)
    type Case<'a> = (
        &'a str,
        &'a Credentials,
        &'a str,
        &'a str,
        Option<&'a str>,
        GrantError,
    );
    let cases: Vec<Case> = vec![
        (
            "unknown client",
            &f.credentials,
            "sc_ffffffffffffffffffffffffffffffff",
            &a_secret,
            None,
            CredentialError::UnknownClient.into(),
        ),
        (
            "wrong secret",
            &f.credentials,
            &a,
            "wrong",
            None,
            CredentialError::BadSecret.into(),
        ),
        (
            "another organization's secret",
            &f.credentials,
            &a,
            &b_secret,
            None,
            CredentialError::BadSecret.into(),
        ),
        (
            "revoked client",
            &revoked,
            &a,
            &a_secret,
            None,
            CredentialError::Revoked.into(),
        ),
        (
            "scope not allowed",
            &f.credentials,
            &a,
            &a_secret,
            Some("twins:read admin"),
            ScopeError::NotAllowed("admin".into()).into(),
        ),
        (
            "scope with a quote",
            &f.credentials,
            &a,
            &a_secret,
            Some("twins:\"read"),
            ScopeError::BadCharacter.into(),
        ),
        (
            "bad scope, wrong secret: the client is checked first",
            &f.credentials,
            &a,
            "wrong",
            Some("admin"),
            CredentialError::BadSecret.into(),
        ),
    ];
    for (what, credentials, id, secret, scope, want) in cases {
        assert_eq!(
            f.issuer.grant(credentials, id, secret, scope, NOW),
            Err(want),
            "{what}"
        );
    }
    // The fixture itself grants (so the table is not vacuous).
    assert!(f
        .issuer
        .grant(&f.credentials, &a, &a_secret, None, NOW)
        .is_ok());
}

#[test]
fn granted_scopes() {
    let f = fixture();
    let (a, secret) = &f.acme;
    let cases: &[(Option<&str>, &[&str])] = &[
        (None, &[]),
        (Some(""), &[]),
        (Some("twins:read"), &["twins:read"]),
        (
            Some(" statements:write  twins:read statements:write "),
            &["statements:write", "twins:read"],
        ),
    ];
    for (scope, want) in cases {
        let grant = f
            .issuer
            .grant(&f.credentials, a, secret, *scope, NOW)
            .expect("grant");
        assert_eq!(grant.claims.scope, *want, "{scope:?}");
        for s in *want {
            assert!(grant.claims.has_scope(s));
        }
        assert!(!grant.claims.has_scope("admin"));
    }
}

#[test]
fn revoking_a_credential_ends_its_live_tokens() {
    let mut f = fixture();
    let (a, secret) = f.acme.clone();
    let a_token = f
        .issuer
        .grant(&f.credentials, &a, &secret, None, NOW)
        .expect("grant")
        .access_token;
    let (b, b_secret) = f.globex.clone();
    let b_token = f
        .issuer
        .grant(&f.credentials, &b, &b_secret, None, NOW)
        .expect("grant")
        .access_token;
    assert!(f.issuer.authenticate(&f.credentials, &a_token, NOW).is_ok());
    f.credentials.revoke(&a).expect("revoke");
    assert_eq!(
        f.issuer.authenticate(&f.credentials, &a_token, NOW),
        Err(TokenError::CredentialRevoked)
    );
    assert!(
        f.issuer.authenticate(&f.credentials, &b_token, NOW).is_ok(),
        "other credentials' tokens live on"
    );
    assert_eq!(
        f.issuer
            .authenticate(&Credentials::default(), &b_token, NOW),
        Err(TokenError::CredentialRevoked),
        "a credential that is gone"
    );
    // A validly MACed token naming a live credential of another stakeholder.
    let mut forged = f
        .issuer
        .authenticate(&f.credentials, &b_token, NOW)
        .expect("b");
    forged.stakeholder = "acme.example".into();
    let forged = TokenKey::from_bytes(KEY).issue(&forged);
    assert_eq!(
        f.issuer.authenticate(&f.credentials, &forged, NOW),
        Err(TokenError::CredentialRevoked)
    );
    // Expiry still applies on top.
    assert_eq!(
        f.issuer
            .authenticate(&f.credentials, &b_token, NOW + TOKEN_LIFETIME_S_DEFAULT),
        Err(TokenError::Expired {
            exp_unix_s: NOW + TOKEN_LIFETIME_S_DEFAULT
        })
    );
}

#[test]
fn lifetime_is_clamped() {
    let key = || TokenKey::from_bytes(KEY);
    for (asked, want) in [
        (0, 1),
        (1, 1),
        (600, 600),
        (TOKEN_LIFETIME_S_MAX, TOKEN_LIFETIME_S_MAX),
        (u64::MAX, TOKEN_LIFETIME_S_MAX),
    ] {
        assert_eq!(
            TokenIssuer::new(key()).with_lifetime_s(asked).lifetime_s(),
            want
        );
    }
}

#[test]
fn scopes_allowed_must_be_single_scope_tokens() {
    let key = || TokenKey::from_bytes(KEY);
    for bad in ["", "a b", "a\"b", " a"] {
        assert!(
            TokenIssuer::new(key()).with_scopes_allowed([bad]).is_err(),
            "{bad:?}"
        );
    }
    let issuer = TokenIssuer::new(key())
        .with_scopes_allowed(["a", "b:c"])
        .expect("ok");
    assert_eq!(issuer.scopes_allowed().len(), 2);
}

#[test]
fn parse_scope_table() {
    let longest = "x".repeat(SCOPE_TOKEN_BYTES_MAX);
    let too_long = "x".repeat(SCOPE_TOKEN_BYTES_MAX + 1);
    let most: Vec<String> = (0..SCOPE_TOKENS_MAX).map(|i| format!("s{i}")).collect();
    let too_many = format!("{} extra", most.join(" "));
    let most = most.join(" ");
    let cases: Vec<(&str, Result<usize, ScopeError>)> = vec![
        ("", Ok(0)),
        ("   ", Ok(0)),
        ("a", Ok(1)),
        ("a b a", Ok(2)),
        ("!#[]~", Ok(1)),
        (&longest, Ok(1)),
        (&most, Ok(SCOPE_TOKENS_MAX)),
        (&too_long, Err(ScopeError::TokenTooLong)),
        (&too_many, Err(ScopeError::TooManyTokens)),
        ("a\"b", Err(ScopeError::BadCharacter)),
        ("a\\b", Err(ScopeError::BadCharacter)),
        ("a\tb", Err(ScopeError::BadCharacter)),
        ("é", Err(ScopeError::BadCharacter)),
    ];
    for (scope, want) in cases {
        assert_eq!(parse_scope(scope).map(|v| v.len()), want, "{scope:?}");
    }
    assert!(matches!(
        parse_scope(&" ".repeat(access::SCOPE_BYTES_MAX + 1)),
        Err(ScopeError::TooLong { .. })
    ));
}
