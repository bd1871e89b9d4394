"""The passenger app at ``/app/`` in headless Chromium against a real hub: a bus reports
standing room only over a real Mosquitto, and tickets are paid through the real Stripe adapter
at the local stand-in.

Planned with the stop search, the options show the crowded badge beside the calmer
alternative (also in the status a screen reader announces); following the crowded option
draws the bus where it reported; the departures of the stops nearest the position show; a
journey is planned by keyboard alone and the app switches to English; a ticket is bought
(the form's errors first), paid on the provider's hosted page, shown, and shown again with
the network cut, from the service worker's shell and the device's store. The hub's page
policy is enforced (no inline script or style, no eval), axe-core (served from the hub's
origin) finds no WCAG 2.1 A/AA violation on any view, and no request goes anywhere but the
hub, except the passenger's visit to the payment provider's hosted page.

WHY one hub and one browser for the module: starting them is most of the time, and CI is at
its limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Route,
    expect,
    sync_playwright,
)

from central_hub.broker import MosquittoBroker, free_port
from central_hub.domain.schedule import Schedule, Trip, reference_ms, service_date
from central_hub.gtfs_static import load_schedule
from central_hub.mobility.app_page import content_security_policy
from central_hub.mobility.settings import BookingSettings, MobilitySettings
from simulations.demo.payment_provider import StripeStandIn
from simulations.fares_synth import write_feed_with_fares
from tests.integration.central_hub.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TOPICS,
    HubServer,
    client,
    hub_config,
    now_ms,
    occupancy,
    position,
    start_hub,
    wait_for,
)

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
#: where the test serves axe-core to the page: the hub's origin, so its policy admits it
AXE_PATH = "/app/__test__/axe.min.js"
RULES = "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}"
BERLIN = ZoneInfo("Europe/Berlin")
EMAIL = "anna.beispiel@example.org"


@dataclass
class Scene:
    """The hub, the payment provider's stand-in, and the bus's trip and stops."""

    srv: HubServer
    stripe: StripeStandIn
    schedule: Schedule
    trip: Trip
    now: int

    @property
    def url(self) -> str:
        return self.srv.url

    def stop_name(self, n: int) -> str:
        return self.schedule.stops[self.trip.stop_times[n].stop_id].name


def _trip_at_fourth_stop(schedule: Schedule, now: int) -> Trip:
    names = [s.name for s in schedule.stops.values()]
    for trip in sorted(schedule.trips.values(), key=lambda t: t.trip_id):
        day = service_date(schedule, trip, now)
        if day is None:
            continue
        # stops whose name no other stop has: the test picks them by name
        if any(names.count(schedule.stops[trip.stop_times[n].stop_id].name) > 1
               for n in (3, 6)):
            continue
        dep = reference_ms(day, schedule.timezone) + trip.stop_times[3].departure_s * 1000
        if 0 <= now - dep < 600_000:
            return trip
    raise AssertionError("the synthetic feed runs every 10 minutes all day")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("app")
    gtfs = write_feed_with_fares(tmp / "gtfs.zip", first_s=0, last_s=24 * 3600, headway_s=600)
    schedule = load_schedule(gtfs)
    now = now_ms()
    trip = _trip_at_fourth_stop(schedule, now)
    stop = schedule.stops[trip.stop_times[3].stop_id]
    port = free_port()
    with MosquittoBroker(tmp / "mosquitto") as broker, StripeStandIn(
            webhook_url=f"http://127.0.0.1:{port}/api/v1/payments/webhook") as stripe:
        bookings = BookingSettings(stripe_api_key=stripe.api_key,
                                   stripe_webhook_secrets=(stripe.webhook_secret,),
                                   stripe_base_url=stripe.base_url)
        srv = start_hub(hub_config(tmp, broker, gtfs=str(gtfs)), port=port,
                        mobility=MobilitySettings(realtime_refresh_s=0.2, bookings=bookings))
        pub = client(broker, "bus-sim-app")
        try:
            pub.publish(TOPICS.topic("position", "2001"), position(
                "2001", 1, now, lat=stop.lat, lon=stop.lon, trip_id=trip.trip_id,
                route_id=trip.route_id, stop_id=stop.stop_id, stop_status="STOPPED_AT"),
                qos=1).wait_for_publish()
            pub.publish(TOPICS.topic("occupancy", "2001"), occupancy("2001", 1, 42, now),
                        qos=1).wait_for_publish()
            yield Scene(srv, stripe, schedule, trip, now)
        finally:
            pub.disconnect()
            srv.stop()


@dataclass
class Session:
    """The module's browser context: every request routed (anything but the hub refused),
    what went wrong in the page, and axe-core."""

    context: BrowserContext
    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    provider: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        # a refused request is an answer a test asks for (409 of an early COMMIT); a refused
        # script, style, manifest or eval (the policy) is an error
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def heading(self, text: str | re.Pattern[str]) -> None:
        """Wait for the view's h1, which has the focus (a screen reader starts there)."""
        expect(self.page.locator("main h1")).to_have_text(text, timeout=15_000)
        wait_for(lambda: self.page.evaluate(
            "() => document.activeElement === document.querySelector('main h1')"),
            what="the focus on the view's heading")
        words = set(re.findall(r"\w+", self.page.locator("main").inner_text()))
        assert not words & {"null", "undefined", "NaN"}, words

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


