// End-to-end test of the web dashboard, in Debian's headless Chromium driven
// by playwright-core, against a real `sectwin demo` node (its witness, its
// stakeholders, its statements; its simulated cameras report through a
// Mosquitto broker this test starts when one is installed). Nothing is
// mocked: the one request altered is a receipt, on its way to the browser,
// to see the in-browser verification refuse it.
//
//   SECTWIN_BIN   the sectwin binary (default ../target/ci/sectwin)
//   CHROMIUM      the browser (default /usr/bin/chromium)
//
// Screenshots go to tests-e2e/screenshots/ (gitignored); figures (render
// times, verification time, first-load weight) are printed at the end.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { generateKeyPairSync } from "node:crypto";
import { bundlePath, entryFromBundle } from "../crates/dashboard/web/verify.js";
import { loadKey, signStatement } from "../crates/dashboard/web/sign.js";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.SECTWIN_BIN || join(here, "../target/ci/sectwin");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = join(here, "screenshots");
const tmp = mkdtempSync(join(tmpdir(), "sectwin-e2e-"));
const figures = {};
const children = [];
let failures = 0;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function which(cmd) {
  try { return execFileSync("sh", ["-c", `command -v ${cmd}`]).toString().trim(); } catch { return null; }
}

// Starts the demo and resolves with its base URL once it serves.
async function startDemo() {
  const args = ["demo", "--data", join(tmp, "data"), "--listen", "127.0.0.1:0"];
  const mosquitto = which("mosquitto");
  if (mosquitto) {
    const port = await freePort();
    const m = spawn(mosquitto, ["-p", String(port)], { stdio: "ignore" });
    children.push(m);
    await new Promise((r) => setTimeout(r, 300));
    args.push("--device-broker", `127.0.0.1:${port}`);
  } else {
    console.log("(no mosquitto: the demo runs without its reporting cameras)");
    args.push("--no-devices");
  }
  const demo = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(demo);
  let out = "";
  demo.stderr.on("data", (d) => { if (process.env.E2E_VERBOSE) process.stderr.write(d); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start serving in 180 s:\n${out}`)), 180_000);
    demo.stdout.on("data", (d) => {
      out += d;
      const m = /twins (http:\/\/[0-9.:]+)\/api\/v1\//.exec(out);
      if (m && out.includes("serving until Ctrl-C")) { clearTimeout(timer); resolve(m[1]); }
    });
    demo.on("exit", (code) => { clearTimeout(timer); reject(new Error(`the demo exited (${code}):\n${out}`)); });
  });
}

function credential(stakeholder) {
  const out = execFileSync(BIN, ["credential", "create", "--data", join(tmp, "data", "node"), "--stakeholder", stakeholder], { stdio: ["ignore", "pipe", "ignore"] }).toString();
  return { id: /client_id:\s+(\S+)/.exec(out)[1], secret: /client_secret:\s+(\S+)/.exec(out)[1] };
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// The view's render time as the app measured it (data-render-ms on <main>),
// after it finished (aria-busy gone).
async function rendered(page) {
  await page.waitForFunction(() => {
    const m = document.querySelector("main");
    return m.dataset.route === location.hash && !m.hasAttribute("aria-busy") && m.querySelector("h1");
  });
  return Number(await page.getAttribute("main", "data-render-ms"));
}

async function axe(page, name) {
  const source = readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of result.violations) console.log(`     axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length}) ${v.nodes.slice(0, 2).map((n) => n.target.join(" ")).join("; ")}`);
  assert.equal(serious.length, 0, `serious accessibility violations on ${name}: ${serious.map((v) => v.id).join(", ")}`);
}

async function signIn(page, base, cred) {
  await page.goto(`${base}/#/signin`);
  await rendered(page);
  await page.fill("#client_id", cred.id);
  await page.fill("#client_secret", cred.secret);
  await page.click("#signin button[type=submit]");
  await page.waitForFunction(() => location.hash === "#/");
}

