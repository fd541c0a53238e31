// The dashboard's views: fleet overview, device twin, statement, risk
// register (filter, sort, group, CSV, decisions), file verification, log and
// witnesses, search. Each reads the public API only; charts are hand-written
// SVG. DOM is built with el() (text via textContent: nothing from the server
// is ever parsed as HTML).

import * as api from "./api.js";
import * as vui from "./verify-ui.js";
import * as sui from "./sign-ui.js";
import { decisionPayload } from "./sign.js";
import { bundlePath, entryFromBundle, readStatement } from "./verify.js";
import { releaseHref } from "./rollout.js";

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// Replaces an element's children (arrays flattened, null and false left out).
export function put(target, ...children) {
  target.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

const SEVERITIES = ["critical", "high", "medium", "low", "none"];
const sev = (s) => el("span", { class: `badge sev-${s}` }, s);
const deviceLink = (id) => el("a", { href: `#/devices/${encodeURIComponent(id)}` }, id);
const entryLink = (n) => el("a", { href: `#/statements/${n}` }, `#${n}`);
const vulnLink = (id) => el("a", { href: `#/vulnerabilities/${encodeURIComponent(id)}` }, id);
const vexText = (v) => v
  ? `${v.status}${v.justification ? ` (${v.justification})` : ""} by ${v.stakeholder}${v.inherited ? ", inherited" : ""}`
  : "no VEX";
const table = (head, rows, caption) => el("table", {},
  caption ? el("caption", { class: "sr-only" }, caption) : null,
  el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
  el("tbody", {}, rows));
const empty = (text) => el("p", { class: "muted" }, text);

// A horizontal bar chart of value counts (SVG, labelled for screen readers).
function bars(title, breakdown, link) {
  const values = breakdown.values.slice(0, 8);
  if (breakdown.other) values.push({ value: "(other)", devices: breakdown.other });
  const max = Math.max(1, ...values.map((v) => v.devices));
  const row = 24;
  const chart = svg("svg", { class: "bars", viewBox: `0 0 420 ${values.length * row + 4}`, role: "img", "aria-label": `${title}: ${values.map((v) => `${v.value} ${v.devices}`).join(", ")}` },
    values.map((v, i) => {
      const w = Math.max(2, (v.devices / max) * 210);
      return svg("g", { transform: `translate(0 ${i * row})` },
        svg("text", { x: 0, y: 16 }, v.value.length > 22 ? v.value.slice(0, 21) + "…" : v.value),
        svg("rect", { x: 160, y: 4, width: w, height: 16, fill: "#2f6fad", rx: 2 }),
        svg("text", { x: 166 + w, y: 16, class: "v" }, String(v.devices)));
    }));
  const list = el("ul", { class: "sr-only" }, breakdown.values.map((v) => el("li", {}, link ? el("a", { href: link(v.value) }, `${v.value}: ${v.devices}`) : `${v.value}: ${v.devices}`)));
  return el("div", { class: "panel" }, el("h3", {}, title), chart, list);
}

// Risks open each day, from the day each was discovered until the day a
// decision on it (accept, mitigate, transfer, false positive) was signed:
// the decision's time is read from its statement in the log's own entry
// bundle. `points` is [[day, open], ...], one per day.
function riskOverTime(points, note) {
  if (!points.length) return empty("No risk has a discovery date yet.");
  const max = Math.max(1, ...points.map(([, n]) => n));
  const W = 420, H = 140, pad = 28;
  const x = (i) => pad + (points.length === 1 ? (W - 2 * pad) / 2 : (i / (points.length - 1)) * (W - 2 * pad));
  const y = (n) => H - pad - (n / max) * (H - 2 * pad);
  const path = points.map(([, n], i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(n).toFixed(1)}`).join(" ");
  const last = points[points.length - 1];
  const changes = points.filter(([, n], i) => i === 0 || n !== points[i - 1][1]);
  return svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Open risks per day${note}: ${changes.map(([d, n]) => `from ${d}: ${n}`).join(", ")}` },
    svg("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: "#8a96a3" }),
    svg("path", { d: path, fill: "none", stroke: "#b3261e", "stroke-width": 2 }),
    points.length <= 60 ? points.map(([, n], i) => svg("circle", { cx: x(i), cy: y(n), r: 3, fill: "#b3261e" })) : null,
    svg("text", { x: pad, y: H - 8 }, points[0][0]),
    svg("text", { x: W - pad, y: H - 8, "text-anchor": "end" }, last[0]),
    svg("text", { x: pad, y: 14, class: "now" }, `${last[1]} open now, at most ${max}`));
}

// Days from `from` to `to` (YYYY-MM-DD, UTC), both included.
function days(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

// The days (YYYY-MM-DD) the statements of `entries` were signed, read from
// the log's entry bundles (one fetch per bundle).
async function signedDays(entries, size) {
  const byBundle = new Map();
  for (const e of entries) {
    if (e >= size) continue;
    const p = bundlePath(e, size);
    if (!byBundle.has(p)) byBundle.set(p, []);
    byBundle.get(p).push(e);
  }
  const out = new Map();
  await Promise.all([...byBundle].map(async ([p, es]) => {
    const bundle = await api.getBytes(`/log/${p}`).catch(() => null);
    if (!bundle) return;
    for (const e of es) {
      try {
        const st = readStatement(entryFromBundle(bundle, e));
        if (st.iat) out.set(e, new Date(st.iat * 1000).toISOString().slice(0, 10));
      } catch { /* an unreadable entry has no day */ }
    }
  }));
  return out;
}

// Fills `panel` with the chart, after the overview is in place (it reads
// the register's first page and the decisions' entries: not on the
// overview's critical path).
async function fillRiskHistory(panel, today) {
  try {
    const [page, log] = await Promise.all([api.get("/api/v1/risks?page_size=1000"), api.get("/api/v1/log")]);
    const size = log.size;
    const risks = page.risks.filter((r) => r.discovered);
    const decided = risks.filter((r) => r.status !== "open" && r.decision);
    const when = await signedDays(decided.map((r) => r.decision.entry), size);
    const first = risks.reduce((m, r) => (r.discovered < m ? r.discovered : m), today);
    const series = days(first, today).map((d) => [d, risks.filter((r) => {
      if (r.discovered > d) return false;
      if (r.status === "open") return true;
      // Closed without a decision in the log (a VEX, a fix): no day to tell.
      if (!r.decision) return false;
      const closed = when.get(r.decision.entry);
      return closed ? closed > d : true;
    }).length]);
    const note = page.next_offset !== null ? ` (the first ${page.risks.length} of ${page.total} risks)` : "";
    put(panel, riskOverTime(series, note),
      el("p", { class: "muted" }, `Each risk counts from the day it was discovered until the day a decision on it was signed (read from the log)${note}; risks no longer in the register (after an upgrade, a VEX) are not counted.`));
  } catch (e) {
    put(panel, el("p", { class: "error" }, `The risk history could not be read: ${e.message}`));
  }
}

// ---- fleet ----------------------------------------------------------------------

export async function fleet(main) {
  const [f, summary, open, incidents, recent] = await Promise.all([
    api.get("/api/v1/fleet"),
    api.get("/api/v1/risks/summary"),
    api.get("/api/v1/risks?status=open&page_size=1000"),
    api.get("/api/v1/incidents").catch(() => ({ incidents: [] })),
    api.get("/api/v1/devices?page_size=1000"),
  ]);
  const risks = sortRisks(open.risks, "deadline").slice(0, 10);
  const changed = recent.devices.filter((d) => d.updated_at !== null).sort((a, b) => b.updated_at - a.updated_at).slice(0, 8);
  const by = summary.open_by_severity || {};
  const history = el("div", { id: "risk-history", "aria-live": "polite" }, el("p", { class: "muted" }, "Reading the register's history…"));
  fillRiskHistory(history, open.today);
  put(main, 
    el("h1", {}, "Fleet overview"),
    el("p", { class: "muted" }, `As of log entry ${f.as_of}${f.complete ? "" : " (the first 100,000 devices)"}: what your organization may see under the owners' sharing policies.`),
    el("div", { class: "tiles" },
      tile(f.devices, "devices visible to you", null, "#/"),
      tile(summary.risks, "risks in the register", null, "#/risks"),
      tile(summary.overdue, "overdue", summary.overdue > 0, "#/risks?overdue=true"),
      tile(summary.devices_exposed, "devices exposed", summary.devices_exposed > 0, "#/risks?kind=device"),
      tile(incidents.incidents.filter((i) => i.status !== "resolved").length, "open incidents", null, null)),
    el("h2", {}, "Open risks by severity"),
    el("div", { class: "tiles" }, SEVERITIES.filter((s) => by[s]).map((s) => tile(by[s], `${s}`, s === "critical" || s === "high", `#/risks?severity=${s}&status=open`))),
    el("div", { class: "grid2" },
      el("section", { class: "panel", "aria-labelledby": "h-top" }, el("h2", { id: "h-top" }, "Open risks, overdue first"),
        risks.length ? table(["Device / model", "Risk", "Severity", "Deadline"], risks.map((r) =>
          el("tr", { class: r.overdue ? "overdue" : null },
            el("td", {}, r.device ? deviceLink(r.device) : r.model || r.subject),
            el("td", {}, r.vulnerability || r.risk, el("div", { class: "muted" }, r.title)),
            el("td", {}, sev(r.severity)),
            el("td", {}, deadline(r)))), "Open risks") : empty("No open risk."),
        el("p", {}, el("a", { href: "#/risks?status=open" }, "The whole register →"))),
      el("section", { class: "panel", "aria-labelledby": "h-time" }, el("h2", { id: "h-time" }, "Risk over time"), history)),
    el("h2", {}, "Devices"),
    el("div", { class: "grid2" },
      bars("By lifecycle", f.lifecycle, (v) => `#/search?q=${encodeURIComponent(v)}`),
      bars("By model", f.model, (v) => `#/search?q=${encodeURIComponent(v)}`),
      bars("By site", f.site, null),
      bars("By firmware", f.firmware, null)),
    el("div", { class: "grid2" },
      el("section", { class: "panel", "aria-labelledby": "h-recent" }, el("h2", { id: "h-recent" }, "Recently changed devices"),
        recent.next_page_token ? el("p", { class: "muted" }, "Among the first 1,000 devices by id.") : null,
        changed.length ? table(["Device", "Model", "Lifecycle", "Latest entry"], changed.map((d) =>
          el("tr", {}, el("td", {}, deviceLink(d.device)), el("td", {}, d.model ?? "—"), el("td", {}, d.lifecycle ?? "—"), el("td", {}, entryLink(d.updated_at)))), "Recently changed devices") : empty("No device visible.")),
      el("section", { class: "panel", "aria-labelledby": "h-inc" }, el("h2", { id: "h-inc" }, "Incidents"),
        incidents.incidents.length ? table(["Device", "Summary", "Severity", "Status"], incidents.incidents.slice(-8).reverse().map((i) =>
          el("tr", {}, el("td", {}, deviceLink(i.device)), el("td", {}, i.summary, " ", entryLink(i.entry)), el("td", {}, sev(i.severity)), el("td", {}, i.status + (i.quarantined ? " · quarantined" : "")))), "Incidents") : empty("No incident visible to you."))));
}

function tile(n, label, alert, href) {
  const body = [el("div", { class: "n" }, String(n ?? 0)), el("div", { class: "l" }, label)];
  return el("div", { class: `tile${alert ? " alert" : ""}` }, href ? el("a", { href }, body) : body);
}

// Known exploited: the listing, its due date, ransomware use.
function exploitBadges(r) {
  const x = r.exploitation;
  return [
    r.kev ? el("strong", { class: "bad" }, " KEV") : null,
    x?.kev_due ? el("span", { class: "muted" }, ` due ${x.kev_due}`) : null,
    x?.ransomware ? el("strong", { class: "bad" }, " ransomware") : null,
  ];
}

// The register's priority: exploited, likely exploited, else nothing said;
// the SSVC decision and the EPSS score (↑ after a jump).
const TIERS = { exploited: "exploited", likely: "likely exploited" };
function priority(r) {
  const p = r.priority || {};
  const epss = r.exploitation?.epss;
  return el("span", {},
    TIERS[p.tier] ? el("strong", { class: p.tier === "exploited" ? "bad" : null }, TIERS[p.tier]) : "—",
    p.ssvc ? el("div", { class: "muted" }, `SSVC ${p.ssvc}`) : null,
    epss ? el("div", { class: "muted" }, `EPSS ${epss.score.toFixed(3)}${epss.jumped ? " ↑" : ""}`) : null);
}

function deadline(r) {
  const d = r.deadline?.date;
  return el("span", {}, d || "—", r.overdue ? el("strong", { class: "bad" }, " overdue") : r.deadline_status === "due_soon" ? el("span", { class: "muted" }, " due soon") : null);
}

// ---- device twin --------------------------------------------------------------------

export async function device(main, id) {
  const d = await api.get(`/api/v1/devices/${api.q(id)}`);
  const [timeline, risks, reads, log] = await Promise.all([
    api.all(`/api/v1/devices/${api.q(id)}/timeline`, "entries", 2000),
    api.get(`/api/v1/risks?device=${api.q(id)}&page_size=500`).catch(() => ({ risks: [] })),
    api.all("/api/v1/reads", "reads", 2000).catch(() => null),
    api.get("/api/v1/log"),
  ]);
  const t = d.twin;
  const reportEl = el("div", { id: "verify-report", "aria-live": "polite" });
  const verifyButton = (entry) => {
    const b = el("button", { type: "button", class: "small secondary", "data-verify": entry }, `Verify #${entry}`);
    b.addEventListener("click", async () => {
      b.disabled = true;
      const result = await vui.verifyEntry(entry);
      vui.report(reportEl, `entry ${entry} of ${id}`, result);
      b.disabled = false;
      reportEl.scrollIntoView({ block: "nearest" });
    });
    return b;
  };
  const vulns = risks.risks.filter((r) => r.vulnerability);
  const other = risks.risks.filter((r) => !r.vulnerability);
  const myReads = reads ? reads.filter((r) => r.device === id) : [];
  const modelSubject = risks.risks.find((r) => r.model)?.model;
  const firmware = t.firmware && modelSubject
    ? el("a", { href: releaseHref(modelSubject, t.firmware), title: "The roll-out of this release" }, t.firmware)
    : t.firmware;
  const times = new Map();
  put(main, 
    el("h1", {}, `Device ${t.device}`),
    el("p", { class: "muted" }, `Twin as of log entry ${d.as_of}, as your organization may see it (null fields are hidden by their owner's policy).`),
    el("div", { class: "grid2" },
      el("section", { class: "panel", "aria-labelledby": "h-id" }, el("h2", { id: "h-id" }, "Identity"),
        el("dl", { class: "kv" }, [["Manufacturer", t.manufacturer], ["Model", t.model], ["Serial", t.serial], ["Hardware id", t.hardware_id], ["Lifecycle", t.lifecycle], ["Site", t.site], ["Location", t.location], ["Owner", t.owner], ["Operator", t.operator], ["Maintainer", t.maintainer], ["Firmware", firmware], ["Groups", t.groups?.join(", ")], ["Registered at", `entry ${t.registered_at}`], ["Signs its own statements", t.device_key ? "yes (its key is in its twin)" : "no"]]
          .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]))),
      el("section", { class: "panel", "aria-labelledby": "h-v" }, el("h2", { id: "h-v" }, "Verify this twin in your browser"),
        el("p", {}, "Checks each statement's receipt against the latest checkpoint, its witness cosignatures, and the issuer's signature, with the keys pinned in this browser."),
        verifyAll(d.attributes.map((a) => a.claim.entry), reportEl, id), reportEl)),
    el("h2", {}, "Attributes"),
    d.attributes.length ? table(["Attribute", "Value", "Status", "Signed by", "Time", "Entry"], d.attributes.map((a) => {
      const c = a.claim;
      const time = el("td", { "data-time": c.entry }, "…");
      // One statement may back several attributes (a device's report).
      times.set(times.has(c.entry) ? `a${times.size}:${c.entry}` : c.entry, time);
      return el("tr", {},
        el("td", {}, a.attribute.class + (a.attribute.key ? ` · ${a.attribute.key}` : "")),
        el("td", {}, summarize(c.statement)),
        el("td", {}, status(c.status)),
        el("td", {}, c.issuer, c.signed_by ? el("div", { class: "muted" }, `signed for it by ${c.signed_by}`) : null,
          c.endorsements.length ? el("div", { class: "muted" }, `endorsed by ${c.endorsements.map((e) => e.by).join(", ")}`) : null),
        time,
        el("td", {}, entryLink(c.entry), " ", verifyButton(c.entry)));
    }), "Attributes") : empty("No attribute visible to you."),
    el("h2", {}, "Vulnerabilities"),
    vulns.length ? table(["Vulnerability", "Severity", "VEX", "Why it matches", "Deadline", "Status"], vulns.map((r) =>
      el("tr", { class: r.overdue ? "overdue" : null },
        el("td", {}, vulnLink(r.vulnerability), exploitBadges(r), el("div", { class: "muted" }, r.title)),
        el("td", {}, sev(r.severity), r.score !== null ? ` ${r.score}` : ""),
        el("td", {}, vexText(r.vex)),
        el("td", {}, r.matches.map((m) => el("div", {}, `${m.component}${m.version ? " " + m.version : ""}: ${m.reason} (${m.confidence})`))),
        el("td", {}, deadline(r)),
        el("td", {}, r.status, r.fixed_in ? el("div", { class: "muted" }, "fixed in ", r.model ? el("a", { href: releaseHref(r.model, r.fixed_in) }, r.fixed_in) : r.fixed_in) : null,
          el("div", {}, el("a", { href: `#/rollout/vulnerabilities/${encodeURIComponent(r.vulnerability)}` }, "roll-out of the fix"))))), "Vulnerabilities") : empty("No vulnerability matched (or none visible to you)."),
    el("h2", {}, "Other risks"),
    other.length ? table(["Risk", "Severity", "Deadline", "Status", "Owner"], other.map((r) =>
      el("tr", { class: r.overdue ? "overdue" : null }, el("td", {}, r.risk, el("div", { class: "muted" }, r.title)), el("td", {}, sev(r.severity)), el("td", {}, deadline(r)), el("td", {}, r.status), el("td", {}, r.owner))), "Other risks") : empty("No other risk."),
    el("h2", {}, "Timeline"),
    table(["Entry", "Type", "Issuer", "Status", "Time", "Receipt"], timeline.map((e) => {
      const time = el("td", { "data-time": e.entry }, "…");
      if (!times.has(e.entry)) times.set(e.entry, time); else times.set(`t${e.entry}`, time);
      return el("tr", {}, el("td", {}, entryLink(e.entry)), el("td", {}, e.type), el("td", {}, e.issuer, e.signed_by ? el("div", { class: "muted" }, `signed by ${e.signed_by}`) : null), el("td", {}, status(e.status)), time,
        el("td", {}, el("a", { href: e.receipt, download: `entry-${e.entry}.receipt.cose` }, "COSE receipt"), " ", verifyButton(e.entry)));
    }), "Timeline"),
    myReads.length ? el("section", {}, el("h2", {}, "Who read this device's data"),
      table(["When", "Reader", "What", "Policy"], myReads.slice(-50).reverse().map((r) => el("tr", {}, el("td", {}, new Date(r.at_unix_ms).toISOString()), el("td", {}, r.reader ?? "anonymous"), el("td", {}, r.what), el("td", {}, r.policy))), "Reads")) : null,
  );
  fillTimes(times, log.size);
}

