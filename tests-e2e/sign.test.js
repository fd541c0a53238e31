// Unit tests of the dashboard's in-browser signing (crates/dashboard/web/
// sign.js) and CBOR encoder (cbor.js), in Node (WebCrypto as in the
// browser): RFC 8949 Appendix A encodings and round trips through cbor.js's
// own decoder; PKCS#8 keys read and refused with a plain reason; statements
// that verify.js reads and verifies; and, when the sectwin binary is there
// ($SECTWIN_BIN, default ../target/ci/sectwin), byte-for-byte the statement
// `sectwin statement sign` makes with the same Ed25519 key (deterministic
// signatures) and the same kid for a P-256 key.
//
//   node --test tests-e2e/sign.test.js

import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

if (!globalThis.crypto) globalThis.crypto = (await import("node:crypto")).webcrypto;
const { encode, decode, CborError } = await import("../crates/dashboard/web/cbor.js");
const s = await import("../crates/dashboard/web/sign.js");
const v = await import("../crates/dashboard/web/verify.js");

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.SECTWIN_BIN || join(here, "../target/ci/sectwin");
const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (h) => new Uint8Array(Buffer.from(h, "hex"));

// ---- cbor.js encode ---------------------------------------------------------

test("CBOR encode: RFC 8949 Appendix A vectors", () => {
  const cases = [
    [0, "00"], [1, "01"], [10, "0a"], [23, "17"], [24, "1818"], [25, "1819"], [100, "1864"],
    [1000, "1903e8"], [1000000, "1a000f4240"], [1000000000000, "1b000000e8d4a51000"],
    [Number.MAX_SAFE_INTEGER, "1b001fffffffffffff"], [4294967296, "1b0000000100000000"],
    [-1, "20"], [-10, "29"], [-100, "3863"], [-1000, "3903e7"], [-8, "27"], [-7, "26"],
    ["", "60"], ["a", "6161"], ["IETF", "6449455446"], ["\"\\", "62225c"], ["\u00fc", "62c3bc"],
    ["\u6c34", "63e6b0b4"], ["\ud800\udd51", "64f0908591"],
    [new Uint8Array(0), "40"], [unhex("01020304"), "4401020304"],
    [[], "80"], [[1, 2, 3], "83010203"], [[1, [2, 3], [4, 5]], "8301820203820405"],
    [Array.from({ length: 25 }, (_, i) => i + 1), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"],
    [new Map(), "a0"], [new Map([[1, 2], [3, 4]]), "a201020304"],
    [new Map([["a", 1], ["b", [2, 3]]]), "a26161016162820203"],
    [["a", new Map([["b", "c"]])], "826161a161626163"],
    [{ tag: 1, value: 1363896240 }, "c11a514b67b0"], [{ tag: 24, value: unhex("6449455446") }, "d818456449455446"],
    [false, "f4"], [true, "f5"], [null, "f6"],
  ];
  for (const [value, want] of cases) assert.equal(hex(encode(value)), want, `encode(${JSON.stringify(value, (k, x) => (x instanceof Map ? [...x] : x instanceof Uint8Array ? hex(x) : x))})`);
});

test("CBOR encode: a 300-byte string and a 70,000-byte one take 2- and 4-byte lengths", () => {
  assert.equal(hex(encode(new Uint8Array(300)).subarray(0, 3)), "59012c");
  assert.equal(hex(encode("x".repeat(70000)).subarray(0, 5)), "7a00011170");
});

test("CBOR encode: maps keep insertion order (COSE headers as the server writes them)", () => {
  assert.equal(hex(encode(new Map([[4, 1], [1, 2], [-1, 3]]))), "a304010102" + "2003");
  assert.equal(hex(encode(new Map([["z", 1], [1, 2]]))), "a2617a010102");
});

test("CBOR encode then cbor.js decode gives the value back", () => {
  const value = {
    tag: 18,
    value: [unhex("a10126"), new Map([[4, unhex("abcd")], ["text", [-1, -24, -25, -256, -257, -65536, -65537, 65535, 65536]]]), null, unhex("00".repeat(64))],
  };
  const back = decode(encode(value));
  assert.equal(back.tag, 18);
  assert.deepEqual(back.value[0], value.value[0]);
  assert.deepEqual([...back.value[1]], [...value.value[1]]);
  assert.equal(back.value[2], null);
  assert.deepEqual(back.value[3], value.value[3]);
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -24, -25, -(2 ** 32), -Number.MAX_SAFE_INTEGER]) {
    assert.equal(decode(encode(n)), n, `${n}`);
  }
  const long = "é".repeat(40000);
  assert.equal(decode(encode(long)), long);
});

