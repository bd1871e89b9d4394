"""The dashboard in a real headless Debian Chromium against a real hub and broker: the map's
base layer is the hub's own network (no request leaves the hub), every signal group of an
intersection is drawn in its lamp colour with a legend, a stale SPaT shows as stale, alarms
are sorted by severity and filterable and can be acknowledged from the page, a late bus
shows its delay, whether an intersection's C-ITS SPATEM agrees with its JSON SPaT, and how
good its predictions were over the last hour (errors by band, bounds, reliability diagram). A
screenshot is kept (pytest's tmp dir and ``test-artifacts/``)."""

from __future__ import annotations

import http.server
import io
import shutil
import threading
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Page, sync_playwright

from central_hub.broker import MosquittoBroker
from central_hub.domain.schedule import reference_ms
from edge_agent.contract.etsi.spatem import ItsIntersection, encode_spatem
from edge_agent.contract.payloads import Detector, Map, MapGroup, Spat, SpatGroup, decode, encode
from tests.integration.central_hub.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ENGINEER,
    TOPICS,
    HubServer,
    client,
    health,
    hub_config,
    now_ms,
    occupancy,
    position,
    start_hub,
    status,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
TZ = "Europe/Berlin"

# three lines through Kassel (stop names of the city, positions simplified)
LINES = {
    "1": ("E2001A", [("Auestadion", 51.2960, 9.4795), ("Weinberg", 51.3040, 9.4860),
                     ("Königsplatz", 51.3126, 9.4930), ("Holländischer Platz", 51.3230, 9.5010),
                     ("Uni/Mensa", 51.3320, 9.5045)]),
    "4": ("0072BC", [("Bahnhof Wilhelmshöhe", 51.3133, 9.4470), ("Kirchweg", 51.3140, 9.4650),
                     ("Scheidemannplatz", 51.3130, 9.4800), ("Rathaus", 51.3124, 9.4990),
                     ("Leipziger Platz", 51.3125, 9.5250)]),
    "7": ("00A651", [("Am Stern", 51.3180, 9.5035), ("Friedrichsplatz", 51.3110, 9.4975),
                     ("Hauptfriedhof", 51.3030, 9.4900),
                     ("Eugen-Richter-Straße", 51.2950, 9.4830)]),
}
# real Kassel junctions; K1..K4 on the four approaches, F1 a pedestrian crossing
IXS = {"ks-0101": ("Königsplatz", 51.3127, 9.4935), "ks-0102": ("Holländischer Platz", 51.3228,
                                                                9.5005),
       "ks-0103": ("Am Stern", 51.3178, 9.5040), "ks-0104": ("Scheidemannplatz", 51.3131, 9.4805)}
APPROACH = {"K1": "N", "K2": "E", "K3": "S", "K4": "W", "F1": "N"}
# the selected junction shows one group in each lamp colour
STATES = {"K1": "protected-Movement-Allowed", "K2": "stop-And-Remain", "K3": "pre-Movement",
          "K4": "protected-clearance", "F1": "caution-Conflicting-Traffic"}
