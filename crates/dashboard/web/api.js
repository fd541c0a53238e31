// The dashboard's one door to the server: the public HTTP API, with the
// bearer token of the signed-in stakeholder. The token lives in
// sessionStorage (this tab only, gone when it closes) and sign-out forgets
// it; the client secret is never stored. Deliberately absent: any data of
// its own: every view reads what any API client of the same stakeholder gets.

const KEY = "sectwin.session";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
      if (s && s.expires_at > Date.now()) return s;
    } catch { /* a damaged entry is no session */ }
    return null;
  },
  clear() { sessionStorage.removeItem(KEY); },
};

// Exchanges client credentials for a bearer token (POST /oauth/token).
export async function signIn(clientId, clientSecret) {
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });
  // credentials "omit": the endpoint's 401 challenges with Basic (RFC 6749
  // §5.2), which would otherwise open the browser's own login prompt.
  const res = await fetch("/oauth/token", { method: "POST", body, credentials: "omit", headers: { "content-type": "application/x-www-form-urlencoded" } });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new ApiError(res.status, answer.error_description || answer.error || `sign-in refused (${res.status})`);
  }
  // Which stakeholder the token acts for: the credential decides, the API says.
  const s = { token: answer.access_token, expires_at: Date.now() + answer.expires_in * 1000, client_id: clientId };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

function headers(extra = {}) {
  const s = session.get();
  return s ? { authorization: `Bearer ${s.token}`, ...extra } : extra;
}

async function check(res, path) {
  if (res.ok) return res;
  let detail = "";
  try { const p = await res.json(); detail = p.detail || p.message || p.title || ""; } catch { /* not JSON */ }
  if (res.status === 401) session.clear();
  throw new ApiError(res.status, detail || `${path}: ${res.status} ${res.statusText}`);
}

export async function get(path) {
  const res = await fetch(path, { headers: headers({ accept: "application/json" }) });
  return (await check(res, path)).json();
}

export async function getBytes(path) {
  const res = await fetch(path, { headers: headers() });
  return new Uint8Array(await (await check(res, path)).arrayBuffer());
}

export async function getText(path) {
  const res = await fetch(path, { headers: headers(), cache: "no-store" });
  return (await check(res, path)).text();
}

export async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: headers({ "content-type": "application/json", accept: "application/json" }), body: JSON.stringify(body) });
  return (await check(res, path)).json();
}

// The whole of a paged list (page_token), up to `max` items.
export async function all(path, field, max = 5000) {
  const out = [];
  let token = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}page_size=1000${token ? `&page_token=${encodeURIComponent(token)}` : ""}`);
    out.push(...page[field]);
    token = page.next_page_token;
  } while (token && out.length < max);
  return out;
}

export const q = encodeURIComponent;
