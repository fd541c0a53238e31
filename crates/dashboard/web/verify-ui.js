// The verification flows of the dashboard, over verify.js: which keys are
// trusted (pinned in this browser on first use, or entered by the user),
// verifying one log entry's receipt against the latest witnessed checkpoint,
// looking a dropped file up in the log with an inclusion proof, and the
// report that says plainly what was verified, against which keys, and what
// failed. Fetches only public routes (the log's static files, SCRAPI, the
// registry), never trusting the API's view of what it checks.

import * as api from "./api.js";
import * as v from "./verify.js";

const TRUST = "sectwin.trust";

// ---- trust anchors --------------------------------------------------------

// What this node announces now: the log key, witnesses, quorum, receipt keys.
async function announced() {
  const [log, keys] = await Promise.all([api.get("/api/v1/log"), api.getBytes("/.well-known/scitt-keys")]);
  return {
    log_vkey: log.vkey,
    witnesses: log.witnesses.map((w) => w.vkey),
    quorum: log.witness_quorum,
    receipt_keys: v.b64.encode(keys),
  };
}

export function pinned() {
  try { return JSON.parse(localStorage.getItem(TRUST) || "null"); } catch { return null; }
}

export function forget() { localStorage.removeItem(TRUST); }

export function pin(anchors, source) {
  const t = { ...anchors, source, pinned_at: new Date().toISOString() };
  localStorage.setItem(TRUST, JSON.stringify(t));
  return t;
}

const same = (a, b) => a.log_vkey === b.log_vkey && a.quorum === b.quorum && a.receipt_keys === b.receipt_keys &&
  JSON.stringify([...a.witnesses].sort()) === JSON.stringify([...b.witnesses].sort());

// The trusted keys: pinned ones, checked against what the node announces
// now (a change is a failure, not a silent update); pinned now on first use.
async function trust(steps) {
  const now = await announced();
  let t = pinned();
  if (!t) {
    t = pin(now, `announced by ${location.host} and pinned in this browser on first use`);
    steps.push({ ok: true, text: `No keys were pinned in this browser: the keys ${location.host} announces are now pinned (trust on first use). Compare them with keys obtained elsewhere (sectwin log vkey, the witnesses' operators) on the Log & witnesses page.` });
  } else if (!same(t, now)) {
    throw new v.VerifyError(`the node now announces other keys than those pinned in this browser on ${t.pinned_at} (${t.source}); nothing is trusted until you review them on the Log & witnesses page`);
  }
  const logKey = await v.parseVkey(t.log_vkey);
  const witnesses = await Promise.all(t.witnesses.map(v.parseVkey));
  const receiptKeys = await v.parseCoseKeySet(v.b64.decode(t.receipt_keys));
  return { t, logKey, witnesses, receiptKeys };
}

// ---- the latest checkpoint ---------------------------------------------------

async function checkpoint(keys, steps, fetched = api.getText("/log/checkpoint")) {
  const note = await fetched;
  const cp = await v.verifyCheckpoint(note, keys.logKey, keys.witnesses, keys.t.quorum);
  const w = cp.cosigned.map((c) => `${c.name} (cosigned ${ago(c.timestamp)})`).join(", ");
  steps.push({ ok: true, text: `Checkpoint of ${cp.origin} at tree size ${cp.size} is signed by the log key ${keys.logKey.vkey}` +
    (keys.t.quorum ? ` and cosigned by ${cp.cosigned.length} of the ${keys.witnesses.length} trusted witnesses (quorum ${keys.t.quorum}): ${w}.` : `; no witness quorum is configured, so no cosignature was required${cp.cosigned.length ? ` (verified anyway: ${w})` : ""}.`) });
  return cp;
}

function ago(ts) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

// The exact bytes of entry `index` from the log's static entry bundles.
async function entryBytes(index, size) {
  const bundle = await api.getBytes(`/log/${v.bundlePath(index, size)}`);
  return v.entryFromBundle(bundle, index);
}

// ---- one entry -------------------------------------------------------------

