"""Attack 4 of issue 13: one bus (or controller) must not break the hub's public JSON.

Before: pydantic let ``NaN``/``Infinity`` through in fields the model does not know, and the
hub echoes payloads as received into ``/api/v1/vehicles``, the dashboard frames, ``/spat`` and
``/ws/spat``; the newest ``ts`` wins and ``ts`` could be up to 2^63, so one position with
``"x": NaN`` and a huge ``ts`` made the vehicles array unparseable in browsers and stayed
there after later valid messages; the GTFS-RT timestamp became 9223372036854775.

Here, against a real ``kassel hub`` on a broker with the registry's password and ACL files,
the bus and the controller log in with their own credentials and send exactly that; every
public answer must then be strict JSON (as ``JSON.parse`` reads it) and show the later valid
messages. A replay from the store-and-forward queue (``historical``, an old ``ts``) is still
stored; a live message dated before the device's birth is not taken.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect as ws_connect

from central_hub.broker import MosquittoBroker
from tests.hostile.city import TOPICS, RawClient, hub_database, start_city, strict_json
from tests.integration.central_hub.helpers import now_ms, position, spat, status, wait_for
from tests.support.hub_process import HubProcess

HUGE_TS = 2**63 - 1


def _with(payload: bytes, **fields: Any) -> bytes:
    """``payload`` with fields replaced or added, written as raw JSON text."""
    doc = json.loads(payload)
    for key, value in fields.items():
        doc[key] = value
    return json.dumps(doc, allow_nan=True).encode()


class Frames:
    """Collects the text frames of one WebSocket in a thread."""

    def __init__(self, url: str) -> None:
        self.frames: list[str] = []
        self._stack = contextlib.ExitStack()  # the connection is a context manager
        self._ws = self._stack.enter_context(ws_connect(url, max_size=2**22))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for msg in self._ws:
                self.frames.append(msg if isinstance(msg, str) else msg.decode())
        except Exception:  # closed at the end of the test
            return

    def close(self) -> None:
        self._stack.close()


def _unparseable(frames: list[str]) -> list[str]:
    bad = []
    for f in frames:
        try:
            strict_json(f)
        except ValueError:
            bad.append(f[:300])
    return bad


def test_nan_and_huge_ts_never_reach_the_public(
        tmp_path: Path, broker_factory: type[MosquittoBroker]) -> None:
    city = start_city(tmp_path, broker_factory)
    hub = HubProcess(tmp_path, city.url("hub-1"), hub_database(tmp_path))
    hub.start()
    bus = RawClient(city, "bus-1234", client_id="bus-1234")
    ctl = RawClient(city, "ks-0042", client_id="ks-0042")
    ws_url = f"ws://127.0.0.1:{hub.port}"
    spat_ws = Frames(f"{ws_url}/ws/spat?intersection=ks-0042")
    live_ws = Frames(f"{ws_url}/ws/live")
    pos_topic, spat_topic = TOPICS.topic("position", "1234"), TOPICS.topic("spat", "ks-0042")
    try:
        birth = now_ms()
        bus.publish(TOPICS.topic("status", "bus-1234"),
                    _with(status("bus-1234", "online", kind="bus"), ts=birth), 1, True)
        assert bus.puback()
        ctl.publish(TOPICS.topic("status", "ks-0042"),
                    _with(status("ks-0042", "online"), ts=birth), 1, True)
        assert ctl.puback()
        time.sleep(0.3)
        # the attack: NaN in an unknown field, then a ts near 2^63 (each on its own too)
        attacks = [_with(position("1234", 1), x=float("nan")),
                   _with(position("1234", 2), ts=HUGE_TS),
                   _with(position("1234", 3), x=float("inf"), ts=HUGE_TS),
                   _with(position("1234", 4), speed_mps=float("-inf"))]
        for payload in attacks:
            bus.publish(pos_topic, payload, 1)
            assert bus.puback()
        ctl.publish(spat_topic, _with(spat("ks-0042", 1), x=float("nan")))
        ctl.publish(spat_topic, _with(spat("ks-0042", 2), ts=HUGE_TS))
        time.sleep(0.5)
        # later valid messages
        for seq in (10, 11, 12):
            bus.publish(pos_topic, position("1234", seq), 1)
            assert bus.puback()
            ctl.publish(spat_topic, spat("ks-0042", seq))
            time.sleep(0.1)
        # a replay from a device's queue: old ts, but historical -> stored, not shown as latest
        bus.publish(pos_topic, _with(position("1234", 5, ts=birth - 600_000), historical=True), 1)
        assert bus.puback()
        # a live (not historical) message dated before the device's birth: not taken
        bus.publish(pos_topic, position("1234", 6, ts=birth - 60_000), 1)
        assert bus.puback()
        time.sleep(1.0)  # two dashboard frames

        vehicles = strict_json(hub.http.get("/api/v1/vehicles").text)
        mine = [v for v in vehicles if v["vehicle_id"] == "1234"]
        assert mine and mine[0]["position"]["seq"] == 12, mine
        spat_now = strict_json(hub.http.get("/api/v1/intersections/ks-0042/spat").text)
        assert spat_now["seq"] == 12, spat_now
        feed = strict_json(hub.http.get("/gtfs-rt/vehicle-positions",
                                        params={"format": "json"}).text)
        stamps = [int(e["vehicle"]["timestamp"]) for e in feed.get("entity", [])
                  if "vehicle" in e and "timestamp" in e["vehicle"]]
        assert all(s <= time.time() + 300 for s in stamps), stamps
        assert _unparseable(spat_ws.frames) == [], "a /ws/spat frame is not JSON"
        assert _unparseable(live_ws.frames) == [], "a /ws/live frame is not JSON"
        assert any('"seq":12' in f for f in spat_ws.frames)

        def counted() -> dict[tuple[str, str], int]:
            st = hub.ingest()
            out: dict[tuple[str, str], int] = {}
            for path in ("live", "ingest"):
                for r in st[path]["rejected"]:
                    out[(path, r["reason"])] = out.get((path, r["reason"]), 0) + r["count"]
            return out

        wait_for(lambda: int(hub.ingest()["ingest"]["stored"]) >= 6, timeout=10,
                 what="the birth, 3 valid positions and the historical replay stored")
        rejected = counted()
        print("rejected:", rejected)
        assert rejected.get(("ingest", "not_json"), 0) >= 3
        assert rejected.get(("ingest", "future_ts"), 0) >= 1
        assert rejected.get(("ingest", "before_birth"), 0) == 1
        assert rejected.get(("live", "before_birth"), 0) == 1
        stored = strict_json(hub.http.get("/api/v1/ingest").text)["ingest"]["stored"]
        assert stored == 6, stored  # 2 births, positions 10, 11, 12 and the replay
    finally:
        spat_ws.close()
        live_ws.close()
        bus.close()
        ctl.close()
        hub.stop()
