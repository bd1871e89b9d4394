// The editorial pages: volunteers write and import items, others review them (four eyes).
// Authors (role learning_author) write an item as YAML, the format of the starter content, or
// import a GIFT or Moodle XML file; every save is a new revision, and the hub says which of its
// sample answers fail. Reviewers (role learning_reviewer) take the oldest waiting item first,
// read the diff from the published revision and the comments, and approve or reject. What
// the hub refuses (a reviewer approving their own item, a failing sample) is shown as the
// hub's reason.

import {
  call, el, forgetKey, keyForm, message, rolesOf, show, signOut, staffKey, table,
} from "./lernen-seite.js";

const ROLES = ["learning_author", "learning_reviewer"];
const TEMPLATE = `id: mein-thema
title: Mein Thema
kind: exercises
subject: mathematik
topic: Thema
grade_min: 5
grade_max: 6
exercises:
  - id: a1
    type: input
    title: Erste Aufgabe
    prompt: Was ist 3 + 4?
    solution: |
      3 + 4 = 7
    answer: {kind: number, value: "7"}
    samples: {accept: ["7"], reject: ["8"]}
`;

const since = (iso) => new Date(iso).toLocaleString("de-DE", { dateStyle: "medium", timeStyle: "short" });
const STATUS = { draft: "wartet auf Prüfung", in_review: "wartet auf Prüfung", published: "veröffentlicht", rejected: "zurückgewiesen" };

function failures(list) {
  if (!list.length) return el("p", { class: "rueckmeldung richtig", text: "Alle Beispielantworten werden richtig beurteilt." });
  return el("div", { class: "karte" }, el("p", { class: "rueckmeldung falsch",
    text: `${list.length} Beispielantworten werden anders beurteilt als angegeben; so kann die Fassung nicht freigegeben werden:` }),
  el("ul", {}, ...list.map((f) => el("li", { text: f }))));
}

function documentForm(label, text, save) {
  const area = el("textarea", { id: "dokument", rows: "18", spellcheck: "false" });
  area.value = text;
  const result = el("div", { role: "status", "aria-live": "polite" });
  const form = el("form", { class: "karte" }, el("label", { for: "dokument", text: "Dokument (YAML)" }), area,
    el("p", {}, el("button", { type: "submit", text: label })), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await save(area.value);
      result.replaceChildren(el("p", { class: "rueckmeldung richtig",
        text: `Gespeichert: Fassung ${saved.revision} von „${saved.item_id}“, ${STATUS[saved.status]}.` }),
      failures(saved.failures), el("p", {}, el("a", { href: `#/redaktion/${saved.item_id}`, text: "Zur Prüfansicht" })));
    } catch (error) {
      const p = el("p");
      message(p, error.detail || error.message, false);
      result.replaceChildren(p);
    }
  });
  return form;
}

function importForm(token, subjects) {
  const file = el("input", { id: "datei", type: "file", accept: ".gift,.txt,.xml" });
  const format = el("select", { id: "format" }, el("option", { value: "gift", text: "GIFT" }),
    el("option", { value: "moodle-xml", text: "Moodle XML" }));
  const subject = el("input", { id: "fach", type: "text", list: "faecher", value: "mathematik" });
  const grade = el("input", { id: "stufe-import", type: "number", min: "1", max: "13", value: "5" });
  const result = el("div", { role: "status", "aria-live": "polite" });
  const form = el("form", { class: "karte" }, el("h2", { text: "Aus Moodle importieren" }),
    el("div", { class: "reihe" }, el("label", { for: "datei", text: "Datei" }), file),
    el("div", { class: "reihe" }, el("label", { for: "format", text: "Format" }), format),
    el("div", { class: "reihe" }, el("label", { for: "fach", text: "Fach" }), subject,
      el("datalist", { id: "faecher" }, ...subjects.map((s) => el("option", { value: s.id, text: s.name })))),
    el("div", { class: "reihe" }, el("label", { for: "stufe-import", text: "Klassenstufe" }), grade),
    el("p", {}, el("button", { type: "submit", text: "Importieren" })), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const p = el("p");
    result.replaceChildren(p);
    if (!file.files.length) { message(p, "Bitte wähle eine Datei.", false); return; }
    try {
      const query = new URLSearchParams({ format: format.value, subject: subject.value, grade: grade.value });
      const done = await call("POST", `/import?${query}`, { raw: file.files[0],
        type: format.value === "gift" ? "text/plain" : "application/xml", token });
      message(p, `Importiert: ${done.imported} Fragen als Entwurf „${done.item_id}“.`, true);
      result.append(el("p", {}, el("a", { href: `#/redaktion/${done.item_id}`, text: "Zur Prüfansicht" })),
        ...(done.skipped.length ? [el("p", { text: "Nicht übernommen:" }),
          el("ul", {}, ...done.skipped.map((s) => el("li", { text: `${s.question}: ${s.reason}` })))] : []));
    } catch (error) {
      message(p, error.detail || error.message, false);
    }
  });
  return form;
}

