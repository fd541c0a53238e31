// A small CBOR decoder and encoder (RFC 8949) for what the dashboard
// verifies and signs: COSE_Sign1 statements and receipts, COSE keys. Byte
// strings stay Uint8Array (the protected headers must be verified as the
// exact bytes received), maps become Map (COSE labels are integers), tags
// are {tag, value}. The decoder refuses indefinite lengths, depth beyond 32,
// and anything beyond the input; the encoder writes definite lengths and
// the shortest heads (RFC 8949 §4.2.1), and map entries in the Map's
// insertion order (the caller chooses it: COSE headers as the server writes
// them). Deliberately absent: floats (COSE needs none).

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

// ---- encoding ---------------------------------------------------------------

// The CBOR of `value`: a safe integer, a string (text), a Uint8Array (bytes),
// an array, a Map (int or text keys), {tag, value}, true, false or null.
export function encode(value) {
  const out = [];
  put(out, value, 0);
  const bytes = new Uint8Array(out.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of out) { bytes.set(p, i); i += p.length; }
  return bytes;
}

const utf8 = new TextEncoder();

// The head of a data item: major type and argument, shortest form.
function head(major, n) {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 255);
  if (n < 0x100000000) return Uint8Array.of(m | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
  const hi = Math.floor(n / 0x100000000), lo = n >>> 0;
  return Uint8Array.of(m | 27, (hi >>> 24) & 255, (hi >> 16) & 255, (hi >> 8) & 255, hi & 255, (lo >>> 24) & 255, (lo >> 16) & 255, (lo >> 8) & 255, lo & 255);
}

function put(out, v, depth) {
  if (depth > DEPTH_MAX) throw new CborError("CBOR nested too deeply");
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new CborError(`cannot encode ${v}: only integers up to 2^53 are encoded`);
    out.push(v >= 0 ? head(0, v) : head(1, -1 - v));
  } else if (typeof v === "string") {
    const b = utf8.encode(v);
    out.push(head(3, b.length), b);
  } else if (v instanceof Uint8Array) {
    out.push(head(2, v.length), v);
  } else if (Array.isArray(v)) {
    out.push(head(4, v.length));
    for (const x of v) put(out, x, depth + 1);
  } else if (v instanceof Map) {
    out.push(head(5, v.size));
    for (const [k, x] of v) {
      if (typeof k !== "string" && !Number.isSafeInteger(k)) throw new CborError(`cannot encode map key ${String(k)}: keys are integers or text`);
      put(out, k, depth + 1);
      put(out, x, depth + 1);
    }
  } else if (v === false || v === true || v === null) {
    out.push(Uint8Array.of(v === false ? 0xf4 : v === true ? 0xf5 : 0xf6));
  } else if (v && typeof v === "object" && Number.isSafeInteger(v.tag) && v.tag >= 0 && "value" in v) {
    out.push(head(6, v.tag));
    put(out, v.value, depth + 1);
  } else {
    throw new CborError(`cannot encode ${typeof v} as CBOR`);
  }
}