test("CBOR encode refuses what it does not encode", () => {
  for (const bad of [1.5, NaN, Infinity, 2 ** 53, undefined, 10n, { a: 1 }, new Map([[{}, 1]]), () => 0]) {
    assert.throws(() => encode(bad), CborError, String(bad));
  }
  let deep = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  assert.throws(() => encode(deep), /nested too deeply/);
});

// ---- keys ------------------------------------------------------------------------

const pkcs8 = (key) => key.export({ type: "pkcs8", format: "pem" });
const ed = generateKeyPairSync("ed25519");
const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });

test("RFC 9679 §6: the thumbprint of the P-256 key of Figure 2", async () => {
  const b64url = (h) => Buffer.from(h, "hex").toString("base64url");
  const kid = await s.thumbprint({ kty: "EC", crv: "P-256",
    x: b64url("65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d"),
    y: b64url("1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c") });
  assert.equal(hex(kid), "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec");
});

test("an Ed25519 PKCS#8 key: EdDSA, kid = SHA-256(a3 01 01 20 06 21 58 20 || x), not extractable", async () => {
  const key = await s.loadKey(pkcs8(ed.privateKey));
  const x = ed.publicKey.export({ format: "jwk" }).x;
  assert.equal(key.alg, -8);
  assert.equal(key.algName, "Ed25519");
  assert.deepEqual(key.publicJwk, { kty: "OKP", crv: "Ed25519", x });
  assert.deepEqual(key.kid, await v.sha256(v.concat(unhex("a301012006215820"), Buffer.from(x, "base64url"))));
  assert.equal(key.privateKey.extractable, false);
  assert.deepEqual(key.privateKey.usages, ["sign"]);
});

test("a P-256 PKCS#8 key: ES256, kid = SHA-256(a4 01 02 20 01 21 58 20 || x || 22 58 20 || y)", async () => {
  const key = await s.loadKey(pkcs8(ec.privateKey));
  const { x, y } = ec.publicKey.export({ format: "jwk" });
  assert.equal(key.alg, -7);
  assert.deepEqual(key.publicJwk, { kty: "EC", crv: "P-256", x, y });
  const input = v.concat(unhex("a401022001215820"), Buffer.from(x, "base64url"), unhex("225820"), Buffer.from(y, "base64url"));
  assert.deepEqual(key.kid, await v.sha256(input));
  assert.equal(key.privateKey.extractable, false);
});