LAMPS = {"K1": "green", "K2": "red", "K3": "redamber", "K4": "amber", "F1": "flash"}
# Scheidemannplatz's controller also publishes the SPATEM of each SPaT (issue 17)
ITS_0104 = ItsIntersection(561000104, 104, None, {sg: k + 1 for k, sg in enumerate(APPROACH)})


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _gtfs(path: Path, now: int) -> dict[str, tuple[str, str]]:
    """A feed of three lines with trips placed around ``now``; returns trip -> (route, stop)
    where a bus on it stands: late (+6 min), on time, and early (-3 min)."""
    today = datetime.fromtimestamp(now / 1000, ZoneInfo(TZ)).date()
    now_s = (now - reference_ms(today, TZ)) // 1000
    if now_s < 7200:  # just after midnight: yesterday's service day, times past 24:00
        now_s += 86_400
    stops = ["stop_id,stop_name,stop_lat,stop_lon"]
    shapes = ["shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence"]
    trips = ["route_id,service_id,trip_id,direction_id,shape_id"]
    times = ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    routes = ["route_id,agency_id,route_short_name,route_long_name,route_type,route_color"]
    # (trip, line, stop index where the bus stands, scheduled arrival there - now in s)
    plan = {"late-1": ("1", 2, -400), "ontime-4": ("4", 1, 20), "early-7": ("7", 1, 180)}
    where = {}
    for line, (colour, calls) in LINES.items():
        routes.append(f"{line},KVG,{line},Linie {line},3,{colour}")
        for k, (name, lat, lon) in enumerate(calls):
            stops.append(f"L{line}-{k},{name},{lat},{lon}")
            shapes.append(f"shp-{line},{lat},{lon},{k + 1}")
    for trip, (line, at, offset) in plan.items():
        trips.append(f"{line},daily,{trip},0,shp-{line}")
        base = now_s + offset - at * 120
        for k in range(len(LINES[line][1])):
            arr = base + k * 120
            times.append(f"{trip},{_hms(arr)},{_hms(arr + 20)},L{line}-{k},{k + 1}")
        where[trip] = (line, f"L{line}-{at}")
    files = {"agency.txt": f"agency_id,agency_name,agency_url,agency_timezone\nKVG,KVG,"
                           f"https://example.invalid,{TZ}\n",
             "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,"
                             "sunday,start_date,end_date\ndaily,1,1,1,1,1,1,1,20240101,20351231\n",
             "routes.txt": "\n".join(routes) + "\n", "stops.txt": "\n".join(stops) + "\n",
             "shapes.txt": "\n".join(shapes) + "\n", "trips.txt": "\n".join(trips) + "\n",
             "stop_times.txt": "\n".join(times) + "\n"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    path.write_bytes(buf.getvalue())
    return where


def _map(ix: str) -> bytes:
    name, lat, lon = IXS[ix]
    return encode(Map(ts=now_ms(), intersection_id=ix, revision=1, name=name, lat=lat, lon=lon,
                      groups=[MapGroup(sg=sg, kind="pedestrian" if sg == "F1" else "vehicle",
                                       approach=a, lanes=1) for sg, a in APPROACH.items()],
                      conflicts={}))


def _spat(ix: str, seq: int, cycle: int) -> bytes:
    """ks-0101 holds one group in each lamp colour (K2's likely end has passed, its latest
    end not yet); the others cycle green/red."""
    t = now_ms()
    groups = []
    for sg in APPROACH:
        if ix == "ks-0101":
            state = STATES[sg]
            likely = t - 2_000 if sg == "K2" else t + 12_000
            groups.append(SpatGroup(sg=sg, state=state, min_end=likely - 1_000,  # type: ignore[arg-type]
                                    max_end=t + 9_000 if sg == "K2" else likely + 4_000,
                                    likely_end=likely, confidence=70))
        else:
            green = (cycle + (sg in ("K2", "K4"))) % 2 == 0
            groups.append(SpatGroup(
                sg=sg, state="protected-Movement-Allowed" if green else "stop-And-Remain",  # type: ignore[arg-type]
                min_end=t + 2_000, max_end=t + 8_000, likely_end=t + 5_000, confidence=80))
    return encode(Spat(ts=t, seq=seq, intersection_id=ix, revision=1, status="operational",
                       groups=groups))


def _hub(broker: MosquittoBroker, tmp_path: Path) -> tuple[HubServer, dict[str, tuple[str, str]]]:
    gtfs = tmp_path / "kassel-test.zip"
    trips = _gtfs(gtfs, now_ms())
    return start_hub(hub_config(tmp_path, broker, gtfs=str(gtfs))), trips


def _open_alarms(hub: HubServer) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = httpx.get(hub.url + "/api/v1/alarms?state=open").json()
    return rows


def _lamps(page: Page, selector: str) -> dict[str, str]:
    return dict(page.eval_on_selector_all(
        selector, "els => els.map(e => [e.dataset.sg, e.dataset.lamp])"))


@pytest.mark.slow
def test_dashboard_is_a_traffic_management_view(broker: MosquittoBroker, tmp_path: Path) -> None:
    hub, trips = _hub(broker, tmp_path)
    ctl = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ks-0102", protocol=mqtt.MQTTv5)
    ctl.will_set(TOPICS.topic("status", "ks-0102"), status("ks-0102", "offline", bdseq=1),
                 qos=1, retain=True)
    ctl.connect(broker.host, broker.port, keepalive=5)
    ctl.loop_start()
    sim = client(broker, "sim")
    for ix in IXS:
        sim.publish(TOPICS.topic("map", ix), _map(ix), qos=1, retain=True)
    ctl.publish(TOPICS.topic("status", "ks-0102"), status("ks-0102", "online", bdseq=1), qos=1,
                retain=True).wait_for_publish()
    stop = threading.Event()
    am_stern_alive = threading.Event()
    am_stern_alive.set()

    def traffic() -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            cycle = seq // 40
            for ix in ("ks-0101", "ks-0104"):
                sp = _spat(ix, seq, cycle)
                sim.publish(TOPICS.topic("spat", ix), sp)
                if ix == "ks-0104":  # the same tick as C-ITS, after the JSON as a controller does
                    sim.publish(TOPICS.topic("etsi_spatem", ix),
                                encode_spatem(decode(Spat, sp), ITS_0104, 1))
            if am_stern_alive.is_set():
                sim.publish(TOPICS.topic("spat", "ks-0103"), _spat("ks-0103", seq, cycle))
            if ctl.is_connected():
                ctl.publish(TOPICS.topic("spat", "ks-0102"), _spat("ks-0102", seq, cycle))
            if seq % 10 == 1:
                k = seq // 10
                for n, (trip, (line, stop_id)) in enumerate(sorted(trips.items())):
                    vid = f"{1201 + n}"
                    _, lat, lon = LINES[line][1][int(stop_id.rsplit("-", 1)[1])]
                    sim.publish(TOPICS.topic("position", vid), position(
                        vid, k, lat=lat, lon=lon, trip_id=trip, route_id=line,
                        stop_id=stop_id, stop_status="STOPPED_AT"))
                    sim.publish(TOPICS.topic("occupancy", vid), occupancy(vid, k, 20 + 25 * n))
                sim.publish(TOPICS.topic("detector", "ks-0101"), encode(Detector(
                    ts=now_ms(), detector="D1", occupied=k % 2 == 0)))
                sim.publish(TOPICS.topic("health", "bus-1201"), health(k, cpu=97.0))
            time.sleep(0.1)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    requests: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            page = browser.new_page(viewport={"width": 1600, "height": 1150})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: requests.append(r.url))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)
            page.on("websocket", lambda w: requests.append(w.url))
            response = page.goto(hub.url + "/")
            # a strict policy: a violation would be a console error, which fails the test
            assert response is not None and response.headers["content-security-policy"] \
                .startswith("default-src 'none'; script-src 'self'; style-src 'self'")
            page.wait_for_selector("[data-testid=connection].up", timeout=15_000)

            # the base layer is the hub's network: route polylines and stops, no tiles
            page.wait_for_selector(".leaflet-overlay-pane path", timeout=15_000)
            assert page.locator(".leaflet-tile").count() == 0
            legend = page.locator("[data-testid=legend]")
            for lamp in ("red", "redamber", "green", "amber", "flash", "dark", "unavail"):
                assert legend.locator(f".sg-{lamp}").count() == 1, lamp
            for name in ("stop-And-Remain", "pre-Movement", "protected / permissive-Movement-"
                         "Allowed", "caution-Conflicting-Traffic", "unavailable"):
                assert name in legend.inner_text()

            # every group of the selected junction in its lamp colour, on the map and listed
            page.wait_for_selector(".ix[data-ix='ks-0101'] .sg", timeout=15_000)
            page.locator("#ix-table button[data-ix='ks-0101']").click()
            page.wait_for_selector(".ix.sel[data-ix='ks-0101']", timeout=5_000)
            assert page.locator(".ix.sel").count() == 1
            assert page.locator("#ix-table tr.sel[data-ix='ks-0101']").count() == 1
            assert _lamps(page, ".ix[data-ix='ks-0101'] .sg") == LAMPS
            page.wait_for_selector("#sel-groups tr[data-sg='F1']", timeout=5_000)
            assert _lamps(page, "#sel-groups tbody tr") == LAMPS
            assert "Königsplatz" in page.locator("#sel-name").inner_text()
            assert "Königsplatz" in page.locator(".ix[data-ix='ks-0101'] .lbl").inner_text()
            # K2's likely end has passed: "due", never a frozen 0
            k2 = page.locator("#sel-groups tr[data-sg='K2'] .countdown").inner_text()
            assert k2.startswith("due"), k2
            k1 = page.locator("#sel-groups tr[data-sg='K1'] .countdown").inner_text()
            assert k1.split()[0].isdigit() and int(k1.split()[0]) > 0, k1

            # the map is keyboard-operable: Tab to a junction, Enter selects it
            page.focus(".leaflet-marker-icon[title='Scheidemannplatz']")
            page.keyboard.press("Enter")
            page.wait_for_selector(".ix.sel[data-ix='ks-0104']", timeout=5_000)
            page.locator("#ix-table button[data-ix='ks-0101']").focus()
            page.keyboard.press("Enter")
            page.wait_for_selector(".ix.sel[data-ix='ks-0101']", timeout=5_000)
            assert page.locator(".ix.sel").count() == 1

            # a detector heard, its health polled
            page.wait_for_function("(window.__hub.health['ks-0101'] || {}).detectors === 1",
                                   timeout=15_000)

            # C-ITS: Scheidemannplatz's SPATEM says what its SPaT says; Königsplatz sends none
            page.wait_for_selector("#ix-table tr[data-ix='ks-0104'] .etsi[data-etsi='agrees']",
                                   timeout=15_000)
            assert page.locator("#ix-table tr[data-ix='ks-0101'] .etsi").inner_text() == \
                "no ETSI output"
            assert page.locator("[data-testid=etsi]").inner_text() == "no ETSI output"
            page.locator("#ix-table button[data-ix='ks-0104']").click()
            page.wait_for_selector("[data-testid=etsi] .etsi[data-etsi='agrees']", timeout=5_000)
            assert page.locator("[data-testid=etsi]").inner_text() == "agrees"

            # prediction quality (issue 18): Scheidemannplatz switches every 4 s while each
            # row says "in 5 s" (2-8 s): its errors by band, the bounds (the last samples'
            # earliest end lies after the switch: none kept) and the reliability diagram
            page.wait_for_selector("[data-testid=prediction] [data-band='le10s']",
                                   timeout=20_000)
            pred = page.locator("[data-testid=prediction]").inner_text()
            assert "≤ 10 s ahead: " in pred and "10–30 s ahead: –" in pred, pred
            near = page.locator("[data-testid=prediction] [data-band='le10s']").inner_text()
            assert 0 < float(near.split(": ")[1].split(" s")[0]) < 5, near
            assert page.locator("[data-testid=bounds]").inner_text().startswith("0 % of "), \
                page.locator("[data-testid=bounds]").inner_text()
            plot = page.locator("svg[data-testid=reliability]")
            assert plot.locator("line.diag").count() == 1
            assert plot.locator("circle.pt").count() == 1  # every row claims 80 %
            dot = plot.locator("circle.pt[data-bucket='80']")
            assert "claimed 80–89 %" in (dot.locator("title").text_content() or "")
            # the panel is rebuilt on every SPaT (10 Hz): measure it in one step of the page, as
            # a locator's bounding box of a node replaced in between is None
            size = page.evaluate("() => { const r = document.querySelector("
                                 "'svg[data-testid=reliability]').getBoundingClientRect(); "
                                 "return [r.width, r.height]; }")
            assert size[0] > 0 and size[1] > 0, size
            cell = page.locator("#ix-table tr[data-ix='ks-0104'] [data-quality='le10s']")
            assert cell.inner_text().endswith(" s"), cell.inner_text()
            page.locator("#ix-table button[data-ix='ks-0101']").click()
            page.wait_for_selector(".ix.sel[data-ix='ks-0101']", timeout=5_000)
            # Königsplatz never switches: nothing scored, no diagram
            assert page.locator("[data-testid=prediction]").inner_text().startswith(
                "no switch scored in the last hour")
            assert page.locator("svg[data-testid=reliability]").count() == 0
            page.wait_for_selector(".ix.sel[data-ix='ks-0101']", timeout=5_000)

            # a late bus shows its delay (list and map); the others early / on time
            page.wait_for_selector("#bus-table tr[data-punctuality='late']", timeout=15_000)
            late = page.locator("#bus-table tr[data-punctuality='late']")
            assert late.count() == 1
            delay = int(late.locator(".delay").get_attribute("data-delay") or "0")
            assert 380 <= delay <= 520, delay
            assert late.locator(".delay").inner_text().startswith("+6:") or \
                late.locator(".delay").inner_text().startswith("+7:")
            assert page.locator(".bus.late").count() == 1
            assert page.locator(".bus.early").count() == 1
            assert page.locator(".bus.on_time").count() == 1
            rest = httpx.get(hub.url + "/api/v1/vehicles/punctuality").json()
            assert [p["punctuality"] for p in rest] == ["late", "on_time", "early"]

            # Am Stern stops sending SPaT: stale on the map, in the table and in the alarms
            am_stern_alive.clear()
            page.wait_for_selector(".ix.stale[data-ix='ks-0103']", timeout=10_000)
            page.wait_for_selector("#ix-table tr.stale[data-ix='ks-0103'] .stale-age",
                                   timeout=5_000)
            assert page.locator(".ix.stale").count() == 1

            # the controller of Holländischer Platz dies (Last Will): critical alarms
            ctl.loop_stop()
            ctl.socket().close()
            for kind, dev in (("device_offline", "ks-0102"), ("spat_stale", "ks-0103"),
                              ("health_cpu", "bus-1201")):
                page.wait_for_selector(f"#alarms li[data-kind='{kind}'][data-device='{dev}']",
                                       timeout=20_000)
            page.wait_for_function(
                "[...document.querySelectorAll('#alarms li.alarm')]"
                ".every(li => +li.dataset.id > 0)",
                timeout=10_000)
            sev = page.eval_on_selector_all("#alarms li.alarm", "els => els.map(e => "
                                            "e.dataset.severity)")
            assert sev == sorted(sev, key=lambda s: s != "critical"), sev  # critical first
            assert "warning" in sev and "critical" in sev
            page.select_option("#f-severity", "warning")
            assert set(page.eval_on_selector_all(
                "#alarms li.alarm", "els => els.map(e => e.dataset.severity)")) == {"warning"}
            page.select_option("#f-severity", "")
            page.select_option("#f-device", "ks-0103")
            assert set(page.eval_on_selector_all(
                "#alarms li.alarm", "els => els.map(e => e.dataset.device)")) == {"ks-0103"}
            page.select_option("#f-device", "")
            page.select_option("#f-kind", "device_offline")
            assert page.locator("#alarms li.alarm").count() == 1
            page.select_option("#f-kind", "")

            # acknowledge from the page: disabled until an engineer signs in
            target = page.locator("#alarms li[data-kind='device_offline']")
            assert target.locator("button").is_disabled()
            page.fill("#token", "not-a-token")
            page.click("#signin button[type=submit]")
            page.wait_for_selector("#token[aria-invalid=true]", timeout=5_000)
            page.fill("#token", ENGINEER)
            page.keyboard.press("Enter")  # the form is keyboard-operable
            page.wait_for_selector("[data-testid=role]:has-text('engineer')", timeout=5_000)
            alarm_id = int(target.get_attribute("data-id") or "0")
            target.locator("button").click()
            page.wait_for_selector(f"#alarms li.acked[data-id='{alarm_id}']", timeout=5_000)
            acked = next(a for a in _open_alarms(hub) if a["id"] == alarm_id)
            assert acked["acked_by"] == "engineer" and acked["acked_ms"]
            assert page.evaluate("sessionStorage.getItem('kassel.hub.token')") == ENGINEER

            time.sleep(0.6)  # one more repaint of countdowns and the phase diagram
            shot = tmp_path / "hub-dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(shot, ARTIFACTS / "hub-dashboard.png")
            assert shot.stat().st_size > 50_000
            assert errors == []
            browser.close()
    finally:
        stop.set()
        t.join(5)
        sim.disconnect()
        sim.loop_stop()
        hub.stop()
    # no request left the hub: page, scripts, styles, API and WebSocket all on its origin
    origin = urlsplit(hub.url).netloc
    outside = [u for u in requests if not u.startswith("data:") and urlsplit(u).netloc != origin]
    assert requests and outside == [], outside