// Each statement's issue time (its CWT iat), read from the log's own entry bundles.
async function fillTimes(cells, size) {
  const byBundle = new Map();
  for (const [key, cell] of cells) {
    const entry = Number(String(key).match(/(\d+)$/)[1]);
    if (entry >= size) { cell.textContent = "not yet in a checkpoint"; continue; }
    const p = bundlePath(entry, size);
    if (!byBundle.has(p)) byBundle.set(p, []);
    byBundle.get(p).push([entry, cell]);
  }
  await Promise.all([...byBundle].map(async ([p, items]) => {
    try {
      const bundle = await api.getBytes(`/log/${p}`);
      for (const [entry, cell] of items) {
        try {
          const st = readStatement(entryFromBundle(bundle, entry));
          cell.textContent = st.iat ? new Date(st.iat * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—";
        } catch { cell.textContent = "—"; }
      }
    } catch { for (const [, cell] of items) cell.textContent = "—"; }
  }));
}

function verifyAll(entries, reportEl, id) {
  const b = el("button", { type: "button", id: "verify-twin" }, `Verify all ${entries.length} current attributes`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    const t0 = performance.now();
    const steps = [];
    let ok = true;
    for (const e of entries) {
      const r = await vui.verifyEntry(e);
      ok &&= r.ok;
      steps.push({ ok: r.ok, text: `entry ${e}: ${r.ok ? "receipt, witnessed checkpoint and issuer signature verified" : r.steps[r.steps.length - 1].text}` });
    }
    vui.report(reportEl, `the twin of ${id} (${entries.length} statements)`, { ok, steps, ms: performance.now() - t0 });
    b.disabled = false;
  });
  return b;
}

