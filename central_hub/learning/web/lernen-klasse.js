// Classes: a pupil opts into a teacher's class with its code and practises under a pseudonym
// the hub draws ("Fuchs 17"); the teacher sees how the class does per exercise and per
// pseudonym, never a name. The teacher's key (a token of the city's identity service with
// the role learning_teacher) stays in this tab only (lernen-seite.js).

import { joined, left, membership } from "./lernen-fortschritt.js";
import {
  call, el, forgetKey, keyForm, message, show, signOut, staffKey, table,
} from "./lernen-seite.js";

// -- pupils: joining and leaving ------------------------------------------------------------

export async function classSection() {
  const section = el("section", { class: "karte", "aria-labelledby": "klasse-titel" },
    el("h2", { id: "klasse-titel", text: "Mit deiner Klasse üben" }));
  const result = el("p", { class: "rueckmeldung", role: "status", "aria-live": "polite" });
  let member = membership();
  if (member) {
    try {
      await call("GET", "/membership", { token: member.token });
    } catch (error) {
      if (error.status === 401) { // the class was closed: nothing of it is kept
        left();
        member = null;
        message(result, "Deine Klasse wurde geschlossen; was über dich gespeichert war, ist gelöscht.", false);
      }
    }
  }
  if (member) {
    const leave = el("button", { type: "button", class: "leise", text: "Klasse verlassen" });
    leave.addEventListener("click", async () => {
      try {
        await call("DELETE", "/membership", { token: member.token });
      } catch (error) {
        if (error.status !== 401) { message(result, error.message, false); return; }
      }
      left();
      section.replaceWith(await classSection());
    });
    section.append(el("p", { "data-testid": "klasse", text: `Du übst in der Klasse „${member.class_title}“ als „${member.pseudonym}“. ` +
      "Deine Lehrkraft sieht unter diesem Fantasienamen, welche Aufgaben du wie gelöst hast." }),
    el("p", {}, leave), result);
    return section;
  }
  const code = el("input", { id: "klassencode", type: "text", autocomplete: "off", spellcheck: "false",
    autocapitalize: "characters", maxlength: "32" });
  const consent = el("input", { id: "einwilligung", type: "checkbox" });
  const form = el("form", {},
    el("p", { class: "meta", text: "Wenn deine Lehrkraft dir einen Klassencode gibt, kannst du ihr zeigen, wie du übst: " +
      "Die Lernhilfe gibt dir einen Fantasienamen, deinen Namen erfährt niemand. Du kannst die Klasse jederzeit verlassen; " +
      "dann wird gelöscht, was über dich gespeichert war." }),
    el("div", { class: "reihe" }, el("label", { for: "klassencode", text: "Klassencode" }), code),
    el("div", { class: "reihe" }, consent, el("label", { for: "einwilligung",
      text: "Ich möchte, dass meine Lehrkraft meinen Fortschritt unter einem Fantasienamen sieht." })),
    el("p", {}, el("button", { type: "submit", text: "Beitreten" })), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!consent.checked) { message(result, "Bitte bestätige zuerst, dass du mitmachen möchtest.", false); return; }
    try {
      const answer = await call("POST", `/classes/${encodeURIComponent(code.value.trim())}/members`);
      joined(answer);
      const next = await classSection();
      section.replaceWith(next);
      message(next.querySelector(".rueckmeldung"), `Willkommen! Dein Fantasiename ist „${answer.pseudonym}“.`, true);
    } catch (error) {
      message(result, error.status === 404 ? "Diesen Klassencode gibt es nicht. Prüfe ihn bitte." : error.message, false);
    }
  });
  section.append(form);
  return section;
}

// -- teachers: the key, the classes, a class's overview ---------------------------------------

const percent = (right, all) => (all ? `${Math.round((100 * right) / all)} %` : "–");


async function classList(token) {
  const classes = await call("GET", "/classes", { token });
  const title = el("input", { id: "klassenname", type: "text", maxlength: "120", required: "" });
  const result = el("p", { class: "rueckmeldung", role: "status", "aria-live": "polite" });
  const create = el("form", { class: "karte" }, el("h2", { text: "Neue Klasse" }),
    el("div", { class: "reihe" }, el("label", { for: "klassenname", text: "Name der Klasse" }), title),
    el("p", {}, el("button", { type: "submit", text: "Klassencode erzeugen" })), result);
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await call("POST", "/classes", { body: { title: title.value }, token });
      await teacherPage();
      message(document.querySelector("#klassen-ergebnis"), `Der Code für „${made.title}“ ist ${made.code}.`, true);
    } catch (error) {
      message(result, error.message, false);
    }
  });
  show("Meine Klassen", el("p", {}, signOut(teacherPage)),
    el("p", { id: "klassen-ergebnis", class: "rueckmeldung", role: "status", "aria-live": "polite" }),
    classes.length ? table("Klassen und ihre Codes", ["Klasse", "Code", "Kinder", ""], classes.map((c) => [
      c.title, el("code", { text: c.code }), String(c.members),
      el("a", { href: `#/lehrkraft/${encodeURIComponent(c.code)}`, text: `Übersicht ${c.title}` })]))
      : el("p", { text: "Noch keine Klasse." }),
    create);
}

async function overview(token, code) {
  const s = await call("GET", `/classes/${encodeURIComponent(code)}/summary`, { token });
  const close = el("button", { type: "button", class: "leise", text: "Klasse schließen" });
  close.addEventListener("click", async () => {
    if (close.dataset.sure !== "ja") {
      close.dataset.sure = "ja";
      close.textContent = "Wirklich schließen: alles über diese Klasse löschen";
      return;
    }
    await call("DELETE", `/classes/${encodeURIComponent(code)}`, { token });
    location.hash = "#/lehrkraft";
  });
  show(`Klasse ${s.title}`,
    el("p", { class: "meta", text: `Code ${s.code} · ${s.members} Kinder dabei · nur Fantasienamen, keine Namen` }),
    s.exercises.length ? table("Je Aufgabe", ["Aufgabe", "Kinder", "Versuche", "richtig"], s.exercises.map((e) => [
      e.title, String(e.pupils), String(e.attempts), percent(e.correct, e.attempts)])) : el("p", { text: "Noch keine Versuche." }),
    s.pupils.length ? table("Je Fantasiename", ["Fantasiename", "Versuche", "richtig", "Aufgaben", "gemeistert"], s.pupils.map((p) => [
      p.pseudonym, String(p.attempts), percent(p.correct, p.attempts), String(p.exercises), String(p.mastered.length)])) : "",
    el("p", {}, el("a", { href: "#/lehrkraft", text: "Alle Klassen" }), " ", close));
}

export async function teacherPage(code) {
  const token = staffKey();
  if (!token) { keyForm("Für Lehrkräfte", ["learning_teacher"], () => teacherPage(code)); return; }
  try {
    if (code) await overview(token, code);
    else await classList(token);
  } catch (error) {
    if (error.status !== 401 && error.status !== 403) throw error;
    forgetKey();
    keyForm("Für Lehrkräfte", ["learning_teacher"], () => teacherPage(code));
  }
}
