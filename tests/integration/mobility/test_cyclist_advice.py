"""Acceptance: a cyclist's next-light countdown and speed advice over HTTP from a real hub,
from the live SPaT an intersection publishes over a real Mosquitto.

Holländischer Platz (ks-0042, the shipped config) publishes what its controller does: its
MAP and MAPEM (retained), then SPaT and SPATEM at 10 Hz with fixed switch times. A rider
120 m north riding south is on the N approach: the MAPEM's lane gives group K1, and the
answer's countdown is K1's ``likely_end`` as published, the advice exactly what
``glosa.advise`` says for a bicycle. A second intersection (ks-0043) has only a JSON MAP and
one SPaT: the compass fallback chooses its group, and a second later its SPaT is stale.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from central_hub.broker import MosquittoBroker
from central_hub.learning.settings import LearningSettings
from edge_agent.contract.configs import IntersectionConfig, load_config
from edge_agent.contract.etsi.mapem import encode_mapem
from edge_agent.contract.etsi.spatem import ItsIntersection, encode_spatem
from edge_agent.contract.glosa import BICYCLE_LIMITS, advise
from edge_agent.contract.lane_geometry import position_of
from edge_agent.contract.payloads import Map, MapGroup, Spat, SpatGroup, encode
from signal_controller.app import map_fields
from tests.integration.central_hub.helpers import (
    TOPICS,
    HubServer,
    client,
    hub_config,
    now_ms,
    spat,
    start_hub,
    status,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[3]
PATH = "/api/v1/mobility/cyclist-advice"


@dataclass
class Scene:
    """A hub, the publisher of ks-0042's switch times, and where ks-0043 is."""

    srv: HubServer
    http: httpx.Client
    pub: mqtt.Client
    config: IntersectionConfig
    #: the groups of every ks-0042 SPaT (absolute times, fixed at the scene's start)
    groups: dict[str, SpatGroup]
    other_at: tuple[float, float]


def _groups(config: IntersectionConfig, t0: int) -> dict[str, SpatGroup]:
    """K1 (N, through) red, likely green in 30 s (10-80 s); K2 (E) green at least 40 s more;
    the others red without a prediction."""
    out = {g.sg: SpatGroup(sg=g.sg, state="stop-And-Remain", min_end=None, max_end=None,
                           likely_end=None, confidence=0) for g in config.signal_groups}
    out["K1"] = SpatGroup(sg="K1", state="stop-And-Remain", min_end=t0 + 10_000,
                          max_end=t0 + 80_000, likely_end=t0 + 30_000, confidence=70)
    out["K2"] = SpatGroup(sg="K2", state="protected-Movement-Allowed", min_end=t0 + 40_000,
                          max_end=t0 + 60_000, likely_end=t0 + 45_000, confidence=55)
    return out


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("cyclist")
    config = load_config(ROOT / "firmware_configs/intersections/ks-0042.yaml")
    assert isinstance(config, IntersectionConfig)
    with MosquittoBroker(tmp / "mosquitto") as broker:
        # the learning service's starter content and checker processes are not this test's:
        # without them the hub starts in about 2 s instead of 7
        srv = start_hub(hub_config(tmp, broker),
                        learning=LearningSettings(seed_starter_content=False, check_workers=1))
        pub = client(broker, "ks-0042-sim")
        stop = threading.Event()
        groups = _groups(config, now_ms())
        its = ItsIntersection.from_config(config)
        pub.publish(TOPICS.topic("status", "ks-0042"), status("ks-0042", "online"), qos=1,
                    retain=True).wait_for_publish()
        pub.publish(TOPICS.topic("map", "ks-0042"),
                    encode(Map(ts=now_ms(), **map_fields(config, 1).model_dump())), qos=1,
                    retain=True).wait_for_publish()
        pub.publish(TOPICS.topic("etsi_mapem", "ks-0042"), encode_mapem(config, 1), qos=1,
                    retain=True).wait_for_publish()

        def ticks() -> None:  # the controller's 10 Hz: SPaT, then the SPATEM of the tick
            seq = 0
            while not stop.is_set():
                seq += 1
                tick = Spat(ts=now_ms(), seq=seq, intersection_id="ks-0042", revision=1,
                            status="operational",
                            groups=[groups[g.sg] for g in config.signal_groups])
                pub.publish(TOPICS.topic("spat", "ks-0042"), encode(tick), qos=0)
                pub.publish(TOPICS.topic("etsi_spatem", "ks-0042"),
                            encode_spatem(tick, its, 1), qos=0)
                stop.wait(0.1)

        thread = threading.Thread(target=ticks, name="ks-0042-spat", daemon=True)
        thread.start()
        # a second junction 2 km east: a JSON MAP (compass approaches) and one SPaT
        other_at = position_of(2000.0, 0.0, config.location.lat, config.location.lon)
        pub.publish(TOPICS.topic("map", "ks-0043"), encode(Map(
            ts=now_ms(), intersection_id="ks-0043", revision=1, name="Am Stern",
            lat=other_at[0], lon=other_at[1], conflicts={},
            groups=[MapGroup(sg="K1", kind="vehicle", approach="N", lanes=2),
                    MapGroup(sg="K2", kind="vehicle", approach="E", lanes=1)])),
                    qos=1, retain=True).wait_for_publish()
        http = httpx.Client(base_url=srv.url, timeout=10)
        try:
            yield Scene(srv, http, pub, config, groups, other_at)
        finally:
            stop.set()
            thread.join(2)
            http.close()
            pub.disconnect()
            pub.loop_stop()
            srv.stop()