class _Tiles(http.server.BaseHTTPRequestHandler):
    """A tile server on this machine: one PNG for every tile, the paths it was asked for."""

    asked: ClassVar[list[str]] = []
    png = (Path(__file__).resolve().parents[3]
           / "central_hub/static/vendor/leaflet/dist/images/layers.png").read_bytes()

    def do_GET(self) -> None:
        type(self).asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_a_configured_tile_source_is_drawn_under_the_network(broker: MosquittoBroker,
                                                              tmp_path: Path) -> None:
    tiles = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    port = tiles.server_address[1]
    gtfs = tmp_path / "kassel-test.zip"
    _gtfs(gtfs, now_ms())
    hub = start_hub(hub_config(tmp_path, broker, gtfs=str(gtfs)), dashboard={
        "tile_url": f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png",
        "tile_attribution": "© Stadt Kassel test tiles"})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            response = page.goto(hub.url + "/")
            assert response is not None
            csp = response.headers["content-security-policy"]
            assert f"img-src 'self' data: http://127.0.0.1:{port}" in csp
            assert "script-src 'self'" in csp
            page.wait_for_selector(".leaflet-tile-loaded", timeout=15_000)
            page.wait_for_selector(".leaflet-overlay-pane path", timeout=15_000)
            assert "© Stadt Kassel test tiles" in page.locator(
                ".leaflet-control-attribution").inner_text()
            assert errors == []
            browser.close()
    finally:
        hub.stop()
        tiles.shutdown()
    assert any(p.endswith(".png") and p.count("/") == 3 for p in _Tiles.asked), _Tiles.asked
