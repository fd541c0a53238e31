// Signing with the user's own key, in the page (over sign.js): the choice
// between the service signing on the user's behalf and the user's own key;
// the key file, read in this browser, kept in this module's memory for the
// tab (never in storage, never sent) and checked against the signed-in
// stakeholder's keys in the registry; and registering what it signed
// through SCRAPI (POST /entries), the way any SCITT client does.

import * as api from "./api.js";
import { decode } from "./cbor.js";
import { loadKey, signStatement, SignError } from "./sign.js";
import { hex, leafHash, b64 } from "./verify.js";

// The key loaded in this tab: {key, file, stakeholder, check}. Module
// memory only: gone on reload, on sign-out's navigation, on closing the tab.
let loaded = null;

export function forgetKey() { loaded = null; }

function node(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

// Whether `key` is one of `stakeholder`'s registered keys now: {ok, text}.
async function checkKey(key, stakeholder) {
  const kid = hex(key.kid);
  let s;
  try {
    s = await api.get(`/api/v1/stakeholders/${api.q(stakeholder)}`);
  } catch (e) {
    return { ok: false, text: `Could not check it against ${stakeholder}'s registered keys: ${e.message}.` };
  }
  const k = s.keys.find((x) => x.kid === kid);
  const refused = "the service will refuse what it signs";
  if (!k) return { ok: false, text: `This key is not one of ${stakeholder}'s registered keys (${s.keys.length} in the registry): ${refused}.` };
  if (k.revoked_at !== null && k.revoked_at !== undefined) return { ok: false, text: `This is ${stakeholder}'s key revoked at entry ${k.revoked_at}: ${refused}.` };
  const now = Date.now() / 1000;
  if (k.not_after !== null && k.not_after !== undefined && k.not_after < now) return { ok: false, text: `This key of ${stakeholder} expired on ${new Date(k.not_after * 1000).toISOString().slice(0, 10)}: ${refused}.` };
  if (k.not_before !== null && k.not_before !== undefined && k.not_before > now) return { ok: false, text: `This key of ${stakeholder} is valid only from ${new Date(k.not_before * 1000).toISOString().slice(0, 10)}: ${refused}.` };
  return { ok: true, text: `One of ${stakeholder}'s registered keys (added at entry ${k.added_at}).` };
}

const describe = (l) => `${l.key.algName} key, kid ${hex(l.key.kid).slice(0, 16)}…, from ${l.file}.`;

// The "Sign:" radio group of a decision form whose ids start with `id`,
// with the key file chooser it shows for the user's own key. Answers
// {element, own() (the own key is chosen), key() (the loaded key or null),
// onChange(fn)}.
export function signerChoice(id) {
  const name = `${id}-signer`;
  const service = node("input", { type: "radio", name, id: `${id}-by-service`, value: "service", checked: true });
  const own = node("input", { type: "radio", name, id: `${id}-by-own`, value: "own" });
  const file = node("input", { type: "file", id: `${id}-key`, name: "key", accept: ".pem,.key,.p8,application/x-pem-file,application/pkcs8,text/plain", "aria-describedby": `${id}-key-info` });
  const info = node("p", { id: `${id}-key-info`, class: "key-info", "aria-live": "polite" });
  const box = node("div", { class: "own-key", hidden: true },
    node("label", { for: file.id }, "Private key (PEM, PKCS#8; read in this browser only, never uploaded or stored)"),
    file, info);
  const listeners = [];
  const changed = () => listeners.forEach((fn) => fn());
  const session = () => api.session.get()?.stakeholder;
  const showInfo = async () => {
    info.replaceChildren();
    info.className = "key-info";
    if (!loaded) { info.textContent = "No key loaded in this tab yet."; return; }
    if (loaded.stakeholder !== session() && session()) {
      // Signed in as another stakeholder since: check again for this one.
      loaded.stakeholder = session();
      loaded.check = await checkKey(loaded.key, loaded.stakeholder);
    }
    const check = loaded.check;
    info.replaceChildren();
    info.append(node("span", {}, `Loaded for this tab: ${describe(loaded)}`), " ");
    info.append(node("span", { class: check.ok ? "ok" : "warn" }, check.ok ? check.text : `⚠ ${check.text}`));
    info.dataset.kid = hex(loaded.key.kid);
    info.dataset.registered = String(check.ok);
  };
  const toggle = () => {
    box.hidden = !own.checked;
    if (own.checked) showInfo();
    changed();
  };
  service.addEventListener("change", toggle);
  own.addEventListener("change", toggle);
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    info.className = "key-info";
    info.textContent = "Reading the key in this browser…";
    try {
      if (f.size > 64 * 1024) throw new SignError("not a PEM private key: the file is larger than any key");
      const key = await loadKey(await f.text());
      const stakeholder = session();
      loaded = { key, file: f.name, stakeholder, check: stakeholder ? await checkKey(key, stakeholder) : { ok: false, text: "Sign in again to check it against your registered keys." } };
      await showInfo();
    } catch (e) {
      info.replaceChildren(node("span", { class: "error" }, `This file cannot sign: ${e.message}.`));
      delete info.dataset.kid;
      // Choosing the same file again (once fixed) reads it again.
      file.value = "";
    }
    changed();
  });
  const element = node("fieldset", { class: "signer" },
    node("legend", {}, "Sign"),
    node("div", { class: "choices" },
      node("span", {}, service, node("label", { for: service.id }, "by the service on my behalf")),
      node("span", {}, own, node("label", { for: own.id }, "with my own key"))),
    box);
  return { element, own: () => own.checked, key: () => (loaded ? loaded.key : null), onChange: (fn) => listeners.push(fn) };
}

