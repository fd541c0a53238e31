// Unit tests of the dashboard's in-browser verifier (crates/dashboard/web/verify.js),
// run in Node (its WebCrypto has Ed25519) against test vectors from outside the
// project, so that the JS second implementation of tlog/scitt verification
// cannot drift from the standards unnoticed:
//
//   merkle/testdata  transparency-dev/merkle's RFC 6962/9162 inclusion and
//                    consistency cases (happy paths and tampered inputs): every
//                    case must come out as its `wantErr` says;
//   tessera-log/     a C2SP tlog-tiles log written by Trillian Tessera with its
//                    published test key: every checkpoint's signature, every
//                    root rebuilt from the hash tiles and entry bundles, the
//                    consistency of every pair of checkpoints, and a flipped byte
//                    in a signature, a root or a tile refused with a VerifyError.
//
// The vectors may not be copied into the repository: they are read from
// $SECTWIN_VECTORS or ../shared/vectors beside the repository, and when they
// are missing every test FAILS saying so (it never passes having checked
// nothing). No dependencies: `node --test tests-e2e/verifier.test.js`; run by
// .ci/test's js-verifier stage.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// verify.js uses the browser globals; Node 20 has them, older Node may lack `crypto`.
globalThis.crypto ??= webcrypto;
const v = await import("../crates/dashboard/web/verify.js");

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const VECTORS = process.env.SECTWIN_VECTORS
  ? path.resolve(process.env.SECTWIN_VECTORS)
  : path.resolve(repoRoot, "..", "shared", "vectors");
const FROM = process.env.SECTWIN_VECTORS ? "from SECTWIN_VECTORS" : "the default ../shared/vectors beside the repository";

/** `sub` under the vectors directory; fails the test, saying how to get the vectors, when it is missing. */
function vectors(sub) {
  const d = path.join(VECTORS, sub);
  if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) {
    assert.fail(
      `the outside test vectors are missing: ${d} (${FROM}) is not a directory. ` +
        "Set SECTWIN_VECTORS to a directory holding merkle/testdata (transparency-dev/merkle's testdata/) " +
        "and tessera-log/ (Trillian Tessera's test log), or put ../shared beside the repository " +
        "(../shared/vectors, see its README.md).",
    );
  }
  return d;
}

const b64 = (s) => new Uint8Array(Buffer.from(s ?? "", "base64"));
const toB64 = (bytes) => Buffer.from(bytes).toString("base64");
const flip = (bytes, i) => { const c = Uint8Array.from(bytes); c[i] ^= 0x01; return c; };
const same = (a, b) => Buffer.from(a).equals(Buffer.from(b));
/** For assert.rejects/throws: a VerifyError whose message matches. */
const verifyError = (message) => (e) => e instanceof v.VerifyError && message.test(e.message);

/** Runs `fn`; answers "ok", or the VerifyError's message; anything else thrown is a test failure. */
async function outcome(fn) {
  try {
    await fn();
    return { ok: true };
  } catch (e) {
    if (e instanceof v.VerifyError) return { ok: false, message: e.message };
    return { ok: false, crash: e };
  }
}

// ---- RFC 9162 proofs: transparency-dev/merkle's vectors ----------------------

function jsonFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return jsonFiles(p);
    return e.name.endsWith(".json") ? [p] : [];
  }).sort();
}

// Decoding convention (as the Rust merkle_vectors test): base64 as given,
// `proof: null` is the empty proof; sizes and indices are JSON numbers (the
// two leafIdx 2^64-1 cases become an unsafe float, which the verifier must
// refuse, as they expect). An inclusion case verifies when the root
// rootFromInclusion gives equals the case's root, as verify-ui.js checks it.
const KINDS = {
  inclusion: async (d) => {
    const root = await v.rootFromInclusion(b64(d.leafHash), d.leafIdx, d.treeSize, (d.proof ?? []).map(b64));
    if (!v.equal(root, b64(d.root))) throw new v.VerifyError("the proof leads to another root");
  },
  consistency: (d) => v.verifyConsistency(d.size1, d.size2, b64(d.root1), b64(d.root2), (d.proof ?? []).map(b64)),
};

