// Digitale Lernhilfe: the pupils' pages and the router. Plain JS modules, no framework,
// nothing from outside the hub. Progress stays in this browser (lernen-fortschritt.js); a code
// carries it to another device, and a pupil may opt into a teacher's class (lernen-klasse.js).
// Volunteers write and review items in the editorial pages (lernen-redaktion.js).
// Offline, sw.js keeps what was opened and lernen-aufgaben.js judges what it can.

import { exerciseCard, flush } from "./lernen-aufgaben.js";
import { classSection, teacherPage } from "./lernen-klasse.js";
import { editorialPage } from "./lernen-redaktion.js";
import { mastered, progress, progressCode, takeProgressCode } from "./lernen-fortschritt.js";
import { API, el, get, seen, show } from "./lernen-seite.js";

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

// a subject's items at a grade, by topic (Fach → Klassenstufe → Thema → Eintrag)
async function subject(id, params) {
  const grade = params.get("stufe");
  const page = await get(`/items?subject=${encodeURIComponent(id)}&limit=100` + (grade ? `&grade=${grade}` : ""));
  const names = Object.fromEntries((await get("/subjects")).map((s) => [s.id, s.name]));
  const topics = new Map();
  for (const i of page.items) topics.set(i.topic, (topics.get(i.topic) || []).concat(i));
  const sections = [...topics].sort(([a], [b]) => a.localeCompare(b, "de")).map(([topic, items]) =>
    el("section", {}, el("h2", { text: topic }), entries(items)));
  show(names[id] || id, el("p", { class: "meta", text: grade ? `Klassenstufe ${grade}` : "alle Klassenstufen" }),
    ...(sections.length ? sections : [entries([])]));
}

// a search, narrowed by subject and grade
async function search(params) {
  const q = params.get("q") || "", fach = params.get("fach") || "", stufe = params.get("stufe") || "";
  const query = new URLSearchParams({ q, limit: "100", ...(fach ? { subject: fach } : {}), ...(stufe ? { grade: stufe } : {}) });
  const [page, subjects] = await Promise.all([get(`/items?${query}`), get("/subjects")]);
  const subject = el("select", { id: "filter-fach" }, el("option", { value: "", text: "alle Fächer" }),
    ...subjects.map((x) => el("option", { value: x.id, text: x.name })));
  const grade = el("select", { id: "filter-stufe" }, el("option", { value: "", text: "alle Klassenstufen" }),
    ...Array.from({ length: 13 }, (_, i) => el("option", { value: String(i + 1), text: `Klasse ${i + 1}` })));
  subject.value = fach;
  grade.value = stufe;
  const narrow = el("form", { class: "reihe", "aria-label": "Suche eingrenzen" },
    el("label", { for: "filter-fach", text: "Fach" }), subject,
    el("label", { for: "filter-stufe", text: "Klassenstufe" }), grade,
    el("button", { type: "submit", text: "Eingrenzen" }));
  narrow.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams({ q, ...(subject.value ? { fach: subject.value } : {}), ...(grade.value ? { stufe: grade.value } : {}) });
    location.hash = `#/suche?${next}`;
  });
  show(`Suche: ${q}`, narrow, el("p", { class: "meta", text: `${page.total} Treffer` }), entries(page.items));
}

async function item(id) {
  const it = await get(`/items/${encodeURIComponent(id)}`);
  // the rules for checking offline; kept by sw.js with the item
  const rules = await get(`/items/${encodeURIComponent(id)}/offline`).catch(() => null);
  const status = el("p", { id: "geschafft", class: "rueckmeldung richtig", role: "status", "aria-live": "polite",
    text: it.kind === "exercises" && mastered(it) ? "Geschafft: Diese Übung beherrschst du!" : "" });
  show(it.title, el("p", { class: "meta", text: `Klasse ${it.grade_min}–${it.grade_max} · ${it.topic}` }),
    el("div", { html: it.body }), status,
    ...it.exercises.map((e, n) => exerciseCard(it, e, n + 1, rules)));
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
      const count = await takeProgressCode(input.value);
      result.className = "rueckmeldung richtig";
      result.textContent = `Übernommen: ${count} Aufgaben.`;
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
    load, await classSection());
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
    else if (parts[0] === "lehrkraft") await teacherPage(parts[1] && decodeURIComponent(parts[1]));
    else if (parts[0] === "redaktion") await editorialPage(parts[1] && decodeURIComponent(parts[1]));
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
