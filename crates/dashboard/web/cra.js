// The EU Cyber Resilience Act page of a manufacturer: its report cases
// (actively exploited vulnerabilities, severe incidents), each stage's
// deadline and status (overdue first), the signed stages with their log
// entries to open or verify in the browser, and the support periods of its
// models (GET /api/v1/cra/cases, /api/v1/cra/support). Another stakeholder
// sees its own cases (none, unless it manufactures) and the support
// periods of the models of its devices.

import * as api from "./api.js";
import { verifyButton } from "./verify-ui.js";
import { el, put } from "./views.js";

const entryLink = (n) => el("a", { href: `#/statements/${n}` }, `#${n}`);
const empty = (text) => el("p", { class: "muted" }, text);
const table = (head, rows, caption) => el("table", {},
  el("caption", { class: "sr-only" }, caption),
  el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
  el("tbody", {}, rows));
const time = (s) => (s === null || s === undefined ? "—" : new Date(s * 1000).toISOString().replace(".000Z", "Z"));
const STATUS = {
  overdue: "bad", "due-soon": "bad", "submitted-late": "bad", pending: "", waiting: "muted", submitted: "ok",
};
const status = (s) => el("span", { class: `badge status-${s} ${STATUS[s] ?? ""}` }, s);


function caseSection(c, reportEl) {
  const stamp = (s, what) => (s ? [entryLink(s.entry), ` by ${s.by} at ${time(s.at)} `, verifyButton(s.entry, reportEl, what)] : ["—"]);
  return el("section", { class: "panel", "aria-labelledby": `case-${c.case}` },
    el("h2", { id: `case-${c.case}` }, `${c.case} `, c.closed ? el("span", { class: "badge ok" }, "closed: every stage signed") : status(c.status)),
    el("dl", { class: "kv" },
      el("dt", {}, "Kind"), el("dd", {}, c.kind === "vulnerability" ? `actively exploited vulnerability ${c.vulnerability ?? ""}` : "severe incident"),
      el("dt", {}, "Products"), el("dd", {}, c.products.join(", ")),
      el("dt", {}, "Opened"), el("dd", {}, `${c.source}: ${c.evidence} `, stamp(c.opened, `the opening of case ${c.case}`)),
      el("dt", {}, "Aware since"), el("dd", {}, c.aware_at ? [time(c.aware_at), " (", ...stamp(c.awareness, `the awareness of case ${c.case}`), ")"] : "not stated: the clock runs from the opening"),
      el("dt", {}, "Fix"), el("dd", {}, c.fixed_in ? `${c.fixed_in}, available since ${time(c.fix_available_at)}` : "no release fixes it yet")),
    table(["Stage", "Due", "Counted from", "Status", "Signed"], c.stages.map((s) => el("tr", { class: s.status === "overdue" ? "overdue" : null },
      el("td", {}, s.stage),
      el("td", {}, s.due ?? "—"),
      el("td", {}, s.basis),
      el("td", {}, status(s.status)),
      el("td", {}, stamp(s.submitted, `the ${s.stage} of case ${c.case}`)))), `Stages of ${c.case}`),
    el("p", {}, "Exports for the reporting platform (JSON): ",
      ...c.stages.filter((s) => s.submitted).flatMap((s, i) => [i ? ", " : "",
        el("code", { "data-export": s.stage }, `GET /api/v1/cra/cases/${c.case}/reports/${s.stage}`)]),
      c.kind === "vulnerability" ? [". The fix as CSAF 2.0: ", el("code", {}, `GET /api/v1/cra/cases/${c.case}/csaf`)] : null));
}

export async function page(main) {
  const [cases, support] = await Promise.all([api.get("/api/v1/cra/cases"), api.get("/api/v1/cra/support")]);
  const reportEl = el("div", { id: "verify-report", "aria-live": "polite" });
  const open = cases.cases.filter((c) => !c.closed).length;
  put(main,
    el("h1", {}, "Reporting (EU Cyber Resilience Act)"),
    el("p", { class: "muted" }, `Report cases of ${cases.manufacturer}: an early warning within 24 hours of awareness, a notification within 72 hours, a final report 14 days after a fix (one month after an incident's notification). ${open} open, ${cases.overdue} stage(s) overdue. Every statement is in the log: verify any of them here.`),
    cases.cases.length ? cases.cases.map((c) => caseSection(c, reportEl)) : empty("No report case: none of your products is known to be actively exploited."),
    el("h2", {}, "Support periods"),
    support.models.length ? table(["Model", "Manufacturer", "Support until", "Promise", "Devices", "Past the end"], support.models.map((m) => el("tr", { class: m.ended && m.devices_past_end ? "overdue" : null },
      el("td", {}, m.model),
      el("td", {}, m.manufacturer),
      el("td", {}, m.end, m.ended ? el("div", { class: "bad" }, "ended") : el("div", { class: "muted" }, `${m.days_left} days left`)),
      el("td", {}, entryLink(m.promised.entry), m.cut_short ? el("div", { class: "bad" }, `cut short from ${m.cut_short.was} (${m.cut_short.days} days)`) : null),
      el("td", {}, String(m.devices)),
      el("td", {}, m.devices_past_end ? el("strong", { class: "bad" }, String(m.devices_past_end)) : "0"))), "Support periods") : empty("No support period is promised for a model you make or run."),
    reportEl);
}
