// Issue 17's figures at fleet scale, in Debian's headless Chromium: the fleet
// overview, a twin page and one in-browser receipt verification, each timed by
// the dashboard itself (data-render-ms: from the route change to the view in
// place, the API calls included; data-ms of the verification report), warm
// server, medians of RUNS. Not a test: it asserts nothing about time.
//
// The node is a data directory made by `sectwin-bench twin --keep` (e.g.
// 100,000 devices x 10 statements = 1,000,000 entries):
//
//   sectwin-bench twin --devices 100000 --per-device 10 --dir /tmp/b --keep
//   SECTWIN_BIN=target/ci/sectwin node tests-e2e/bench-fleet.js /tmp/b/<run>/node
//
// It creates a credential for op.example (the fleet's operator), serves the
// directory on a free port, and prints a table.

import { spawn, execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.SECTWIN_BIN || join(here, "../target/ci/sectwin");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const RUNS = Number(process.env.RUNS || 7);
const STAKEHOLDER = process.env.STAKEHOLDER || "op.example";
const data = process.argv[2];
if (!data) {
  console.error("usage: node tests-e2e/bench-fleet.js DATA_DIR (a node made by sectwin-bench twin --keep)");
  process.exit(2);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function rendered(page) {
  await page.waitForFunction(() => {
    const m = document.querySelector("main");
    return m.dataset.route === location.hash && !m.hasAttribute("aria-busy") && m.querySelector("h1");
  }, null, { timeout: 120_000 });
  return Number(await page.getAttribute("main", "data-render-ms"));
}

async function main() {
  const out = execFileSync(BIN, ["credential", "create", "--data", data, "--stakeholder", STAKEHOLDER]).toString();
  const field = (name) => out.split("\n").find((l) => l.startsWith(name)).slice(name.length).trim();
  const cred = { id: field("client_id:"), secret: field("client_secret:") };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(BIN, ["serve", "--data", data, "--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "inherit"] });
  let browser;
  try {
    const t0 = Date.now();
    for (;;) {
      try { if ((await fetch(`${base}/api/v1/status`)).ok) break; } catch { /* not yet */ }
      if (Date.now() - t0 > 300_000) throw new Error("the node did not serve within 300 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    const status = await (await fetch(`${base}/api/v1/status`)).json();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
    await page.goto(`${base}/#/signin`);
    await rendered(page);
    await page.fill("#client_id", cred.id);
    await page.fill("#client_secret", cred.secret);
    await page.click("#signin button[type=submit]");
    await page.waitForFunction(() => location.hash === "#/");
    const cold = await rendered(page);
    const fleet = [];
    for (let i = 0; i < RUNS; i++) {
      await page.goto(`${base}/#/log`);
      await rendered(page);
      await page.goto(`${base}/#/`);
      fleet.push(await rendered(page));
    }
    const visible = await page.textContent("main .tile");
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sectwin.session")).token);
    const devices = (await (await fetch(`${base}/api/v1/devices?page_size=1000`, { headers: { authorization: `Bearer ${token}` } })).json()).devices.map((d) => d.device);
    const twin = [];
    const verify = [];
    for (let i = 0; i < RUNS; i++) {
      const id = devices[(i * 137) % devices.length];
      await page.goto(`${base}/#/devices/${encodeURIComponent(id)}`);
      twin.push(await rendered(page));
      const entry = await page.getAttribute("button[data-verify]", "data-verify");
      await page.click(`button[data-verify="${entry}"]`);
      await page.waitForSelector("#verify-report[data-result]", { timeout: 60_000 });
      const result = await page.getAttribute("#verify-report", "data-result");
      if (result !== "verified") throw new Error(`entry ${entry} not verified: ${await page.textContent("#verify-report")}`);
      // Warm: the keys are pinned and the checkpoint fetched by the first.
      await page.click(`button[data-verify="${entry}"]`);
      await page.waitForFunction(() => !document.querySelector("button[data-verify]").disabled);
      verify.push(Number(await page.getAttribute("#verify-report", "data-ms")));
    }
    console.log(`dashboard at fleet scale: ${data}, log size ${status.published_size}, signed in as ${STAKEHOLDER} (${visible.replace(/\s+/g, " ").replace(/(\d)devices/, "$1 devices").trim()}), medians of ${RUNS}`);
    console.log("| figure | median | runs |");
    console.log("|---|---:|---|");
    console.log(`| fleet overview render, warm server (target ≤ 1000 ms); first after sign-in ${cold.toFixed(0)} ms | ${median(fleet).toFixed(0)} ms | ${fleet.map((x) => x.toFixed(0)).join(", ")} |`);
    console.log(`| twin page render (target ≤ 300 ms) | ${median(twin).toFixed(0)} ms | ${twin.map((x) => x.toFixed(0)).join(", ")} |`);
    console.log(`| one receipt verified in the browser, warm (target ≤ 50 ms) | ${median(verify).toFixed(0)} ms | ${verify.map((x) => x.toFixed(0)).join(", ")} |`);
  } finally {
    if (browser) await browser.close();
    server.kill("SIGTERM");
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
