// In-browser verification, dependency-free, over WebCrypto (Ed25519, ECDSA
// P-256, SHA-256): C2SP signed notes and checkpoints with their log
// signature and witness cosignatures (signed-note, tlog-checkpoint,
// tlog-cosignature), RFC 9162 inclusion and consistency proofs, C2SP entry
// bundles, and RFC 9942 COSE receipts over RFC9162_SHA256 as sectwin issues
// them (crates/scitt/src/receipt.rs), and COSE_Sign1 signed statements.
// Every function either answers what it verified or throws a VerifyError
// whose message says plainly what failed. No I/O here: verify-ui.js fetches.

import { decode } from "./cbor.js";

export class VerifyError extends Error {}

const enc = new TextEncoder();

export const b64 = {
  decode(s) {
    let bin;
    try {
      bin = atob(s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "="));
    } catch {
      throw new VerifyError(`not base64: ${s.length > 60 ? `${s.slice(0, 60)}…` : s}`);
    }
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  },
  encode(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  },
};

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 9162 §2.1.1: leaf hash SHA-256(0x00 || entry), node hash SHA-256(0x01 || l || r).
export const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// ---- C2SP signed notes -------------------------------------------------

// A verifier key `name+hash+base64(type || key)` (c2sp signed-note "Verifier keys").
export async function parseVkey(vkey) {
  // name "+" 8 hex digits "+" base64 (whose alphabet has "+" too).
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!m) throw new VerifyError(`not a C2SP verifier key: ${vkey}`);
  const [, name, idHex, keyB64] = m;
  const raw = b64.decode(keyB64);
  if (raw.length !== 33) throw new VerifyError(`verifier key ${name}: expected a type byte and 32 key bytes`);
  const type = raw[0];
  const key = raw.subarray(1);
  const id = await keyId(name, type, key);
  if (hex(id) !== idHex.toLowerCase()) throw new VerifyError(`verifier key ${name}: its key hash ${idHex} does not match its key`);
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
  return { name, type, id, key, cryptoKey, vkey: vkey.trim() };
}

// key ID = SHA-256(name || 0x0A || type || key)[:4]
async function keyId(name, type, key) {
  return (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a, type), key))).subarray(0, 4);
}

// Splits a note into its text (with the final newline) and signature lines.
export function parseNote(noteText) {
  const cut = noteText.lastIndexOf("\n\n");
  if (cut < 0) throw new VerifyError("not a signed note: no blank line before the signatures");
  const text = noteText.slice(0, cut + 1);
  const sigs = [];
  for (const line of noteText.slice(cut + 2).split("\n")) {
    if (line === "") continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new VerifyError(`not a signature line: ${line}`);
    const raw = b64.decode(m[2]);
    if (raw.length < 5) throw new VerifyError(`signature of ${m[1]} too short`);
    sigs.push({ name: m[1], id: raw.subarray(0, 4), sig: raw.subarray(4) });
  }
  return { text, sigs };
}

// c2sp tlog-checkpoint: origin, size, base64 root, then extension lines.
export function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length < 4) throw new VerifyError("a checkpoint has an origin, a size and a root");
  const size = Number(lines[1]);
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1]) || !Number.isSafeInteger(size)) throw new VerifyError(`checkpoint size ${lines[1]} is not a number`);
  const root = b64.decode(lines[2]);
  if (root.length !== 32) throw new VerifyError("checkpoint root is not 32 bytes");
  return { origin: lines[0], size, root };
}

