// The publisher's desk (role opendata_publisher): every dataset with its public and its newest
// version, a producer run on demand, and the review of a version: the privacy gate's report in
// plain words and its raw numbers, the first rows, then publish or withdraw, each confirmed
// first. The key stays in this tab (sessionStorage) and is checked with the hub's whoami; what
// the hub refuses (503: the producer failed, 409: a refused version) is shown in an error
// summary at the top.

import {
  bytes, call, clearProblems, day, el, facts, forgetKey, hidden, keepKey, moment, notify, number,
  reportProblems, rolesOf, show, staffKey, table,
} from "./opendata-seite.js";

const ROLE = "opendata_publisher";
const STATE = { pending: "wartet auf Prüfung", published: "veröffentlicht", withdrawn: "zurückgezogen",
  rejected: "vom Prüfschritt abgelehnt" };
const state = (s) => STATE[s] || s || "";
const review = (id, n) => `#/redaktion/${encodeURIComponent(id)}/${n}`;

function reason(error) {
  const text = error.status === 503
    ? "Der Erzeuger ist fehlgeschlagen; es wurde nichts gespeichert, die bisherige Fassung bleibt öffentlich. Ein Alarm wurde ausgelöst."
    : error.status === 409 ? "Das geht in diesem Zustand nicht." : error.message;
  return error.detail ? `${text} (${error.detail})` : text;
}

function signOut() {
  return el("button", { type: "button", class: "leise", text: "Abmelden", onclick: () => {
    forgetKey();
    if (location.hash === "#/redaktion") signIn(null, null, () => true);
    else location.hash = "#/redaktion"; // the router shows the sign-in form
  } });
}

// the sign-in form: an empty or refused key is named in an error summary at the top
function signIn(id, version, current) {
  const key = el("input", { id: "schluessel", name: "schluessel", type: "password", autocomplete: "off",
    "aria-describedby": "schluessel-hinweis" });
  const inline = el("p", { id: "schluessel-fehler", class: "feldfehler", hidden: "" });
  const group = el("div", { class: "feld" },
    el("label", { for: "schluessel", text: "Zugangsschlüssel" }),
    el("p", { id: "schluessel-hinweis", class: "meta", text: "Den Schlüssel mit der Rolle „Veröffentlichung offener Daten“ erhalten Sie von der IT der Stadt." }),
    inline, key);
  const form = el("form", { class: "karte", novalidate: "" }, group,
    el("p", {}, el("button", { type: "submit", text: "Anmelden" })));
  const refuse = (text) => {
    inline.textContent = text;
    inline.hidden = false;
    group.classList.add("mit-fehler");
    key.setAttribute("aria-describedby", "schluessel-fehler schluessel-hinweis");
    key.setAttribute("aria-invalid", "true");
    reportProblems([{ text, field: "schluessel" }]);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    if (!value) { refuse("Geben Sie Ihren Zugangsschlüssel ein."); return; }
    const roles = await rolesOf(value);
    if (!roles.includes(ROLE)) {
      refuse(roles.length ? "Dieser Schlüssel berechtigt nicht zur Veröffentlichung offener Daten." : "Dieser Schlüssel gilt nicht.");
      return;
    }
    keepKey(value);
    await publisherPage(id, version, current);
  });
  if (current()) show("Redaktion: Anmelden", form);
}