// Verifies entry `index`: receipt, checkpoint with witnesses, consistency,
// the statement's own signature by its issuer, and that what the API shows
// of it is what was signed. Answers {ok, steps, ms, ...}.
export async function verifyEntry(index) {
  const steps = [];
  const t0 = performance.now();
  // What does not depend on an earlier answer is fetched at once (the
  // checks still run, and are reported, in order).
  const early = (promise) => { promise.catch(() => {}); return promise; };
  const viewFetched = early(api.get(`/api/v1/statements/${index}`).catch(() => null));
  const receiptFetched = early(api.getBytes(`/entries/${index}`));
  const noteFetched = early(api.getText("/log/checkpoint"));
  try {
    const keys = await trust(steps);
    const receipt = await receiptFetched;
    const cp = await checkpoint(keys, steps, noteFetched);
    const entry = await entryBytes(index, cp.size);
    steps.push({ ok: true, text: `Entry ${index} read from the log's static entry bundle (${entry.length} bytes; leaf hash ${v.hex(await v.leafHash(entry)).slice(0, 16)}…).` });
    const r = await v.verifyReceipt(receipt, entry, keys.receiptKeys);
    steps.push({ ok: true, text: `Receipt: its inclusion proof puts entry ${r.index} in the tree of ${r.size} entries, and its signature over that root verifies with the service's receipt key ${r.kid.slice(0, 16)}… (issuer ${r.iss}).` });
    if (r.index !== index) throw new v.VerifyError(`the receipt is for entry ${r.index}, not ${index}`);
    const consistencyFetched = r.size < cp.size ? early(api.get(`/log/proof/consistency?old=${r.size}&new=${cp.size}`)) : null;
    const st = v.readStatement(entry);
    const signerFetched = early(issuerKey(st));
    if (r.size === cp.size) {
      if (!v.equal(r.root, cp.root)) throw new v.VerifyError(`the receipt's root is not the witnessed checkpoint's root at the same size ${cp.size}: the log shows two histories (a split view)`);
      steps.push({ ok: true, text: `The receipt's root is the witnessed checkpoint's root (tree size ${cp.size}).` });
    } else if (r.size < cp.size) {
      const p = await consistencyFetched;
      await v.verifyConsistency(r.size, cp.size, r.root, cp.root, p.proof.map(v.b64.decode));
      steps.push({ ok: true, text: `A consistency proof shows the tree of ${r.size} entries the receipt is about is a prefix of the witnessed tree of ${cp.size}.` });
    } else {
      throw new v.VerifyError(`the receipt is about a tree of ${r.size} entries, newer than the latest checkpoint (${cp.size}): no witness has seen it yet`);
    }
    const signer = await signerFetched;
    await v.verifyStatement(st, signer);
    steps.push({ ok: true, text: `The statement is signed by ${st.iss} (key ${signer.kid.slice(0, 16)}… from the registry in the log), about ${st.sub}, issued ${st.iat ? new Date(st.iat * 1000).toISOString() : "(no time)"}.` });
    const shown = await compareShown(index, st, viewFetched);
    if (shown) steps.push(shown);
    const ms = performance.now() - t0;
    return { ok: true, steps, ms, statement: st, index };
  } catch (e) {
    steps.push({ ok: false, text: explain(e) });
    return { ok: false, steps, ms: performance.now() - t0, index };
  }
}

function explain(e) {
  if (e instanceof v.VerifyError) return `Verification failed: ${e.message}.`;
  if (e instanceof api.ApiError) return `Could not fetch what is needed to verify: ${e.message}.`;
  return `Verification failed: ${e.message || e}.`;
}

// The issuer's key from the public registry (or the device's own key).
async function issuerKey(st) {
  const kid = st.kid instanceof Uint8Array ? v.hex(st.kid) : null;
  let pems = [];
  if (typeof st.iss === "string" && st.iss.startsWith("device:")) {
    const d = await api.get(`/api/v1/devices/${api.q(st.iss.slice(7))}`);
    if (d.twin.device_key) pems.push({ pem: d.twin.device_key, kid: kid || "" });
  } else {
    const s = await api.get(`/api/v1/stakeholders/${api.q(st.iss)}`);
    pems = s.keys.filter((k) => !kid || k.kid === kid);
  }
  if (!pems.length) throw new v.VerifyError(`no key ${kid || ""} of ${st.iss} is in the registry`);
  const k = await v.importPem(pems[0].pem);
  return { ...k, kid: pems[0].kid || kid || "" };
}

// Whether what the API shows of the statement is what was signed (fields the
// owner's policy hides are null in the view and are not compared).
async function compareShown(index, st, fetched) {
  const view = await fetched;
  if (!view || !view.statement || !(st.payload instanceof Uint8Array)) return null;
  let signed;
  try { signed = JSON.parse(new TextDecoder().decode(st.payload)); } catch { return null; }
  const differ = Object.entries(view.statement).filter(([k, val]) => val !== null && JSON.stringify(val) !== JSON.stringify(signed[k]));
  if (differ.length) throw new v.VerifyError(`the API shows ${differ.map(([k]) => k).join(", ")} of entry ${index} differently from the signed statement`);
  return { ok: true, text: `What this page shows of entry ${index} is what was signed (${Object.keys(view.statement).length} fields compared; hidden ones are not shown).` };
}

// ---- a dropped file ----------------------------------------------------------

export async function lookupFile(bytes) {
  const steps = [];
  const t0 = performance.now();
  const digest = v.hex(await v.sha256(bytes));
  const leaf = await v.leafHash(bytes);
  try {
    steps.push({ ok: true, text: `Computed in this browser: SHA-256 ${digest}; as a log entry its leaf hash would be ${v.hex(leaf)}.` });
    const keys = await trust(steps);
    const cp = await checkpoint(keys, steps);
    let p;
    try {
      p = await api.get(`/log/proof/inclusion?hash=${api.q(v.b64.encode(leaf))}&size=${cp.size}&format=json`);
    } catch (e) {
      if (e.status === 404) return await byDigest(digest, cp, steps, t0);
      throw e;
    }
    const root = await v.rootFromInclusion(leaf, p.index, cp.size, p.proof.map(v.b64.decode));
    if (!v.equal(root, cp.root)) throw new v.VerifyError(`the inclusion proof for entry ${p.index} does not lead to the witnessed root`);
    steps.push({ ok: true, text: `Found: it is entry ${p.index}. Its inclusion proof (${p.proof.length} hashes) leads from its leaf hash to the root of the witnessed checkpoint at size ${cp.size}.` });
    return { ok: true, found: true, index: p.index, steps, digest, proof: p, ms: performance.now() - t0 };
  } catch (e) {
    steps.push({ ok: false, text: explain(e) });
    return { ok: false, found: false, steps, digest, ms: performance.now() - t0 };
  }
}