for (const [kind, run] of Object.entries(KINDS)) {
  test(`RFC 9162 ${kind} proofs: every transparency-dev/merkle case`, async (t) => {
    const dir = path.join(vectors("merkle/testdata"), kind);
    assert.ok(fs.existsSync(dir), `no ${kind} cases in ${dir}`);
    const files = jsonFiles(dir);
    const failures = [];
    let valid = 0, rejected = 0;
    for (const f of files) {
      const d = JSON.parse(fs.readFileSync(f, "utf8"));
      const name = path.relative(dir, f);
      assert.equal(typeof d.wantErr, "boolean", `${name}: no wantErr`);
      const r = await outcome(() => run(d));
      if (r.crash) failures.push(`${name} (${d.desc}): threw ${r.crash?.name}: ${r.crash?.message} instead of a VerifyError`);
      else if (d.wantErr && r.ok) failures.push(`${name} (${d.desc}): accepted, but the case must be rejected`);
      else if (!d.wantErr && !r.ok) failures.push(`${name} (${d.desc}): rejected (${r.message}), but the case is valid`);
      else if (r.ok) valid++;
      else rejected++;
    }
    t.diagnostic(`${kind}: ${files.length} cases (${valid} valid accepted, ${rejected} invalid rejected with a VerifyError), ${failures.length} failures`);
    assert.ok(valid > 0 && rejected > 0, `${kind}: expected both valid and invalid cases in ${dir}`);
    assert.deepEqual(failures, [], `${failures.length} of ${files.length} ${kind} cases came out wrong:\n${failures.join("\n")}`);
  });
}

test("RFC 9162 subtree proofs: not implemented by verify.js (counted, not run)", (t) => {
  const base = vectors("merkle/testdata");
  const n = ["subtreeinclusion", "subtreeconsistency"]
    .filter((k) => fs.existsSync(path.join(base, k)))
    .reduce((s, k) => s + jsonFiles(path.join(base, k)).length, 0);
  assert.equal(typeof v.verifySubtreeInclusion, "undefined", "verify.js now has subtree proofs: run these cases too");
  t.diagnostic(`${n} subtree inclusion/consistency cases not applicable: the dashboard verifies no subtree proofs`);
});

// ---- the Tessera log: C2SP signed notes, checkpoints, tiles --------------------

// Trillian Tessera's published test key (../shared/vectors/README.md; also in
// crates/tlog/tests/it/tessera_log.rs) and the log's leaves, in order.
const ORIGIN = "example.com/log/testdata";
const SKEY = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg";
const VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const LEAVES = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten".split(" ");
// Go's sumdb/note test key (README), from another signer: its key hash is Go's computation.
const OTHER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

const readLog = (p) => fs.readFileSync(path.join(vectors("tessera-log"), p));
const note = (size) => readLog(`checkpoint.${size}`).toString("utf8");

/** The checkpoints 0..15, each verified with the log key. */
async function checkpoints() {
  const key = await v.parseVkey(VKEY);
  const out = [];
  for (let n = 0; n <= LEAVES.length; n++) out.push(await v.verifyCheckpoint(note(n), key, [], 0));
  return out;
}

/** The level-0 hash tile of the tree of `n` leaves (a partial tile: n < 256), as hashes. */
function tileHashes(bytes) {
  assert.equal(bytes.length % 32, 0, "a hash tile is whole 32-byte hashes");
  return Array.from({ length: bytes.length / 32 }, (_, i) => bytes.subarray(i * 32, i * 32 + 32));
}

// RFC 9162 §2.1: the tree hash, audit paths and consistency proofs, built on
// verify.js's own leaf and node hashing; what they give is checked against
// the roots the log signed, which come from outside.
const split = (n) => { let k = 1; while (k * 2 < n) k *= 2; return k; };
async function mth(D) {
  if (D.length === 0) return new Uint8Array(createHash("sha256").digest());
  if (D.length === 1) return D[0];
  const k = split(D.length);
  return v.nodeHash(await mth(D.slice(0, k)), await mth(D.slice(k)));
}
async function auditPath(m, D) {
  if (D.length <= 1) return [];
  const k = split(D.length);
  return m < k
    ? [...(await auditPath(m, D.slice(0, k))), await mth(D.slice(k))]
    : [...(await auditPath(m - k, D.slice(k))), await mth(D.slice(0, k))];
}
async function subproof(m, D, whole) {
  if (m === D.length) return whole ? [] : [await mth(D)];
  const k = split(D.length);
  return m <= k
    ? [...(await subproof(m, D.slice(0, k), whole)), await mth(D.slice(k))]
    : [...(await subproof(m - k, D.slice(k), false)), await mth(D.slice(0, k))];
}