// Verifies a checkpoint note against the log key and the witness keys with
// a quorum: the log's signature must verify, a cosignature from a known
// witness that fails rejects the note, and at least `quorum` distinct
// witnesses must have cosigned. Answers what verified.
export async function verifyCheckpoint(noteText, logKey, witnessKeys, quorum) {
  const { text, sigs } = parseNote(noteText);
  const cp = parseCheckpoint(text);
  if (cp.origin !== logKey.name) throw new VerifyError(`the checkpoint is of the log ${JSON.stringify(cp.origin)}, not of ${JSON.stringify(logKey.name)} whose key you trust`);
  let logOk = false;
  const cosigned = [];
  for (const s of sigs) {
    if (s.name === logKey.name && equal(s.id, logKey.id)) {
      if (!(await crypto.subtle.verify("Ed25519", logKey.cryptoKey, s.sig, enc.encode(text)))) {
        throw new VerifyError(`the log's signature on the checkpoint does not verify with its key ${logKey.vkey}`);
      }
      logOk = true;
      continue;
    }
    const w = witnessKeys.find((k) => k.name === s.name && equal(s.id, k.id));
    if (!w) continue;
    if (s.sig.length !== 72) throw new VerifyError(`cosignature of witness ${w.name} is not a timestamp and a signature`);
    let ts = 0;
    for (let i = 0; i < 8; i++) ts = ts * 256 + s.sig[i];
    const msg = concat(enc.encode(`cosignature/v1\ntime ${ts}\n`), enc.encode(text));
    if (!(await crypto.subtle.verify("Ed25519", w.cryptoKey, s.sig.subarray(8), msg))) {
      throw new VerifyError(`the cosignature of witness ${w.name} does not verify with its key ${w.vkey}`);
    }
    if (!cosigned.some((c) => c.name === w.name)) cosigned.push({ name: w.name, vkey: w.vkey, timestamp: ts });
  }
  if (!logOk) throw new VerifyError(`the checkpoint carries no signature by the log key ${logKey.vkey}`);
  if (cosigned.length < quorum) {
    throw new VerifyError(`only ${cosigned.length} of the ${quorum} witness cosignatures required verified`);
  }
  return { ...cp, text, cosigned };
}

// ---- RFC 9162 proofs -----------------------------------------------------

const lsb = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

// What the Rust side's types guarantee (u64 sizes and indices, 32-byte
// hashes), checked here: these come from a server (JSON) or a receipt (CBOR).
function count(n, what) {
  if (!Number.isSafeInteger(n) || n < 0) throw new VerifyError(`${what} ${n} is not a whole number from 0 to 2^53`);
}
function hashes(list, what) {
  list.forEach((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw new VerifyError(`${what} hash ${i} is not 32 bytes`);
  });
}

