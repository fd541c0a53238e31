// A small CBOR decoder (RFC 8949) for what the dashboard verifies: COSE_Sign1
// statements and receipts, COSE keys. Byte strings stay Uint8Array (the
// protected headers must be verified as the exact bytes received), maps
// become Map (COSE labels are integers), tags are {tag, value}. Refuses
// indefinite lengths, depth beyond 32, and anything beyond the input.
// Deliberately absent: encoding (the only thing encoded, Sig_structure, is
// built byte by byte in verify.js) and floats beyond what COSE needs.

const DEPTH_MAX = 32;

export class CborError extends Error {}

export function decode(bytes) {
  const r = { b: bytes, i: 0 };
  const v = item(r, 0);
  if (r.i !== bytes.length) throw new CborError(`${bytes.length - r.i} bytes after the CBOR item`);
  return v;
}

function need(r, n) {
  if (r.i + n > r.b.length) throw new CborError("truncated CBOR");
}

function arg(r, info) {
  if (info < 24) return info;
  const n = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
  if (!n) throw new CborError(`unsupported CBOR length encoding ${info}`);
  need(r, n);
  let v = 0;
  for (let k = 0; k < n; k++) v = v * 256 + r.b[r.i + k];
  r.i += n;
  if (!Number.isSafeInteger(v)) throw new CborError("integer beyond 2^53");
  return v;
}

function item(r, depth) {
  if (depth > DEPTH_MAX) throw new CborError("CBOR nested too deeply");
  need(r, 1);
  const head = r.b[r.i++];
  const major = head >> 5;
  const info = head & 31;
  if (major === 7) {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 23) return undefined;
    throw new CborError(`unsupported CBOR simple value ${info}`);
  }
  const n = arg(r, info);
  switch (major) {
    case 0: return n;
    case 1: return -1 - n;
    case 2: { need(r, n); const v = r.b.subarray(r.i, r.i + n); r.i += n; return v; }
    case 3: { need(r, n); const v = new TextDecoder("utf-8", { fatal: true }).decode(r.b.subarray(r.i, r.i + n)); r.i += n; return v; }
    case 4: { const a = []; for (let k = 0; k < n; k++) a.push(item(r, depth + 1)); return a; }
    case 5: {
      const m = new Map();
      for (let k = 0; k < n; k++) { const key = item(r, depth + 1); m.set(key, item(r, depth + 1)); }
      return m;
    }
    case 6: return { tag: n, value: item(r, depth + 1) };
  }
  throw new CborError("bad CBOR");
}
