// The dashboard's shell: hash routes (stable, shareable URLs such as
// #/devices/door-1 or #/risks?severity=high), sign-in and sign-out, the
// search box, and the page title and focus on each view change (keyboard
// and screen reader users land on the new view's heading).

import * as api from "./api.js";
import * as views from "./views.js";
import * as rollout from "./rollout.js";
import * as cra from "./cra.js";
import { forgetKey } from "./sign-ui.js";

const main = document.getElementById("main");
let generation = 0;

const routes = [
  [/^\/?$/, (m, p, t) => views.fleet(t)],
  [/^\/signin$/, (m, p, t) => signInView(t)],
  [/^\/devices\/(.+)$/, (m, p, t) => views.device(t, decodeURIComponent(m[1]))],
  [/^\/statements\/(\d+)$/, (m, p, t) => views.statement(t, Number(m[1]))],
  [/^\/risks$/, (m, p, t) => views.risks(t, p)],
  [/^\/vulnerabilities$/, (m, p, t) => views.vulnerabilities(t)],
  [/^\/vulnerabilities\/(.+)$/, (m, p, t) => views.vulnerability(t, decodeURIComponent(m[1]))],
  [/^\/rollout\/releases\/([^/]+)\/(.+)\/([^/]+)$/, (m, p, t) => rollout.release(t, decodeURIComponent(m[1]), decodeURIComponent(m[2]), decodeURIComponent(m[3]), p)],
  [/^\/rollout\/vulnerabilities\/(.+)$/, (m, p, t) => rollout.vulnerability(t, decodeURIComponent(m[1]), p)],
  [/^\/reporting$/, (m, p, t) => cra.page(t)],
  [/^\/threat-models$/, (m, p, t) => views.threatModels(t)],
  [/^\/threat-models\/([^/]+)\/([^/]+)$/, (m, p, t) => views.threatModel(t, decodeURIComponent(m[1]), decodeURIComponent(m[2]), p)],
  [/^\/verify$/, (m, p, t) => views.verifyFile(t)],
  [/^\/log$/, (m, p, t) => views.log(t)],
  [/^\/search$/, (m, p, t) => views.search(t, p.get("q") || "")],
];

function parse() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

async function render() {
  // In-page anchors (the skip link's #main) are not routes.
  if (location.hash && !location.hash.startsWith("#/")) return;
  const { path, params } = parse();
  renderWho();
  if (!api.session.get() && path !== "/signin" && path !== "/verify" && path !== "/log") {
    location.replace(`#/signin?next=${encodeURIComponent(location.hash || "#/")}`);
    return;
  }
  for (const a of document.querySelectorAll("[data-nav]")) {
    const here = (a.dataset.nav === "fleet" && path === "/") || path.startsWith(`/${a.dataset.nav}`);
    if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const route = routes.find(([re]) => re.test(path));
  // Each view renders into a fresh element, put in place only if no later
  // navigation started meanwhile (a slow view never overwrites a newer one).
  const mine = ++generation;
  const target = document.createElement("div");
  main.setAttribute("aria-busy", "true");
  const t0 = performance.now();
  try {
    if (!route) throw new Error(`no page ${path}`);
    await route[1](path.match(route[0]), params, target);
  } catch (e) {
    if (e.status === 401) { location.replace("#/signin"); return; }
    target.replaceChildren(views.el("h1", {}, "Something went wrong"), views.el("p", { class: "error", role: "alert" }, e.message || String(e)));
  }
  if (mine !== generation) return;
  main.replaceChildren(...target.childNodes);
  main.removeAttribute("aria-busy");
  main.dataset.renderMs = (performance.now() - t0).toFixed(1);
  main.dataset.route = location.hash;
  const h1 = main.querySelector("h1");
  document.title = `${h1 ? h1.textContent : "sectwin"} · sectwin`;
  document.getElementById("status").textContent = `${document.title} loaded`;
  if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: false }); }
}

function renderWho() {
  const who = document.getElementById("who");
  const s = api.session.get();
  who.replaceChildren();
  if (!s) {
    who.append(views.el("a", { href: "#/signin" }, "Sign in"));
    return;
  }
  who.append(views.el("span", { "data-who": s.stakeholder || "" }, `Signed in as ${s.stakeholder || s.client_id}`));
  const out = views.el("button", { type: "button", class: "secondary small", id: "signout" }, "Sign out");
  // Signing out forgets the token and any private key loaded in this tab.
  out.addEventListener("click", () => { api.session.clear(); forgetKey(); location.hash = "#/signin"; render(); });
  who.append(out);
}

function signInView(target) {
  const { params } = parse();
  const err = views.el("p", { class: "error", role: "alert", id: "signin-error" });
  const form = views.el("form", { id: "signin" },
    views.el("label", { for: "client_id" }, "Client id"),
    views.el("input", { id: "client_id", name: "client_id", required: "", autocomplete: "username" }),
    views.el("label", { for: "client_secret" }, "Client secret"),
    views.el("input", { id: "client_secret", name: "client_secret", type: "password", required: "", autocomplete: "current-password" }),
    views.el("button", { type: "submit" }, "Sign in"),
    err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    try {
      const s = await api.signIn(form.client_id.value.trim(), form.client_secret.value);
      s.stakeholder = stakeholderOf(s.token);
      sessionStorage.setItem("sectwin.session", JSON.stringify(s));
      location.hash = params.get("next") || "#/";
    } catch (e) {
      err.textContent = e.message;
    }
  });
  target.replaceChildren(views.el("section", { class: "signin" },
    views.el("h1", {}, "Sign in"),
    views.el("p", { class: "muted" }, "With your organization's API credential (sectwin credential create). The secret is sent once to this node's token endpoint and never stored; the token is kept for this tab only."),
    form));
}

// The stakeholder a token acts for, for display only (the server decides
// every read by the token itself): the claims part of `st1.<claims>.<mac>`.
function stakeholderOf(token) {
  try {
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));
    return claims.stakeholder;
  } catch { return null; }
}

document.getElementById("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("q").value.trim();
  if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
});

// The skip link moves focus to the content without touching the route.
document.querySelector(".skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", render);
window.addEventListener("sectwin:rerender", render);
render();