/** That the hash tile of size `n` proves every smaller checkpoint a prefix of checkpoint n (verify.js throws otherwise). */
async function checkTileConsistency(n, hashes, cps) {
  for (let m = 1; m < n; m++) {
    await v.verifyConsistency(m, n, cps[m].root, cps[n].root, await subproof(m, hashes, true));
  }
}

test("Tessera log: the verifier key is the published signing key's, and parses", async (t) => {
  vectors("tessera-log");
  // PRIVATE+KEY+name+hash+base64(0x01 || Ed25519 seed): derive the public key with WebCrypto.
  const [, name, id, skey] = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(SKEY); // base64 has "+" too
  const raw = Buffer.from(skey, "base64");
  assert.equal(raw[0], 1, "an Ed25519 signing key");
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), raw.subarray(1)]);
  const priv = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const pub = Buffer.from((await crypto.subtle.exportKey("jwk", priv)).x, "base64url");
  assert.equal(`${name}+${id}+${toB64(Buffer.concat([Buffer.of(1), pub]))}`, VKEY);
  const key = await v.parseVkey(VKEY);
  assert.equal(key.name, ORIGIN);
  assert.equal(v.hex(key.id), "33d7b496");
  assert.equal(key.type, 1);
  assert.equal((await v.parseVkey(OTHER_VKEY)).name, "PeterNeumann");
  t.diagnostic(`log key ${VKEY}`);
});

test("Tessera log: every checkpoint's signature verifies with the log key", async (t) => {
  const key = await v.parseVkey(VKEY);
  let n = 0;
  for (let size = 0; size <= LEAVES.length; size++) {
    const cp = await v.verifyCheckpoint(note(size), key, [], 0);
    assert.equal(cp.origin, ORIGIN);
    assert.equal(cp.size, size, `checkpoint.${size}`);
    assert.equal(cp.root.length, 32);
    n++;
  }
  const latest = await v.verifyCheckpoint(readLog("checkpoint").toString("utf8"), key, [], 0);
  assert.equal(latest.size, LEAVES.length);
  n++;
  // With another log's key, or a witness quorum that no one met: refused.
  await assert.rejects(v.verifyCheckpoint(note(3), await v.parseVkey(OTHER_VKEY), [], 0), v.VerifyError);
  await assert.rejects(v.verifyCheckpoint(note(3), key, [], 1), verifyError(/only 0 of the 1 witness cosignatures/));
  t.diagnostic(`${n} checkpoints verified (sizes 0..${LEAVES.length} and checkpoint)`);
});

test("Tessera log: entry bundles and hash tiles rebuild every checkpoint's root", async (t) => {
  const cps = await checkpoints();
  // The empty tree: SHA-256 of nothing (RFC 9162 §2.1.1).
  assert.ok(same(cps[0].root, await mth([])), "checkpoint.0 is not the empty tree's hash");
  let proofs = 0;
  for (let n = 1; n <= LEAVES.length; n++) {
    const bundlePath = v.bundlePath(0, n);
    assert.equal(bundlePath, `tile/entries/000.p/${n}`);
    const bundle = new Uint8Array(readLog(bundlePath));
    const hashes = tileHashes(new Uint8Array(readLog(`tile/0/000.p/${n}`)));
    assert.equal(hashes.length, n, `tile/0/000.p/${n}`);
    for (let i = 0; i < n; i++) {
      assert.equal(v.bundlePath(i, n), bundlePath);
      const entry = v.entryFromBundle(bundle, i);
      assert.equal(Buffer.from(entry).toString(), LEAVES[i], `entry ${i} of bundle ${n}`);
      assert.ok(same(await v.leafHash(entry), hashes[i]), `leaf hash of entry ${i} is not tile/0/000.p/${n}'s`);
    }
    assert.throws(() => v.entryFromBundle(bundle, n), v.VerifyError);
    assert.ok(same(await mth(hashes), cps[n].root), `the tree hash of tile/0/000.p/${n} is not checkpoint.${n}'s root`);
    // Every leaf's inclusion proof leads to the signed root.
    for (let i = 0; i < n; i++) {
      const root = await v.rootFromInclusion(hashes[i], i, n, await auditPath(i, hashes));
      assert.ok(same(root, cps[n].root), `inclusion of leaf ${i} in checkpoint.${n}`);
      proofs++;
    }
  }
  t.diagnostic(`${LEAVES.length} bundles and tiles rebuilt their checkpoint's root; ${proofs} inclusion proofs verified`);
});

