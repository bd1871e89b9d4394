// Digitale Lernhilfe: the pupils' pages. Plain JS module, no framework, nothing from outside
// the hub. Prompts, texts and options arrive as HTML the hub rendered and sanitised; every
// other string is set as text. Maths ($…$ in the authors' Markdown, .math elements in the
// HTML) is typeset by KaTeX as MathML: no inline styles, so the hub's strict policy holds.
// Progress stays in this browser (localStorage); a code carries it to another device.
// Offline (sw.js keeps what was opened): choices, orderings, matchings and word answers are
// checked here by the hub's offline rules (lernen-check.js); other answers wait in a queue
// and go to the hub when it answers again.

import katex from "/static/vendor/katex/dist/katex.mjs";
import { checkOffline } from "./lernen-check.js";

const API = "/api/v1/learning";
const main = document.getElementById("inhalt");
const STORE = "lernhilfe.fortschritt";
const QUEUE = "lernhilfe.warteschlange";
const CODE_PREFIX = "LH1.";
const ADDRESS = /^[a-z0-9][a-z0-9-]{0,79}\.[a-z0-9][a-z0-9-]{0,79}$/;
const MAX_QUEUE = 200;

function el(tag, attrs = {}, ...children) {
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

class Offline extends Error {}

// fetch, telling "the hub cannot be reached" (Offline) from an answer of the hub
async function reach(url, options) {
  try {
    return await fetch(url, options);
  } catch {
    throw new Offline("Keine Verbindung zur Lernhilfe.");
  }
}

// what this page read of the hub: asked again once sw.js controls the page, so an item
// opened on the first visit (before the worker ran) is kept for offline use too
const seen = new Set();

async function get(path) {
  seen.add(path);
  const answer = await reach(API + path, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(answer.status === 404 ? "Nicht gefunden." : "Fehler " + answer.status);
  return answer.json();
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

function show(title, ...content) {
  document.title = title + " – Digitale Lernhilfe Kassel";
  main.replaceChildren(el("h1", { text: title }), ...content);
  typeset(main);
  main.focus();
}

function progress() {
  try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch { return {}; }
}

function remember(exercise, correct) {
  const all = progress();
  const tries = (all[exercise] || []).concat(correct ? 1 : 0).slice(-10);
  all[exercise] = tries;
  localStorage.setItem(STORE, JSON.stringify(all));
}

function mastered(item) {
  const all = progress();
  const { correct, of } = item.mastery;
  const tries = item.exercises.flatMap((e) => all[e.id] || []).slice(-of);
  return tries.length >= of && tries.filter((t) => t === 1).length >= correct;
}

async function home() {
  const subjects = await get("/subjects");
  const grade = el("select", { id: "stufe" },
    el("option", { value: "", text: "alle" }),
    ...Array.from({ length: 13 }, (_, i) => el("option", { value: String(i + 1), text: String(i + 1) })));
  const list = el("ul", { class: "liste" }, ...subjects.map((s) => el("li", {},
    el("a", { href: `#/fach/${s.id}`, text: s.name, "data-fach": s.id }))));
  grade.addEventListener("change", () => {
    for (const link of list.querySelectorAll("a")) {
      link.setAttribute("href", `#/fach/${link.dataset.fach}` + (grade.value ? `?stufe=${grade.value}` : ""));
    }
  });
  show("Fächer", el("p", { text: "Wähle deine Klassenstufe und ein Fach." }),
    el("p", {}, el("label", { for: "stufe", text: "Klassenstufe " }), grade), list);
}

function entries(items) {
  if (!items.length) return el("p", { text: "Nichts gefunden." });
  return el("ul", { class: "liste" }, ...items.map((i) => el("li", {},
    el("a", { href: `#/items/${i.id}`, text: i.title }),
    el("span", { class: "meta", text: ` · Klasse ${i.grade_min}–${i.grade_max} · ` +
      (i.kind === "exercises" ? "Übungen" : "Erklärung") }))));
}

async function subject(id, params) {
  const grade = params.get("stufe");
  const page = await get(`/items?subject=${encodeURIComponent(id)}&limit=100` + (grade ? `&grade=${grade}` : ""));
  const names = Object.fromEntries((await get("/subjects")).map((s) => [s.id, s.name]));
  show(names[id] || id, el("p", { class: "meta", text: grade ? `Klassenstufe ${grade}` : "alle Klassenstufen" }),
    entries(page.items));
}

async function search(params) {
  const q = params.get("q") || "";
  const page = await get(`/items?q=${encodeURIComponent(q)}&limit=100`);
  show(`Suche: ${q}`, el("p", { class: "meta", text: `${page.total} Treffer` }), entries(page.items));
}

function answerOf(exercise, form) {
  switch (exercise.type) {
    case "single_choice":
    case "multiple_choice":
      return [...form.querySelectorAll("input:checked")].map((i) => i.value);
    case "ordering":
      return [...form.querySelectorAll("li")].map((li) => li.dataset.id);
    case "matching":
      return [...form.querySelectorAll("select")].map((s) => s.value);
    case "cloze":
      return [...form.querySelectorAll("input")].map((i) => i.value);
    default:
      return form.querySelector("input").value;
  }
}

function plain(html) {
  return new DOMParser().parseFromString(html, "text/html").body.textContent;
}

function moveButton(label, li, step) {
  return el("button", { type: "button", class: "leise", text: label, "aria-label": `${label}: ${li.firstChild.textContent}`,
    onclick: (event) => {
      const list = li.parentElement;
      const other = step < 0 ? li.previousElementSibling : li.nextElementSibling;
      if (!other) return;
      list.insertBefore(li, step < 0 ? other : other.nextElementSibling);
      event.currentTarget.focus();
    } });
}

function controls(exercise) {
  const name = exercise.id;
  switch (exercise.type) {
    case "single_choice":
    case "multiple_choice": {
      const kind = exercise.type === "single_choice" ? "radio" : "checkbox";
      return el("fieldset", {}, el("legend", { text: kind === "radio" ? "Wähle eine Antwort" : "Wähle alle richtigen Antworten" }),
        ...exercise.options.map((o, n) => el("label", { class: "option" },
          el("input", { type: kind, name, value: o.id, id: `${name}-${n}` }), " ", el("span", { html: o.text }))));
    }
    case "ordering": {
      const list = el("ol", {});
      for (const o of exercise.options) {
        const li = el("li", { "data-id": o.id, class: "reihe" }, el("span", { html: o.text }));
        li.append(moveButton("nach oben", li, -1), moveButton("nach unten", li, 1));
        list.append(li);
      }
      return el("fieldset", {}, el("legend", { text: "Bringe in die richtige Reihenfolge" }), list);
    }
    case "matching":
      return el("fieldset", {}, el("legend", { text: "Ordne zu" }), ...exercise.left.map((left, n) => {
        const id = `${name}-${n}`;
        // the name is also given as text: typeset maths (MathML) does not name a control
        return el("div", { class: "reihe" }, el("label", { for: id, html: left }),
          el("select", { id, "aria-label": `Zuordnung zu ${plain(left)}` },
            el("option", { value: "", text: "– wählen –" }),
            ...exercise.options.map((o) => el("option", { value: o.id, text: plain(o.text) }))));
      }));
    case "cloze":
      return el("p", { class: "meta", text: `Fülle die ${exercise.gaps} Lücken im Text aus.` });
    default: {
      const id = `${name}-antwort`;
      return el("div", { class: "reihe" }, el("label", { for: id, text: "Deine Antwort" }),
        el("input", { id, type: "text", autocomplete: "off", spellcheck: "false", inputmode:
          exercise.answer_kind === "text" ? "text" : "decimal" }));
    }
  }
}

function clozePrompt(exercise) {
  const prompt = el("div", { html: exercise.prompt });
  const walker = document.createTreeWalker(prompt, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const text of texts) {
    const parts = text.textContent.split(/\{\{(\d+)\}\}/);
    if (parts.length === 1) continue;
    const pieces = parts.map((part, n) => n % 2 === 0 ? document.createTextNode(part) :
      el("input", { type: "text", size: "10", autocomplete: "off", spellcheck: "false",
        "aria-label": `Lücke ${part}` }));
    text.replaceWith(...pieces);
  }
  return prompt;
}

function showVerdict(item, exercise, feedback, verdict, note = "") {
  feedback.textContent = verdict.feedback + note;
  feedback.className = "rueckmeldung " + (verdict.correct ? "richtig" : "falsch");
  remember(exercise.id, verdict.correct);
  if (item) status.textContent = mastered(item) ? "Geschafft: Diese Übung beherrschst du!" : "";
}

async function postCheck(address, answer) {
  const reply = await reach(`${API}/exercises/${encodeURIComponent(address)}/check`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ answer }) });
  if (!reply.ok) throw new Error(reply.status === 422 ? "Bitte beantworte die Aufgabe vollständig." : "Fehler " + reply.status);
  return reply.json();
}