@pytest.fixture(scope="module")
def session(browser: Browser, scene: Scene) -> Iterator[Session]:
    stop = scene.schedule.stops[scene.trip.stop_times[3].stop_id]
    context = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin",
                                  viewport={"width": 390, "height": 844},
                                  geolocation={"latitude": stop.lat + 0.0003,
                                               "longitude": stop.lon},
                                  permissions=["geolocation"])
    s = Session(context, context.new_page(), scene.url)
    axe = AXE.read_bytes()
    pay_page = scene.stripe.base_url + "/pay/"

    def guard(route: Route, request: Request) -> None:
        if request.url.startswith(scene.url + "/"):
            route.continue_()
        elif request.url.startswith(pay_page):  # the one hand-over: the provider's checkout
            s.provider.append(request.url)
            route.continue_()
        else:
            s.foreign.append(request.url)
            route.abort()

    context.route("**/*", guard)
    context.route(f"{scene.url}{AXE_PATH}", lambda route: route.fulfill(
        body=axe, content_type="text/javascript; charset=utf-8"))
    s.page.on("pageerror", lambda e: s.errors.append(str(e)))
    s.page.on("console", s.console)
    try:
        yield s
    finally:
        context.close()
    assert s.errors == []
    assert s.foreign == []


def _local(ms: int) -> str:
    """A time as the form's date-and-time field takes it (Kassel's zone)."""
    return datetime.fromtimestamp(ms / 1000, BERLIN).strftime("%Y-%m-%dT%H:%M")


def _choose_stop(page: Page, field: str, name: str) -> None:
    """Type a stop's name into a stop field and pick the first suggestion by keyboard."""
    box = page.get_by_role("combobox", name=field)
    box.fill(name)
    expect(page.locator(f"#{box.get_attribute('id')}-liste li").first).to_contain_text(name)
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value(name)


