"""The dashboard in a real headless Debian Chromium: it loads, live updates arrive, and an
alarm appears when a device dies. A screenshot is kept in ``test-artifacts/``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import sync_playwright

from central_hub.broker import MosquittoBroker
from edge_agent.contract.payloads import Map, MapGroup, encode
from tests.integration.central_hub.helpers import (
    TOPICS,
    HubServer,
    client,
    now_ms,
    occupancy,
    position,
    spat,
    status,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
IXS = {"ks-0042": (51.3190, 9.4850, "Holländischer Platz"), "ks-0043": (51.3120, 9.4960,
                                                                         "Königsplatz")}


def _map(ix: str) -> bytes:
    lat, lon, name = IXS[ix]
    return encode(Map(ts=now_ms(), intersection_id=ix, revision=1, name=name, lat=lat, lon=lon,
                      groups=[MapGroup(sg="K1", kind="vehicle", approach="N", lanes=1),
                              MapGroup(sg="K2", kind="vehicle", approach="E", lanes=1)],
                      conflicts={"K1": {"K2": 5.0}, "K2": {"K1": 5.0}}))


@pytest.mark.slow
def test_dashboard_live_updates_and_alarm_on_device_death(hub: HubServer,
                                                          broker: MosquittoBroker) -> None:
    ctl = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ks-0043", protocol=mqtt.MQTTv5)
    ctl.will_set(TOPICS.topic("status", "ks-0043"), status("ks-0043", "offline", bdseq=1),
                 qos=1, retain=True)
    ctl.connect(broker.host, broker.port, keepalive=5)
    ctl.loop_start()
    sim = client(broker, "sim")
    for ix in IXS:
        sim.publish(TOPICS.topic("map", ix), _map(ix), qos=1, retain=True)
    ctl.publish(TOPICS.topic("status", "ks-0043"), status("ks-0043", "online", bdseq=1), qos=1,
                retain=True).wait_for_publish()
    stop = threading.Event()

    def traffic() -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            green = (seq // 30) % 2 == 0
            sim.publish(TOPICS.topic("spat", "ks-0042"), spat(
                "ks-0042", seq, state="protected-Movement-Allowed" if green else "stop-And-Remain"))
            if not stop.is_set() and ctl.is_connected():
                ctl.publish(TOPICS.topic("spat", "ks-0043"), spat("ks-0043", seq))
            if seq % 10 == 0:
                for k, (vid, pax) in enumerate((("1234", 20), ("1235", 38), ("1236", 44))):
                    lat = 51.305 + 0.006 * k + 0.0001 * (seq % 50)
                    sim.publish(TOPICS.topic("position", vid),
                                position(vid, seq, lat=lat, lon=9.48 + 0.01 * k))
                    sim.publish(TOPICS.topic("occupancy", vid), occupancy(vid, seq, pax))
            time.sleep(0.1)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(hub.url + "/")
            page.wait_for_selector("[data-testid=connection].up", timeout=15_000)
            page.wait_for_function("window.__hub.frames >= 5", timeout=15_000)
            page.wait_for_selector("circle[data-vehicle='1236'][data-occupancy="
                                   "'STANDING_ROOM_ONLY']", timeout=15_000)
            page.wait_for_selector("rect[data-ix='ks-0042']", timeout=15_000)
            assert page.locator("#routes polyline").count() >= 3  # GTFS shapes drawn
            page.locator("#ix-table tr[data-ix='ks-0042']").click()
            page.wait_for_function(
                "(window.__hub.history['ks-0042'] || []).length >= 2", timeout=15_000)
            frames_before = page.evaluate("window.__hub.frames")
            page.wait_for_function(f"window.__hub.frames > {frames_before + 3}", timeout=10_000)

            ctl.loop_stop()
            ctl.socket().close()  # the controller dies: the broker publishes its Last Will
            page.wait_for_selector("#alarms li[data-kind='device_offline'][data-device='ks-0043']",
                                   timeout=20_000)
            page.wait_for_selector("#alarms li[data-kind='spat_stale'][data-device='ks-0043']",
                                   timeout=20_000)
            time.sleep(0.6)  # let the countdowns and the phase diagram repaint once more
            page.screenshot(path=str(ARTIFACTS / "hub-dashboard.png"), full_page=True)
            assert errors == []
            browser.close()
    finally:
        stop.set()
        t.join(5)
        sim.disconnect()
        sim.loop_stop()
    assert (ARTIFACTS / "hub-dashboard.png").stat().st_size > 10_000
