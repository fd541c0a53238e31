//! Tests of [`access::Credentials`]: creation from given random bytes, every
//! rejection of a presented secret, revocation, the JSON file form and every
//! refusal on load. Random bytes are fixed per test, so runs are identical.

use access::{
    CreateError, CredentialError, Credentials, CredentialsLoadError, CREDENTIALS_MAX,
    CREDENTIAL_RANDOM_BYTES, LABEL_BYTES_MAX, STAKEHOLDER_BYTES_MAX,
};
use sha2::{Digest, Sha256};

const NOW: u64 = 1_700_000_000;

/// Distinct "random" bytes for credential number `n`.
fn random(n: u8) -> [u8; CREDENTIAL_RANDOM_BYTES] {
    let mut r = [0u8; CREDENTIAL_RANDOM_BYTES];
    for (i, b) in r.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(n.wrapping_mul(101));
    }
    r
}

/// Two credentials of `acme.example` and one of `globex.example`, with
/// their secrets.
fn three() -> (Credentials, Vec<(String, String)>) {
    let mut c = Credentials::default();
    let mut out = Vec::new();
    for (n, org) in [
        (1, "acme.example"),
        (2, "acme.example"),
        (3, "globex.example"),
    ] {
        let (cred, secret) = c.create(org, "test", random(n), NOW).expect("create");
        out.push((cred.client_id().to_string(), secret));
    }
    (c, out)
}

#[test]
fn create_derives_id_and_secret_from_the_random_bytes_and_keeps_only_a_hash() {
    let mut c = Credentials::default();
    let r = random(1);
    let (cred, secret) = c.create("acme.example", "ci", r, NOW).expect("create");
    assert_eq!(cred.client_id(), format!("sc_{}", hex::encode(&r[..16])));
    let encoded = secret.strip_prefix("ss_").expect("secrets start with ss_");
    assert_eq!(encoded.len(), 43, "32 bytes in unpadded base64url");
    assert!(encoded
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, encoded)
            .expect("base64url"),
        &r[32..]
    );
    assert_eq!(cred.stakeholder(), "acme.example");
    assert_eq!(cred.label(), "ci");
    assert_eq!(cred.created_unix_s(), NOW);
    assert!(!cred.revoked());

    let json = serde_json::to_value(&c).expect("json");
    let record = &json["credentials"][0];
    assert_eq!(record["salt_hex"], hex::encode(&r[16..32]));
    let mut h = Sha256::new();
    h.update(&r[16..32]);
    h.update(secret.as_bytes());
    assert_eq!(record["secret_sha256_hex"], hex::encode(h.finalize()));
    assert!(
        !json.to_string().contains(&secret),
        "the secret is never stored"
    );
    assert!(
        !format!("{cred:?}").contains(&hex::encode(&r[16..32])),
        "Debug leaves out the salt"
    );
}

#[test]
fn verify_accepts_each_credential_with_its_own_secret() {
    let (c, creds) = three();
    for (id, secret) in &creds {
        let cred = c.verify(id, secret).expect("verifies");
        assert_eq!(cred.client_id(), id);
    }
}

#[test]
fn verify_rejections() {
    let (mut c, creds) = three();
    let (a1, a1_secret) = &creds[0];
    let (_, a2_secret) = &creds[1];
    let (b1, b1_secret) = &creds[2];
    c.revoke(b1).expect("revoke");
    let mut one_char_off = a1_secret.clone().into_bytes();
    one_char_off[10] = if one_char_off[10] == b'A' { b'B' } else { b'A' };
    let one_char_off = String::from_utf8(one_char_off).expect("ascii");
    let unknown = format!("sc_{}", "0".repeat(32));

    let cases: &[(&str, &str, &str, CredentialError)] = &[
        (
            "unknown client",
            &unknown,
            a1_secret,
            CredentialError::UnknownClient,
        ),
        (
            "empty client id",
            "",
            a1_secret,
            CredentialError::UnknownClient,
        ),
        (
            "client id in upper case",
            &a1.to_uppercase(),
            a1_secret,
            CredentialError::UnknownClient,
        ),
        ("wrong secret", a1, "nope", CredentialError::BadSecret),
        ("empty secret", a1, "", CredentialError::BadSecret),
        (
            "one character off",
            a1,
            &one_char_off,
            CredentialError::BadSecret,
        ),
        (
            "secret with a trailing newline",
            a1,
            &format!("{a1_secret}\n"),
            CredentialError::BadSecret,
        ),
        (
            "secret of another credential of the same stakeholder",
            a1,
            a2_secret,
            CredentialError::BadSecret,
        ),
        (
            "secret of another stakeholder's credential",
            a1,
            b1_secret,
            CredentialError::BadSecret,
        ),
        (
            "revoked, right secret",
            b1,
            b1_secret,
            CredentialError::Revoked,
        ),
        (
            "revoked, wrong secret: revocation is not disclosed",
            b1,
            a1_secret,
            CredentialError::BadSecret,
        ),
    ];
    for (what, id, secret, want) in cases {
        assert_eq!(c.verify(id, secret).map(|_| ()), Err(*want), "{what}");
    }
}