function status(s) {
  if (!s) return "—";
  const extra = s.awaiting ? ` (awaiting ${s.awaiting.join(", ")})` : s.by ? ` by ${s.by.join(", ")}` : "";
  return el("span", {}, el("span", { class: `badge st-${s.status}` }, s.status), extra);
}

function summarize(st) {
  if (!st) return "—";
  const skip = new Set(["type", "v", "on_behalf_of", "salt"]);
  const parts = Object.entries(st).filter(([k, v]) => !skip.has(k) && v !== null && typeof v !== "object").slice(0, 4).map(([k, v]) => `${k}: ${String(v).length > 48 ? String(v).slice(0, 47) + "…" : v}`);
  return el("span", {}, el("strong", {}, st.type || ""), parts.length ? el("div", { class: "muted" }, parts.join(" · ")) : null);
}

// ---- one statement ------------------------------------------------------------------

export async function statement(main, entry) {
  const s = await api.get(`/api/v1/statements/${entry}`);
  const reportEl = el("div", { id: "verify-report", "aria-live": "polite" });
  const b = el("button", { type: "button", id: "verify-statement" }, "Verify in this browser");
  b.addEventListener("click", async () => { b.disabled = true; vui.report(reportEl, `entry ${entry}`, await vui.verifyEntry(entry)); b.disabled = false; });
  put(main, 
    el("h1", {}, `Statement #${entry}`),
    el("dl", { class: "kv" }, [["Type", s.type], ["Subject", s.subject.startsWith("device:") ? deviceLink(s.subject.slice(7)) : s.subject], ["Issuer", s.issuer], ["Signed by", s.signed_by ?? s.issuer], ["Status", status(s.status)], ["Refused by the twins", s.refused ?? "no"], ["Receipt", el("a", { href: s.receipt, download: `entry-${entry}.receipt.cose` }, s.receipt)]]
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h2", {}, "Payload (the fields shared with you)"),
    el("pre", { class: "mono panel", tabindex: "0" }, JSON.stringify(s.statement, null, 2)),
    b, reportEl);
}

// ---- risk register -------------------------------------------------------------------

const FILTERS = ["severity", "status", "kind", "overdue", "device", "vulnerability", "model", "site", "source"];

function sortRisks(risks, by, dir = 1) {
  // The server's order is the priority (docs/exploitation.md).
  if (by === "priority") return dir === 1 ? [...risks] : [...risks].reverse();
  const rank = (s) => SEVERITIES.indexOf(s);
  const key = {
    deadline: (r) => [r.overdue ? 0 : 1, r.deadline?.date || "9999", rank(r.severity)],
    severity: (r) => [rank(r.severity), r.overdue ? 0 : 1, r.deadline?.date || "9999"],
    device: (r) => [r.device || r.model || "", rank(r.severity)],
    vulnerability: (r) => [r.vulnerability || r.risk, rank(r.severity)],
    status: (r) => [r.status, rank(r.severity)],
  }[by] || ((r) => [r.key]);
  return [...risks].sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] < kb[i]) return -dir; else if (ka[i] > kb[i]) return dir;
    return 0;
  });
}