def test_plan_options_follow_and_departures(scene: Scene, session: Session) -> None:
    page, found = session.page, {}
    calls = scene.trip.stop_times
    # the hub knows the crowded bus before the page asks
    wait_for(lambda: any(it["crowded"] for it in httpx.get(
        f"{scene.url}/api/v1/journeys", params={"from": f"stop:{calls[3].stop_id}",
                                                "to": f"stop:{calls[6].stop_id}",
                                                "time": scene.now - 60_000}).json()
        ["itineraries"]), what="the crowded bus")

    config = httpx.get(f"{scene.url}/api/v1/mobility/app-config").json()
    assert config == {"tile_url": None, "tile_attribution": "", "tickets": True,
                      "bike_sharing": False}
    manifest = httpx.get(f"{scene.url}/app/manifest.webmanifest").json()
    assert manifest["start_url"] == manifest["scope"] == "/app/" and manifest["icons"]
    answer = page.goto(f"{scene.url}/app/")
    assert answer is not None and answer.ok
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; script-src 'self'; style-src 'self'")
    assert "manifest-src 'self'" in policy and "unsafe" not in policy
    session.heading("Verbindung suchen")
    found["plan"] = session.violations()

    # GOV.UK's errors: in a summary at the top and next to each field
    page.get_by_role("button", name="Verbindungen suchen").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Geben Sie an, wo Sie losfahren")
    expect(page.locator("#von-feld .feldfehler")).to_contain_text("Geben Sie an, wo Sie losfahren")
    expect(page.locator("#nach-feld .feldfehler")).to_contain_text("Geben Sie an, wohin Sie fahren")
    assert page.evaluate("() => document.activeElement.classList.contains('fehler')")
    found["errors"] = session.violations()
    summary.get_by_role("link", name="Geben Sie an, wohin Sie fahren").click()
    assert page.evaluate("() => document.activeElement.id") == "nach"

    _choose_stop(page, "Von", scene.stop_name(3))
    _choose_stop(page, "Nach", scene.stop_name(6))
    page.get_by_label("Datum und Uhrzeit").fill(_local(scene.now - 60_000))
    page.get_by_role("button", name="Verbindungen suchen").click()
    session.heading(f"{scene.stop_name(3)} → {scene.stop_name(6)}")
    expect(page.get_by_role("status").filter(has_text="gefunden")).to_contain_text(
        "stark ausgelastet; eine ruhigere Alternative ist dabei")
    crowded = page.locator("li.option.voll")
    expect(crowded).to_have_count(1)
    expect(crowded.locator(".marke.voll")).to_have_text("Stark ausgelastet")
    expect(crowded).to_contain_text("Auslastung: nur Stehplätze")
    expect(page.locator(".marke.ruhig").first).to_have_text("Ruhigere Alternative")
    expect(crowded.locator(".linie")).to_contain_text("Bus")
    found["options"] = session.violations()

    # follow the crowded option: the bus where it reported, on the network the hub draws
    crowded.get_by_role("link", name="Live verfolgen").click()
    session.heading(re.compile(r"^Fahrt live: \d\d:\d\d – \d\d:\d\d$"))
    expect(page.locator("#karte path.fahrzeug")).to_have_count(1, timeout=15_000)
    expect(page.locator(".live-gesehen")).to_contain_text("gesehen vor")
    expect(page.locator(".live-gesehen")).to_contain_text("Auslastung: nur Stehplätze")
    assert page.locator("#karte path.weg").count() >= 1
    found["follow"] = session.violations()

    # the departures of the stops nearest the position
    page.get_by_role("link", name="Abfahrten", exact=True).click()
    session.heading("Abfahrten in der Nähe")
    page.get_by_role("button", name="Haltestellen in meiner Nähe").click()
    boards = page.locator("section.tafel")
    expect(boards).to_have_count(3)
    expect(boards.first.locator("h2")).to_contain_text(scene.stop_name(3))
    assert boards.first.locator("tbody tr").count() >= 1
    found["departures"] = session.violations()
    assert found == {k: [] for k in found}