def _ask(scene: Scene, east: float, north: float, heading: float, speed: float,
         at: tuple[float, float] | None = None) -> httpx.Response:
    """Ask for the rider ``east``/``north`` metres from ks-0042 (or from ``at``)."""
    ref = at or (scene.config.location.lat, scene.config.location.lon)
    lat, lon = position_of(east, north, *ref)
    return scene.http.get(PATH, params={"lat": lat, "lon": lon, "heading": heading,
                                        "speed": speed})


def _lane_answer(scene: Scene, east: float, north: float, heading: float,
                 speed: float) -> dict[str, object]:
    """The answer once the hub has the MAPEM, SPATEM and SPaT (the lane rule applies)."""
    got: dict[str, object] = {}

    def ready() -> bool:
        r = _ask(scene, east, north, heading, speed)
        got.update(r.json() if r.status_code == 200 else {})
        return got.get("match") == "mapem_lane" and got.get("state") is not None
    wait_for(ready, timeout=5, what="advice from the MAPEM lane")
    return got


def test_the_countdown_and_advice_come_from_the_live_spat(scene: Scene) -> None:
    """N approach, riding south at 5 m/s: K1 red; the countdown is its published
    ``likely_end`` with the published bounds; the advice is glosa.advise's for a bicycle."""
    body = _lane_answer(scene, -8.0, 120.0, 180.0, 5.0)
    k1 = scene.groups["K1"]
    assert (body["intersection_id"], body["name"]) == ("ks-0042", "Holländischer Platz")
    assert (body["sg"], body["approach"], body["lane_id"]) == ("K1", "N", 3)
    assert (body["state"], body["signal_state"]) == ("red", "stop-And-Remain")
    assert (body["change_basis"], body["change_at_ms"]) == ("likely_end", k1.likely_end)
    now = body["now_ms"]
    assert isinstance(now, int) and k1.likely_end and k1.min_end and k1.max_end
    assert body["seconds_to_change"] == round((k1.likely_end - now) / 1000, 1)
    assert body["min_end_s"] == round((k1.min_end - now) / 1000, 1)
    assert body["max_end_s"] == round((k1.max_end - now) / 1000, 1)
    assert body["confidence"] == 70 and body["prediction"] is None
    assert isinstance(body["spat_age_ms"], int) and body["spat_age_ms"] <= 1000
    assert body["distance_m"] == 108.5  # along lane 3 to its stop line
    want = advise(108.5, 5.0, k1, now, BICYCLE_LIMITS)
    assert body["advice_kind"] == want.kind == "adjust"
    assert want.speed_mps is not None and isinstance(body["advice_speed_mps"], float)
    assert math.isclose(body["advice_speed_mps"], want.speed_mps, abs_tol=0.01)
    assert body["advice_speed_kmh"] == round(want.speed_mps * 3.6, 1)
    assert isinstance(body["reason"], str) and "MAPEM lane 3" in body["reason"]


def test_a_reachable_green_keeps_the_speed(scene: Scene) -> None:
    """E approach, riding west: K2 green for at least 40 s, the stop line 65.5 m ahead."""
    body = _lane_answer(scene, 80.0, 3.0, 270.0, 5.0)
    k2 = scene.groups["K2"]
    assert (body["sg"], body["approach"], body["state"]) == ("K2", "E", "green")
    assert (body["change_basis"], body["change_at_ms"]) == ("min_end", k2.min_end)
    assert body["advice_kind"] == "keep" and body["advice_speed_mps"] is None


def test_no_light_ahead_and_bad_input(scene: Scene) -> None:
    assert _ask(scene, -8.0, 120.0, 0.0, 5.0).status_code == 204  # riding away from it
    assert _ask(scene, -8.0, 900.0, 180.0, 5.0).status_code == 204  # beyond 400 m
    good = {"lat": 51.32, "lon": 9.5, "heading": 180, "speed": 5}
    for bad in ({"lat": 91}, {"lon": -181}, {"heading": 361}, {"heading": -1},
                {"speed": 21}, {"speed": -0.1}, {"lat": "nan"}, {"speed": "inf"},
                {"heading": "south"}):
        r = scene.http.get(PATH, params={**good, **bad})
        assert r.status_code == 422, (bad, r.text)
    assert scene.http.get(PATH, params={"lat": 51.32, "lon": 9.5}).status_code == 422


def test_without_lanes_the_compass_rule_and_a_stale_spat_gives_no_advice(scene: Scene
                                                                         ) -> None:
    """ks-0043 has no MAPEM: approach N by its compass name, K1 (its vehicle group with the
    most lanes), the stop line 10 m before the centre; its only SPaT goes stale after 1 s."""
    sent = now_ms()
    scene.pub.publish(TOPICS.topic("spat", "ks-0043"), spat("ks-0043", 1, ts=sent),
                      qos=1).wait_for_publish()
    fresh: dict[str, object] = {}

    def answered() -> bool:
        r = _ask(scene, 0.0, 100.0, 180.0, 5.0, at=scene.other_at)
        fresh.update(r.json() if r.status_code == 200 else {})
        return fresh.get("state") is not None
    wait_for(answered, timeout=3, what="advice at ks-0043")
    assert (fresh["intersection_id"], fresh["match"]) == ("ks-0043", "map_approach")
    assert (fresh["sg"], fresh["approach"], fresh["distance_m"]) == ("K1", "N", 90.0)
    assert "compass" in str(fresh["reason"])
    time.sleep(max(0.0, 1.2 - (now_ms() - sent) / 1000))
    stale = _ask(scene, 0.0, 100.0, 180.0, 5.0, at=scene.other_at).json()
    assert (stale["advice_kind"], stale["state"], stale["seconds_to_change"]) == (
        "none", None, None)
    assert "stale" in stale["reason"] and stale["spat_age_ms"] > 1000