async function desk(token, roles) {
  const parts = [el("p", {}, signOut(editorialPage))];
  if (roles.includes("learning_reviewer")) {
    const queue = await call("GET", "/review-queue", { token });
    parts.push(el("h2", { text: "Prüfen" }), queue.length
      ? table("Warten auf Prüfung, die ältesten zuerst", ["Titel", "von", "Fassung", "wartet seit"], queue.map((q) => [
        el("a", { href: `#/redaktion/${encodeURIComponent(q.id)}`, text: q.title }), q.author, String(q.revision), since(q.waiting_since)]))
      : el("p", { text: "Nichts wartet auf Prüfung." }));
  }
  if (roles.includes("learning_author")) {
    const subjects = await call("GET", "/subjects");
    parts.push(el("h2", { text: "Schreiben" }),
      el("p", { class: "meta", text: "Ein Eintrag ist ein YAML-Dokument wie die Startinhalte: Aufgaben mit Musterlösung und Beispielantworten, die richtig und falsch beurteilt werden müssen." }),
      documentForm("Als Entwurf speichern", TEMPLATE, (text) => call("POST", "/drafts", { raw: text, type: "application/yaml", token })),
      importForm(token, subjects));
  }
  show("Redaktion", ...parts);
}

async function reviewView(token, roles, id) {
  const d = await call("GET", `/drafts/${encodeURIComponent(id)}`, { token });
  const parts = [
    el("p", { class: "meta", text: `${d.id} · Fassung ${d.revision} · ${STATUS[d.status] || d.status} · angelegt von ${d.author}` }),
    el("p", { text: "Fassungen: " + d.revisions.map((r) => `${r.revision} (${r.author})`).join(", ") }),
    failures(d.failures),
    el("h2", { text: "Änderungen gegenüber der veröffentlichten Fassung" }),
    el("pre", { class: "diff", tabindex: "0", "aria-label": "Änderungen", text: d.diff || "keine" }),
    el("h2", { text: "Bisherige Prüfungen" }),
    d.reviews.length ? el("ul", {}, ...d.reviews.map((r) => el("li", {
      text: `Fassung ${r.revision}: ${r.decision === "approve" ? "freigegeben" : "zurückgewiesen"} von ${r.reviewer}${r.comment ? ` – „${r.comment}“` : ""}` })))
      : el("p", { text: "Noch keine." }),
  ];
  if (roles.includes("learning_reviewer") && (d.status === "draft" || d.status === "in_review")) {
    const comment = el("textarea", { id: "kommentar", rows: "3" });
    const result = el("p", { class: "rueckmeldung", role: "status", "aria-live": "polite" });
    const decide = (decision) => async () => {
      try {
        const done = await call("POST", `/items/${encodeURIComponent(id)}/review`, { body: { decision, comment: comment.value }, token });
        message(result, done.status === "published" ? "Freigegeben: jetzt für alle sichtbar." : "Zurückgewiesen.", true);
      } catch (error) {
        message(result, error.status === 403 ? "Du hast an diesem Eintrag mitgeschrieben: Eine andere Person muss ihn prüfen." :
          error.detail || error.message, false);
      }
    };
    parts.push(el("section", { class: "karte", "aria-labelledby": "pruefen-titel" },
      el("h2", { id: "pruefen-titel", text: "Prüfen" }),
      el("label", { for: "kommentar", text: "Kommentar für die Autorin oder den Autor" }), comment,
      el("p", { class: "reihe" }, el("button", { type: "button", text: "Freigeben", onclick: decide("approve") }),
        el("button", { type: "button", class: "leise", text: "Zurückweisen", onclick: decide("reject") })), result));
  }
  if (roles.includes("learning_author")) {
    parts.push(el("h2", { text: "Neue Fassung schreiben" }),
      documentForm("Als neue Fassung speichern", d.yaml,
        (text) => call("PUT", `/drafts/${encodeURIComponent(id)}`, { raw: text, type: "application/yaml", token })));
  }
  parts.push(el("p", {}, el("a", { href: "#/redaktion", text: "Zur Redaktion" })));
  show(d.document.title || id, ...parts);
}

export async function editorialPage(id) {
  const token = staffKey();
  const roles = token ? await rolesOf(token) : [];
  if (!roles.some((r) => ROLES.includes(r))) {
    forgetKey();
    keyForm("Redaktion", ROLES, () => editorialPage(id));
    return;
  }
  if (id) await reviewView(token, roles, id);
  else await desk(token, roles);
}