test("Tessera log: every checkpoint is consistent with every later one", async (t) => {
  const cps = await checkpoints();
  const hashes = (n) => tileHashes(new Uint8Array(readLog(`tile/0/000.p/${n}`)));
  let pairs = 0, successive = 0;
  for (let n = 1; n <= LEAVES.length; n++) {
    await v.verifyConsistency(n, n, cps[n].root, cps[n].root, []);
    for (let m = 1; m < n; m++) {
      const proof = await subproof(m, hashes(n), true);
      await v.verifyConsistency(m, n, cps[m].root, cps[n].root, proof);
      pairs++;
      if (m === n - 1) successive++;
      // The same proof for the roots the other way round, or a root of another size: refused.
      await assert.rejects(v.verifyConsistency(m, n, cps[n].root, cps[m].root, proof), v.VerifyError);
      await assert.rejects(v.verifyConsistency(m, n, cps[m === 1 ? 2 : 1].root, cps[n].root, proof), v.VerifyError);
    }
  }
  await assert.rejects(v.verifyConsistency(0, 15, cps[0].root, cps[15].root, []), v.VerifyError);
  t.diagnostic(`${pairs} consistency proofs between signed checkpoints verified (${successive} successive), each also refused with wrong roots`);
});

test("Tessera log: a flipped byte in a signature, a root or a tile is refused with a VerifyError", async (t) => {
  const key = await v.parseVkey(VKEY);
  const cps = await checkpoints();
  const text = note(15);
  const [body, sigLine] = [text.slice(0, text.lastIndexOf("\n\n") + 2), text.slice(text.lastIndexOf("\n\n") + 2)];
  const [dash, name, sigB64] = sigLine.trim().split(" ");
  const sig = b64(sigB64); // key ID (4 bytes) || Ed25519 signature (64)
  const withSig = (s) => `${body}${dash} ${name} ${toB64(s)}\n`;
  let cases = 0;
  for (const i of [4, 20, 67]) {
    await assert.rejects(v.verifyCheckpoint(withSig(flip(sig, i)), key, [], 0), verifyError(/signature on the checkpoint does not verify/));
    cases++;
  }
  await assert.rejects(v.verifyCheckpoint(withSig(flip(sig, 0)), key, [], 0), verifyError(/carries no signature by the log key/));
  cases++;
  // The root line with one byte flipped (still a valid root, but not the one signed).
  const [origin, size, rootB64] = body.split("\n");
  for (const i of [0, 31]) {
    const tampered = `${origin}\n${size}\n${toB64(flip(b64(rootB64), i))}\n\n${sigLine}`;
    await assert.rejects(v.verifyCheckpoint(tampered, key, [], 0), verifyError(/does not verify/));
    cases++;
  }
  await assert.rejects(v.verifyCheckpoint(`${origin}\n14\n${rootB64}\n\n${sigLine}`, key, [], 0), v.VerifyError);
  cases++;
  // A hash tile with one byte flipped: no longer the signed tree, and its proofs fail.
  const tile = new Uint8Array(readLog("tile/0/000.p/15"));
  await checkTileConsistency(15, tileHashes(tile), cps); // the untouched tile passes
  for (const i of [0, 7 * 32 + 5, 14 * 32 + 31]) {
    const hashes = tileHashes(flip(tile, i));
    assert.ok(!same(await mth(hashes), cps[15].root));
    await assert.rejects(checkTileConsistency(15, hashes, cps), v.VerifyError);
    cases++;
  }
  // An entry bundle with one byte flipped: that entry's proof leads elsewhere.
  const bundle = flip(new Uint8Array(readLog("tile/entries/000.p/15")), 2);
  const hashes = tileHashes(tile);
  const root = await v.rootFromInclusion(await v.leafHash(v.entryFromBundle(bundle, 0)), 0, 15, await auditPath(0, hashes));
  assert.ok(!same(root, cps[15].root));
  cases++;
  t.diagnostic(`${cases} tampered signatures, roots, sizes, tiles and bundles refused`);
});