// A PKCS#8 v2 (RFC 5958 OneAsymmetricKey) Ed25519 key with its public key, as ed25519-dalek writes it.
function ed25519V2(seed, pub) {
  const der = Buffer.concat([Buffer.from("3051020101300506032b657004220420", "hex"), seed, Buffer.from("812100", "hex"), pub]);
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END PRIVATE KEY-----\n`;
}

test("an Ed25519 PKCS#8 v2 key (with its public key) is read; a damaged one is refused", async () => {
  const jwk = ed.privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d, "base64url"), pub = Buffer.from(jwk.x, "base64url");
  const key = await s.loadKey(ed25519V2(seed, pub));
  assert.equal(key.publicJwk.x, jwk.x);
  const other = Buffer.from(pub); other[0] ^= 1;
  await assert.rejects(s.loadKey(ed25519V2(seed, other)), /damaged: the public key it carries does not belong to its private key/);
});

test("keys this page cannot use are refused, saying what they are", async () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const cases = [
    [pkcs8(rsa.privateKey), /^an RSA key: only Ed25519 and P-256/],
    [rsa.privateKey.export({ type: "pkcs1", format: "pem" }), /^an RSA key \(PKCS#1\)/],
    [ed.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }), /^an encrypted key/],
    [ec.privateKey.export({ type: "sec1", format: "pem" }), /^an EC key in SEC1 form/],
    [pkcs8(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey), /^a P-384 key/],
    [pkcs8(generateKeyPairSync("ed448").privateKey), /^an Ed448 key/],
    [pkcs8(generateKeyPairSync("x25519").privateKey), /^an X25519 key/],
    [ed.publicKey.export({ type: "spki", format: "pem" }), /^a public key: signing needs the private key/],
    ["hello", /^not a PEM private key/],
    ["", /^not a PEM private key/],
    ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB user@host", /OpenSSH public key/],
    ["-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", /PKCS#8/],
    ["-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----", /not base64/],
  ];
  for (const [pem, want] of cases) {
    await assert.rejects(s.loadKey(pem), (e) => {
      assert.ok(e instanceof s.SignError, `${want}: ${e}`);
      assert.match(e.message, want);
      return true;
    });
  }
});

// ---- statements --------------------------------------------------------------------

test("signed statements verify with verify.js and carry the server's headers", async () => {
  for (const pair of [ed, ec]) {
    const key = await s.loadKey(pkcs8(pair.privateKey));
    const payload = new TextEncoder().encode(JSON.stringify({ type: "risk-mitigated", risk: "R-1", how: "patched" }));
    const bytes = await s.signStatement(key, { iss: "operator.example", sub: "device:door-1", iat: 1767225600, payload });
    assert.equal(bytes[0], 0xd2, "tagged COSE_Sign1 (18)");
    const st = v.readStatement(bytes);
    assert.equal(st.iss, "operator.example");
    assert.equal(st.sub, "device:door-1");
    assert.equal(st.iat, 1767225600);
    assert.equal(st.alg, key.alg);
    assert.equal(st.cty, "application/json");
    assert.deepEqual(st.kid, key.kid);
    assert.deepEqual([...st.s.protected.keys()], [1, 3, 4, 15]);
    assert.deepEqual([...st.s.protected.get(15).keys()], [1, 2, 6]);
    assert.equal(st.s.unprotected.size, 0);
    assert.equal(st.s.signature.length, 64);
    const spki = pair.publicKey.export({ type: "spki", format: "pem" });
    await v.verifyStatement(st, await v.importPem(spki));
    // An altered payload fails.
    const altered = { ...st, payload: new TextEncoder().encode("{}") };
    await assert.rejects(v.verifyStatement(altered, await v.importPem(spki)), /does not verify/);
  }
});

test("decision payloads carry the fields of the twin's statement types", () => {
  assert.deepEqual(s.decisionPayload({ decision: "accept", risk: "R", rationale: " why ", until: "2030-01-31" }), { type: "risk-accepted", risk: "R", rationale: "why", until: "2030-01-31" });
  assert.deepEqual(s.decisionPayload({ decision: "accept", risk: "R", rationale: "why", until: "" }), { type: "risk-accepted", risk: "R", rationale: "why" });
  assert.deepEqual(s.decisionPayload({ decision: "mitigate", risk: "R", rationale: "patched" }), { type: "risk-mitigated", risk: "R", how: "patched" });
  assert.deepEqual(s.decisionPayload({ decision: "transfer", risk: "R", rationale: "theirs", to: " fixit.example " }), { type: "risk-transferred", risk: "R", to: "fixit.example", rationale: "theirs" });
  assert.deepEqual(s.decisionPayload({ decision: "false_positive", risk: "R", rationale: "not used" }), { type: "risk-false-positive", risk: "R", rationale: "not used" });
  assert.throws(() => s.decisionPayload({ decision: "accept", risk: "R", rationale: "  " }), /rationale/);
  assert.throws(() => s.decisionPayload({ decision: "transfer", risk: "R", rationale: "x", to: "" }), /to: a transfer names/);
  assert.throws(() => s.decisionPayload({ decision: "accept", risk: "R", rationale: "x", until: "31/01/2030" }), /YYYY-MM-DD/);
});

// ---- against the server's own signer ---------------------------------------------

test("byte for byte what `sectwin statement sign` makes (Ed25519), the same headers and kid (P-256)", { skip: existsSync(BIN) ? false : `no sectwin binary at ${BIN}` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sectwin-sign-"));
  try {
    const payloadFile = join(dir, "payload.json");
    const payload = JSON.stringify({ type: "risk-accepted", risk: "CVE-2024-3596", rationale: "isolated VLAN — ünïcode too", until: "2030-01-31" });
    writeFileSync(payloadFile, payload);
    for (const alg of ["eddsa", "es256"]) {
      const keyFile = join(dir, `${alg}.key.pem`);
      const generated = spawnSync(BIN, ["key", "generate", "--alg", alg, "--out", keyFile], { encoding: "utf8" });
      assert.equal(generated.status, 0, generated.stderr);
      const key = await s.loadKey(readFileSync(keyFile, "utf8"));
      assert.equal(hex(key.kid), /kid: ([0-9a-f]{64})/.exec(generated.stderr)[1], `${alg} kid`);
      const out = join(dir, `${alg}.cose`);
      execFileSync(BIN, ["statement", "sign", "--key", keyFile, "--issuer", "operator.example", "--subject", "device:door-ctl-0042",
        "--payload", payloadFile, "--issued-at", "1767225600", "--out", out], { stdio: "ignore" });
      const theirs = new Uint8Array(readFileSync(out));
      const mine = await s.signStatement(key, { iss: "operator.example", sub: "device:door-ctl-0042", iat: 1767225600, payload: new TextEncoder().encode(payload) });
      if (alg === "eddsa") {
        assert.equal(hex(mine), hex(theirs), "the same bytes as the server's StatementBuilder");
      } else {
        // ECDSA signatures are randomized: all but the 64 signature bytes agree,
        // and both verify with the key's public half.
        assert.equal(mine.length, theirs.length);
        assert.equal(hex(mine.subarray(0, -64)), hex(theirs.subarray(0, -64)));
        const pub = await v.importPem(generated.stdout);
        await v.verifyStatement(v.readStatement(mine), pub);
        await v.verifyStatement(v.readStatement(theirs), pub);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