// RFC 9162 §2.1.3.2: the root an inclusion proof gives for a leaf.
export async function rootFromInclusion(leaf, index, size, path) {
  count(index, "leaf index");
  count(size, "tree size");
  if (!(leaf instanceof Uint8Array) || leaf.length !== 32) throw new VerifyError("the leaf hash is not 32 bytes");
  hashes(path, "inclusion proof");
  if (index >= size) throw new VerifyError(`leaf index ${index} is not below tree size ${size}`);
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) throw new VerifyError("the inclusion proof is longer than the tree allows");
    if (lsb(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (!lsb(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) throw new VerifyError("the inclusion proof is shorter than the tree needs");
  return r;
}

// RFC 9162 §2.1.4.2: a consistency proof between two roots.
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  count(size1, "tree size");
  count(size2, "tree size");
  hashes(proof, "consistency proof");
  if (size1 > size2) throw new VerifyError(`tree size ${size1} is larger than ${size2}`);
  // As the Rust verifier (and transparency-dev/merkle): the empty tree proves nothing.
  if (size1 === 0) throw new VerifyError("a consistency proof from the empty tree proves nothing: the first tree size must be at least 1");
  if (size1 === size2) {
    if (proof.length !== 0) throw new VerifyError(`a consistency proof between two trees of the same size ${size1} must be empty`);
    if (!equal(root1, root2)) throw new VerifyError(`two different roots for the same tree size ${size1}`);
    return;
  }
  let m = size1;
  while (m > 1 && m % 2 === 0) m /= 2;
  // A first tree of 2^k entries is a subtree of the second: its root starts the path.
  const path = m === 1 ? [root1, ...proof] : proof;
  if (path.length === 0) throw new VerifyError("empty consistency proof");
  let fn = size1 - 1, sn = size2 - 1;
  while (lsb(fn)) { fn = half(fn); sn = half(sn); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) throw new VerifyError("the consistency proof is longer than the trees allow");
    if (lsb(fn) || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      while (!lsb(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) throw new VerifyError("the consistency proof is shorter than the trees need");
  if (!equal(fr, root1)) throw new VerifyError(`the consistency proof does not lead to the root of tree size ${size1}`);
  if (!equal(sr, root2)) throw new VerifyError(`the consistency proof does not lead to the root of tree size ${size2}`);
}

// ---- C2SP tlog-tiles entry bundles --------------------------------------

// The path of the entry bundle holding `index` in a tree of `size` entries.
export function bundlePath(index, size) {
  const n = Math.floor(index / 256);
  let s = String(n).padStart(3, "0");
  const groups = [];
  while (s.length > 3) { groups.unshift(s.slice(-3)); s = s.slice(0, -3); }
  groups.unshift(s.padStart(3, "0"));
  const path = groups.map((g, i) => (i < groups.length - 1 ? "x" + g : g)).join("/");
  const width = Math.min(256, size - n * 256);
  return `tile/entries/${path}${width < 256 ? `.p/${width}` : ""}`;
}

// The entry at `index` in a bundle: entries are 16-bit big-endian length prefixed.
export function entryFromBundle(bundle, index) {
  const want = index % 256;
  let i = 0;
  for (let k = 0; i < bundle.length; k++) {
    if (i + 2 > bundle.length) break;
    const len = (bundle[i] << 8) | bundle[i + 1];
    if (i + 2 + len > bundle.length) break;
    if (k === want) return bundle.subarray(i + 2, i + 2 + len);
    i += 2 + len;
  }
  throw new VerifyError(`the entry bundle has no entry ${index}`);
}

// ---- COSE ---------------------------------------------------------------

// COSE labels (RFC 9052, RFC 8392 CWT claims, RFC 9942 receipts).
const ALG = 1, CTY = 3, KID = 4, CWT = 15, VDS = 395, VDP = 396, INCLUSION = -1;
const EDDSA = -8, ES256 = -7;

function sign1(bytes, what) {
  let v;
  try { v = decode(bytes); } catch (e) { throw new VerifyError(`${what} is not CBOR: ${e.message}`); }
  if (v && v.tag === 18) v = v.value;
  if (!Array.isArray(v) || v.length !== 4 || !(v[0] instanceof Uint8Array) || !(v[1] instanceof Map)) {
    throw new VerifyError(`${what} is not a COSE_Sign1`);
  }
  let protectedMap;
  try { protectedMap = v[0].length ? decode(v[0]) : new Map(); } catch (e) { throw new VerifyError(`${what}: protected header is not CBOR`); }
  return { protectedBytes: v[0], protected: protectedMap, unprotected: v[1], payload: v[2], signature: v[3] };
}

// Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 §4.4),
// encoded by hand: these are the bytes the signer signed.
function sigStructure(protectedBytes, payload) {
  const bstr = (b) => concat(head(2, b.length), b);
  return concat(Uint8Array.of(0x84), head(3, 10), enc.encode("Signature1"), bstr(protectedBytes), Uint8Array.of(0x40), bstr(payload));
}

function head(major, n) {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 256) return Uint8Array.of(m | 24, n);
  if (n < 65536) return Uint8Array.of(m | 25, n >> 8, n & 255);
  return Uint8Array.of(m | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
}

async function coseVerify(key, alg, signature, data) {
  if (alg === EDDSA && key.algorithm.name === "Ed25519") return crypto.subtle.verify("Ed25519", key, signature, data);
  if (alg === ES256 && key.algorithm.name === "ECDSA") return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, data);
  throw new VerifyError(`the signature's algorithm ${alg} does not match the key (${key.algorithm.name})`);
}

// A COSE_Key (OKP Ed25519 or EC2 P-256) as a WebCrypto key, with its kid.
export async function importCoseKey(m) {
  const kid = m.get(2) instanceof Uint8Array ? m.get(2) : new Uint8Array();
  if (m.get(1) === 1 && m.get(-1) === 6) {
    return { kid, alg: EDDSA, key: await crypto.subtle.importKey("raw", m.get(-2), { name: "Ed25519" }, false, ["verify"]) };
  }
  if (m.get(1) === 2 && m.get(-1) === 1) {
    const raw = concat(Uint8Array.of(4), m.get(-2), m.get(-3));
    return { kid, alg: ES256, key: await crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]) };
  }
  throw new VerifyError("a receipt key is neither Ed25519 nor P-256");
}

