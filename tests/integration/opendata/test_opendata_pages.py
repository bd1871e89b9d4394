"""The portal's pages at ``/opendata/`` in headless Chromium against a real hub with every
dataset published: the start page with its themes and newest datasets, a search with paging,
a theme, a dataset with its privacy report, preview and chart, the API documentation, and
the publisher's desk (sign in, run a producer, review the pending version in plain words,
publish it, withdraw the dataset and publish it again). The hub's policy is enforced (no
inline script or style, no eval); axe-core is served to the page as a file of the hub's
origin and finds no violation on any view; nothing is loaded from outside the hub.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Route,
    expect,
    sync_playwright,
)

from central_hub.opendata.tables import signal_hours
from tests.integration.central_hub.helpers import CHROMIUM, CHROMIUM_ARGS, wait_for
from tests.integration.opendata.conftest import Portal

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
#: where the test serves axe-core to the page: the hub's origin, so its policy admits it
AXE_PATH = "/opendata/__test__/axe.min.js"
RULES = "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}"
OCCUPANCY = "kassel-occupancy-stop-hour"
WLAN = "kassel-wlan-route-day"
WLAN_TITLE = "Nutzung des Fahrgast-WLANs nach Linie und Tag"
SIGNALS = "kassel-signal-operations-day"
SIGNALS_TITLE = "Betrieb der Lichtsignalanlagen nach Knoten und Tag"


class Session:
    """One page of the module's browser, with what went wrong in it."""

    def __init__(self, context: BrowserContext, url: str) -> None:
        self.url = url
        self.page = context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _console(self, message: ConsoleMessage) -> None:
        # a refused request is the answer a test asks for (401 of a wrong key); a refused
        # script, style or eval (the policy) is an error
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def open(self, route: str, heading: str) -> None:
        """Go to ``route`` of the portal and wait for the view's h1."""
        self.page.goto(f"{self.url}/opendata/{route}")
        self.heading(heading)

    def heading(self, text: str) -> None:
        h1 = self.page.locator("main h1")
        expect(h1).to_have_text(text, timeout=20_000)
        # the view's heading has the focus (the reader starts there)
        wait_for(lambda: self.page.evaluate(
            "() => document.activeElement === document.querySelector('main h1')"),
            what="the focus on the view's heading")
        # nothing of the view is a missing value written out
        words = set(re.findall(r"\w+", self.page.locator("main").inner_text()))
        assert not words & {"null", "undefined", "NaN"}, words & {"null", "undefined", "NaN"}

    def violations(self) -> list[str]:
        """axe-core's WCAG 2.1 A/AA violations of the view as it is."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(url=self.url + AXE_PATH)
        found: list[str] = self.page.evaluate(
            f"async () => (await axe.run(document, {RULES})).violations"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
        return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def session(browser: Browser, portal: Portal) -> Iterator[Session]:
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    axe = AXE.read_bytes()

    def serve_axe(route: Route) -> None:
        route.fulfill(body=axe, content_type="text/javascript; charset=utf-8")

    context.route(f"{portal.url}{AXE_PATH}", serve_axe)
    s = Session(context, portal.url)
    try:
        yield s
    finally:
        context.close()
    assert s.errors == []
    assert all(u.startswith(portal.url) for u in s.requests), s.requests


def test_start_search_and_theme(session: Session, portal: Portal) -> None:
    page = session.page
    found: dict[str, list[str]] = {}
    response = page.goto(f"{portal.url}/opendata/")
    assert response is not None and response.ok
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    session.heading("Offene Daten der Stadt Kassel")
    themes = page.locator("ul.themen li")
    expect(themes.filter(has_text="Mobilität und Verkehr")).to_contain_text("(4 Datensätze)")
    expect(themes.filter(has_text="Bildung und Wissenschaft")).to_contain_text("(1 Datensatz)")
    newest = page.locator("section[aria-labelledby=neu-titel] li")
    expect(newest).to_have_count(5)
    found["start"] = session.violations()

    # a search by keyboard: the words of the description and the licence of each hit
    page.get_by_label("Suchbegriff").fill("Bus")
    page.keyboard.press("Enter")
    session.heading("Suche: Bus")
    hits = page.locator("ul.treffer > li")
    expect(hits.first).to_be_visible()
    titles = hits.locator("h2").all_inner_texts()
    assert "Auslastung der Busse nach Linie, Haltestelle und Tagesstunde" in titles
    assert WLAN_TITLE in titles
    expect(hits.first).to_contain_text("Lizenz: Datenlizenz Deutschland")
    expect(hits.first).to_contain_text("Aktualisiert: ")
    found["search"] = session.violations()

    # narrowed to a theme, then paged two at a time
    page.get_by_label("Thema").select_option("bildung")
    page.get_by_role("button", name="Suchen").click()
    session.heading("Suche: Bus im Thema Bildung und Wissenschaft")
    expect(page.get_by_role("status")).to_have_text("0 Datensätze")
    session.open("#/suche?q=&anzahl=2", "Alle Datensätze")
    expect(page.get_by_text("Seite 1 von 3")).to_be_visible()
    first = hits.locator("h2").all_inner_texts()
    page.get_by_role("link", name="weiter").click()
    expect(page.get_by_text("Seite 2 von 3")).to_be_visible()
    expect(hits).to_have_count(2)
    assert not set(hits.locator("h2").all_inner_texts()) & set(first)
    page.get_by_role("link", name="zurück").click()
    expect(page.get_by_text("Seite 1 von 3")).to_be_visible()

    # a theme from the start page
    session.open("#/", "Offene Daten der Stadt Kassel")
    page.get_by_role("link", name="Verkehrssteuerung").click()
    session.heading("Thema: Verkehrssteuerung")
    expect(hits.locator("h2")).to_have_text([SIGNALS_TITLE])
    found["theme"] = session.violations()
    assert found == {"start": [], "search": [], "theme": []}


def test_dataset_page_shows_report_preview_and_chart(session: Session, portal: Portal) -> None:
    page = session.page
    shown = httpx.get(f"{portal.url}/opendata/api/3/action/package_show",
                      params={"id": OCCUPANCY}).json()["result"]
    session.open(f"#/datensatz/{OCCUPANCY}", shown["title"])
    facts = page.locator("dl.fakten")
    expect(facts).to_contain_text("Datenlizenz Deutschland – Namensnennung – Version 2.0")
    expect(facts.get_by_role("link", name="Datenlizenz Deutschland")).to_have_attribute(
        "href", shown["license_url"])
    expect(facts).to_contain_text("Zeitraum")
    expect(facts).to_contain_text(f"Version {shown['version']}")
    # the privacy report: the extras' lines, one item each
    report = next(e["value"] for e in shown["extras"] if e["key"] == "privacy_report")
    expect(page.locator("ul.bericht li")).to_have_text(report.split("\n"))
    # the downloads
    downloads = page.locator("ul.downloads a")
    expect(downloads).to_have_text(["data.csv", "datapackage.json"])
    # the preview: 20 rows, headed by the columns' titles with their units
    preview = page.locator("section[aria-labelledby=vorschau-titel] table")
    expect(preview.locator("tbody tr")).to_have_count(20)
    heads = preview.locator("thead th").all_inner_texts()
    assert heads[:3] == ["Linie", "Haltestelle", "Stunde"]
    assert "Mittlere Besetzung (Personen)" in heads
    # the chart: the mean load per line, the same numbers in a table
    chart = page.locator("svg[role=img]")
    expect(chart).to_have_count(1)
    title = chart.locator("title").text_content() or ""
    assert title == "Mittlere Besetzung (Personen): Mittelwert je Linie"
    bars = chart.locator("rect")
    assert 1 <= bars.count() <= 20
    numbers = page.locator("details table tbody tr")
    expect(numbers).to_have_count(bars.count())
    page.get_by_text("Die Zahlen des Diagramms als Tabelle").click()
    expect(numbers.first).to_be_visible()
    assert session.violations() == []

    # the Kita allocation: counts of people summed per district, suppressed cells left out
    session.open("#/datensatz/kassel-kita-allocation-district",
                 "Kita-Platzvergabe nach Stadtteil und Altersgruppe")
    expect(page.locator("svg[role=img] title")).to_have_text("Anmeldungen: Summe je Stadtteil")
    expect(page.locator("ul.bericht li").first).to_be_visible()
    assert "Differential Privacy" in page.locator("ul.bericht").inner_text()
    # the timetable: a ZIP and the live feeds, no table
    session.open("#/datensatz/kassel-gtfs",
                 "Fahrplan (GTFS) und Echtzeitdaten (GTFS-Realtime) des Kasseler Busnetzes")
    links = page.locator("ul.downloads li")
    expect(links.filter(has_text="Schnittstelle (GTFS-RT)")).to_have_count(2)
    expect(page.locator("svg")).to_have_count(0)
    assert session.violations() == []
    # no such dataset: CKAN's 404, said in words
    session.open("#/datensatz/gibt-es-nicht", "Nicht gefunden")


def test_api_page_uses_the_portals_address(session: Session, portal: Portal) -> None:
    page = session.page
    session.open("#/api", "Schnittstellen (API)")
    examples = "\n".join(page.locator("pre.code").all_inner_texts())
    assert f"curl '{portal.url}/opendata/api/3/action/package_search?q=Bus&rows=5'" in examples
    assert f"-r {portal.url}/opendata" in examples
    assert f'RemoteCKAN("{portal.url}/opendata"' in examples
    expect(page.get_by_role("link", name=f"{portal.url}/opendata/catalog.ttl")).to_be_visible()
    errors = page.locator("section[aria-labelledby=api-fehler] table")
    expect(errors).to_contain_text("Not Found Error")
    expect(errors).to_contain_text("Validation Error")
    # the example is true: the documented search answers
    found = httpx.get(f"{portal.url}/opendata/api/3/action/package_search",
                      params={"q": "Bus", "rows": 5}).json()
    assert found["success"] and found["result"]["count"] >= 1
    assert session.violations() == []


def test_publisher_runs_reviews_publishes_and_withdraws(session: Session,
                                                        portal: Portal) -> None:
    page = session.page
    found: dict[str, list[str]] = {}
    before = httpx.get(f"{portal.url}/api/v1/opendata/datasets", headers=portal.auth()).json()
    current = next(d["current"] for d in before if d["id"] == WLAN)

    session.open("#/redaktion", "Redaktion: Anmelden")
    page.get_by_role("button", name="Anmelden").click()
    summary = page.locator(".fehler")
    expect(summary).to_contain_text("Geben Sie Ihren Zugangsschlüssel ein.")
    wait_for(lambda: page.evaluate("() => document.activeElement.classList.contains('fehler')"),
             what="the focus on the error summary")
    page.get_by_label("Zugangsschlüssel").fill(portal.publisher + "x")
    page.get_by_role("button", name="Anmelden").click()
    expect(summary).to_contain_text("Dieser Schlüssel gilt nicht.")
    found["sign-in"] = session.violations()
    summary.get_by_role("link").click()  # the summary leads to the field
    wait_for(lambda: page.evaluate("() => document.activeElement.id === 'schluessel'"),
             what="the focus on the key")
    page.get_by_label("Zugangsschlüssel").fill(portal.publisher)
    page.get_by_role("button", name="Anmelden").click()
    session.heading("Redaktion")
    row = page.locator("tbody tr").filter(has_text=WLAN_TITLE)
    expect(row.locator("td").nth(0)).to_have_text(f"Fassung {current}")
    found["desk"] = session.violations()

    # a producer that fails for real (its roll-up table is gone): the error summary says so
    signal_hours.drop(portal.service.engine)
    try:
        page.locator("tbody tr").filter(has_text=SIGNALS_TITLE).get_by_role(
            "button", name="Jetzt erzeugen").click()
        expect(summary).to_contain_text("Der Erzeuger ist fehlgeschlagen")
        expect(summary).to_contain_text("kassel-signal-operations-day: ")
        expect(summary).to_contain_text("no such table: opendata_signal_hours")
        wait_for(lambda: page.evaluate(
            "() => document.activeElement.classList.contains('fehler')"),
            what="the focus on the error summary")
        found["failed-run"] = session.violations()
    finally:
        signal_hours.create(portal.service.engine)

    # run the producer: the new version waits for review
    run = row.get_by_role("button", name="Jetzt erzeugen")
    expect(run).to_have_accessible_name(re.compile(rf"^Jetzt erzeugen\s+für „{WLAN_TITLE}“$"))
    run.click()
    new = current + 1
    session.heading(f"{WLAN_TITLE}: Fassung {new}")
    facts = page.locator("dl.fakten").first
    expect(facts).to_contain_text("wartet auf Prüfung")
    words = page.locator("ul.bericht li")
    expect(words.first).to_be_visible()
    assert "Differential Privacy" in page.locator("ul.bericht").inner_text()
    raw = page.locator("section[aria-labelledby=roh-titel]")
    expect(raw).to_contain_text("Unterdrückte Zellen (primär)")
    expect(raw).to_contain_text("ε = 1")
    rows = page.locator("section[aria-labelledby=erste-titel] tbody tr")
    expect(rows.first).to_be_visible()
    assert 1 <= rows.count() <= 20
    found["review"] = session.violations()

    # publish: asked, then confirmed
    page.get_by_role("button", name="Veröffentlichen").click()
    confirm = page.locator(".bestaetigung:not([hidden])")
    expect(confirm).to_contain_text(f"ersetzt Fassung {current}")
    page.get_by_role("button", name="Ja, veröffentlichen").click()
    expect(page.locator(".hinweis")).to_have_text(
        f"Veröffentlicht: Fassung {new} ist jetzt öffentlich.")
    expect(page.locator("dl.fakten").first).to_contain_text("veröffentlicht")
    found["published"] = session.violations()
    page.get_by_role("link", name="Zur Übersicht der Redaktion").click()
    session.heading("Redaktion")
    expect(row.locator("td").nth(0)).to_have_text(f"Fassung {new}")
    expect(row.locator("td").nth(1)).to_have_text("veröffentlicht")
    shown = httpx.get(f"{portal.url}/opendata/api/3/action/package_show",
                      params={"id": WLAN}).json()["result"]
    assert shown["version"] == str(new)
    versions = json.loads(next(e["value"] for e in shown["extras"] if e["key"] == "versions"))
    assert versions[0] == new

    # withdraw (confirmed), then publish again: the portal ends as it began, one newer
    row.get_by_role("link", name=f"Fassung {new}").first.click()
    session.heading(f"{WLAN_TITLE}: Fassung {new}")
    page.get_by_role("button", name="Zurückziehen").click()
    page.get_by_role("button", name="Abbrechen").click()
    expect(page.locator(".bestaetigung:not([hidden])")).to_be_hidden()
    page.get_by_role("button", name="Zurückziehen").click()
    page.get_by_role("button", name="Ja, zurückziehen").click()
    expect(page.locator(".hinweis")).to_contain_text("Zurückgezogen: Fassung")
    gone = httpx.get(f"{portal.url}/opendata/api/3/action/package_list").json()["result"]
    assert WLAN not in gone
    page.get_by_role("button", name="Veröffentlichen").click()
    page.get_by_role("button", name="Ja, veröffentlichen").click()
    expect(page.locator(".hinweis")).to_have_text(
        f"Veröffentlicht: Fassung {new} ist jetzt öffentlich.")
    back = httpx.get(f"{portal.url}/opendata/api/3/action/package_list").json()["result"]
    assert WLAN in back
    assert found == {"sign-in": [], "desk": [], "failed-run": [], "review": [], "published": []}