#[test]
fn revoke_is_idempotent_keeps_the_credential_and_refuses_unknown_ids() {
    let (mut c, creds) = three();
    let (id, secret) = &creds[0];
    c.revoke(id).expect("revoke");
    c.revoke(id).expect("revoke again");
    assert_eq!(c.len(), 3);
    assert!(c.get(id).expect("kept").revoked());
    assert_eq!(
        c.verify(id, secret).map(|_| ()),
        Err(CredentialError::Revoked)
    );
    // The others are untouched.
    assert!(c.verify(&creds[1].0, &creds[1].1).is_ok());
    assert_eq!(
        c.revoke("sc_00000000000000000000000000000000"),
        Err(CredentialError::UnknownClient)
    );
}

#[test]
fn for_stakeholder_lists_only_that_stakeholders_credentials() {
    let (mut c, creds) = three();
    c.revoke(&creds[1].0).expect("revoke");
    let acme: Vec<_> = c
        .for_stakeholder("acme.example")
        .map(|c| c.client_id().to_string())
        .collect();
    let mut want = vec![creds[0].0.clone(), creds[1].0.clone()];
    want.sort();
    assert_eq!(acme, want, "revoked ones included, in client id order");
    let globex: Vec<_> = c
        .for_stakeholder("globex.example")
        .map(|c| c.client_id().to_string())
        .collect();
    assert_eq!(globex, vec![creds[2].0.clone()]);
    assert_eq!(c.for_stakeholder("acme").count(), 0, "no prefix matching");
}

#[test]
fn create_refusals_and_limits() {
    let long_org = "a".repeat(STAKEHOLDER_BYTES_MAX);
    let too_long_org = "a".repeat(STAKEHOLDER_BYTES_MAX + 1);
    let long_label = "é".repeat(LABEL_BYTES_MAX / 2);
    let too_long_label = "x".repeat(LABEL_BYTES_MAX + 1);
    let cases: &[(&str, &str, &str, Option<CreateError>)] = &[
        ("plain", "acme.example", "ci", None),
        ("empty label", "acme.example", "", None),
        ("longest stakeholder", &long_org, "", None),
        (
            "longest label (multi-byte)",
            "acme.example",
            &long_label,
            None,
        ),
        ("empty stakeholder", "", "", Some(CreateError::Stakeholder)),
        (
            "space in stakeholder",
            "acme example",
            "",
            Some(CreateError::Stakeholder),
        ),
        (
            "non-ASCII stakeholder",
            "acmé.example",
            "",
            Some(CreateError::Stakeholder),
        ),
        (
            "stakeholder too long",
            &too_long_org,
            "",
            Some(CreateError::Stakeholder),
        ),
        (
            "label too long",
            "acme.example",
            &too_long_label,
            Some(CreateError::Label),
        ),
        (
            "newline in label",
            "acme.example",
            "a\nb",
            Some(CreateError::Label),
        ),
    ];
    for (n, (what, org, label, want)) in cases.iter().enumerate() {
        let mut c = Credentials::default();
        let got = c.create(org, label, random(n as u8), NOW);
        match want {
            None => {
                assert!(got.is_ok(), "{what}: {got:?}");
                assert_eq!(c.len(), 1, "{what}");
            }
            Some(e) => {
                assert_eq!(got.map(|_| ()), Err(e.clone()), "{what}");
                assert!(c.is_empty(), "{what}: a refusal changes nothing");
            }
        }
    }
}

#[test]
fn create_with_repeated_random_bytes_is_refused() {
    let mut c = Credentials::default();
    let (first, _) = c.create("acme.example", "", random(1), NOW).expect("first");
    let again = c.create("globex.example", "", random(1), NOW);
    assert_eq!(
        again.map(|_| ()),
        Err(CreateError::ClientIdTaken(first.client_id().to_string()))
    );
    assert_eq!(c.len(), 1);
    assert_eq!(
        c.get(first.client_id()).expect("kept").stakeholder(),
        "acme.example",
        "the first credential is not replaced"
    );
}

