// Signing in the browser with the user's own key, over WebCrypto: a PKCS#8
// PEM private key (Ed25519 or P-256) read from a file the user chooses, and
// SCITT Signed Statements as the server's StatementBuilder::sign makes them
// (crates/scitt/src/statement.rs): a tagged COSE_Sign1 whose protected
// header is {1: alg, 3: content type, 4: kid, 15: {1: iss, 2: sub, 6: iat}},
// kid the RFC 9679 thumbprint of the public key, the payload attached.
// The key is imported non-extractable and kept by the caller in memory only;
// nothing here stores or sends it. Errors are SignError with a message that
// says what the file is and what to do instead. No I/O here: views.js posts.

import { encode } from "./cbor.js";
import { b64, equal, sha256 } from "./verify.js";

export class SignError extends Error {}

const EDDSA = -8, ES256 = -7;

// ---- DER, as far as PKCS#8 needs -------------------------------------------

// One TLV at r.i: {tag, body (Uint8Array), end}.
function tlv(r, what) {
  const b = r.b;
  if (r.i + 2 > b.length) throw new SignError(`${what}: truncated`);
  const tag = b[r.i];
  let len = b[r.i + 1];
  let i = r.i + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || i + n > b.length) throw new SignError(`${what}: bad length`);
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + b[i + k];
    i += n;
  }
  if (i + len > b.length) throw new SignError(`${what}: truncated`);
  r.i = i + len;
  return { tag, body: b.subarray(i, i + len) };
}

function expect(r, tag, what) {
  const t = tlv(r, what);
  if (t.tag !== tag) throw new SignError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t.body;
}

// Dotted text of a DER OBJECT IDENTIFIER body.
function oidText(body) {
  const parts = [];
  let n = 0;
  for (const byte of body) {
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) { parts.push(n); n = 0; }
  }
  if (!parts.length) return "";
  const first = parts[0] < 80 ? [Math.floor(parts[0] / 40), parts[0] % 40] : [2, parts[0] - 80];
  return [...first, ...parts.slice(1)].join(".");
}

const OID = {
  ed25519: "1.3.101.112",
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
};
const NAMED = {
  "1.2.840.113549.1.1.1": "an RSA key",
  "1.2.840.113549.1.1.10": "an RSA-PSS key",
  "1.3.101.113": "an Ed448 key",
  "1.3.101.110": "an X25519 key (for key agreement, not signing)",
  "1.3.101.111": "an X448 key (for key agreement, not signing)",
  "1.2.840.10040.4.1": "a DSA key",
  "1.3.132.0.34": "a P-384 key",
  "1.3.132.0.35": "a P-521 key",
  "1.3.132.0.10": "a secp256k1 key",
};
const ONLY = "only Ed25519 and P-256 (ES256) keys sign statements here";

// The PEM's label and DER bytes, or a SignError saying what the text is.
function pemBlock(text) {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) {
    if (/ssh-(ed25519|rsa)|ecdsa-sha2-/.test(text)) throw new SignError("not a PEM private key: this is an OpenSSH public key line; choose the private key file (PEM, PKCS#8)");
    throw new SignError("not a PEM private key: the file has no -----BEGIN PRIVATE KEY----- block");
  }
  const label = m[1];
  const body = m[2].replace(/^[A-Za-z-]+:.*$/gm, "").replace(/\s+/g, "");
  if (label === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(m[2])) {
    throw new SignError("an encrypted key: this page cannot decrypt it; make an unencrypted PKCS#8 copy for this use (openssl pkcs8 -in KEY -out plain.pem), or sign with the CLI");
  }
  if (label === "RSA PRIVATE KEY") throw new SignError(`an RSA key (PKCS#1): ${ONLY}`);
  if (label === "EC PRIVATE KEY") throw new SignError("an EC key in SEC1 form (EC PRIVATE KEY), not PKCS#8: convert it with openssl pkcs8 -topk8 -nocrypt -in KEY -out key.p8.pem");
  if (label === "OPENSSH PRIVATE KEY") throw new SignError("an OpenSSH private key, not PKCS#8: convert a copy with ssh-keygen -p -m PKCS8 -f COPY, or use the key sectwin made (PEM, PKCS#8)");
  if (label === "PUBLIC KEY" || label === "CERTIFICATE") throw new SignError(`${label === "PUBLIC KEY" ? "a public key" : "a certificate"}: signing needs the private key (-----BEGIN PRIVATE KEY-----)`);
  if (label !== "PRIVATE KEY") throw new SignError(`not a PEM private key: the file holds a ${label} block, not PRIVATE KEY (PKCS#8)`);
  let der;
  try { der = b64.decode(body); } catch { throw new SignError("not a PEM private key: its body is not base64"); }
  return der;
}