def test_keyboard_only_planning_and_english(scene: Scene, session: Session) -> None:
    page = session.page
    page.goto(f"{scene.url}/app/#/")
    session.heading("Verbindung suchen")
    page.keyboard.press("Tab")  # from the heading to the first field
    assert page.evaluate("() => document.activeElement.id") == "von"
    page.keyboard.type(scene.stop_name(3))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # "Meinen Standort verwenden"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "nach"
    page.keyboard.type(scene.stop_name(6))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # picks the suggestion
    page.keyboard.press("Enter")  # sends the form
    session.heading(f"{scene.stop_name(3)} → {scene.stop_name(6)}")
    expect(page.locator("li.option").first).to_be_visible()

    # the language switch, by keyboard: the same view in English, the focus kept
    switch = page.get_by_role("button", name="Switch to English")
    switch.focus()
    page.keyboard.press("Enter")
    try:
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("status").filter(has_text="found")).to_contain_text(
            re.compile(r"^\d+ journeys? found\."))
        expect(page.get_by_role("link", name="Plan a journey")).to_be_visible()
        expect(page.locator("li.option").first).to_contain_text("Follow live")
        assert page.evaluate("() => document.activeElement.id") == "sprache"
        english = session.violations()
    finally:
        page.get_by_role("button", name="Auf Deutsch umschalten").click()
        expect(page.locator("html")).to_have_attribute("lang", "de")
    assert english == []


def test_buy_pay_and_show_the_ticket_offline(scene: Scene, session: Session) -> None:
    page, found = session.page, {}
    origin, target = "Kunoldstraße", "Scheidemannplatz"
    page.goto(f"{scene.url}/app/#/")
    session.heading("Verbindung suchen")
    _choose_stop(page, "Von", origin)
    _choose_stop(page, "Nach", target)
    page.get_by_label("Datum und Uhrzeit").fill(_local(now_ms() + 40 * 60_000))
    page.get_by_role("button", name="Verbindungen suchen").click()
    session.heading(f"{origin} → {target}")
    page.locator("li.option").first.get_by_role("link", name="Fahrschein kaufen").click()
    session.heading("Fahrschein kaufen")

    # no e-mail: the error next to the field and in the summary
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.locator("#email-feld .feldfehler")).to_contain_text("E-Mail-Adresse")
    expect(page.get_by_role("alert")).to_contain_text("E-Mail-Adresse")
    found["order"] = session.violations()
    page.get_by_label("E-Mail-Adresse").fill(EMAIL)
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    session.heading("Ihre Bestellung")
    pay = page.get_by_role("button", name=re.compile(r"^Weiter zur Bezahlung \(\d+,\d\d €\)$"))
    expect(pay).to_be_visible()
    expect(page.locator("dl.fakten")).to_contain_text("wartet auf Bezahlung")
    found["booking"] = session.violations()

    # the provider's hosted page, and back to the app: confirmed, the ticket kept
    pay.click()
    page.wait_for_url(f"{scene.stripe.base_url}/pay/**")
    page.get_by_role("button", name="Pay").click()
    session.heading("Fahrschein")
    assert session.provider and all(u.startswith(scene.stripe.base_url) for u in session.provider)
    ticket = page.locator(".fahrschein")
    expect(ticket).to_contain_text("Gültig ab")
    expect(ticket.locator("pre.code")).to_contain_text(".")
    expect(ticket).to_contain_text(origin)
    code = ticket.locator("pre.code").inner_text()
    found["ticket"] = session.violations()

    # the network cut: the app opens from the service worker, the ticket from the device
    wait_for(lambda: page.evaluate("navigator.serviceWorker.controller !== null"),
             what="the service worker")
    session.context.set_offline(True)
    try:
        page.reload()
        session.heading("Fahrschein")
        expect(page.locator(".fahrschein pre.code")).to_have_text(code)
        expect(page.get_by_role("status").filter(has_text="offline")).to_be_visible()
        page.get_by_role("link", name="Fahrscheine", exact=True).click()
        session.heading("Meine Fahrscheine")
        expect(page.locator("main ul.liste li")).to_have_count(1)
    finally:
        session.context.set_offline(False)
    assert found == {k: [] for k in found}


def test_a_tile_server_is_the_one_other_host_the_page_may_load_images_from() -> None:
    policy = content_security_policy("https://{s}.tiles.kassel.example/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://*.tiles.kassel.example;" in policy
    assert content_security_policy(None).count("img-src 'self' data:;") == 1