export async function parseCoseKeySet(bytes) {
  const set = decode(bytes);
  if (!Array.isArray(set)) throw new VerifyError("the receipt key set is not a CBOR array");
  return Promise.all(set.map(importCoseKey));
}

// A PEM SubjectPublicKeyInfo (Ed25519 or P-256) as a WebCrypto key.
export async function importPem(pem) {
  const der = b64.decode(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
  try {
    return { alg: EDDSA, key: await crypto.subtle.importKey("spki", der, { name: "Ed25519" }, false, ["verify"]) };
  } catch {
    return { alg: ES256, key: await crypto.subtle.importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]) };
  }
}

// Verifies an RFC 9942 receipt for `entry` (the statement's exact
// registered bytes) against the service's receipt keys: decodes the
// inclusion proof, recomputes the root from the entry's leaf hash and checks
// the service's signature over that root (the detached payload).
export async function verifyReceipt(receiptBytes, entry, keys) {
  const r = sign1(receiptBytes, "the receipt");
  if (r.payload !== null) throw new VerifyError("the receipt's payload is attached; a receipt's payload is the detached root");
  const vds = r.protected.get(VDS);
  if (vds !== 1) throw new VerifyError(`the receipt's verifiable data structure is ${vds}, not RFC9162_SHA256 (1)`);
  const alg = r.protected.get(ALG);
  const vdp = r.unprotected.get(VDP);
  const proofs = vdp instanceof Map ? vdp.get(INCLUSION) : undefined;
  if (!Array.isArray(proofs) || proofs.length !== 1 || !(proofs[0] instanceof Uint8Array)) {
    throw new VerifyError("the receipt carries no single inclusion proof (vdp 396, inclusion -1)");
  }
  const p = decode(proofs[0]);
  if (!Array.isArray(p) || p.length !== 3 || !Array.isArray(p[2])) throw new VerifyError("the inclusion proof is not [tree_size, leaf_index, [path]]");
  const [size, index, path] = p;
  if (path.some((h) => !(h instanceof Uint8Array) || h.length !== 32)) throw new VerifyError("an inclusion path hash is not 32 bytes");
  const leaf = await leafHash(entry);
  const root = await rootFromInclusion(leaf, index, size, path);
  const kid = r.protected.get(KID);
  const candidates = kid instanceof Uint8Array ? keys.filter((k) => equal(k.kid, kid)) : keys;
  if (!candidates.length) throw new VerifyError(`the receipt is signed by key ${kid ? hex(kid) : "(no kid)"}, which is not one of the receipt keys you trust`);
  for (const k of candidates) {
    if (k.alg === alg && (await coseVerify(k.key, alg, r.signature, sigStructure(r.protectedBytes, root)))) {
      const claims = r.protected.get(CWT);
      return { size, index, root, leaf, kid: hex(k.kid), iss: claims?.get?.(1), sub: claims?.get?.(2), iat: claims?.get?.(6) };
    }
  }
  throw new VerifyError(`the receipt's signature over the root its proof gives does not verify with the service key ${kid ? hex(kid) : ""}: the receipt or the statement was altered`);
}

// A signed statement's protected claims and payload (no verification).
export function readStatement(bytes) {
  const s = sign1(bytes, "the statement");
  const claims = s.protected.get(CWT);
  return {
    s,
    iss: claims?.get?.(1),
    sub: claims?.get?.(2),
    iat: claims?.get?.(6),
    kid: s.protected.get(KID),
    alg: s.protected.get(ALG),
    cty: s.protected.get(CTY),
    payload: s.payload,
  };
}

// Verifies a statement's COSE_Sign1 signature with the issuer's key.
export async function verifyStatement(st, key) {
  if (!(st.payload instanceof Uint8Array)) throw new VerifyError("the statement's payload is detached; its signature cannot be checked without it");
  if (!(await coseVerify(key.key, st.alg, st.s.signature, sigStructure(st.s.protectedBytes, st.payload)))) {
    throw new VerifyError(`the statement's signature does not verify with ${st.iss}'s key`);
  }
}