#[test]
fn json_round_trip_keeps_every_credential_verifiable() {
    let (mut c, creds) = three();
    c.revoke(&creds[2].0).expect("revoke");
    let json = serde_json::to_string_pretty(&c).expect("serialize");
    let back: Credentials = serde_json::from_str(&json).expect("load");
    assert_eq!(back, c);
    assert!(back.verify(&creds[0].0, &creds[0].1).is_ok());
    assert_eq!(
        back.verify(&creds[2].0, &creds[2].1).map(|_| ()),
        Err(CredentialError::Revoked)
    );
    assert_eq!(
        serde_json::from_str::<Credentials>(r#"{"credentials":[]}"#).expect("empty"),
        Credentials::default()
    );
}

#[test]
fn load_refusals() {
    let (c, _) = three();
    let good = serde_json::to_value(&c).expect("json");
    let first_id = good["credentials"][0]["client_id"]
        .as_str()
        .expect("id")
        .to_string();
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, Edit, &str)] = &[
        (
            "client id without the prefix",
            |v| v["credentials"][0]["client_id"] = "00112233445566778899aabbccddeeff".into(),
            "client_id is not sc_",
        ),
        (
            "client id in upper case hex",
            |v| v["credentials"][0]["client_id"] = "sc_00112233445566778899AABBCCDDEEFF".into(),
            "client_id is not sc_",
        ),
        (
            "salt too short",
            |v| v["credentials"][0]["salt_hex"] = "00112233".into(),
            "salt_hex",
        ),
        (
            "hash not hex",
            |v| v["credentials"][0]["secret_sha256_hex"] = "zz".repeat(32).into(),
            "secret_sha256_hex",
        ),
        (
            "stakeholder with a space",
            |v| v["credentials"][0]["stakeholder"] = "acme example".into(),
            "stakeholder",
        ),
        (
            "label with a control character",
            |v| v["credentials"][0]["label"] = "a\u{7}".into(),
            "label",
        ),
        (
            "missing field",
            |v| {
                v["credentials"][0]
                    .as_object_mut()
                    .expect("object")
                    .remove("revoked");
            },
            "missing field `revoked`",
        ),
        (
            "unknown field",
            |v| v["credentials"][0]["secret"] = "plaintext".into(),
            "unknown field `secret`",
        ),
        (
            "unknown top-level field",
            |v| v["version"] = 2.into(),
            "unknown field `version`",
        ),
        (
            "duplicate client id",
            |v| {
                let copy = v["credentials"][0].clone();
                v["credentials"].as_array_mut().expect("array").push(copy);
            },
            "appears twice",
        ),
    ];
    for (what, edit, want) in cases {
        let mut v = good.clone();
        edit(&mut v);
        let err = serde_json::from_value::<Credentials>(v)
            .expect_err(what)
            .to_string();
        assert!(err.contains(want), "{what}: {err}");
    }
    // The same edits applied to nothing load fine: the table is not vacuous.
    let back: Credentials = serde_json::from_value(good).expect("unedited loads");
    assert!(back.get(&first_id).is_some());
}

#[test]
fn load_error_messages_name_the_credential() {
    let e = CredentialsLoadError::Field {
        client_id: "sc_x".into(),
        reason: "salt_hex is not 16 bytes of hex",
    };
    assert_eq!(
        e.to_string(),
        r#"credential "sc_x": salt_hex is not 16 bytes of hex"#
    );
    assert_eq!(
        CredentialsLoadError::TooMany.to_string(),
        format!("more than {CREDENTIALS_MAX} credentials")
    );
}

/// Two nodes' sets merge to one whatever the order: creations are united,
/// and a revocation on either side wins (it is never undone).
#[test]
fn merging_unites_creations_and_keeps_every_revocation() {
    let mut a = Credentials::default();
    let mut b = Credentials::default();
    let (shared, shared_secret) = a
        .create("acme.example", "both", random(1), NOW)
        .expect("create");
    assert!(b.merge_one(&shared), "an unknown credential is added");
    assert!(
        !b.merge_one(&shared),
        "the same credential again changes nothing"
    );
    let (only_a, _) = a
        .create("acme.example", "a", random(2), NOW)
        .expect("create");
    let (only_b, only_b_secret) = b.create("op.example", "b", random(3), NOW).expect("create");
    b.revoke(shared.client_id()).expect("revoke on b");

    let mut ab = a.clone();
    assert!(ab.merge(&b));
    let mut ba = b.clone();
    assert!(ba.merge(&a));
    assert_eq!(ab, ba, "merging commutes");
    assert_eq!(ab.len(), 3);
    assert!(ab.get(only_a.client_id()).is_some() && ab.get(only_b.client_id()).is_some());
    assert_eq!(
        ab.verify(shared.client_id(), &shared_secret).err(),
        Some(CredentialError::Revoked),
        "the revocation made on b holds after the merge"
    );
    assert!(ab.verify(only_b.client_id(), &only_b_secret).is_ok());
    // A set that has not heard of the revocation does not undo it.
    let stale = a.clone();
    assert!(!ab.merge(&stale), "an older copy changes nothing");
    assert_eq!(
        ab.verify(shared.client_id(), &shared_secret).err(),
        Some(CredentialError::Revoked)
    );
}
