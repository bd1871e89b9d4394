// The page's whole auth handling, in one place. An operator pastes a bearer token once: a
// token issued with `kassel hub token issue`, a static role token, or an OpenID Connect access
// token of the city's login (docs/security.md, "Identity"). It is checked with
// GET /api/v1/whoami and kept in sessionStorage: it lives as long as the tab, is not sent
// anywhere but this hub, and is gone when the tab is closed. A redirect login (OIDC code flow
// in the page) is not built yet.
const KEY = "kassel.hub.token";
const ROLE = "kassel.hub.role";

/** The role of the signed-in operator ("engineer", "admin") or null. */
export function role() { return sessionStorage.getItem(ROLE); }

/** Check a token with the hub and keep it; throws when it grants no role. */
export async function signIn(token) {
  const r = await fetch("/api/v1/whoami", { headers: { Authorization: `Bearer ${token}` } });
  const body = r.ok ? await r.json() : { role: "public" };
  if (body.role === "public") throw new Error("the hub does not know this token");
  sessionStorage.setItem(KEY, token);
  sessionStorage.setItem(ROLE, body.role);
  return body.role;
}

export function signOut() { sessionStorage.removeItem(KEY); sessionStorage.removeItem(ROLE); }

/** fetch() with the operator's token; a 401 signs the operator out (token revoked). */
export async function authFetch(path, init = {}) {
  const token = sessionStorage.getItem(KEY);
  const headers = new Headers(init.headers || {});
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401) signOut();
  return r;
}