// PKCS#8 PrivateKeyInfo (RFC 5958): {curve, privateKey, publicKey?}.
function parsePkcs8(der) {
  const outer = { b: der, i: 0 };
  const seq = expect(outer, 0x30, "PKCS#8");
  const r = { b: seq, i: 0 };
  const version = expect(r, 0x02, "PKCS#8 version");
  if (version.length !== 1 || version[0] > 1) throw new SignError("PKCS#8: unknown version");
  const algo = { b: expect(r, 0x30, "PKCS#8 algorithm"), i: 0 };
  const oid = oidText(expect(algo, 0x06, "PKCS#8 algorithm"));
  const params = algo.i < algo.b.length ? tlv(algo, "PKCS#8 algorithm parameters") : null;
  const privateKey = expect(r, 0x04, "PKCS#8 private key");
  let publicKey = null;
  while (r.i < r.b.length) {
    const t = tlv(r, "PKCS#8 attributes");
    if (t.tag === 0x81 && t.body.length > 1) publicKey = t.body.subarray(1); // [1] BIT STRING, 0 unused bits
  }
  if (oid === OID.ed25519) {
    const seed = expect({ b: privateKey, i: 0 }, 0x04, "Ed25519 private key");
    if (seed.length !== 32) throw new SignError("Ed25519 private key: not 32 bytes");
    return { alg: EDDSA, seed, publicKey };
  }
  if (oid === OID.ecPublicKey) {
    const curve = params && params.tag === 0x06 ? oidText(params.body) : "";
    if (curve !== OID.p256) throw new SignError(`${NAMED[curve] || `an EC key on curve ${curve || "(unnamed)"}`}: ${ONLY}`);
    return { alg: ES256 };
  }
  throw new SignError(`${NAMED[oid] || `a key of algorithm ${oid}`}: ${ONLY}`);
}

// ---- keys ----------------------------------------------------------------------

const fromB64url = (s) => b64.decode(s);

// RFC 9679 COSE Key thumbprint of a public JWK (Ed25519 or P-256): SHA-256
// over {1: kty, -1: crv, -2: x[, -3: y]} in deterministic CBOR.
export async function thumbprint(jwk) {
  const m = jwk.kty === "OKP"
    ? new Map([[1, 1], [-1, 6], [-2, fromB64url(jwk.x)]])
    : new Map([[1, 2], [-1, 1], [-2, fromB64url(jwk.x)], [-3, fromB64url(jwk.y)]]);
  return sha256(encode(m));
}

