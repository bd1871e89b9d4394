// Open Data Rathaus: the public pages and the router. Plain JS modules, no framework, nothing
// from outside the hub. Everything is read through the portal's own public API (CKAN's Action
// API and the files), the same a harvester or a researcher uses; the publisher's desk is in
// opendata-redaktion.js, the API documentation in opendata-api.js.

import { apiPage } from "./opendata-api.js";
import { publisherPage } from "./opendata-redaktion.js";
import {
  bytes, ckan, day, el, excerpt, extra, facts, fetchJson, fetchText, show,
} from "./opendata-seite.js";
import { chart, fieldsOf, parseCsv, preview } from "./opendata-tabelle.js";

const ROWS = 10;
const NEWEST = 5;

function searchForm(q = "", groups = [], gruppe = "") {
  const input = el("input", { id: "q", name: "q", type: "search", autocomplete: "off", value: q });
  const parts = [el("label", { for: "q", text: "Suchbegriff" }), input];
  let theme = null;
  if (groups.length) {
    theme = el("select", { id: "gruppe", name: "gruppe" }, el("option", { value: "", text: "alle Themen" }),
      ...groups.map((g) => el("option", { value: g.name, text: g.title })));
    theme.value = gruppe;
    parts.push(el("label", { for: "gruppe", text: "Thema" }), theme);
  }
  const form = el("form", { role: "search", class: "suche", "aria-label": "Datensätze suchen" },
    el("div", { class: "reihe" }, ...parts, el("button", { type: "submit", text: "Suchen" })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams({ q: input.value.trim() });
    if (theme && theme.value) next.set("gruppe", theme.value);
    location.hash = `#/suche?${next}`;
  });
  return form;
}

function licence(pkg) {
  return pkg.license_url ? el("a", { href: pkg.license_url, text: pkg.license_title || pkg.license_id })
    : pkg.license_title || pkg.license_id || "";
}

function hits(results, level = "h2") {
  if (!results.length) return el("p", { text: "Keine Datensätze gefunden." });
  return el("ul", { class: "liste treffer" }, ...results.map((pkg) => el("li", {},
    el(level, {}, el("a", { href: `#/datensatz/${encodeURIComponent(pkg.name)}`, text: pkg.title })),
    el("p", { text: excerpt(pkg.notes) }),
    el("p", { class: "meta" }, "Lizenz: ", pkg.license_title || pkg.license_id,
      ` · Aktualisiert: ${day(pkg.metadata_modified)}`))));
}

async function groupList() {
  return ckan("group_list", { all_fields: "true" });
}

async function home() {
  const [groups, newest] = await Promise.all([groupList(),
    ckan("package_search", { q: "", rows: NEWEST, sort: "metadata_modified desc" })]);
  return ["Offene Daten der Stadt Kassel",
    el("p", { class: "einleitung", text: "Anonymisierte und geprüfte Daten aus Verkehr, Bildung und Verwaltung – frei nutzbar, als Datei und über eine Schnittstelle." }),
    searchForm(),
    el("section", { "aria-labelledby": "themen-titel" }, el("h2", { id: "themen-titel", text: "Themen" }),
      el("ul", { class: "liste themen" }, ...groups.map((g) => el("li", {},
        el("a", { href: `#/thema/${encodeURIComponent(g.name)}`, text: g.title }),
        el("span", { class: "meta", text: ` (${g.package_count} ${g.package_count === 1 ? "Datensatz" : "Datensätze"})` }))))),
    el("section", { "aria-labelledby": "neu-titel" }, el("h2", { id: "neu-titel", text: "Neueste Datensätze" }),
      hits(newest.results, "h3")),
    el("p", {}, el("a", { href: "#/suche?q=", text: `Alle ${newest.count} Datensätze` }))];
}

// one page of package_search's results, paged with "zurück"/"weiter"
async function results(route, params, fq) {
  const rows = Math.min(Math.max(Number(params.get("anzahl")) || ROWS, 1), 100);
  const page = Math.max(Number(params.get("seite")) || 1, 1);
  const found = await ckan("package_search", { q: params.get("q") || "", fq, rows, start: (page - 1) * rows });
  const pages = Math.max(1, Math.ceil(found.count / rows));
  const link = (n, text, rel) => {
    const next = new URLSearchParams(params);
    next.set("seite", String(n));
    return el("a", { href: `${route}?${next}`, rel, text });
  };
  const paging = pages > 1 ? el("nav", { class: "seiten", "aria-label": "Seiten" },
    page > 1 ? link(page - 1, "« zurück", "prev") : null,
    el("span", { text: ` Seite ${page} von ${pages} ` }),
    page < pages ? link(page + 1, "weiter »", "next") : null) : null;
  return [el("p", { class: "meta", role: "status", text: `${found.count} ${found.count === 1 ? "Datensatz" : "Datensätze"}` }),
    hits(found.results), paging];
}

async function search(params) {
  const q = params.get("q") || "", gruppe = params.get("gruppe") || "";
  const groups = await groupList();
  const theme = groups.find((g) => g.name === gruppe);
  const title = q ? `Suche: ${q}` : "Alle Datensätze";
  return [theme ? `${title} im Thema ${theme.title}` : title, searchForm(q, groups, gruppe),
    ...await results("#/suche", params, gruppe ? `groups:"${gruppe}"` : "")];
}