function queued() {
  try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch { return []; }
}

function enqueue(address, answer) {
  const waiting = queued().filter((q) => q.exercise !== address).concat({ exercise: address, answer });
  localStorage.setItem(QUEUE, JSON.stringify(waiting.slice(-MAX_QUEUE)));
}

// the queued answers to the hub, oldest first; stops at the first that cannot be sent
let flushing = false;
async function flush() {
  if (flushing || !queued().length) return;
  flushing = true;
  try {
    for (const entry of queued()) {
      let verdict = null;
      try {
        verdict = await postCheck(entry.exercise, entry.answer);
      } catch (error) {
        if (error instanceof Offline) break;
      }
      localStorage.setItem(QUEUE, JSON.stringify(queued().filter((q) => q.exercise !== entry.exercise)));
      const card = document.querySelector(`form[data-exercise="${CSS.escape(entry.exercise)}"]`);
      if (verdict && card) showVerdict(card.item, { id: entry.exercise }, card.querySelector(".rueckmeldung"), verdict, " (nachgeprüft)");
      else if (verdict) remember(entry.exercise, verdict.correct);
    }
  } finally {
    flushing = false;
  }
}

function exerciseCard(item, exercise, n, rules) {
  const feedback = el("p", { class: "rueckmeldung", role: "status", "aria-live": "polite" });
  const form = el("form", { class: "karte", "aria-labelledby": `${exercise.id}-titel`, "data-exercise": exercise.id },
    el("h2", { id: `${exercise.id}-titel`, text: `${n}. ${exercise.title}` }),
    exercise.type === "cloze" ? clozePrompt(exercise) : el("div", { html: exercise.prompt }),
    controls(exercise), el("button", { type: "submit", text: "Prüfen" }), feedback);
  form.item = item;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    feedback.textContent = "Wird geprüft …";
    feedback.className = "rueckmeldung";
    const answer = answerOf(exercise, form);
    try {
      showVerdict(item, exercise, feedback, await postCheck(exercise.id, answer));
    } catch (error) {
      if (!(error instanceof Offline)) { feedback.textContent = error.message; return; }
      const verdict = checkOffline(rules, exercise.id, answer);
      if (verdict) { showVerdict(item, exercise, feedback, verdict, " (offline geprüft)"); return; }
      enqueue(exercise.id, answer);
      feedback.className = "rueckmeldung";
      feedback.textContent = "Du bist offline. Deine Antwort ist gespeichert; die Lernhilfe prüft sie, sobald die Verbindung wieder da ist.";
    }
  });
  return form;
}