// Ed25519 PKCS#8 v1 for a seed (what every WebCrypto imports; a v2 file's
// public key is checked against the derived one instead).
function ed25519Pkcs8(seed) {
  const out = new Uint8Array(48);
  out.set([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
  out.set(seed, 16);
  return out;
}

// Reads a PKCS#8 PEM private key: {alg (-8 EdDSA, -7 ES256), algName, kid
// (32 bytes), publicJwk, privateKey (a non-extractable CryptoKey)}.
export async function loadKey(pemText) {
  if (typeof pemText !== "string") throw new SignError("not a PEM private key");
  const der = pemBlock(pemText);
  const info = parsePkcs8(der);
  const algorithm = info.alg === EDDSA ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
  let jwk;
  try {
    const pkcs8 = info.alg === EDDSA ? ed25519Pkcs8(info.seed) : der;
    const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]);
    jwk = await crypto.subtle.exportKey("jwk", extractable);
  } catch (e) {
    if (e instanceof SignError) throw e;
    throw new SignError(`this browser could not read the ${info.alg === EDDSA ? "Ed25519" : "P-256"} key: ${e.message || e.name}`);
  }
  const publicJwk = info.alg === EDDSA ? { kty: "OKP", crv: "Ed25519", x: jwk.x } : { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  if (info.publicKey && !equal(info.publicKey, fromB64url(jwk.x))) {
    throw new SignError("the key file is damaged: the public key it carries does not belong to its private key");
  }
  const privateKey = await crypto.subtle.importKey("jwk", { ...publicJwk, d: jwk.d, ext: false }, algorithm, false, ["sign"]);
  jwk = null;
  return {
    alg: info.alg,
    algName: info.alg === EDDSA ? "Ed25519" : "ES256 (P-256)",
    kid: await thumbprint(publicJwk),
    publicJwk,
    privateKey,
  };
}

// ---- statements ------------------------------------------------------------------

// A tagged COSE_Sign1 Signed Statement by `iss` about `sub`, issued at `iat`
// (Unix seconds), over `payload` (Uint8Array), signed with `key` (loadKey's).
export async function signStatement(key, { iss, sub, iat, payload, contentType = "application/json" }) {
  if (typeof iss !== "string" || !iss) throw new SignError("no issuer: sign in again");
  if (typeof sub !== "string" || !sub) throw new SignError("no subject");
  if (!Number.isSafeInteger(iat)) throw new SignError("iat is not a whole number of seconds");
  if (!(payload instanceof Uint8Array)) throw new SignError("the payload is not bytes");
  const protectedBytes = encode(new Map([
    [1, key.alg],
    [3, contentType],
    [4, key.kid],
    [15, new Map([[1, iss], [2, sub], [6, iat]])],
  ]));
  const toBeSigned = encode(["Signature1", protectedBytes, new Uint8Array(0), payload]);
  const signature = new Uint8Array(key.alg === EDDSA
    ? await crypto.subtle.sign("Ed25519", key.privateKey, toBeSigned)
    : await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, toBeSigned));
  return encode({ tag: 18, value: [protectedBytes, new Map(), payload, signature] });
}

// The statement payload of a risk decision, as the service builds it for
// POST /api/v1/risks/decisions (crates/service/src/decisions.rs; the types
// of crates/twin/src/statement.rs): `decision` accept | mitigate | transfer
// | false_positive. Throws a SignError naming a missing field.
export function decisionPayload({ decision, risk, rationale, until, to }) {
  const why = (rationale || "").trim();
  if (!why) throw new SignError("rationale: say why (for Mitigated: how)");
  if (!risk) throw new SignError("risk: the risk id is empty");
  switch (decision) {
    case "accept":
      if (until && !/^\d{4}-\d{2}-\d{2}$/.test(until)) throw new SignError(`until ${until}: expected YYYY-MM-DD`);
      return until ? { type: "risk-accepted", risk, rationale: why, until } : { type: "risk-accepted", risk, rationale: why };
    case "mitigate":
      return { type: "risk-mitigated", risk, how: why };
    case "transfer":
      if (!(to || "").trim()) throw new SignError("to: a transfer names the stakeholder that takes the risk");
      return { type: "risk-transferred", risk, to: to.trim(), rationale: why };
    case "false_positive":
      return { type: "risk-false-positive", risk, rationale: why };
  }
  throw new SignError(`unknown decision ${decision}`);
}
