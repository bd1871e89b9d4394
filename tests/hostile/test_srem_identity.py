"""Issue 13, attack 3: SREMs are bound to the bus that sends them.

Against a real Mosquitto running the registry's password file and ACL, a real controller
(:class:`SignalController` with its edge agent) and two real bus logins (edge agents of bus A,
vehicle 101, and bus B, vehicle 202; no emergency vehicle configured), bus B tries to

(a) cancel A's request: with A's vehicle id in the payload on its own topic, straight on A's
    topic (the broker must refuse it: Mosquitto answers an ACL-denied QoS 1 publish of an
    MQTT 5 client with PUBACK 0x87 and forwards nothing), and with its own vehicle id but A's
    request id;
(b) claim ``role: emergency`` for a conflicting group;
(c) flood the controller with 1,000 invented vehicle ids.

A's request must stay granted, B must not get the emergency rank, the request table must stay
bounded (only real senders in it, a new request of A still accepted) and every refusal counted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central_hub.broker import MosquittoBroker
from central_hub.registry import DeviceRegistry
from central_hub.storage.db import make_engine
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import AgentConfig, DeviceConfig, MqttConfig
from edge_agent.contract.payloads import Spat, SremFields, Ssem, decode
from edge_agent.contract.topics import TopicRef, Topics
from signal_controller.domain.priority import MAX_ACTIVE, MAX_PER_VEHICLE, MAX_REJECTED_SHOWN
from tests.integration.signal_controller.helpers import ControllerThread, as_config

TOPICS = Topics()
ROOT = TOPICS.root
IID = "ks-9001"
A, B = "101", "202"
OPEN = {"requested", "processing", "watchOtherTraffic", "granted", "reserviceLocked"}
FLOOD = 1_000


def _config(tmp_path: Path) -> dict[str, Any]:
    """Main road K1 and side road K2, both priority groups; K1 rests green without demand."""
    return {
        "device_id": IID, "kind": "intersection", "name": "Hostile junction",
        "location": {"lat": 51.3, "lon": 9.5},
        "agent": {"state_dir": str(tmp_path / "state")},
        "mqtt": {"keepalive_s": 5, "reconnect_min_s": 0.2, "insecure": True},
        "signal_groups": [
            {"sg": "K1", "kind": "vehicle", "approach": "N", "min_green_s": 5, "amber_s": 3,
             "red_amber_s": 1},
            {"sg": "K2", "kind": "vehicle", "approach": "E", "min_green_s": 5, "amber_s": 3,
             "red_amber_s": 1},
        ],
        "intergreen_s": {"K1": {"K2": 4}, "K2": {"K1": 4}},
        "control": {"mode": "actuated", "stages": [
            {"id": "S1", "groups": ["K1"], "min_green_s": 5, "max_green_s": 30, "gap_s": 2},
            {"id": "S2", "groups": ["K2"], "min_green_s": 5, "max_green_s": 20, "gap_s": 2},
        ]},
        "detectors": [{"id": "D1", "sg": "K1", "kind": "loop"},
                      {"id": "D2", "sg": "K2", "kind": "loop"}],
        "priority": {"enabled": True, "max_extension_s": 15, "max_early_s": 10,
                     "groups": ["K1", "K2"]},
    }


def _url(broker: MosquittoBroker, user: str, password: str) -> str:
    return f"mqtt://{quote(user)}:{quote(password, safe='')}@{broker.host}:{broker.port}"


def _now() -> int:
    return int(time.time() * 1000)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Bus:
    """A real bus login: an edge agent that sends SREMs and collects its SSEMs."""

    def __init__(self, device_id: str, vehicle_id: str, url: str, state: Path) -> None:
        cfg = DeviceConfig(device_id=device_id, mqtt=MqttConfig(insecure=True, reconnect_min_s=0.2),
                           agent=AgentConfig(state_dir=str(state)))
        self.vehicle_id = vehicle_id
        self.agent = EdgeAgent(cfg, kind="bus", entity_id=vehicle_id, broker_url=url)
        self.ssem: list[Ssem] = []
        self._lock = threading.Lock()
        self.agent.subscribe("ssem", IID, self._on_ssem)

    def _on_ssem(self, _ref: TopicRef, msg: Ssem) -> None:
        with self._lock:
            self.ssem.append(msg)

    def ssems(self) -> list[Ssem]:
        with self._lock:
            return list(self.ssem)

    def srem(self, request_id: str, kind: Literal["request", "update", "cancel"], sg: str,
             eta: int, *, vehicle_id: str | None = None,
             role: Literal["transit", "emergency"] = "transit") -> SremFields:
        """SREM fields as the bus gateway sends them (``vehicle_id`` may be forged)."""
        return SremFields(request_id=request_id, vehicle_id=vehicle_id or self.vehicle_id,
                          intersection_id=IID, type=kind, sg=sg, eta=eta, role=role,
                          route_id="4")


class BusLoop:
    """The buses' edge agents on one event loop in a thread."""

    def __init__(self, *buses: Bus) -> None:
        self.buses = buses
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def runner() -> None:
            self.loop = asyncio.get_running_loop()
            tasks = [asyncio.create_task(b.agent.run()) for b in self.buses]
            self._ready.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(runner())

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def publish(self, bus: Bus, fields: SremFields) -> None:
        """Publish a SREM through the bus's own agent (its own topic, whatever that is)."""
        self.run(bus.agent.publish(fields, entity_id=IID))

    def __enter__(self) -> BusLoop:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.loop is not None
        for b in self.buses:
            self.loop.call_soon_threadsafe(b.agent.stop)
        self._thread.join(15)


