// The API documentation: CKAN's Action API (curl, Python, ckanapi), the DCAT-AP.de catalogue
// with its Hydra paging, the downloads, and what each error means. Every example uses this
// page's own address, so it can be copied as it is.

import { el, table } from "./opendata-seite.js";

const EXAMPLE_ID = "kassel-occupancy-stop-hour";

function code(text) {
  return el("pre", { class: "code" }, el("code", { text }));
}

function section(id, title, ...content) {
  return el("section", { "aria-labelledby": id }, el("h2", { id, text: title }), ...content);
}

export function apiPage() {
  const origin = location.origin;
  const action = `${origin}/opendata/api/3/action`;
  return ["Schnittstellen (API)",
    el("p", { text: "Alle Datensätze sind ohne Anmeldung abrufbar: über die Action API von CKAN (wie GovData und viele Landesportale), als DCAT-AP.de-Katalog für Harvester und als Dateien. Es gibt keine Begrenzung außer einer fairen Nutzung." }),
    el("nav", { "aria-label": "Inhalt dieser Seite" }, el("ul", {},
      el("li", {}, el("a", { href: "#/api", "data-ziel": "api-ckan", text: "CKAN Action API" })),
      el("li", {}, el("a", { href: "#/api", "data-ziel": "api-python", text: "Python" })),
      el("li", {}, el("a", { href: "#/api", "data-ziel": "api-ckanapi", text: "ckanapi" })),
      el("li", {}, el("a", { href: "#/api", "data-ziel": "api-dcat", text: "DCAT-AP.de-Katalog" })),
      el("li", {}, el("a", { href: "#/api", "data-ziel": "api-dateien", text: "Dateien" })),
      el("li", {}, el("a", { href: "#/api", "data-ziel": "api-fehler", text: "Fehlermeldungen" })))),
    section("api-ckan", "CKAN Action API",
      el("p", {}, "Die Adresse jeder Aktion ist ", el("code", { text: `${action}/{aktion}` }),
        ". Parameter werden als Query-Parameter (GET) oder als JSON-Objekt (POST) übergeben. Jede Antwort hat die Hülle ",
        el("code", { text: "{help, success, result}" }), "."),
      table("Die Aktionen", ["Aktion", "Was sie liefert"], [
        ["package_search", "Suche: q (Suchbegriff), fq (Filter, z. B. groups:mobilitaet), rows, start, sort"],
        ["package_show", "einen Datensatz mit Dateien (resources) und Zusatzangaben (extras), Parameter id"],
        ["package_list", "die Namen aller Datensätze"],
        ["group_list", "die Themen (all_fields=true: mit Titel und Anzahl)"],
        ["organization_list, organization_show", "die herausgebende Stelle"],
        ["tag_list", "alle Schlagwörter"],
        ["status_show", "Version der Schnittstelle und Titel des Portals"],
      ]),
      el("h3", { text: "Suchen mit curl" }),
      code(`curl '${action}/package_search?q=Bus&rows=5'\ncurl '${action}/package_search?fq=groups:mobilitaet&start=10'`),
      el("h3", { text: "Einen Datensatz abrufen" }),
      code(`curl '${action}/package_show?id=${EXAMPLE_ID}'\n\n# dasselbe als POST mit JSON\ncurl -X POST -H 'Content-Type: application/json' \\\n  -d '{"id": "${EXAMPLE_ID}"}' '${action}/package_show'`),
      el("p", {}, "Die Zusatzangaben (", el("code", { text: "extras" }), ") enthalten unter anderem ",
        el("code", { text: "privacy_report" }), " (der Datenschutzbericht, ein Satz je Zeile), ",
        el("code", { text: "temporal_start" }), "/", el("code", { text: "temporal_end" }), " (Zeitraum), ",
        el("code", { text: "versions" }), " und ", el("code", { text: "main_measure" }), " (die wichtigste Messgröße).")),
    section("api-python", "Python",
      el("p", { text: "Mit httpx (oder requests):" }),
      code(`import httpx

API = "${action}"
answer = httpx.get(f"{API}/package_search", params={"q": "Bus", "rows": 5}).json()
for dataset in answer["result"]["results"]:
    print(dataset["name"], dataset["title"])

dataset = httpx.get(f"{API}/package_show", params={"id": "${EXAMPLE_ID}"}).json()["result"]
csv_url = next(r["url"] for r in dataset["resources"] if r["format"] == "CSV")`),
      el("p", { text: "Nur mit der Standardbibliothek:" }),
      code(`import json
from urllib.request import urlopen

with urlopen("${action}/package_show?id=${EXAMPLE_ID}") as answer:
    dataset = json.load(answer)["result"]
print(dataset["license_title"], [r["url"] for r in dataset["resources"]])`),
      el("p", {}, "In pandas: ", el("code", { text: "pandas.read_csv(csv_url)" }),
        "; die Spalten beschreibt die Datei datapackage.json (Frictionless Table Schema: Titel, Beschreibung, Einheit).")),
    section("api-ckanapi", "ckanapi",
      el("p", { text: "Das Werkzeug ckanapi (pip install ckanapi) spricht das Portal wie jede CKAN-Instanz an, auf der Kommandozeile:" }),
      code(`ckanapi action package_search q=Bus rows=5 -r ${origin}/opendata
ckanapi action package_show id=${EXAMPLE_ID} -r ${origin}/opendata`),
      el("p", { text: "und in Python:" }),
      code(`from ckanapi import RemoteCKAN

portal = RemoteCKAN("${origin}/opendata", user_agent="mein-projekt/1.0")
found = portal.action.package_search(q="Bus", fq="groups:mobilitaet")
dataset = portal.action.package_show(id="${EXAMPLE_ID}")`)),
    section("api-dcat", "DCAT-AP.de-Katalog",
      el("p", { text: "Der Katalog aller veröffentlichten Datensätze nach DCAT-AP.de 2.0, für Harvester wie GovData, in drei Formaten:" }),
      el("ul", {},
        el("li", {}, el("a", { href: `${origin}/opendata/catalog.ttl`, text: `${origin}/opendata/catalog.ttl` }), " (Turtle)"),
        el("li", {}, el("a", { href: `${origin}/opendata/catalog.rdf`, text: `${origin}/opendata/catalog.rdf` }), " (RDF/XML)"),
        el("li", {}, el("a", { href: `${origin}/opendata/catalog.jsonld`, text: `${origin}/opendata/catalog.jsonld` }), " (JSON-LD)")),
      el("p", {}, "Eine Seite enthält 100 Datensätze. Weitere Seiten werden mit ", el("code", { text: "?page=2" }),
        " abgerufen; die Seite nennt sie mit Hydra (", el("code", { text: "hydra:PagedCollection" }), " und ",
        el("code", { text: "hydra:PartialCollectionView" }), ": ", el("code", { text: "hydra:totalItems" }), ", ",
        el("code", { text: "hydra:nextPage" }), "/", el("code", { text: "hydra:next" }), ", ",
        el("code", { text: "hydra:lastPage" }), "). Ein Harvester folgt der nächsten Seite, bis keine mehr genannt ist."),
      code(`curl -H 'If-None-Match: "…"' '${origin}/opendata/catalog.ttl?page=1'`)),
    section("api-dateien", "Dateien",
      el("p", {}, "Jede Version eines Datensatzes hat feste Adressen, z. B. ",
        el("code", { text: `${origin}/opendata/datasets/${EXAMPLE_ID}/versions/1/data.csv` }),
        " und ", el("code", { text: "…/datapackage.json" }),
        ". Die CSV-Dateien sind UTF-8, durch Komma getrennt, mit Kopfzeile; unterdrückte Zellen sind leer. Antworten tragen ",
        el("code", { text: "ETag" }), " und ", el("code", { text: "Last-Modified" }),
        "; eine zurückgezogene Version antwortet mit 410 Gone. Die Echtzeitdaten des Busnetzes gibt es als GTFS-Realtime unter ",
        el("code", { text: `${origin}/gtfs-rt/vehicle-positions` }), " und ", el("code", { text: `${origin}/gtfs-rt/trip-updates` }), ".")),
    section("api-fehler", "Fehlermeldungen",
      el("p", {}, "Fehler haben die Hülle von CKAN: ", el("code", { text: "{success: false, error: {__type, message}}" }), "."),
      table("Was die Fehler bedeuten", ["Status", "__type", "Bedeutung"], [
        ["404", "Not Found Error", "Den Datensatz (oder die Organisation, das Thema) gibt es nicht, etwa ein Tippfehler in id."],
        ["409", "Validation Error", "Ein Parameter ist ungültig, z. B. rows=abc („Invalid integer“) oder ein fehlendes id („Missing value“); die Felder stehen im error-Objekt."],
        ["409", "Search Error", "Die Suchanfrage (q oder fq) kann nicht gelesen werden oder nennt ein unbekanntes Feld."],
        ["400", "Search Query Error", "Unbekannter Suchparameter oder eine Sortierung ohne asc/desc; eine unbekannte Aktion antwortet ebenfalls mit 400."],
        ["410", "–", "Dateien einer zurückgezogenen Version (Downloads)."],
      ]),
      code(`curl -i '${action}/package_show?id=gibt-es-nicht'
HTTP/1.1 404 Not Found
{"help": "…", "success": false, "error": {"__type": "Not Found Error", "message": "Not found"}}`)),
  ];
}

// the page's table of contents: jump to a section without changing the route
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-ziel]");
  if (!link) return;
  event.preventDefault();
  const target = document.getElementById(link.dataset.ziel);
  if (target) {
    target.setAttribute("tabindex", "-1");
    target.focus();
  }
});