let status = el("p");

async function item(id) {
  const it = await get(`/items/${encodeURIComponent(id)}`);
  // the rules for checking offline; kept by sw.js with the item
  const rules = await get(`/items/${encodeURIComponent(id)}/offline`).catch(() => null);
  status = el("p", { class: "rueckmeldung richtig", role: "status", "aria-live": "polite",
    text: it.kind === "exercises" && mastered(it) ? "Geschafft: Diese Übung beherrschst du!" : "" });
  show(it.title, el("p", { class: "meta", text: `Klasse ${it.grade_min}–${it.grade_max} · ${it.topic}` }),
    el("div", { html: it.body }), status,
    ...it.exercises.map((e, n) => exerciseCard(it, e, n + 1, rules)));
}

// -- progress: what this browser holds, and a code that carries it to another device --------

function valid(all) {
  return all && typeof all === "object" && !Array.isArray(all) && Object.entries(all).every(([k, v]) =>
    ADDRESS.test(k) && Array.isArray(v) && v.length <= 10 && v.every((t) => t === 0 || t === 1));
}

async function squeeze(text, stream) {
  const bytes = new Blob([text]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(bytes).arrayBuffer());
}

export async function progressCode() {
  const packed = await squeeze(JSON.stringify(progress()), new CompressionStream("deflate-raw"));
  let binary = "";
  for (const byte of packed) binary += String.fromCharCode(byte);
  return CODE_PREFIX + btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function readProgressCode(code) {
  const text = code.replace(/\s+/g, "");
  if (!text.startsWith(CODE_PREFIX) || text.length > 200_000) throw new Error("Das ist kein Fortschritts-Code der Lernhilfe.");
  try {
    const binary = atob(text.slice(CODE_PREFIX.length).replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const all = JSON.parse(new TextDecoder().decode(await squeeze(bytes, new DecompressionStream("deflate-raw"))));
    if (!valid(all)) throw new Error("shape");
    return all;
  } catch {
    throw new Error("Dieser Code ist nicht vollständig oder verschrieben. Kopiere ihn bitte noch einmal.");
  }
}

async function progressPage() {
  const all = progress();
  const tries = Object.values(all).flat();
  const code = el("textarea", { id: "code-aus", rows: "4", readonly: "", "aria-describedby": "code-hilfe" });
  code.value = await progressCode();
  const input = el("textarea", { id: "code-ein", rows: "4", spellcheck: "false" });
  const result = el("p", { class: "rueckmeldung", role: "status", "aria-live": "polite" });
  const load = el("form", { class: "karte" }, el("h2", { text: "Fortschritt übernehmen" }),
    el("label", { for: "code-ein", text: "Code von deinem anderen Gerät" }), input,
    el("p", {}, el("button", { type: "submit", text: "Übernehmen" })), result);
  load.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const imported = await readProgressCode(input.value);
      localStorage.setItem(STORE, JSON.stringify({ ...progress(), ...imported }));
      result.className = "rueckmeldung richtig";
      result.textContent = `Übernommen: ${Object.keys(imported).length} Aufgaben.`;
      code.value = await progressCode();
    } catch (error) {
      result.className = "rueckmeldung falsch";
      result.textContent = error.message;
    }
  });
  show("Dein Fortschritt",
    el("p", { text: `${Object.keys(all).length} Aufgaben geübt, ${tries.filter((t) => t === 1).length} von ${tries.length} Versuchen richtig.` }),
    el("section", { class: "karte" }, el("h2", { text: "Auf ein anderes Gerät mitnehmen" }),
      el("label", { for: "code-aus", text: "Dein Fortschritts-Code" }), code,
      el("p", { id: "code-hilfe", class: "meta", text: "Kopiere den Code und gib ihn auf dem anderen Gerät unter „Fortschritt“ ein. Er enthält nur, welche Aufgaben du wie gelöst hast, keinen Namen." })),
    load);
}

async function route() {
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "fach" && parts[1]) await subject(parts[1], params);
    else if (parts[0] === "items" && parts[1]) await item(parts[1]);
    else if (parts[0] === "suche") await search(params);
    else if (parts[0] === "fortschritt") await progressPage();
    else await home();
  } catch (error) {
    show("Das hat nicht geklappt", el("p", { text: error.message }), el("p", {}, el("a", { href: "#/", text: "Zur Startseite" })));
  }
}

document.getElementById("suche").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = `#/suche?q=${encodeURIComponent(document.getElementById("suchfeld").value)}`;
});
window.addEventListener("hashchange", route);
window.addEventListener("online", flush);
setInterval(flush, 5000); // the hub may come back without the browser noticing a change
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/lernen/sw.js", { scope: "/lernen/" }).catch(() => {});
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    for (const path of seen) fetch(API + path).catch(() => {});
  });
}
route().then(flush);