export async function risks(main, params) {
  const query = new URLSearchParams();
  for (const f of FILTERS) if (params.get(f)) query.set(f, params.get(f));
  query.set("page_size", "1000");
  const page = await api.get(`/api/v1/risks?${query}`);
  const sortBy = params.get("sort") || "priority";
  const dir = params.get("dir") === "desc" ? -1 : 1;
  const group = params.get("group") || "";
  const rows = sortRisks(page.risks, sortBy, dir);
  const set = (changes) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) if (v) p.set(k, v); else p.delete(k);
    location.hash = `#/risks?${p}`;
  };
  const select = (name, label, options) => el("div", {}, el("label", { for: `f-${name}` }, label),
    (() => {
      const s = el("select", { id: `f-${name}`, name }, options.map(([v, t]) => el("option", { value: v, selected: (params.get(name) || "") === v }, t)));
      s.addEventListener("change", () => set({ [name]: s.value }));
      return s;
    })());
  const text = (name, label) => el("div", {}, el("label", { for: `f-${name}` }, label),
    (() => {
      const i = el("input", { id: `f-${name}`, name, value: params.get(name) || "", size: 14 });
      i.addEventListener("change", () => set({ [name]: i.value.trim() }));
      return i;
    })());
  const sortHead = (col, label) => {
    const active = sortBy === col;
    const b = el("button", { type: "button", class: "sort", "aria-label": `Sort by ${label}${active ? (dir === 1 ? ", ascending" : ", descending") : ""}` }, label, active ? (dir === 1 ? " ▲" : " ▼") : "");
    b.addEventListener("click", () => set({ sort: col, dir: active && dir === 1 ? "desc" : "" }));
    return b;
  };
  const csv = el("button", { type: "button", id: "export-csv", class: "secondary" }, `Export ${rows.length} rows as CSV`);
  csv.addEventListener("click", () => download(`risks-${page.today}.csv`, toCsv(rows)));
  const groups = group ? groupBy(rows, group) : [["", rows]];
  put(main, 
    el("h1", {}, "Risk register"),
    el("p", { class: "muted" }, `${page.total} risks match (register of ${page.today}, log entry ${page.as_of}, ${page.advisories} advisories); ${rows.filter((r) => r.overdue).length} overdue. Showing ${rows.length}.`),
    filterForm(
      select("severity", "Severity", [["", "any"], ...SEVERITIES.map((s) => [s, s])]),
      select("status", "Status", [["", "any"], ["open", "open"], ["accepted", "accepted"], ["mitigated", "mitigated"], ["transferred", "transferred"], ["false_positive", "false positive"]]),
      select("kind", "Kind", [["", "any"], ["device", "device vulnerability"], ["release", "release vulnerability"], ["recorded", "threat model"], ["posture", "posture finding"]]),
      select("overdue", "Overdue", [["", "any"], ["true", "overdue only"], ["false", "not overdue"]]),
      text("device", "Device"), text("vulnerability", "Vulnerability"), text("model", "Model"),
      select("group", "Group by", [["", "nothing"], ["severity", "severity"], ["device", "device"], ["vulnerability", "vulnerability"], ["status", "status"]]),
      csv),
    el("div", { id: "decision-result", "aria-live": "polite" }),
    groups.map(([g, rs]) => el("section", {}, g ? el("h2", {}, `${g} (${rs.length})`) : null,
      rs.length ? table([sortHead("device", "Device / model"), sortHead("vulnerability", "Risk"), sortHead("priority", "Priority"), sortHead("severity", "Severity"), sortHead("deadline", "Deadline"), sortHead("status", "Status"), "Owner", "Decide"],
        rs.slice(0, 500).map((r) => el("tr", { class: r.overdue ? "overdue" : null, "data-key": r.key },
          el("td", {}, r.device ? deviceLink(r.device) : r.model || r.subject, r.release ? el("div", { class: "muted" }, `release ${r.release}`) : null),
          el("td", {}, r.vulnerability ? vulnLink(r.vulnerability) : r.risk, exploitBadges(r), el("div", { class: "muted" }, r.title)),
          el("td", {}, priority(r)),
          el("td", {}, sev(r.severity)),
          el("td", {}, deadline(r)),
          el("td", {}, r.status, r.decision ? el("div", { class: "muted" }, `${r.decision.kind} by ${r.decision.issuer} `, entryLink(r.decision.entry)) : null),
          el("td", {}, r.owner),
          el("td", {}, decideForm(r)))), "Risks") : empty("No risk matches these filters."))),
  );
}