// ---- registering -----------------------------------------------------------------

// The message of a SCRAPI error answer: RFC 9290 concise problem details in
// CBOR ({-1: title, -2: detail}, or text keys), else the status line.
async function problem(res) {
  const type = res.headers.get("content-type") || "";
  try {
    if (type.includes("cbor")) {
      const p = decode(new Uint8Array(await res.arrayBuffer()));
      const get = (n, t) => (p instanceof Map ? p.get(n) ?? p.get(t) : undefined);
      const title = get(-1, "title"), detail = get(-2, "detail");
      if (detail || title) return [title, detail].filter(Boolean).join(": ");
    } else if (type.includes("json")) {
      const p = await res.json();
      return p.detail || p.title || p.message;
    }
  } catch { /* not what it says it is */ }
  return `${res.status} ${res.statusText}`;
}

// Signs `payload` (an object, sent as JSON) about `subject` as the signed-in
// stakeholder with `key`, and registers it: answers {entry, status}. Sent
// without the bearer token: the signature is the authentication.
export async function signAndRegister(key, subject, payload) {
  const iss = api.session.get()?.stakeholder;
  if (!iss) throw new SignError("sign in again: this page does not know which stakeholder you are");
  const bytes = await signStatement(key, {
    iss,
    sub: subject,
    iat: Math.floor(Date.now() / 1000),
    payload: new TextEncoder().encode(JSON.stringify(payload)),
  });
  let res;
  try {
    res = await fetch("/entries", { method: "POST", headers: { "content-type": "application/cose" }, body: bytes, credentials: "omit" });
  } catch (e) {
    // A 303 whose receipt is still pending (302 to itself) can exhaust the
    // browser's redirects: the statement is registered; find its entry by
    // its leaf hash (the bytes sent are its registration form).
    const entry = await findEntry(bytes);
    if (entry !== null) return { entry, status: 303 };
    throw new api.ApiError(0, `registering failed: ${e.message}`);
  }
  if (!res.ok) throw new api.ApiError(res.status, await problem(res));
  const where = res.headers.get("location") || (res.redirected ? new URL(res.url).pathname : "");
  const m = /\/entries\/(\d+)$/.exec(where);
  if (!m) throw new api.ApiError(res.status, `the service answered ${res.status} without the entry's location`);
  return { entry: Number(m[1]), status: res.status };
}

async function findEntry(bytes) {
  const hash = b64.encode(await leafHash(bytes));
  for (let i = 0; i < 20; i++) {
    try {
      return (await api.get(`/log/proof/inclusion?hash=${api.q(hash)}&format=json`)).index;
    } catch { await new Promise((r) => setTimeout(r, 500)); }
  }
  return null;
}