// ---- malformed input: a VerifyError saying what is wrong -------------------------

test("malformed input is refused with a VerifyError that says what is wrong", async () => {
  const refused = (p, message) => assert.rejects(p, verifyError(message));
  const refusedSync = (fn, message) => assert.throws(fn, verifyError(message));
  // Verifier keys.
  await refused(v.parseVkey("not a key"), /not a C2SP verifier key/);
  await refused(v.parseVkey(VKEY.replace("+33d7b496+", "+33d7b497+")), /key hash 33d7b497 does not match its key/);
  await refused(v.parseVkey(VKEY.slice(0, -8)), /expected a type byte and 32 key bytes/);
  // Notes and checkpoints.
  const key = await v.parseVkey(VKEY);
  const good = note(15);
  await refused(v.verifyCheckpoint(good.replace("\n\n", "\n"), key, [], 0), /not a signed note/);
  await refused(v.verifyCheckpoint(good.replace(/\n([^\n]*)\n\n/, "\n%%%not base64%%%\n\n"), key, [], 0), /not base64/);
  await refused(v.verifyCheckpoint(good.replace("\n15\n", "\n015\n"), key, [], 0), /checkpoint size 015 is not a number/);
  refusedSync(() => v.parseNote("a\n\n— name AAAA\n"), /signature of name too short/);
  // Truncated proofs, from the vectors' happy paths.
  const dir = vectors("merkle/testdata");
  const inc = JSON.parse(fs.readFileSync(path.join(dir, "inclusion/1/happy-path.json"), "utf8"));
  const incProof = inc.proof.map(b64);
  await refused(v.rootFromInclusion(b64(inc.leafHash), inc.leafIdx, inc.treeSize, incProof.slice(0, -1)), /inclusion proof is shorter than the tree needs/);
  await refused(v.rootFromInclusion(b64(inc.leafHash), inc.leafIdx, inc.treeSize, [...incProof, incProof[0]]), /longer than the tree allows/);
  await refused(v.rootFromInclusion(b64(inc.leafHash), inc.leafIdx, inc.treeSize, [incProof[0], incProof[1].subarray(0, 31), incProof[2]]), /inclusion proof hash 1 is not 32 bytes/);
  await refused(v.rootFromInclusion(b64(inc.leafHash).subarray(1), inc.leafIdx, inc.treeSize, incProof), /leaf hash is not 32 bytes/);
  // A negative or fractional index must not pass for leaf 0's proof.
  await refused(v.rootFromInclusion(b64(inc.leafHash), -1, inc.treeSize, incProof), /leaf index -1 is not a whole number/);
  await refused(v.rootFromInclusion(b64(inc.leafHash), 0.5, inc.treeSize, incProof), /leaf index 0.5 is not a whole number/);
  const con = JSON.parse(fs.readFileSync(path.join(dir, "consistency/1/happy-path.json"), "utf8"));
  const conProof = con.proof.map(b64);
  await v.verifyConsistency(con.size1, con.size2, b64(con.root1), b64(con.root2), conProof);
  await refused(v.verifyConsistency(con.size1, con.size2, b64(con.root1), b64(con.root2), conProof.slice(0, -1)), /shorter than the trees need|does not lead to the root/);
  await refused(v.verifyConsistency(con.size1, con.size2, b64(con.root1), b64(con.root2), []), /empty consistency proof|shorter than the trees need/);
  await refused(v.verifyConsistency(con.size1, con.size2, b64(con.root1), b64(con.root2), conProof.map((h) => h.subarray(0, 16))), /consistency proof hash 0 is not 32 bytes/);
});
