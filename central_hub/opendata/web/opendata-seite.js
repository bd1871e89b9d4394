// What every page of the Open Data Rathaus uses: building elements, showing a view, tables,
// the error summary, and reading the hub: CKAN's Action API (public) and the publisher's API
// (with a key). Every string from the hub is set as text (textContent), never as HTML.

export const CKAN = "/opendata/api/3/action";
export const PUBLISHER = "/api/v1/opendata";
const main = document.getElementById("inhalt");

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

// text only a screen reader reads (a button's full name, a unit)
export const hidden = (text) => el("span", { class: "versteckt", text });

export function table(caption, heads, rows, { rowHeads = true } = {}) {
  // a wide table scrolls on a phone: its region is focusable so the keyboard scrolls it too
  return el("div", { class: "breit", tabindex: "0", role: "region", "aria-label": caption },
    el("table", {}, el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c, n) =>
        n === 0 && rowHeads ? el("th", { scope: "row" }, c) : el("td", {}, c)))))));
}

// a list of facts: <dl> with a term and its value (text or nodes) each
export function facts(pairs) {
  return el("dl", { class: "fakten" }, ...pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));
}

// a view: one h1 that takes the focus, so a screen reader starts reading there
export function show(title, ...content) {
  document.title = `${title} – Open Data Rathaus Kassel`;
  const heading = el("h1", { tabindex: "-1", text: title });
  main.replaceChildren(heading, ...content.filter((c) => c !== null && c !== undefined && c !== false));
  heading.focus();
}

// GOV.UK's error summary: at the top of the view, focused, each problem a link to its field
export function errorSummary(problems) {
  return el("div", { class: "fehler", role: "alert", tabindex: "-1", "aria-labelledby": "fehler-titel" },
    el("h2", { id: "fehler-titel", text: "Es gibt ein Problem" }),
    el("ul", {}, ...problems.map((p) => el("li", {},
      p.field ? el("a", { href: `#${p.field}`, text: p.text, "data-feld": p.field,
        onclick: (event) => {
          event.preventDefault(); // the hash is the router's: focus the field instead
          document.getElementById(p.field)?.focus();
        } }) : p.text))));
}

// put an error summary at the top of the view (replacing an earlier one) and focus it
export function reportProblems(problems) {
  main.querySelector(".fehler")?.remove();
  const summary = errorSummary(problems);
  main.prepend(summary);
  summary.focus();
  return summary;
}

export function clearProblems() {
  main.querySelector(".fehler")?.remove();
}

// a confirmation or success message at the top of the view
export function notify(text) {
  main.querySelector(".hinweis")?.remove();
  const box = el("div", { class: "hinweis", role: "status", tabindex: "-1" }, el("p", { text }));
  main.querySelector("h1").after(box);
  box.focus();
  return box;
}

// -- formats ------------------------------------------------------------------------------

const NUMBER = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 2 });
export const number = (value) => NUMBER.format(value);

export function bytes(size) {
  if (size === null || size === undefined) return "";
  if (size < 1024) return `${size} Byte`;
  if (size < 1024 * 1024) return `${number(size / 1024)} KB`;
  return `${number(size / 1024 / 1024)} MB`;
}

// a day "2026-03-01" (or CKAN's UTC time "2026-03-01T12:00:00") in German
export function day(text) {
  if (!text) return "";
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /Z|[+-]\d\d:\d\d$/.test(text) ? text : `${text}Z`;
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return text;
  return when.toLocaleDateString("de-DE", { day: "numeric", month: "long", year: "numeric", timeZone: "Europe/Berlin" });
}

export function moment(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toLocaleString("de-DE", { dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Berlin" });
}

export function excerpt(text, length = 220) {
  if (!text || text.length <= length) return text || "";
  const cut = text.slice(0, length);
  return cut.slice(0, Math.max(cut.lastIndexOf(" "), length - 30)) + " …";
}

// a CKAN extra by key ("" if missing)
export function extra(pkg, key) {
  const found = (pkg.extras || []).find((e) => e.key === key);
  return found ? String(found.value) : "";
}

// a URL the hub gave (absolute, at its public address) as one this page may fetch: the
// page's policy allows its own origin only
export function local(url) {
  const parsed = new URL(url, location.href);
  return parsed.origin === location.origin ? parsed.href : location.origin + parsed.pathname + parsed.search;
}

// -- the hub ------------------------------------------------------------------------------

export class Problem extends Error {
  constructor(message, status, detail) {
    super(message);
    this.status = status;
    this.detail = detail || "";
  }
}

async function reach(url, options) {
  try {
    return await fetch(url, options);
  } catch {
    throw new Problem("Keine Verbindung zum Open Data Rathaus.", 0);
  }
}

// a CKAN action (GET with query parameters); the result, or a Problem with CKAN's error
export async function ckan(action, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ""));
  const answer = await reach(`${CKAN}/${action}?${query}`, { headers: { Accept: "application/json" } });
  const body = await answer.json().catch(() => null);
  if (!answer.ok || !body || body.success !== true) {
    const error = body && body.error ? body.error : {};
    const kind = error.__type || `Fehler ${answer.status}`;
    if (answer.status === 404) throw new Problem("Diesen Datensatz gibt es nicht (mehr).", 404, kind);
    throw new Problem(`Die Anfrage wurde abgelehnt (${kind}).`, answer.status, error.message || "");
  }
  return body.result;
}

export async function fetchText(url) {
  const answer = await reach(local(url), {});
  if (!answer.ok) throw new Problem(`Die Datei konnte nicht geladen werden (Fehler ${answer.status}).`, answer.status);
  return answer.text();
}

export async function fetchJson(url) {
  return JSON.parse(await fetchText(url));
}

const REASONS = { 401: "Bitte melden Sie sich an.", 403: "Dafür fehlt Ihnen die Berechtigung.",
  404: "Nicht gefunden.", 409: "Das geht in diesem Zustand nicht.", 422: "Die Anfrage ist ungültig.",
  429: "Zu viele Anfragen. Bitte kurz warten.", 503: "Der Erzeuger ist fehlgeschlagen." };

// a request to the publisher's API with the key; a refusal is thrown with the hub's reason
export async function call(method, path, token) {
  const answer = await reach(PUBLISHER + path, { method,
    headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
  if (!answer.ok) {
    const reason = await answer.json().then((j) => j.detail).catch(() => null);
    throw new Problem(REASONS[answer.status] || `Fehler ${answer.status}`, answer.status,
      typeof reason === "string" ? reason : "");
  }
  return answer.json();
}

// -- the publisher's key (kept in this tab only) -------------------------------------------

const KEY = "opendata.schluessel";
export const staffKey = () => sessionStorage.getItem(KEY);
export const keepKey = (key) => sessionStorage.setItem(KEY, key);
export const forgetKey = () => sessionStorage.removeItem(KEY);

// the roles a key holds (the hub's whoami); an empty list for a key the hub does not accept
export async function rolesOf(key) {
  const answer = await reach("/api/v1/whoami", { headers: { Authorization: `Bearer ${key}`, Accept: "application/json" } });
  if (!answer.ok) return [];
  const who = await answer.json();
  return who.kind === "staff" ? who.roles : [];
}
