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

// a request to the API; ``token``: a teacher's key or a pupil's membership
export async function call(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (method === "GET" && !token) seen.add(path);
  const answer = await reach(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!answer.ok) {
    const error = new Error(REASONS[answer.status] || "Fehler " + answer.status);
    error.status = answer.status;
    throw error;
  }
  return answer.status === 204 ? null : answer.json();
}

export const get = (path) => call("GET", path);