// Statements shown per dropped file, each verified in full.
const DIGEST_VERIFIED_MAX = 3;

// A file that is not itself an entry: the statements that name its SHA-256
// (a firmware image, an SBOM, a test report...), as the node lists them,
// each verified here (receipt, witnessed checkpoint, issuer's signature) and
// checked to name the digest in what was signed.
async function byDigest(digest, cp, steps, t0) {
  const notEntry = `This file's exact bytes are not an entry of the log (of ${cp.size} entries)`;
  let found;
  try {
    found = await api.get(`/api/v1/digests/${digest}`);
  } catch (e) {
    if (e.status === 401) {
      steps.push({ ok: false, text: `${notEntry}; sign in to look for statements that name its SHA-256.` });
      return { ok: false, found: false, steps, digest, ms: performance.now() - t0 };
    }
    throw e;
  }
  if (!found.matches.length) {
    const older = found.indexed_from ? ` (statements before entry ${found.indexed_from} are looked up once the node is reindexed)` : "";
    steps.push({ ok: false, text: `${notEntry}, and no statement you may see names its SHA-256${older}.` });
    return { ok: false, found: false, steps, digest, ms: performance.now() - t0 };
  }
  const more = found.next_after !== null ? " or more" : "";
  steps.push({ ok: true, text: `${notEntry}, but ${found.matches.length}${more} statement(s) you may see name its SHA-256; ${Math.min(found.matches.length, DIGEST_VERIFIED_MAX)} verified here:` });
  for (const m of found.matches.slice(0, DIGEST_VERIFIED_MAX)) {
    const entry = m.statement.entry;
    const r = await verifyEntry(entry);
    if (!r.ok) {
      steps.push(...r.steps.filter((x) => !x.ok));
      return { ok: false, found: false, steps, digest, matches: found.matches, ms: performance.now() - t0 };
    }
    let signed = null;
    try { signed = JSON.parse(new TextDecoder().decode(r.statement.payload)); } catch { /* not JSON */ }
    const names = signed && typeof signed === "object" && Object.values(signed).some((x) => typeof x === "string" && x.replace(/^sha256:/, "").toLowerCase() === digest);
    if (!names) throw new v.VerifyError(`entry ${entry} does not name this SHA-256 in what its issuer signed, though the node says it does`);
    steps.push({ ok: true, text: `Found: entry ${entry}, a ${m.statement.type} statement by ${m.statement.issuer} about ${m.statement.subject}, names it as the ${m.field} in what was signed; its receipt leads to the witnessed checkpoint of ${cp.size} entries and ${r.statement.iss}'s signature verifies.` });
  }
  return { ok: true, found: true, index: found.matches[0].statement.entry, matches: found.matches, steps, digest, ms: performance.now() - t0 };
}

// Verifies the latest checkpoint alone (the Log & witnesses page).
export async function verifyLatest() {
  const steps = [];
  try {
    const keys = await trust(steps);
    await checkpoint(keys, steps);
    return { ok: true, steps };
  } catch (e) {
    steps.push({ ok: false, text: explain(e) });
    return { ok: false, steps };
  }
}

// ---- the report ----------------------------------------------------------------

export function report(el, title, result) {
  el.className = `report ${result.ok ? "pass" : "fail"}`;
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", title);
  el.dataset.result = result.ok ? "verified" : "failed";
  if (result.ms !== undefined) el.dataset.ms = result.ms.toFixed(1);
  el.replaceChildren();
  const h = document.createElement("h2");
  h.textContent = `${result.ok ? "✓ Verified" : "✗ Not verified"}: ${title}` + (result.ms !== undefined ? ` (${result.ms.toFixed(0)} ms, in this browser)` : "");
  h.className = result.ok ? "ok" : "bad";
  const ol = document.createElement("ol");
  for (const s of result.steps) {
    const li = document.createElement("li");
    li.textContent = `${s.ok ? "✓" : "✗"} ${s.text}`;
    li.className = s.ok ? "" : "bad";
    ol.append(li);
  }
  el.append(h, ol);
}

// A button that verifies log entry `entry` in the browser and reports the
// result in `reportEl` (titled with `what`).
export function verifyButton(entry, reportEl, what) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "small secondary";
  b.dataset.verify = String(entry);
  b.textContent = `Verify #${entry}`;
  b.addEventListener("click", async () => {
    b.disabled = true;
    report(reportEl, what, await verifyEntry(entry));
    b.disabled = false;
    reportEl.scrollIntoView({ block: "nearest" });
  });
  return b;
}