// The filters (each applies on change; Enter must not submit the page away).
function filterForm(...fields) {
  const f = el("form", { class: "filters", "aria-label": "Filter the register" }, fields);
  f.addEventListener("submit", (e) => { e.preventDefault(); for (const i of f.querySelectorAll("input")) i.dispatchEvent(new Event("change")); });
  return f;
}

function groupBy(rows, field) {
  const m = new Map();
  for (const r of rows) {
    const k = (field === "device" ? r.device || r.model : r[field]) || "(none)";
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(r);
  }
  return [...m];
}

const CSV_COLUMNS = ["key", "subject", "risk", "kind", "device", "model", "release", "site", "vulnerability", "title", "severity", "score", "kev", "status", "owner", "discovered", "deadline", "overdue", "fixed_in", "vex", "priority", "kev_due", "epss"];

export function toCsv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    // A leading =, +, - or @ would be a formula in a spreadsheet.
    const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of rows) {
    const value = (c) => ({
      deadline: r.deadline?.date,
      vex: r.vex ? r.vex.status : "",
      priority: r.priority?.tier,
      kev_due: r.exploitation?.kev_due,
      epss: r.exploitation?.epss?.score,
    })[c];
    lines.push(CSV_COLUMNS.map((c) => cell(["deadline", "vex", "priority", "kev_due", "epss"].includes(c) ? value(c) : r[c])).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A decision on risk `r`: signed by the service on the user's behalf (POST
// /api/v1/risks/decisions), or in this page with the user's own key and
// registered through SCRAPI (sign-ui.js), then verified here.
function decideForm(r) {
  const id = `d-${r.key.replace(/[^a-zA-Z0-9]/g, "-")}`;
  const kind = el("select", { id: `${id}-kind`, name: "decision" }, [["accept", "Accept"], ["mitigate", "Mitigated"], ["transfer", "Transfer"], ["false_positive", "False positive"]].map(([v, t]) => el("option", { value: v }, t)));
  const rationale = el("textarea", { id: `${id}-why`, name: "rationale", rows: 2, required: "" });
  const until = el("input", { id: `${id}-until`, name: "until", type: "date" });
  const to = el("input", { id: `${id}-to`, name: "to", placeholder: "stakeholder id" });
  const signer = sui.signerChoice(id);
  const submit = el("button", { type: "submit" }, "Sign on my behalf and register");
  signer.onChange(() => { submit.textContent = signer.own() ? "Sign with my key and register" : "Sign on my behalf and register"; });
  const out = el("p", { role: "status" });
  const reportEl = el("div", { "data-report": "decision", "aria-live": "polite" });
  const form = el("form", {},
    el("label", { for: kind.id }, "Decision"), kind,
    el("label", { for: rationale.id }, "Rationale (for Mitigated: how)"), rationale,
    el("label", { for: until.id }, "Accepted until (optional)"), until,
    el("label", { for: to.id }, "Transfer to"), to,
    signer.element,
    submit, out, reportEl);
  const fields = () => {
    const body = { subject: r.subject, risk: r.risk, decision: kind.value, rationale: rationale.value };
    if (kind.value === "accept" && until.value) body.until = until.value;
    if (kind.value === "transfer") body.to = to.value.trim();
    return body;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    reportEl.replaceChildren();
    reportEl.className = "";
    for (const a of ["role", "aria-label", "data-result", "data-ms"]) reportEl.removeAttribute(a);
    submit.disabled = true;
    try {
      if (signer.own()) await ownKey(fields());
      else await onBehalf(fields());
    } finally {
      submit.disabled = false;
    }
  });
  const onBehalf = async (body) => {
    out.textContent = "Registering…";
    try {
      const res = await api.post("/api/v1/risks/decisions", body);
      out.replaceChildren(el("span", { class: "ok" }, `Registered as entry ${res.entry} (${res.type}). `), entryLink(res.entry), " — the register shows it once rebuilt.");
    } catch (e) {
      out.replaceChildren(el("span", { class: "error" }, e.message));
    }
  };
  const ownKey = async (body) => {
    const key = signer.key();
    if (!key) {
      out.replaceChildren(el("span", { class: "error" }, "Choose your private key file first (or sign by the service on your behalf)."));
      return;
    }
    let entry;
    try {
      const payload = decisionPayload(body);
      out.textContent = "Signing in this browser and registering…";
      ({ entry } = await sui.signAndRegister(key, r.subject, payload));
    } catch (e) {
      out.replaceChildren(el("span", { class: "error" }, `Not registered: ${e.message}`));
      return;
    }
    out.replaceChildren(el("span", { class: "ok" }, `Registered as entry ${entry}, signed with your key. `), entryLink(entry), " Verifying it in this browser…");
    const result = await vui.verifyEntry(entry);
    vui.report(reportEl, `your decision, entry ${entry}`, result);
    out.replaceChildren(el("span", { class: "ok" }, `Registered as entry ${entry}, signed with your key. `), entryLink(entry), " — the register shows it once rebuilt.");
    // Registered is not yet applied: say so if the twins refused it.
    const view = await api.get(`/api/v1/statements/${entry}`).catch(() => null);
    if (view && view.refused) out.append(el("div", { class: "error" }, `The twins refused it: ${view.refused}`));
  };
  return el("details", { class: "decide" }, el("summary", {}, "Decide…"), form);
}

// ---- verify a file -------------------------------------------------------------------

export async function verifyFile(main) {
  const reportEl = el("div", { id: "file-report", "aria-live": "polite" });
  const input = el("input", { type: "file", id: "file" });
  const zone = el("div", { class: "drop", id: "drop" },
    el("p", {}, "Drop a file here (a firmware image, an SBOM, a test report, an AI model, or a signed statement), or choose one:"),
    el("label", { for: "file" }, "File "), input,
    el("p", { class: "muted" }, "Its digest is computed in this browser; the file itself is never uploaded."));
  const run = async (file) => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const r = await vui.lookupFile(bytes);
    vui.report(reportEl, `${file.name} (${bytes.length} bytes)`, r);
    if (r.matches) {
      reportEl.append(el("h3", {}, "Statements that name this file"), table(["Entry", "Type", "About", "Issuer", "The file is its"],
        r.matches.map((m) => el("tr", {},
          el("td", {}, entryLink(m.statement.entry)), el("td", {}, m.statement.type),
          el("td", {}, m.statement.subject.startsWith("device:") ? deviceLink(m.statement.subject.slice(7)) : m.statement.subject),
          el("td", {}, m.statement.issuer), el("td", {}, m.field))), "Statements that name this file"));
    } else if (r.found) reportEl.append(el("p", {}, el("a", { href: `#/statements/${r.index}` }, `Open entry ${r.index} →`)));
  };
  input.addEventListener("change", () => input.files[0] && run(input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); if (e.dataTransfer.files[0]) run(e.dataTransfer.files[0]); });
  put(main, el("h1", {}, "Verify a file"), zone, reportEl);
}