class Client:
    """A raw MQTT 5 login that records what it receives and the PUBACK reason codes."""

    def __init__(self, broker: MosquittoBroker, user: str, password: str, suffix: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.acks: dict[int, int] = {}
        self._lock = threading.Lock()
        connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{suffix}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(user, password)
        c.on_connect = lambda *_a: connected.set()
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert connected.wait(10), "no CONNACK"
        self.client = c

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, msg.payload))

    def _on_publish(self, _c: object, _u: object, mid: int, rc: Any, _p: object) -> None:
        with self._lock:
            self.acks[mid] = rc.value

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10), "no SUBACK"

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1)
        _wait(lambda: info.mid in self.acks, 10, "PUBACK")
        with self._lock:
            return self.acks[info.mid]

    def messages(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _rows(msg: Ssem) -> dict[tuple[str, str], str]:
    return {(r.vehicle_id, r.request_id): r.status for r in msg.requests}


def _status(bus: Bus, key: tuple[str, str]) -> str | None:
    msgs = bus.ssems()
    return _rows(msgs[-1]).get(key) if msgs else None


def test_a_bus_cannot_act_for_another_bus_claim_emergency_or_fill_the_table(
    tmp_path: Path, broker_factory: type[MosquittoBroker]
) -> None:
    pw_file, acl_file = tmp_path / "passwd", tmp_path / "acl"
    reg = DeviceRegistry(make_engine(f"sqlite:///{tmp_path / 'reg.db'}"), TOPICS,
                         str(pw_file), str(acl_file))
    creds = {"hub-1": reg.register("hub-1", "hub"),
             IID: reg.register(IID, "intersection"),
             "bus-a": reg.register("bus-a", "bus", A),
             "bus-b": reg.register("bus-b", "bus", B)}
    broker = broker_factory(tmp_path / "mq", password_file=pw_file, acl_file=acl_file)
    broker.start()

    spy = Client(broker, "hub-1", creds["hub-1"], "spy")  # the hub reads everything
    spy.subscribe(f"{ROOT}/#")
    raw_b = Client(broker, "bus-b", creds["bus-b"], "raw")  # B, crafting topics by hand
    bus_a = Bus("bus-a", A, _url(broker, "bus-a", creds["bus-a"]), tmp_path / "a")
    bus_b = Bus("bus-b", B, _url(broker, "bus-b", creds["bus-b"]), tmp_path / "b")
    cfg = as_config(_config(tmp_path))
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    with ControllerThread(cfg, _url(broker, IID, creds[IID])) as ct, \
            BusLoop(bus_a, bus_b) as buses:
        def table() -> list[tuple[str, str, str, str]]:
            reqs = ct.call(lambda: list(ct.controller.state.priority.requests.values()))
            return [(r.vehicle_id, r.request_id, r.role, r.status) for r in reqs]

        def online(device: str) -> bool:
            return any(t == f"{ROOT}/device/{device}/status" and b'"online"' in p
                       for t, p in spy.messages())

        _wait(lambda: all(online(d) for d in (IID, "bus-a", "bus-b")), 30, "all online")
        def k1_green() -> bool:
            spats = [p for t, p in spy.messages() if t == f"{ROOT}/signal/{IID}/spat"]
            return bool(spats) and any(g.sg == "K1" and g.state.endswith("Movement-Allowed")
                                       for g in decode(Spat, spats[-1]).groups)

        _wait(k1_green, 30, "K1 green")

        # A asks for its green; it is granted (K1 rests green, the hold fits).
        eta_a = _now() + 10_000
        buses.publish(bus_a, bus_a.srem("a-1", "request", "K1", eta_a))
        _wait(lambda: _status(bus_a, (A, "a-1")) == "granted", 15, "a-1 granted")
        granted_at = len(bus_a.ssems())

        # (a) B cancels A's request: A's id in the payload on B's own topic ...
        buses.publish(bus_b, bus_b.srem("a-1", "cancel", "K1", eta_a, vehicle_id=A))
        # ... straight on A's topic: the broker refuses it (PUBACK 0x87 Not authorized) ...
        forged = json.dumps({"ts": _now(),
                             **bus_b.srem("a-1", "cancel", "K1", eta_a, vehicle_id=A).model_dump(),
                             "v": 1, "route_id": "forged-on-a-topic"}).encode()
        rc = raw_b.publish(f"{ROOT}/signal/{IID}/srem/{A}", forged)
        check(rc == 0x87, f"publish on A's topic: PUBACK {rc:#x}, expected 0x87")
        # ... and with its own vehicle id but A's request id.
        buses.publish(bus_b, bus_b.srem("a-1", "cancel", "K1", eta_a))
        # (b) B claims the emergency role for the conflicting group, ETA after A's.
        buses.publish(bus_b, bus_b.srem("b-1", "request", "K2", eta_a + 8_000,
                                        role="emergency"))
        _wait(lambda: _status(bus_b, (B, "b-1")) is not None, 15, "b-1 on SSEM")
        time.sleep(1.0)  # a few ticks for the policy to settle
        check(_status(bus_a, (A, "a-1")) == "granted",
              f"(a/b) A's request is {_status(bus_a, (A, 'a-1'))}, not granted")
        check(_status(bus_b, (B, "b-1")) == "watchOtherTraffic",
              f"(b) B's emergency claim is {_status(bus_b, (B, 'b-1'))}; a transit request "
              "with a later ETA waits (watchOtherTraffic)")
        rows = table()
        check(not any(role == "emergency" for _v, _r, role, _s in rows),
              f"(b) a request ranks as emergency: {[r for r in rows if r[2] == 'emergency']}")

        # (c) B floods 1,000 invented vehicle ids (on its own topic: the only one it may use).
        async def flood() -> None:
            t = _now()
            await asyncio.gather(*(
                bus_b.agent.publish(bus_b.srem(f"x{i}", "request", "K1", t + 20_000,
                                               vehicle_id=f"inv-{i}"), entity_id=IID)
                for i in range(FLOOD)))

        buses.run(flood())
        _wait(lambda: bus_b.agent.queue_state.depth == 0, 30, "B's flood sent")
        # B's next message is read after the flood (one session, in order): once its request
        # is on SSEM, the controller has taken every flood message in.
        deadline = time.monotonic() + 30
        while _status(bus_b, (B, "b-2")) is None and time.monotonic() < deadline:
            buses.publish(bus_b, bus_b.srem("b-2", "request", "K1", _now() + 20_000))
            time.sleep(1.0)
        check(_status(bus_b, (B, "b-2")) is not None, "(c) B's marker never on SSEM")
        # A can still ask for priority: the flood did not fill the table.
        buses.publish(bus_a, bus_a.srem("a-2", "request", "K1", _now() + 12_000))
        _wait(lambda: _status(bus_a, (A, "a-2")) is not None, 15, "a-2 on SSEM")
        check(_status(bus_a, (A, "a-2")) in OPEN,
              f"(c) A's new request after the flood is {_status(bus_a, (A, 'a-2'))}")
        rows = table()
        status = ct.call(ct.controller.status)

    counts = status["priority_counts"]
    vehicles = {v for v, *_ in rows}
    check(vehicles <= {A, B}, f"(c) the table holds invented vehicles: {len(vehicles)} ids")
    check(len(rows) <= MAX_ACTIVE + MAX_REJECTED_SHOWN, f"(c) {len(rows)} table entries")
    check(sum(1 for v, _r, _ro, s in rows if v == B and s in OPEN) <= MAX_PER_VEHICLE,
          "(c) B holds more open requests than one vehicle may")
    check(any(v == A and r == "a-1" and s == "granted" for v, r, _ro, s in rows),
          f"A's request a-1 is no longer granted: {[r for r in rows if r[0] == A]}")
    # A's request was on every SSEM since it was granted (never cancelled by B).
    gone = [m.seq for m in bus_a.ssems()[granted_at:] if (A, "a-1") not in _rows(m)]
    check(not gone, f"(a) a-1 missing from SSEM seq {gone[:5]}")
    # Nothing published on A's topic by B reached a subscriber (the hub reads everything).
    check(not any(b"forged-on-a-topic" in p for _t, p in spy.messages()),
          "(a) the broker forwarded B's publish on A's topic")
    # Every refusal is counted with its reason.
    dropped = status["dropped"]
    assert isinstance(counts, dict) and isinstance(dropped, dict)
    mismatch = counts.get("rejected_vehicle_mismatch", 0)
    check(mismatch >= 1, f"(a) no rejected_vehicle_mismatch in {counts}")
    check(mismatch + sum(dropped.values()) >= FLOOD + 1,
          f"(c) {mismatch} mismatches + {dropped} queue drops < {FLOOD + 1} forged messages")
    check(counts.get("downgraded_emergency", 0) >= 1, f"(b) emergency claim not counted {counts}")
    print(f"PUBACK for B on A's topic: {rc:#x}; priority counts {counts}; queue drops "
          f"{dropped}; table {len(rows)} entries of {sorted(vehicles)}")
    spy.close()
    raw_b.close()
    assert not problems, "\n".join(problems)
