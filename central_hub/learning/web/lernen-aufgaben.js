// An exercise as a card the pupil answers with the keyboard or a finger, and where its answer
// goes: to the hub's check route; when the hub cannot be reached, judged here by the hub's
// offline rules (lernen-check.js: choices, orderings, matchings, word answers) or kept in the
// queue until the hub answers again. A pupil in a class sends its membership with each check,
// so the hub counts the verdict for the class (an answer judged here is sent later for that).

import { checkOffline } from "./lernen-check.js";
import {
  dropOldest, enqueue, mastered, membership, queued, remember,
} from "./lernen-fortschritt.js";
import { call, el, Offline, plain } from "./lernen-seite.js";

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

function showVerdict(form, verdict, note = "") {
  const feedback = form.querySelector(".rueckmeldung");
  feedback.textContent = verdict.feedback + note;
  feedback.className = "rueckmeldung " + (verdict.correct ? "richtig" : "falsch");
  remember(form.dataset.exercise, verdict.correct);
  const status = document.getElementById("geschafft");
  if (status && form.item) status.textContent = mastered(form.item) ? "Geschafft: Diese Übung beherrschst du!" : "";
}

function postCheck(address, answer) {
  const member = membership();
  return call("POST", `/exercises/${encodeURIComponent(address)}/check`,
    { body: { answer }, token: member ? member.token : undefined }).catch((error) => {
    if (error.status === 422) error.message = "Bitte beantworte die Aufgabe vollständig.";
    throw error;
  });
}

// the queued answers to the hub, oldest first; stops at the first that cannot be sent
let flushing = false;
export async function flush() {
  if (flushing) return;
  flushing = true;
  try {
    for (let entry = queued()[0]; entry; entry = queued()[0]) {
      let verdict = null;
      try {
        verdict = await postCheck(entry.exercise, entry.answer);
      } catch (error) {
        // not reached, too many at once, or the hub failing: later; refused as it is: dropped
        if (error instanceof Offline || error.status === 429 || !(error.status < 500)) break;
      }
      dropOldest(entry);
      if (!verdict || entry.counted) continue; // judged here already: only counted now
      const card = document.querySelector(`form[data-exercise="${CSS.escape(entry.exercise)}"]`);
      if (card) showVerdict(card, verdict, " (nachgeprüft)");
      else remember(entry.exercise, verdict.correct);
    }
  } finally {
    flushing = false;
  }
}

export function exerciseCard(item, exercise, n, rules) {
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
      showVerdict(form, await postCheck(exercise.id, answer));
    } catch (error) {
      if (!(error instanceof Offline)) { feedback.textContent = error.message; return; }
      const verdict = checkOffline(rules, exercise.id, answer);
      if (verdict) {
        showVerdict(form, verdict, " (offline geprüft)");
        if (membership()) enqueue(exercise.id, answer, true);
        return;
      }
      enqueue(exercise.id, answer);
      feedback.className = "rueckmeldung";
      feedback.textContent = "Du bist offline. Deine Antwort ist gespeichert; die Lernhilfe prüft sie, sobald die Verbindung wieder da ist.";
    }
  });
  return form;
}