// ---- log and witnesses ---------------------------------------------------------------------

export async function log(main) {
  const s = await api.get("/api/v1/log");
  const t = vui.pinned();
  const reportEl = el("div", { id: "log-report", "aria-live": "polite" });
  const check = el("button", { type: "button", id: "verify-checkpoint" }, "Verify the latest checkpoint in this browser");
  check.addEventListener("click", async () => vui.report(reportEl, "latest checkpoint", await vui.verifyLatest()));
  const forget = el("button", { type: "button", class: "secondary", id: "forget-keys" }, "Forget the pinned keys");
  forget.addEventListener("click", () => { vui.forget(); window.dispatchEvent(new Event("sectwin:rerender")); });
  put(main, 
    el("h1", {}, "Log & witnesses"),
    el("div", { class: "tiles" },
      tile(s.size, "entries in the published checkpoint"),
      tile(s.integrating, "durable, not yet published", s.integrating > 1000),
      tile(s.pending, "waiting for the sequencer"),
      tile(`${s.cosignatures.filter((c) => c.verified).length}/${s.witness_quorum}`, "witness cosignatures / quorum", s.cosignatures.filter((c) => c.verified).length < s.witness_quorum)),
    el("h2", {}, "Integration latency"),
    s.integration_latency
      ? [el("div", { class: "tiles", id: "latency" },
        tile(`${Math.round(s.integration_latency.p50_ms)} ms`, "median"),
        tile(`${Math.round(s.integration_latency.p99_ms)} ms`, "99th percentile", s.integration_latency.p99_ms > 1000),
        tile(`${Math.round(s.integration_latency.max_ms)} ms`, "longest"),
        tile(`${Math.round(s.integration_latency.last_ms)} ms`, "latest")),
      el("p", { class: "muted" }, `From an entry's acknowledgment (durable) to the first published checkpoint covering it, signed and cosigned: the latest ${s.integration_latency.samples} group commits since the node started.`)]
      : empty("No checkpoint published since the node started."),
    s.fault ? el("p", { class: "error", role: "alert" }, `The log stopped writing: ${s.fault}`) : null,
    el("h2", {}, "Latest checkpoint"),
    el("pre", { class: "mono panel", tabindex: "0" }, s.checkpoint),
    check, reportEl,
    el("h2", {}, "Witnesses"),
    s.witnesses.length ? table(["Witness", "Verifier key", "Cosigned the latest", "Age"], s.witnesses.map((w) => {
      const c = s.cosignatures.find((x) => x.name === w.name);
      return el("tr", {}, el("td", {}, w.name), el("td", { class: "mono" }, w.vkey), el("td", {}, c ? (c.verified ? el("span", { class: "ok" }, "yes, verified by the node") : el("span", { class: "bad" }, "does not verify")) : "no"), el("td", {}, c ? `${c.age_s} s` : "—"));
    }), "Witnesses") : empty("This node asks no witness: its checkpoints are signed by the log alone."),
    el("h2", {}, "Keys this browser trusts"),
    t ? el("div", { class: "panel" },
      el("dl", { class: "kv" },
        el("dt", {}, "Log key"), el("dd", { class: "mono" }, t.log_vkey),
        el("dt", {}, "Witness keys"), el("dd", { class: "mono" }, t.witnesses.join("\n") || "none"),
        el("dt", {}, "Quorum"), el("dd", {}, String(t.quorum)),
        el("dt", {}, "Receipt keys"), el("dd", {}, "the COSE key set of /.well-known/scitt-keys"),
        el("dt", {}, "Pinned"), el("dd", {}, `${t.pinned_at}: ${t.source}`),
        el("dt", {}, "Matches what the node announces now"), el("dd", {}, t.log_vkey === s.vkey && t.quorum === s.witness_quorum && JSON.stringify([...t.witnesses].sort()) === JSON.stringify(s.witnesses.map((w) => w.vkey).sort()) ? el("span", { class: "ok" }, "yes") : el("strong", { class: "bad" }, "NO: the node announces other keys"))),
      forget)
      : el("p", {}, "No keys are pinned in this browser yet: the first verification pins what the node announces (below). Compare them with keys you got elsewhere."),
    el("h2", {}, "What the node announces"),
    el("dl", { class: "kv" }, el("dt", {}, "Origin"), el("dd", {}, s.origin), el("dt", {}, "Log key"), el("dd", { class: "mono" }, s.vkey), el("dt", {}, "Root"), el("dd", { class: "mono" }, s.root)));
}

// ---- search -------------------------------------------------------------------------------