async function desk(token, current) {
  const datasets = await call("GET", "/datasets", token);
  const rows = datasets.map((d) => {
    const run = el("button", { type: "button", class: "leise" }, "Jetzt erzeugen", hidden(` für „${d.title}“`));
    run.addEventListener("click", async () => {
      run.disabled = true;
      clearProblems();
      const label = run.firstChild;
      label.textContent = "Wird erzeugt …";
      try {
        const made = await call("POST", `/datasets/${encodeURIComponent(d.id)}/runs`, token);
        location.hash = review(d.id, made.version);
      } catch (error) {
        label.textContent = "Jetzt erzeugen";
        run.disabled = false;
        reportProblems([{ text: `${d.title}: ${reason(error)}` }]);
      }
    });
    return [d.title,
      d.current ? el("a", { href: review(d.id, d.current), text: `Fassung ${d.current}` }) : "–",
      d.current ? state(d.current_state) : "noch nie veröffentlicht",
      d.latest ? el("a", { href: review(d.id, d.latest), text: `Fassung ${d.latest}` }) : "–",
      d.latest ? state(d.latest_state) : "",
      run];
  });
  if (!current()) return;
  show("Redaktion", el("p", { class: "reihe" }, signOut()),
    el("p", { text: "Jede Fassung wird vom Prüfschritt (Unterdrückung kleiner Zahlen, Rauschen, k-Anonymität) geprüft und erst nach Ihrer Durchsicht veröffentlicht." }),
    table("Datensätze", ["Datensatz", "Öffentlich", "Zustand", "Neueste Fassung", "Zustand", "Aktion"], rows));
}

function rawNumbers(report) {
  const suppressed = report.suppressed || {};
  const noise = report.noise;
  const k = report.k_anonymity || {};
  return el("section", { "aria-labelledby": "roh-titel" }, el("h2", { id: "roh-titel", text: "Rohwerte des Prüfberichts" }),
    facts([
      ["Schwelle", report.threshold !== undefined ? `Personenzahlen von 1 bis ${report.threshold - 1} werden unterdrückt` : ""],
      ["Unterdrückte Zellen (primär)", String((suppressed.primary || {}).count ?? 0)],
      ["Unterdrückte Zellen (sekundär)", String((suppressed.secondary || {}).count ?? 0)],
      ["Rauschen", noise ? `${noise.mechanism}, ε = ${number(noise.epsilon)}, Sensitivität ${noise.sensitivity}, Skala ${number(noise.scale)}, Privacy Loss ${number(noise.privacy_loss)} (${noise.library})` : "keines"],
      ["k-Anonymität", k.quasi_identifiers && k.quasi_identifiers.length
        ? `k = ${k.k ?? "–"} (verlangt: ${k.k_required}); Quasi-Identifikatoren: ${k.quasi_identifiers.join(", ")}; gezählt: ${k.population || "–"}`
        : "keine Quasi-Identifikatoren"],
      ["Abgelehnt, weil", report.refused || ""],
    ]));
}

function files(v) {
  const linked = v.state === "published";
  return el("section", { "aria-labelledby": "dateien-titel" }, el("h2", { id: "dateien-titel", text: "Dateien" }),
    el("ul", { class: "liste" }, ...v.files.map((f) => el("li", {},
      linked ? el("a", { href: f.url, text: f.name }) : el("span", { text: f.name }),
      el("span", { class: "meta", text: ` · ${bytes(f.bytes)} · SHA-256 ${f.sha256.slice(0, 16)}…` })))));
}

// a decision asked twice: the button opens a confirmation, which takes the focus
function decision(label, question, confirm, act) {
  const box = el("div", { class: "bestaetigung", hidden: "", tabindex: "-1" });
  const open = el("button", { type: "button", text: label });
  open.addEventListener("click", () => {
    const yes = el("button", { type: "button", class: "warnung", text: confirm });
    const no = el("button", { type: "button", class: "leise", text: "Abbrechen" });
    no.addEventListener("click", () => { box.hidden = true; open.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      await act();
      yes.disabled = false;
    });
    box.replaceChildren(el("p", { text: question }), el("p", { class: "reihe" }, yes, no));
    box.hidden = false;
    box.focus();
  });
  return el("div", {}, el("p", {}, open), box);
}

