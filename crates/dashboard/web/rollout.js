// The verified roll-out pages: how far a firmware release (or the fix of a
// vulnerability) has reached the devices you may see, told from the
// devices' own signed statements (GET /api/v1/rollout/...). Progress over
// time as a hand-written SVG chart, the stuck devices, time-to-fix, the
// devices past their release's support end, and for every device the log
// entry of its own statement, to open or verify in the browser.

import * as api from "./api.js";
import { verifyButton } from "./verify-ui.js";
import { el, put } from "./views.js";

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

const deviceLink = (id) => el("a", { href: `#/devices/${encodeURIComponent(id)}` }, id);
const entryLink = (n) => el("a", { href: `#/statements/${n}` }, `#${n}`);
const empty = (text) => el("p", { class: "muted" }, text);
const table = (head, rows, caption) => el("table", {},
  el("caption", { class: "sr-only" }, caption),
  el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
  el("tbody", {}, rows));

// A duration in seconds, as days and hours.
export function duration(s) {
  if (s === null || s === undefined) return "—";
  const d = Math.floor(s / 86_400), h = Math.floor((s % 86_400) / 3_600), m = Math.floor((s % 3_600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}

const time = (s) => (s === null || s === undefined ? "—" : new Date(s * 1000).toISOString().replace(".000Z", "Z"));

// Patched devices day by day, out of all counted (a line over the days,
// the total as a dashed line), drawn like the risk chart.
function progress(series, total) {
  if (!series.length) return empty("No day to show yet.");
  const max = Math.max(1, total);
  const W = 420, H = 140, pad = 28;
  const x = (i) => pad + (series.length === 1 ? (W - 2 * pad) / 2 : (i / (series.length - 1)) * (W - 2 * pad));
  const y = (n) => H - pad - (n / max) * (H - 2 * pad);
  const path = series.map((d, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(d.patched).toFixed(1)}`).join(" ");
  const last = series[series.length - 1];
  const changes = series.filter((d, i) => i === 0 || d.patched !== series[i - 1].patched);
  const pct = total ? Math.round((100 * last.patched) / total) : 0;
  return svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Patched devices per day, of ${total}: ${changes.map((d) => `from ${d.day}: ${d.patched}`).join(", ")}` },
    svg("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: "#8a96a3" }),
    svg("line", { x1: pad, y1: y(total), x2: W - pad, y2: y(total), stroke: "#8a96a3", "stroke-dasharray": "4 3" }),
    svg("path", { d: path, fill: "none", stroke: "#2e7d32", "stroke-width": 2 }),
    series.length <= 60 ? series.map((d, i) => svg("circle", { cx: x(i), cy: y(d.patched), r: 3, fill: "#2e7d32" })) : null,
    svg("text", { x: pad, y: H - 8 }, series[0].day),
    svg("text", { x: W - pad, y: H - 8, "text-anchor": "end" }, last.day),
    svg("text", { x: pad, y: 14, class: "now" }, `${last.patched} of ${total} patched (${pct} %)`));
}

function tile(n, label, alert) {
  return el("div", { class: `tile${alert && n ? " alert" : ""}` }, el("div", { class: "n" }, String(n)), el("div", { class: "l" }, label));
}


function render(main, title, v, intro) {
  const reportEl = el("div", { id: "verify-report", "aria-live": "polite" });
  const rows = v.rows;
  const stuck = rows.filter((r) => r.state === "stuck");
  const evidence = (r) => {
    const e = r.evidence_entry ?? r.update?.entry;
    return e === null || e === undefined ? "—" : [entryLink(e), " ", verifyButton(e, reportEl, `the statement of ${r.device}`)];
  };
  put(main,
    el("h1", {}, title),
    el("p", { class: "muted" }, intro, ` As of log entry ${v.as_of}; only devices you may see are counted. Every figure rests on the devices' own signed statements: verify any of them below.`),
    el("div", { class: "tiles" },
      tile(v.devices, "devices"), tile(v.patched, "patched"), tile(v.pending, "pending"),
      tile(v.stuck, `stuck (after ${v.stuck_after_days} days)`, true), tile(v.support_ended, "past support end", true)),
    el("div", { class: "grid2" },
      el("section", { class: "panel", "aria-labelledby": "h-progress" }, el("h2", { id: "h-progress" }, "Progress over time"), progress(v.series, v.devices)),
      el("section", { class: "panel", "aria-labelledby": "h-ttf" }, el("h2", { id: "h-ttf" }, "Time to fix"),
        el("dl", { class: "kv" },
          el("dt", {}, "Devices with a known time"), el("dd", {}, String(v.time_to_fix.devices)),
          el("dt", {}, "Median"), el("dd", {}, duration(v.time_to_fix.median_s)),
          el("dt", {}, "90th percentile"), el("dd", {}, duration(v.time_to_fix.p90_s)),
          el("dt", {}, "Longest"), el("dd", {}, duration(v.time_to_fix.max_s))),
        el("h3", {}, "Targets"),
        el("ul", {}, v.targets.map((t) => el("li", {}, `${t.model}: `,
          t.version ? `${t.version}` : "no fix released",
          t.release_entry !== null ? [" (", entryLink(t.release_entry), t.released_at ? `, ${time(t.released_at)}` : "", ")"] : null,
          t.patched_versions.length > 1 ? ` or later (${t.patched_versions.join(", ")})` : "",
          t.affected_versions.length ? el("div", { class: "muted" }, `exposed: ${t.affected_versions.join(", ")}`) : null))))),
    el("h2", {}, `Stuck devices (${v.stuck})`),
    stuck.length ? table(["Device", "Firmware", "Why", "Latest update", "Evidence"], stuck.map((r) => el("tr", { class: "overdue" },
      el("td", {}, deviceLink(r.device)),
      el("td", {}, r.firmware ?? "—", r.support_ended ? el("div", { class: "bad" }, `support ended ${r.support_ended}`) : null),
      el("td", {}, r.stuck_reason ?? "—"),
      el("td", {}, r.update ? `${r.update.state} ${r.update.version} at ${time(r.update.at)}` : "—"),
      el("td", {}, evidence(r)))), "Stuck devices") : empty("No device you may see is stuck."),
    el("h2", {}, "Devices"),
    rows.length ? table(["Device", "Model", "Firmware", "State", "Patched at", "Time to fix", "Support", "Evidence"], rows.map((r) => el("tr", { class: r.state === "stuck" ? "overdue" : null },
      el("td", {}, deviceLink(r.device)),
      el("td", {}, r.model),
      el("td", {}, r.firmware ?? "—"),
      el("td", {}, r.state),
      el("td", {}, r.patched_at ? [time(r.patched_at), " ", entryLink(r.patched_entry)] : "—"),
      el("td", {}, duration(r.time_to_fix_s)),
      el("td", {}, r.support_ended ? el("strong", { class: "bad" }, `ended ${r.support_ended}`) : "in support"),
      el("td", {}, evidence(r)))), "Devices") : empty("No device you may see is counted."),
    v.rows_truncated ? el("p", { class: "muted" }, `Showing ${rows.length} of ${v.devices} devices: stuck first, then the slowest.`) : null,
    reportEl);
}

export async function release(main, vendor, model, version, params) {
  const qs = params.toString();
  const v = await api.get(`/api/v1/rollout/releases/${api.q(vendor)}/${api.q(model)}/${api.q(version)}${qs ? `?${qs}` : ""}`);
  render(main, `Roll-out of ${vendor}/${model} ${version}`, v,
    "Devices running this release or a later one, from their signed update reports and firmware statements.");
}

export async function vulnerability(main, id, params) {
  const qs = params.toString();
  const v = await api.get(`/api/v1/rollout/vulnerabilities/${api.q(id)}${qs ? `?${qs}` : ""}`);
  render(main, `Roll-out of the fix for ${id}`, v,
    "Devices that ran a release exposed to it, against the nearest release that fixes it; time to fix from when each device was exposed.");
}

// The roll-out page of the release `version` of model subject
// `model:<vendor>/<model>`.
export function releaseHref(modelSubject, version) {
  const [vendor, ...rest] = modelSubject.replace(/^model:/, "").split("/");
  return `#/rollout/releases/${encodeURIComponent(vendor)}/${encodeURIComponent(rest.join("/"))}/${encodeURIComponent(version)}`;
}