export async function search(main, q) {
  const results = [];
  const heading = el("h1", {}, `Search: ${q}`);
  if (/^[A-Za-z0-9+/=_-]{43,44}$/.test(q) || /^[0-9a-f]{64}$/i.test(q)) {
    const b64 = /^[0-9a-f]{64}$/i.test(q) ? btoa(String.fromCharCode(...q.match(/../g).map((h) => parseInt(h, 16)))) : q;
    try {
      const p = await api.get(`/log/proof/inclusion?hash=${api.q(b64)}&format=json`);
      results.push(el("li", {}, "Log entry with this leaf hash: ", entryLink(p.index)));
    } catch { /* not a leaf hash of this log */ }
  }
  const sha = q.replace(/^sha256:/i, "");
  if (/^[0-9a-f]{64}$/i.test(sha)) {
    const d = await api.get(`/api/v1/digests/${sha.toLowerCase()}`).catch(() => null);
    for (const m of d ? d.matches : []) {
      results.push(el("li", {}, `The ${m.field} of `, entryLink(m.statement.entry), ` (${m.statement.type} by ${m.statement.issuer} about `,
        m.statement.subject.startsWith("device:") ? deviceLink(m.statement.subject.slice(7)) : m.statement.subject, ")"));
    }
  }
  if (/^(CVE|GHSA|OSV)-/i.test(q)) {
    const r = await api.get(`/api/v1/risks?vulnerability=${api.q(q.toUpperCase().startsWith("GHSA") ? q : q.toUpperCase())}&page_size=1`).catch(() => null);
    if (r && r.total) results.push(el("li", {}, vulnLink(q.toUpperCase()), ": ", el("a", { href: `#/risks?vulnerability=${encodeURIComponent(q.toUpperCase())}` }, `${r.total} risks in the register`)));
  }
  const one = await api.get(`/api/v1/devices/${api.q(q)}`).catch(() => null);
  if (one) results.push(el("li", {}, "Device ", deviceLink(one.twin.device)));
  for (const attr of ["model", "site", "firmware", "serial", "lifecycle"]) {
    const r = await api.get(`/api/v1/devices?${attr}=${api.q(q)}&page_size=50`).catch(() => null);
    if (r && r.devices.length) results.push(el("li", {}, `Devices with ${attr} ${q}: `, r.devices.map((d, i) => [i ? ", " : "", deviceLink(d.device)])));
  }
  put(main, heading, results.length ? el("ul", { class: "plain" }, results) : empty("Nothing visible to you matches. Search takes a device id, a model, site, firmware version, serial or lifecycle state, a CVE id, a file's SHA-256 (a firmware image, an SBOM...), or a log entry's leaf hash (hex or base64); to look a file up, use Verify a file."));
}

// ---- vulnerabilities ----------------------------------------------------------------
// One advisory → the releases it affects → the devices running them, with the
// VEX that applies to each and why each matched (all from /api/v1/exposure
// and /api/v1/risks, filtered by what the reader may see).

export async function vulnerabilities(main) {
  const x = await api.get("/api/v1/exposure?by=vulnerability");
  const groups = x.groups.filter((g) => g.key);
  put(main,
    el("h1", {}, "Vulnerabilities"),
    el("p", { class: "muted" }, `${groups.length} vulnerabilities affect what you may see (register of ${x.today}), worst first.`),
    groups.length ? table(["Vulnerability", "Worst open severity", "Devices", "Open risks", "Overdue", "All risks"],
      groups.map((g) => el("tr", { class: g.overdue ? "overdue" : null },
        el("td", {}, vulnLink(g.key)),
        el("td", {}, g.worst_severity ? sev(g.worst_severity) : "resolved"),
        el("td", {}, String(g.devices)),
        el("td", {}, String(g.unresolved)),
        el("td", {}, g.overdue ? el("strong", { class: "bad" }, String(g.overdue)) : "0"),
        el("td", {}, String(g.risks)))), "Vulnerabilities") : empty("No vulnerability affects anything you may see."));
}

export async function vulnerability(main, id) {
  const page = await api.get(`/api/v1/risks?vulnerability=${api.q(id)}&page_size=1000`);
  const rs = page.risks;
  if (!rs.length) {
    put(main, el("h1", {}, id), empty("This vulnerability affects nothing you may see (or no advisory names it)."));
    return;
  }
  const worst = sortRisks(rs, "severity")[0];
  // Releases: a model's release risks, and the releases devices run.
  const releases = new Map();
  for (const r of rs) {
    const key = `${r.model || "(unknown model)"}@${r.release || "(unknown release)"}`;
    const rel = releases.get(key) || { model: r.model, release: r.release, devices: [], vex: null, fixed_in: null, status: null };
    if (r.kind === "release_vulnerability") { rel.vex = r.vex; rel.status = r.status; }
    if (r.device) rel.devices.push(r.device);
    if (!rel.vex && r.vex) rel.vex = r.vex;
    rel.fixed_in = rel.fixed_in || r.fixed_in;
    releases.set(key, rel);
  }
  const devices = rs.filter((r) => r.device);
  put(main,
    el("h1", {}, id),
    el("p", {}, worst.title),
    el("dl", { class: "kv" },
      el("dt", {}, "Severity"), el("dd", {}, sev(worst.severity), worst.score !== null ? ` ${worst.score}` : ""),
      el("dt", {}, "CVSS vector"), el("dd", { class: "mono" }, worst.cvss_vector || "—"),
      el("dt", {}, "Known exploited"), el("dd", {}, worst.kev ? el("strong", { class: "bad" }, "yes") : "no",
        (worst.exploitation?.kev || []).map((k) => el("div", {}, `${k.list}: added ${k.date_added}, due ${k.due_date}${k.ransomware ? ", used by ransomware" : ""}: ${k.required_action}`))),
      el("dt", {}, "EPSS"), el("dd", {}, worst.exploitation?.epss
        ? `${worst.exploitation.epss.score.toFixed(5)} (percentile ${worst.exploitation.epss.percentile.toFixed(3)}, ${worst.exploitation.epss.day})${worst.exploitation.epss.previous !== null ? `, was ${worst.exploitation.epss.previous.toFixed(5)}` : ""}`
        : "—"),
      el("dt", {}, "Priority"), el("dd", {}, priority(worst)),
      el("dt", {}, "Published"), el("dd", {}, worst.found || "—"),
      el("dt", {}, "In the register"), el("dd", {}, el("a", { href: `#/risks?vulnerability=${encodeURIComponent(id)}` }, `${page.total} risks`)),
      el("dt", {}, "Roll-out of the fix"), el("dd", {}, el("a", { href: `#/rollout/vulnerabilities/${encodeURIComponent(id)}` }, "patched devices over time, stuck devices, time to fix"))),
    el("h2", {}, "Affected releases"),
    table(["Model", "Release", "VEX", "Devices running it", "Fixed in"],
      [...releases.values()].map((rel) => el("tr", {},
        el("td", {}, rel.model || "—"),
        el("td", {}, rel.release || "—"),
        el("td", {}, vexText(rel.vex)),
        el("td", {}, String(rel.devices.length)),
        el("td", {}, rel.fixed_in && rel.model ? el("a", { href: releaseHref(rel.model, rel.fixed_in) }, rel.fixed_in) : rel.fixed_in || "—"))), "Affected releases"),
    el("h2", {}, "Affected devices"),
    devices.length ? table(["Device", "Release", "Site", "VEX", "Why it matches", "Deadline", "Status"],
      sortRisks(devices, "deadline").map((r) => el("tr", { class: r.overdue ? "overdue" : null },
        el("td", {}, deviceLink(r.device)),
        el("td", {}, r.release || "—"),
        el("td", {}, r.site || "—"),
        el("td", {}, vexText(r.vex)),
        el("td", {}, r.matches.map((m) => el("div", {}, `${m.component}${m.version ? " " + m.version : ""}: ${m.reason} (${m.confidence})`))),
        el("td", {}, deadline(r)),
        el("td", {}, r.status))), "Affected devices") : empty("No device you may see runs an affected release."));
}