async function reviewView(token, id, n, current) {
  const [v, datasets, versions] = await Promise.all([
    call("GET", `/datasets/${encodeURIComponent(id)}/versions/${n}`, token),
    call("GET", "/datasets", token),
    call("GET", `/datasets/${encodeURIComponent(id)}/versions`, token)]);
  const d = datasets.find((x) => x.id === id) || { title: id };
  const again = async (text) => {
    await reviewView(token, id, n, () => true);
    notify(text);
  };
  const actions = [];
  if (v.state === "pending" || v.state === "withdrawn") {
    actions.push(decision("Veröffentlichen",
      `Fassung ${v.version} von „${d.title}“ veröffentlichen? Sie ist danach für alle abrufbar und in den Katalogen gelistet` +
        (d.current && d.current !== v.version && d.current_state === "published" ? `; sie ersetzt Fassung ${d.current}.` : "."),
      "Ja, veröffentlichen", async () => {
        try {
          await call("POST", `/datasets/${encodeURIComponent(id)}/versions/${v.version}/publish`, token);
          await again(`Veröffentlicht: Fassung ${v.version} ist jetzt öffentlich.`);
        } catch (error) {
          reportProblems([{ text: `Nicht veröffentlicht: ${reason(error)}` }]);
        }
      }));
  }
  if (d.current_state === "published") {
    actions.push(decision("Zurückziehen",
      `„${d.title}“ zurückziehen? Alle veröffentlichten Fassungen verschwinden aus dem Katalog, ihre Dateien antworten mit 410; der Datensatz kann später wieder veröffentlicht werden.`,
      "Ja, zurückziehen", async () => {
        try {
          const done = await call("POST", `/datasets/${encodeURIComponent(id)}/withdraw`, token);
          await again(`Zurückgezogen: Fassung ${done.withdrawn.join(", ")}.`);
        } catch (error) {
          reportProblems([{ text: `Nicht zurückgezogen: ${reason(error)}` }]);
        }
      }));
  }
  if (!current()) return;
  show(`${d.title}: Fassung ${v.version}`,
    facts([
      ["Zustand", state(v.state)],
      ["Zeitraum", v.first_day && v.last_day ? `${day(v.first_day)} bis ${day(v.last_day)}` : ""],
      ["Zeilen", String(v.rows)],
      ["Erzeugt", `${moment(v.produced_ms)} von ${v.produced_by}`],
      ["Veröffentlicht", moment(v.published_ms)],
      ["Zurückgezogen", moment(v.withdrawn_ms)],
    ]),
    el("section", { "aria-labelledby": "worte-titel" }, el("h2", { id: "worte-titel", text: "Prüfbericht in Worten" }),
      el("ul", { class: "bericht" }, ...v.plain_words.map((w) => el("li", { text: w })))),
    rawNumbers(v.report),
    v.columns.length ? el("section", { "aria-labelledby": "erste-titel" }, el("h2", { id: "erste-titel", text: "Erste Zeilen" }),
      table(`Die ersten ${v.preview.length} von ${v.rows} Zeilen`, v.columns,
        v.preview.map((r) => r.map((c) => (c === "" || c === null ? "–" : String(c)))), { rowHeads: false })) : null,
    files(v),
    actions.length ? el("section", { "aria-labelledby": "entscheiden-titel", class: "karte" },
      el("h2", { id: "entscheiden-titel", text: "Entscheiden" }), ...actions) : null,
    el("section", { "aria-labelledby": "fassungen-titel" }, el("h2", { id: "fassungen-titel", text: "Alle Fassungen" }),
      table("Fassungen, die neueste zuerst", ["Fassung", "Zustand", "Erzeugt", "Zeilen"], versions.map((x) => [
        x.version === v.version ? `${x.version} (diese)` : el("a", { href: review(id, x.version), text: String(x.version) }),
        state(x.state), moment(x.produced_ms), String(x.rows)]))),
    el("p", {}, el("a", { href: "#/redaktion", text: "Zur Übersicht der Redaktion" })));
}

export async function publisherPage(id, version, current) {
  const token = staffKey();
  const roles = token ? await rolesOf(token) : [];
  if (!roles.includes(ROLE)) {
    forgetKey();
    signIn(id, version, current);
    return;
  }
  const n = Number(version);
  if (id && Number.isInteger(n) && n > 0) await reviewView(token, id, n, current);
  else await desk(token, current);
}