async function theme(name, params) {
  const groups = await groupList();
  const group = groups.find((g) => g.name === name);
  if (!group) {
    return ["Dieses Thema gibt es nicht", el("p", {}, el("a", { href: "#/", text: "Zur Startseite" }))];
  }
  return [`Thema: ${group.title}`, ...await results(`#/thema/${encodeURIComponent(name)}`, params, `groups:"${name}"`),
    el("p", {}, el("a", { href: `#/suche?${new URLSearchParams({ q: "", gruppe: name })}`, text: "In diesem Thema suchen" }))];
}

function period(pkg) {
  const start = extra(pkg, "temporal_start"), end = extra(pkg, "temporal_end");
  return start && end ? `${day(start)} bis ${day(end)}` : "";
}

function versions(pkg) {
  let list = [];
  try { list = JSON.parse(extra(pkg, "versions") || "[]"); } catch { list = []; }
  const others = list.filter((v) => String(v) !== pkg.version);
  return `Version ${pkg.version}` + (others.length ? ` (frühere: ${others.join(", ")})` : "");
}

function downloads(pkg) {
  return el("section", { "aria-labelledby": "download-titel" }, el("h2", { id: "download-titel", text: "Daten und Schnittstellen" }),
    el("ul", { class: "liste downloads" }, ...pkg.resources.map((r) => el("li", {},
      el("a", { href: r.url, text: r.name }),
      el("span", { class: "meta", text: ` · ${r.resource_type === "api" ? `Schnittstelle (${r.format})` : r.format}` +
        (r.size ? ` · ${bytes(r.size)}` : "") }),
      r.description ? el("br") : null, r.description ? el("span", { class: "meta", text: r.description }) : null))));
}

// the CSV's preview and chart; a failure here leaves the rest of the page standing
async function tableSections(pkg) {
  const csv = pkg.resources.find((r) => r.format === "CSV");
  if (!csv) return [];
  const described = pkg.resources.find((r) => r.name === "datapackage.json");
  try {
    const [text, descriptor] = await Promise.all([fetchText(csv.url),
      described ? fetchJson(described.url) : Promise.resolve({})]);
    const rows = parseCsv(text);
    if (rows.length < 2) return [el("p", { text: "Die Tabelle ist leer." })];
    const fields = fieldsOf(descriptor);
    return [chart(rows, fields, extra(pkg, "main_measure")), preview(rows, fields)].filter(Boolean);
  } catch (error) {
    return [el("p", { class: "rueckmeldung falsch", text: `Die Vorschau konnte nicht geladen werden: ${error.message}` })];
  }
}

async function dataset(id) {
  const pkg = await ckan("package_show", { id });
  const report = extra(pkg, "privacy_report").split("\n").filter(Boolean);
  const org = pkg.organization || {};
  const withdrawn = pkg.state !== "active";
  const group = (pkg.groups || [])[0];
  const tables = await tableSections(pkg);
  return [pkg.title,
    withdrawn ? el("p", { class: "hinweis", text: "Dieser Datensatz wurde zurückgezogen; seine Dateien sind nicht mehr abrufbar." }) : null,
    el("p", { text: pkg.notes }),
    facts([
      ["Lizenz", licence(pkg)],
      ["Herausgeber", pkg.author_email ? el("span", {}, org.title || pkg.author, " (",
        el("a", { href: `mailto:${pkg.author_email}`, text: pkg.author_email }), ")") : org.title || pkg.author],
      ["Zeitraum", period(pkg)],
      ["Aktualisiert", day(pkg.metadata_modified)],
      ["Veröffentlicht seit", day(extra(pkg, "issued"))],
      ["Versionen", versions(pkg)],
      ["Thema", group ? el("a", { href: `#/thema/${encodeURIComponent(group.name)}`, text: group.title }) : ""],
      ["Schlagwörter", (pkg.tags || []).map((t) => t.display_name).join(", ")],
    ]),
    el("section", { "aria-labelledby": "datenschutz-titel" }, el("h2", { id: "datenschutz-titel", text: "Datenschutz" }),
      report.length ? el("ul", { class: "bericht" }, ...report.map((line) => el("li", { text: line })))
        : el("p", { text: "Diese Daten enthalten keine Angaben über Personen." })),
    downloads(pkg),
    ...tables,
    el("p", { class: "meta" }, "Maschinenlesbar: ",
      el("a", { href: `/opendata/api/3/action/package_show?id=${encodeURIComponent(pkg.name)}`, text: "package_show (CKAN)" }),
      " · ", el("a", { href: "#/api", text: "API-Dokumentation" }))];
}

// the views answer [title, ...content]; a view still loading when the reader has moved on is
// dropped, so a slow answer never covers the page asked for after it
let generation = 0;

async function view(parts, params) {
  if (parts[0] === "suche") return search(params);
  if (parts[0] === "thema" && parts[1]) return theme(parts[1], params);
  if (parts[0] === "datensatz" && parts[1]) return dataset(parts[1]);
  if (parts[0] === "api") return apiPage();
  return home();
}

async function route() {
  const mine = ++generation;
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  let shown;
  try {
    if (parts[0] === "redaktion") {
      await publisherPage(parts[1], parts[2], () => mine === generation);
      return;
    }
    shown = await view(parts, params);
  } catch (error) {
    shown = [error.status === 404 ? "Nicht gefunden" : "Das hat nicht geklappt", el("p", { text: error.message }),
      el("p", {}, el("a", { href: "#/", text: "Zur Startseite" }))];
  }
  if (mine === generation) show(...shown);
}

window.addEventListener("hashchange", route);
route();