// ---- threat models ------------------------------------------------------------------
// The models `sectwin threat record` published (public, like policies), each
// with its data-flow diagram (laid out by the node, shown as an image: no
// script in it can run) and its findings: the risks recorded from it, as the
// register lets the reader see them.

const modelHref = (m) => `#/threat-models/${encodeURIComponent(m.owner)}/${encodeURIComponent(m.id)}`;

export async function threatModels(main) {
  const list = await api.get("/api/v1/threat-models");
  const current = list.models.filter((m) => m.superseded_by === null);
  put(main,
    el("h1", {}, "Threat models"),
    el("p", { class: "muted" }, "Published with sectwin threat record; each model's findings are risks in the register."),
    current.length ? table(["Model", "Published by", "Version", "Entry"],
      current.map((m) => el("tr", {},
        el("td", {}, el("a", { href: modelHref(m) }, m.name)),
        el("td", {}, m.owner),
        el("td", {}, m.version || "—"),
        el("td", {}, entryLink(m.entry)))), "Threat models")
      : empty("No threat model is published yet: sectwin threat record MODEL.yaml publishes one and records its findings."));
}

export async function threatModel(main, owner, id, params) {
  const at = params.get("entry");
  const m = await api.get(`/api/v1/threat-models/${api.q(owner)}/${api.q(id)}${at ? `?entry=${api.q(at)}` : ""}`);
  const source = `threat-model:${m.model.name}`;
  const page = await api.get(`/api/v1/risks?source=${api.q(source)}&kind=recorded&page_size=1000`).catch((e) => {
    if (e.status === 401) throw e;
    return { risks: [], total: 0 };
  });
  const risks = sortRisks(page.risks, "severity");
  const names = new Map(m.elements.map((e) => [e.id, e.name]));
  const byElement = new Map();
  for (const r of risks) {
    const k = r.element || "(whole system)";
    byElement.set(k, [...(byElement.get(k) || []), r]);
  }
  const open = risks.filter((r) => r.status === "open");
  const reportEl = el("div", { id: "model-report", "aria-live": "polite" });
  const check = el("button", { type: "button", class: "secondary" }, "Verify this model's entry");
  check.addEventListener("click", async () => { check.disabled = true; vui.report(reportEl, `entry ${m.model.entry}`, await vui.verifyEntry(m.model.entry)); check.disabled = false; });
  const diagram = m.diagram_svg
    ? el("figure", { class: "diagram" },
      el("img", {
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(m.diagram_svg)}`,
        alt: `Data-flow diagram of ${m.model.name}: ${m.elements.length} elements, ${m.flows.length} flows, ${m.boundaries.length} trust boundaries (listed below).`,
      }),
      el("figcaption", { class: "muted" }, "Boxes are elements, dashed red frames trust boundaries; red arrows are unencrypted flows."))
    : el("p", { class: "error", role: "alert" }, m.problem || "No diagram.");
  const findingRows = [...byElement.entries()].flatMap(([element, rs]) => rs.map((r, i) => el("tr", { class: r.overdue ? "overdue" : null },
    i === 0 ? el("th", { scope: "rowgroup", rowspan: String(rs.length) }, element) : null,
    el("td", {}, sev(r.severity), r.score !== null && r.score !== undefined ? ` ${r.score}` : ""),
    el("td", {}, r.title),
    el("td", {}, r.status, r.decision ? el("div", { class: "muted" }, `${r.decision.kind} by ${r.decision.issuer} `, entryLink(r.decision.entry)) : null),
    el("td", {}, deadline(r)),
    el("td", {}, r.subject))));
  put(main,
    el("h1", {}, m.title || m.model.name),
    el("p", { class: "muted" },
      `Published by ${m.model.owner}`, m.model.version ? `, version ${m.model.version}` : "", " at entry ", entryLink(m.model.entry),
      m.model.superseded_by !== null ? el("strong", { class: "bad" }, ` (superseded at #${m.model.superseded_by})`) : "",
      `. SHA-256 of the model file ${m.model.source_sha256}.`),
    el("div", { class: "actions" }, check), reportEl,
    el("h2", {}, "Data-flow diagram"), diagram,
    el("h2", {}, `Findings (${open.length} open of ${risks.length} recorded)`),
    risks.length
      ? el("table", {}, el("caption", { class: "sr-only" }, "Findings by element"),
        el("thead", {}, el("tr", {}, ["Element", "Severity", "Finding", "Status", "Deadline", "Recorded on"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, findingRows))
      : empty("No finding of this model is recorded on anything you may see."),
    el("p", {}, el("a", { href: `#/risks?source=${encodeURIComponent(source)}` }, "These findings in the risk register")),
    el("h2", {}, "Elements"),
    table(["Element", "Type", "Trust boundaries", "Device model", "Controls"],
      m.elements.map((e) => el("tr", {},
        el("td", {}, e.name), el("td", {}, e.type),
        el("td", {}, e.boundaries.join(", ") || "—"),
        el("td", {}, e.device_model || "—"),
        el("td", {}, e.controls.join(", ") || "—"))), "Elements"),
    el("h2", {}, "Data flows"),
    table(["Flow", "From", "To", "Protocol", "Encrypted", "Authentication", "Data"],
      m.flows.map((f) => el("tr", {},
        el("td", {}, f.name), el("td", {}, names.get(f.from) || f.from), el("td", {}, names.get(f.to) || f.to),
        el("td", {}, f.protocol), el("td", {}, f.encrypted ? "yes" : el("strong", { class: "bad" }, "no")),
        el("td", {}, f.authentication), el("td", {}, f.classification))), "Data flows"),
    m.versions.length > 1 ? [el("h2", {}, "Versions"), el("ul", { class: "plain" }, m.versions.slice().reverse().map((v) =>
      el("li", {}, el("a", { href: `${modelHref(v)}?entry=${v.entry}` }, v.version || `entry ${v.entry}`), ` at `, entryLink(v.entry), v.superseded_by === null ? " (in force)" : "")))] : null,
    el("details", {}, el("summary", {}, "Model file (YAML)"), el("pre", { class: "mono panel", tabindex: "0" }, m.source)));
}