async function main() {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const base = await startDemo();
  console.log(`demo serving at ${base}`);
  const operator = credential("operator.example");
  const rival = credential("rival.example");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  await step("the page and its modules are served, first load weight measured", async () => {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    let encoded = 0;
    cdp.on("Network.loadingFinished", (e) => { encoded += e.encodedDataLength; });
    await page.goto(`${base}/#/signin`);
    await rendered(page);
    await page.waitForLoadState("networkidle");
    figures.first_load_bytes_on_wire = encoded;
    const resources = await page.evaluate(() => performance.getEntriesByType("resource").concat(performance.getEntriesByType("navigation")).map((r) => ({ name: r.name, encoded: r.encodedBodySize, decoded: r.decodedBodySize })));
    figures.first_load_body_bytes_compressed = resources.reduce((n, r) => n + r.encoded, 0);
    figures.first_load_body_bytes_uncompressed = resources.reduce((n, r) => n + r.decoded, 0);
    const res = await page.request.get(`${base}/`);
    assert.match(res.headers()["content-security-policy"], /script-src 'self'/);
    await cdp.detach();
  });

  await step("keyboard: the skip link and the navigation work without a mouse", async () => {
    await page.focus(".skip");
    assert.ok((await page.locator(".skip").boundingBox()).x >= 0, "the skip link shows when focused");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement.id), "main");
    assert.equal(await page.evaluate(() => location.hash), "#/signin", "the skip link keeps the route");
    // The main navigation is reachable by Tab and follows Enter.
    await page.focus('a[data-nav="log"]');
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => location.hash === "#/log");
  });

  await step("sign in as the operator, fleet overview", async () => {
    await signIn(page, base, operator);
    figures.fleet_render_ms = await rendered(page);
    const text = await page.textContent("main");
    assert.match(text, /Fleet overview/);
    assert.match(await page.textContent("#who"), /operator\.example/);
    const devices = Number(await page.textContent(".tiles .tile .n"));
    assert.ok(devices >= 2, `the operator sees its devices (saw ${devices})`);
    assert.match(text, /door-ctl-0042/);
    // Risk over time: today's point is the risks open now (a decided one
    // counts until the day its decision was signed, read from the log).
    await page.waitForSelector("#risk-history svg.chart");
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const all = await (await fetch(`${base}/api/v1/risks?page_size=1000`, { headers: { authorization: `Bearer ${token}` } })).json();
    const openNow = all.risks.filter((r) => r.discovered && r.status === "open").length;
    assert.match(await page.textContent("#risk-history text.now"), new RegExp(`^${openNow} open now,`));
    await shot(page, "02-fleet-operator");
    await axe(page, "fleet");
  });

  let entry;
  await step("the door's twin page: attributes with status, signer, time; vulnerabilities; timeline", async () => {
    await page.goto(`${base}/#/devices/door-ctl-0042`);
    figures.twin_render_ms = await rendered(page);
    const text = await page.textContent("main");
    for (const want of [/Identity/, /Attributes/, /agreed/, /Timeline/, /Vulnerabilities/, /acme\.example/]) assert.match(text, want);
    await page.waitForFunction(() => [...document.querySelectorAll("td[data-time]")].every((td) => td.textContent !== "…"));
    assert.match(await page.textContent("td[data-time]"), /UTC/);
    entry = Number(await page.getAttribute("button[data-verify]", "data-verify"));
    await shot(page, "03-twin-door");
    await axe(page, "twin");
  });

  await step("verify a receipt in the browser: receipt, witnessed checkpoint, issuer signature", async () => {
    await page.click(`button[data-verify="${entry}"]`);
    await page.waitForSelector("#verify-report[data-result]");
    const report = await page.textContent("#verify-report");
    assert.equal(await page.getAttribute("#verify-report", "data-result"), "verified", report);
    assert.match(report, /signed by the log key/);
    assert.match(report, /cosigned by 1 of the 1 trusted witnesses \(quorum 1\)/);
    assert.match(report, /receipt key/);
    // The first verification pinned the keys (trust on first use); the second runs warm.
    await page.click(`button[data-verify="${entry}"]`);
    await page.waitForFunction(() => !document.querySelector("button[data-verify]").disabled);
    figures.verify_receipt_ms = Number(await page.getAttribute("#verify-report", "data-ms"));
    await shot(page, "04-verified");
  });

  await step("a tampered receipt fails, saying what failed", async () => {
    await page.route(`**/entries/${entry}`, async (route) => {
      const res = await route.fetch();
      const body = Buffer.from(await res.body());
      body[body.length - 5] ^= 0x01; // a bit of the signature
      await route.fulfill({ response: res, body });
    });
    await page.click(`button[data-verify="${entry}"]`);
    await page.waitForSelector('#verify-report[data-result="failed"]');
    const report = await page.textContent("#verify-report");
    assert.match(report, /receipt's signature over the root its proof gives does not verify/);
    await shot(page, "05-tampered-receipt");
    await page.unroute(`**/entries/${entry}`);
  });

  await step("drop a file: a registered statement is found with its proof, another file is not", async () => {
    const log = await (await fetch(`${base}/api/v1/log`)).json();
    const bundle = new Uint8Array(await (await fetch(`${base}/log/${bundlePath(entry, log.size)}`)).arrayBuffer());
    const file = join(tmp, "statement.cose");
    writeFileSync(file, entryFromBundle(bundle, entry));
    await page.goto(`${base}/#/verify`);
    await rendered(page);
    await page.setInputFiles("#file", file);
    await page.waitForSelector("#file-report[data-result]");
    const report = await page.textContent("#file-report");
    assert.equal(await page.getAttribute("#file-report", "data-result"), "verified", report);
    assert.match(report, new RegExp(`it is entry ${entry}\\b`));
    figures.file_lookup_ms = Number(await page.getAttribute("#file-report", "data-ms"));
    await shot(page, "06-file-found");
    // A firmware image is no entry, but Acme's release names its SHA-256:
    // found through the digest index, each statement verified here.
    await page.setInputFiles("#file", join(tmp, "data", "firmware", "acme-dc-200-2.4.1.bin"));
    await page.waitForFunction(() => document.querySelector("#file-report h2")?.textContent.includes("acme-dc-200"));
    const image = await page.textContent("#file-report");
    assert.equal(await page.getAttribute("#file-report", "data-result"), "verified", image);
    assert.match(image, /firmware-released statement by acme\.example about model:acme\/DC-200, names it as the firmware image/);
    assert.match(image, /firmware-installed/, "the door's own report of installing it is listed");
    figures.image_lookup_ms = Number(await page.getAttribute("#file-report", "data-ms"));
    await shot(page, "06b-image-found");
    const other = join(tmp, "firmware.bin");
    writeFileSync(other, "not in the log");
    await page.setInputFiles("#file", other);
    await page.waitForSelector('#file-report[data-result="failed"]');
    assert.match(await page.textContent("#file-report"), /not an entry of the log/);
    await axe(page, "verify-file");
  });

  await step("risk register: filter, overdue highlighted, CSV export", async () => {
    await page.goto(`${base}/#/risks`);
    figures.register_render_ms = await rendered(page);
    const all = await page.locator("tbody tr").count();
    assert.ok(all > 0, "the operator's register has risks");
    // Overdue rows, and only they, are highlighted.
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const api = await (await fetch(`${base}/api/v1/risks?page_size=1000`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(await page.locator("tr.overdue").count(), api.risks.filter((r) => r.overdue).length);
    const severity = api.risks[0].severity;
    await page.selectOption("#f-severity", severity);
    await page.waitForFunction((s) => location.hash.includes(`severity=${s}`), severity);
    await rendered(page);
    const shown = await page.locator("tbody tr").count();
    assert.equal(shown, api.risks.filter((r) => r.severity === severity).length, "the filter keeps that severity's risks");
    assert.equal(await page.locator(`tbody tr .badge:not(.sev-${severity})`).count(), 0, "and no other severity");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
    const csv = readFileSync(await download.path(), "utf8").trim().split(/\r\n/);
    assert.match(csv[0], /^key,subject,risk,kind,device/);
    assert.equal(csv.length - 1, shown, "one CSV line per row shown");
    assert.ok(csv.slice(1).every((line) => line.includes(`,${severity},`)), "the CSV holds the filtered rows");
    await page.selectOption("#f-group", "device");
    await page.waitForFunction(() => location.hash.includes("group=device"));
    await rendered(page);
    assert.ok(await page.locator("main section h2").count() >= 1, "grouped under headings");
    await shot(page, "07-register");
    await axe(page, "register");
  });

  let decidedKey;
  await step("sign a decision on the operator's behalf from the register", async () => {
    const row = page.locator("tbody tr").first();
    const key = await row.getAttribute("data-key");
    decidedKey = key;
    await row.locator("summary").click();
    await row.locator("select[name=decision]").selectOption("accept");
    await row.locator("textarea[name=rationale]").fill("compensating control: the door is on an isolated VLAN");
    await row.locator("input[name=until]").fill("2030-01-31");
    await row.locator("button[type=submit]").click();
    await row.locator("text=Registered as entry").waitFor();
    const n = Number(/entry (\d+)/.exec(await row.locator("p[role=status]").textContent())[1]);
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const st = await (await fetch(`${base}/api/v1/statements/${n}`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(st.type, "risk-accepted");
    assert.equal(st.issuer, "operator.example");
    assert.equal(st.signed_by !== null, true);
    console.log(`     decided ${key}: entry ${n}`);
    await shot(page, "08-decision");
  });

  await step("sign a decision with the operator's own key in the page: a wrong key is warned about and refused, the right one registers through SCRAPI and verifies in the browser", async () => {
    await page.goto(`${base}/#/risks?status=open`);
    await rendered(page);
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const open = (await (await fetch(`${base}/api/v1/risks?status=open&page_size=1000`, { headers: { authorization: `Bearer ${token}` } })).json()).risks;
    const risk = open.find((r) => r.key !== decidedKey && r.owner === "operator.example");
    assert.ok(risk, "another open risk the operator owns");
    const row = page.locator(`tbody tr[data-key=${JSON.stringify(risk.key)}]`);
    await row.locator("summary").click();
    // The signer choice is a labelled radio group, reached and changed by keyboard.
    const service = row.getByRole("radio", { name: "by the service on my behalf" });
    assert.ok(await service.isChecked(), "the service signs by default");
    assert.equal(await row.locator("fieldset legend").textContent(), "Sign");
    await service.focus();
    await page.keyboard.press("ArrowDown");
    assert.ok(await row.getByRole("radio", { name: "with my own key" }).isChecked(), "arrow keys choose the own key");
    const file = row.getByLabel("Private key (PEM, PKCS#8; read in this browser only, never uploaded or stored)");
    assert.ok(await file.isVisible());
    assert.equal(await row.locator("button[type=submit]").textContent(), "Sign with my key and register");
    const info = row.locator(".key-info");

    // A key that is not the operator's: warned about, and the server's refusal shown.
    const wrong = join(tmp, "not-the-operator.key.pem");
    writeFileSync(wrong, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    await file.setInputFiles(wrong);
    await row.locator(".key-info[data-kid]").waitFor();
    assert.match(await info.textContent(), /Ed25519 key, kid [0-9a-f]{16}…, from not-the-operator\.key\.pem\. ⚠ This key is not one of operator\.example's registered keys/);
    assert.equal(await info.getAttribute("data-registered"), "false");
    await row.locator("select[name=decision]").selectOption("mitigate");
    await row.locator("textarea[name=rationale]").fill("firmware 2.5.0 installed on the door; telnet disabled");
    await row.locator("button[type=submit]").click();
    await row.locator("p[role=status] .error").waitFor();
    const refusal = await row.locator("p[role=status]").textContent();
    assert.match(refusal, /^Not registered: Unknown issuer key: issuer "operator\.example" has no registered key with kid/);
    console.log(`     wrong key: ${refusal}`);
    await shot(page, "08c-own-key-refused");
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, "the refusal, kid and all, fits the page's width");

    // The operator's own key, as the demo left it.
    const keyFile = join(tmp, "data", "keys", "operator.example.key.pem");
    await file.setInputFiles(keyFile);
    await row.locator('.key-info[data-registered="true"]').waitFor();
    assert.match(await info.textContent(), /Ed25519 key, kid [0-9a-f]{16}…, from operator\.example\.key\.pem\. One of operator\.example's registered keys/);
    await row.locator("button[type=submit]").click();
    await row.locator("[data-report=decision][data-result], p[role=status] .error").first().waitFor({ timeout: 30_000 });
    const status = await row.locator("p[role=status]").textContent();
    const report = await row.locator("[data-report=decision]").textContent();
    assert.match(status, /Registered as entry \d+, signed with your key/);
    assert.equal(await row.locator("[data-report=decision]").getAttribute("data-result"), "verified", `${status}\n${report}`);
    assert.match(report, /The statement is signed by operator\.example/);
    const n = Number(/entry (\d+)/.exec(status)[1]);
    const st = await (await fetch(`${base}/api/v1/statements/${n}`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(st.type, "risk-mitigated");
    assert.equal(st.issuer, "operator.example");
    assert.equal(st.signed_by ?? null, null, "signed by the user, not by the service on its behalf");
    assert.equal(st.statement.risk, risk.risk);
    assert.equal(st.statement.how, "firmware 2.5.0 installed on the door; telnet disabled");
    assert.equal(st.subject, risk.subject);
    assert.equal(st.refused ?? null, null, "the twins applied it");
    console.log(`     decided ${risk.key} with the operator's own key: entry ${n}`);
    await row.screenshot({ path: join(SHOTS, "08d-own-key-decision.png") });
    await shot(page, "08e-own-key-decision-page");
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, "the open form fits the page's width");
    await axe(page, "register with the own-key form open");
  });

  await step("ES256: sign.js signs with vistacam.example's P-256 key in Node; the real server registers it", async () => {
    const key = await loadKey(readFileSync(join(tmp, "data", "keys", "vistacam.example.key.pem"), "utf8"));
    assert.equal(key.alg, -7, "the demo gives vistacam.example an ES256 key");
    const payload = new TextEncoder().encode(JSON.stringify({ type: "firmware-released", version: "9.9.9", image_sha256: "ab".repeat(32) }));
    const bytes = await signStatement(key, { iss: "vistacam.example", sub: "model:vistacam.example/VC-9", iat: Math.floor(Date.now() / 1000), payload });
    const res = await fetch(`${base}/entries`, { method: "POST", headers: { "content-type": "application/cose" }, body: bytes });
    assert.ok(res.status === 201 || (res.redirected && res.status === 200), `registered (${res.status} ${res.url})`);
    const where = res.status === 201 ? res.headers.get("location") : new URL(res.url).pathname;
    const n = Number(/^\/entries\/(\d+)$/.exec(where)[1]);
    // The log holds exactly the bytes sign.js made (they are the registration form).
    const log = await (await fetch(`${base}/api/v1/log`)).json();
    const bundle = new Uint8Array(await (await fetch(`${base}/log/${bundlePath(n, log.size)}`)).arrayBuffer());
    assert.deepEqual(entryFromBundle(bundle, n), bytes);
    console.log(`     ES256 statement registered: ${res.status} ${where}`);
  });

  await step("vulnerability view: one advisory, the releases it affects, the devices running them, with VEX", async () => {
    await page.goto(`${base}/#/vulnerabilities`);
    figures.vulnerabilities_render_ms = await rendered(page);
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const get = async (path) => (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
    const exposure = await get("/api/v1/exposure?by=vulnerability");
    const listed = exposure.groups.filter((g) => g.key);
    // The demo's last step updates the door to the fixed release: the fleet
    // may be exposed to nothing by now, and the advisory's page still shows it.
    if (listed.length > 0) assert.equal(await page.locator("tbody tr").count(), listed.length, "one row per vulnerability");
    const id = listed.length > 0 ? listed[0].key : "SECTWIN-DEMO-2026-0001";
    if (listed.length > 0) await page.click(`main a[href="#/vulnerabilities/${encodeURIComponent(id)}"]`);
    else await page.goto(`${base}/#/vulnerabilities/${encodeURIComponent(id)}`);
    await page.waitForFunction((h) => location.hash === h, `#/vulnerabilities/${encodeURIComponent(id)}`);
    figures.vulnerability_render_ms = await rendered(page);
    const risks = (await get(`/api/v1/risks?vulnerability=${encodeURIComponent(id)}&page_size=1000`)).risks;
    const devices = [...new Set(risks.filter((r) => r.device).map((r) => r.device))];
    assert.equal(await page.textContent("main h1"), id);
    const deviceRows = page.locator("main table").nth(1).locator("tbody tr");
    assert.equal(await deviceRows.count(), risks.filter((r) => r.device).length, "one row per affected device");
    const text = await page.textContent("main");
    for (const d of devices) assert.ok(text.includes(d), `${d} is listed`);
    for (const r of risks.filter((r) => r.vex)) assert.ok(text.includes(r.vex.status), `the VEX status ${r.vex.status} is shown`);
    for (const r of risks.filter((r) => r.release)) assert.ok(text.includes(r.release), `release ${r.release} is listed`);
    await shot(page, "07b-vulnerability");
    await axe(page, "vulnerability");

    // The roll-out of its fix, from the vulnerability view's link: the
    // figures the API gives, each device with its own statement's entry.
    if (listed.length > 0) await page.click(`main a[href="#/rollout/vulnerabilities/${encodeURIComponent(id)}"]`);
    else await page.goto(`${base}/#/rollout/vulnerabilities/${encodeURIComponent(id)}`);
    await page.waitForFunction((h) => location.hash === h, `#/rollout/vulnerabilities/${encodeURIComponent(id)}`);
    figures.rollout_render_ms = await rendered(page);
    const rollout = await get(`/api/v1/rollout/vulnerabilities/${encodeURIComponent(id)}`);
    assert.equal(await page.textContent("main h1"), `Roll-out of the fix for ${id}`);
    const tiles = await page.locator("main .tiles .tile .n").allTextContents();
    assert.deepEqual(tiles, [rollout.devices, rollout.patched, rollout.pending, rollout.stuck, rollout.support_ended].map(String));
    const rolloutText = await page.textContent("main");
    for (const r of rollout.rows) assert.ok(rolloutText.includes(r.device), `${r.device} is listed`);
    if (rollout.series.length) assert.match(await page.getAttribute("main svg.chart", "aria-label"), /^Patched devices per day/);
    await shot(page, "07c-rollout");
    await axe(page, "rollout");
  });

  await step("threat model view: the published model's diagram, inventory and findings", async () => {
    await page.goto(`${base}/#/threat-models`);
    await rendered(page);
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const get = async (path) => (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
    const list = await get("/api/v1/threat-models");
    const m = list.models.find((x) => x.owner === "acme.example" && x.superseded_by === null);
    assert.ok(m, "the demo published acme.example's threat model");
    await page.click(`main a[href="#/threat-models/${encodeURIComponent(m.owner)}/${encodeURIComponent(m.id)}"]`);
    await page.waitForSelector("main figure.diagram img");
    figures.threat_model_render_ms = await rendered(page);
    const view = await get(`/api/v1/threat-models/${m.owner}/${m.id}`);
    // The diagram is an image that loaded (a broken SVG has no natural size).
    const width = await page.$eval("main figure.diagram img", (img) => img.complete ? img.naturalWidth : 0);
    assert.ok(width > 100, `the diagram rendered (${width} px wide)`);
    const findings = (await get(`/api/v1/risks?source=${encodeURIComponent(`threat-model:${m.name}`)}&kind=recorded&page_size=1000`)).risks;
    assert.ok(findings.length > 0, "the operator sees findings recorded on the models it runs");
    const tables = page.locator("main table");
    assert.equal(await tables.nth(0).locator("tbody tr").count(), findings.length, "one row per finding");
    assert.equal(await tables.nth(1).locator("tbody tr").count(), view.elements.length, "one row per element");
    assert.equal(await tables.nth(2).locator("tbody tr").count(), view.flows.length, "one row per flow");
    const text = await page.textContent("main");
    for (const f of findings.slice(0, 5)) assert.ok(text.includes(f.title), `finding ${f.title} is listed`);
    await page.click("main .actions button");
    await page.waitForSelector('#model-report[data-result="verified"]');
    await shot(page, "08b-threat-model");
    await axe(page, "threat model");
  });

  await step("log and witness status", async () => {
    await page.goto(`${base}/#/log`);
    await rendered(page);
    await page.click("#verify-checkpoint");
    await page.waitForSelector('#log-report[data-result="verified"]');
    assert.match(await page.textContent("main"), /yes, verified by the node/);
    assert.match(await page.textContent("#latency"), /\d+ ms\s*median/);
    await shot(page, "09-log");
    await axe(page, "log");
  });

  let operatorDevices;
  await step("sign out forgets the token", async () => {
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    operatorDevices = (await (await fetch(`${base}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } })).json()).devices.map((d) => d.device);
    await page.goto(`${base}/#/`);
    await rendered(page);
    await page.click("#signout");
    await page.waitForFunction(() => location.hash.startsWith("#/signin"));
    assert.equal(await page.evaluate(() => sessionStorage.getItem("sectwin.session")), null);
  });

  await step("a stakeholder without permission sees nothing of the operator's devices", async () => {
    await signIn(page, base, rival);
    await rendered(page);
    const anonymous = (await (await fetch(`${base}/api/v1/devices`)).json()).devices.map((d) => d.device);
    const text = await page.textContent("main");
    const privateOnes = operatorDevices.filter((d) => !anonymous.includes(d));
    assert.ok(privateOnes.length > 0, "the operator has devices that are not public");
    for (const d of privateOnes) assert.ok(!text.includes(d), `rival.example's fleet shows ${d}`);
    await page.goto(`${base}/#/devices/${privateOnes[0]}`);
    await rendered(page);
    assert.match(await page.textContent("main"), /not shared with you/);
    await page.goto(`${base}/#/risks`);
    await rendered(page);
    assert.equal(await page.locator("tbody tr").count(), 0, "rival.example sees no risk");
    await shot(page, "10-rival-register");
  });

  await step("the manufacturer's reporting page: the CRA case the demo ran, every stage signed and verifiable, the support period", async () => {
    await page.click("#signout").catch(() => {});
    await signIn(page, base, credential("acme.example"));
    await page.goto(`${base}/#/reporting`);
    await rendered(page);
    const text = await page.textContent("main");
    assert.match(text, /CVE-2099-0001/);
    assert.match(text, /closed/);
    assert.equal(await page.locator("section.panel td .status-submitted").count(), 3, "three stages submitted");
    assert.match(text, /model:acme\/DC-200/);
    assert.match(text, /2031-06-30/);
    await page.click("[data-verify]");
    await page.waitForFunction(() => /verified|fail/i.test(document.getElementById("verify-report").textContent));
    assert.match(await page.textContent("#verify-report"), /verified/i);
    await axe(page, "reporting");
    await shot(page, "11-reporting");
  });

  // Last: a failed authentication slows the credential and the address down.
  await step("a wrong secret is refused with a message", async () => {
    await page.goto(`${base}/#/signin`);
    await rendered(page);
    await page.fill("#client_id", operator.id);
    await page.fill("#client_secret", "not-the-secret");
    await page.click("#signin button[type=submit]");
    await page.waitForSelector("#signin-error:not(:empty)");
    await shot(page, "01-signin-refused");
    await axe(page, "sign-in");
  });

  assert.deepEqual(consoleErrors.filter((e) => /Content Security Policy|Uncaught|TypeError/.test(e)), [], "no script or CSP errors");
  await browser.close();
  console.log("figures:", JSON.stringify(figures));
}

try {
  await main();
} catch (e) {
  failures++;
  console.log(`FAIL ${e.stack || e}`);
} finally {
  for (const c of children.reverse()) c.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 500));
  rmSync(tmp, { recursive: true, force: true });
}
if (failures) {
  console.log(`${failures} failed`);
  process.exit(1);
}
console.log("all passed");
