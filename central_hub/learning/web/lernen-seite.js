// What every page of the Digitale Lernhilfe uses: building elements, showing a page with its
// maths typeset, and reading the hub's API. HTML is set only where the hub sanitised it (the
// "html" attribute); every other string is set as text. Maths is typeset by KaTeX as MathML:
// no inline styles, so the hub's strict policy holds.

import katex from "/static/vendor/katex/dist/katex.mjs";

export const API = "/api/v1/learning";
const main = document.getElementById("inhalt");

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value; // only HTML the hub sanitised
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function message(node, text, good) {
  node.className = "rueckmeldung " + (good ? "richtig" : "falsch");
  node.textContent = text;
}

export function table(caption, heads, rows) {
  // a wide table scrolls on a phone: its region is focusable so the keyboard scrolls it too
  return el("div", { class: "breit", tabindex: "0", role: "region", "aria-label": caption }, el("table", {}, el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c, n) =>
      n === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c)))))));
}

export function plain(html) {
  return new DOMParser().parseFromString(html, "text/html").body.textContent;
}

function typeset(root) {
  for (const node of root.querySelectorAll(".math")) {
    const tex = node.textContent;
    try {
      katex.render(tex, node, { output: "mathml", displayMode: node.tagName === "DIV", throwOnError: true });
    } catch {
      node.textContent = tex; // TeX KaTeX cannot read stays readable as it was written
    }
  }
}

export function show(title, ...content) {
  document.title = title + " – Digitale Lernhilfe Kassel";
  main.replaceChildren(el("h1", { text: title }), ...content);
  typeset(main);
  main.focus();
}

// "the hub cannot be reached", told apart from an answer of the hub
export class Offline extends Error {}

export async function reach(url, options) {
  try {
    return await fetch(url, options);
  } catch {
    throw new Offline("Keine Verbindung zur Lernhilfe.");
  }
}

const REASONS = { 401: "Bitte melde dich an.", 403: "Dafür fehlt dir die Berechtigung.", 404: "Nicht gefunden.",
  409: "Das geht gerade nicht.", 422: "Bitte prüfe deine Eingabe.", 429: "Zu viele Anfragen. Warte kurz." };

// what this page read of the hub: read again once sw.js controls the page, so an item opened
// on the first visit (before the worker ran) is kept for offline use too
export const seen = new Set();

// a request to the API; ``token``: a staff key or a pupil's membership; ``raw``: a body sent as
// it is (a file, a YAML document) with its ``type``. A refusal is thrown with its status and
// the hub's reason (``detail``: a text, or the first problem named)
export async function call(method, path, { body, raw, type, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (raw !== undefined) headers["Content-Type"] = type;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (method === "GET" && !token) seen.add(path);
  const sent = raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body);
  const answer = await reach(API + path, { method, headers, body: sent });
  if (!answer.ok) {
    const error = new Error(REASONS[answer.status] || "Fehler " + answer.status);
    error.status = answer.status;
    const reason = await answer.json().then((j) => j.detail).catch(() => null);
    error.detail = typeof reason === "string" ? reason : Array.isArray(reason) && reason[0] ?
      [reason[0].line && `Zeile ${reason[0].line}`, reason[0].msg].filter(Boolean).join(": ") : "";
    throw error;
  }
  return answer.status === 204 ? null : answer.json();
}

export const get = (path) => call("GET", path);

// -- staff: the key of a teacher, author or reviewer (kept in this tab only) ------------------

const KEY = "lernhilfe.schluessel";
export const staffKey = () => sessionStorage.getItem(KEY);
export const forgetKey = () => sessionStorage.removeItem(KEY);

export function signOut(then) {
  return el("button", { type: "button", class: "leise", text: "Abmelden", onclick: () => {
    forgetKey();
    then();
  } });
}

// the roles a key holds (the hub's whoami); an empty list for a key the hub does not accept
export async function rolesOf(key) {
  const answer = await reach("/api/v1/whoami", { headers: { Authorization: `Bearer ${key}`, Accept: "application/json" } });
  if (!answer.ok) return [];
  const who = await answer.json();
  return who.kind === "staff" ? who.roles : [];
}

// a sign-in form for staff pages: ``wanted`` roles (any of them) admit; ``then`` shows the page
export function keyForm(title, wanted, then) {
  const key = el("input", { id: "schluessel", type: "password", autocomplete: "off" });
  const result = el("p", { class: "rueckmeldung", role: "status", "aria-live": "polite" });
  const form = el("form", { class: "karte" },
    el("p", { text: "Melde dich mit dem Zugangsschlüssel an, den du von der Stadt erhalten hast." }),
    el("div", { class: "reihe" }, el("label", { for: "schluessel", text: "Zugangsschlüssel" }), key),
    el("p", {}, el("button", { type: "submit", text: "Anmelden" })), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const roles = await rolesOf(key.value.trim());
    if (!roles.some((r) => wanted.includes(r))) {
      result.className = "rueckmeldung falsch";
      result.textContent = roles.length ? "Dieser Schlüssel gilt hier nicht." : "Dieser Schlüssel gilt nicht.";
      return;
    }
    sessionStorage.setItem(KEY, key.value.trim());
    await then();
  });
  show(title, form);
}
