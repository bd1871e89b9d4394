"""Hub benchmarks (issue 5): ingest rate vs a bare paho subscriber, two workers vs one, and
end-to-end SPaT latency controller -> broker -> hub -> WebSocket client at Kassel scale.

Run: ``.venv/bin/python bench/bench_hub.py [--messages N] [--duration S] [--json OUT]``

Ingest is measured as the drain rate of a backlog: a persistent session is created, N
messages of the bus mix are queued at the broker while the consumer is away, then the
consumer connects and the time until the last message is received (bare paho) or committed
to storage (hub worker, SQLite) is taken. That compares consumers on the same broker and the
same bytes, independent of how fast a Python publisher can publish. Two workers run as two
processes on one shared subscription (``kassel hub --ingest-only``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
import websockets
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

# this checkout's packages, not those of the installed (editable) copy
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central_hub.broker import MosquittoBroker, free_port
from central_hub.domain.intake import INGESTED
from edge_agent.contract.topics import Topics
from edge_agent.mqtt5 import codec

T = Topics()
PY = sys.executable


# --- message mix ------------------------------------------------------------------------------

def bus_mix(n: int, vehicles: int = 300) -> list[tuple[str, bytes, int]]:
    """The bus mix, all QoS 1: 87 % position, 10 % occupancy, 3 % wlan.

    Health (QoS 0) is left out: a broker does not queue QoS 0 for an offline session, so it
    cannot be part of a backlog; the latency run covers QoS 0 (SPaT)."""
    ts = int(time.time() * 1000)
    out = []
    for i in range(n):
        vid = f"{i % vehicles:04d}"
        seq = i // vehicles
        r = i % 100
        if r < 87:
            body = (f'{{"v":1,"ts":{ts},"seq":{seq},"vehicle_id":"{vid}","lat":51.31,"lon":9.48,'
                    f'"bearing":90.0,"speed_mps":8.5,"route_id":"1","trip_id":"1-0-0800",'
                    f'"stop_id":null,"stop_status":"IN_TRANSIT_TO"}}')
            out.append((T.topic("position", vid), body.encode(), 1))
        elif r < 97:
            body = (f'{{"v":1,"ts":{ts},"seq":{seq},"vehicle_id":"{vid}","passengers":31,'
                    f'"capacity_seated":40,"capacity_total":90,"occupancy_percentage":34,'
                    f'"occupancy_status":"FEW_SEATS_AVAILABLE","quality":"HIGH","sources":'
                    f'{{"door_in":40,"door_out":9,"wlan_clients":12,"probe_devices":20}}}}')
            out.append((T.topic("occupancy", vid), body.encode(), 1))
        else:
            body = (f'{{"v":1,"ts":{ts},"seq":{seq},"vehicle_id":"{vid}","clients_associated":'
                    f'14,"clients_authenticated":11,"rx_bytes":123456,"tx_bytes":654321,'
                    f'"uplink_kbps":20000,"per_client_kbps":2000}}')
            out.append((T.topic("wlan", vid), body.encode(), 1))
    return out


def _client(cid: str) -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)


def _props() -> Properties:
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    return p


def publish_all(broker: MosquittoBroker, msgs: list[tuple[str, bytes, int]]) -> float:
    pub = _client(f"pub-{time.monotonic_ns()}")
    pub.max_inflight_messages_set(2000)
    pub.max_queued_messages_set(0)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    t0 = time.perf_counter()
    for start in range(0, len(msgs), 30_000):  # MQTT packet ids wrap at 65,535 in flight
        infos = [pub.publish(t, p, qos=q) for t, p, q in msgs[start:start + 30_000]]
        for info in infos:
            info.wait_for_publish(120)
    dt = time.perf_counter() - t0
    pub.disconnect()
    pub.loop_stop()
    return len(msgs) / dt


# --- bare paho subscriber ---------------------------------------------------------------------

def bare_paho(broker: MosquittoBroker, msgs: list[tuple[str, bytes, int]]) -> float:
    """Drain rate of a paho subscriber that does nothing but count (auto-ack)."""
    filters = [(T.shared("bare", name), 1) for name in INGESTED]  # type: ignore[arg-type]
    done = threading.Event()
    got = [0]
    n = len(msgs)

    def on_message(_c: object, _u: object, _m: object) -> None:
        got[0] += 1
        if got[0] >= n:
            done.set()

    sub = _client("bare")
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect(broker.host, broker.port, clean_start=False, properties=_props())
    sub.loop_start()
    sub.subscribe(filters)
    subscribed.wait(10)
    sub.disconnect()
    sub.loop_stop()
    publish_all(broker, msgs)
    sub = _client("bare")
    sub.on_message = on_message
    t0 = time.perf_counter()
    sub.connect(broker.host, broker.port, clean_start=False, properties=_props())
    sub.loop_start()
    done.wait(300)
    dt = time.perf_counter() - t0
    sub.disconnect()
    sub.loop_stop()
    return got[0] / dt


# --- hub ingest workers -----------------------------------------------------------------------

def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0


def hub_workers(broker: MosquittoBroker, msgs: list[tuple[str, bytes, int]], workers: int,
                work: Path) -> dict[str, float]:
    """Drain rate of ``workers`` hub ingest processes into one SQLite database."""
    db = work / f"hub-{workers}.db"
    cfg = work / f"hub-{workers}.yaml"
    cfg.write_text(yaml.safe_dump({"device_id": "hub-1", "kind": "hub",
                                   "database": f"sqlite:///{db}",
                                   "mqtt": {"broker": broker.url, "insecure": True,
                                            "session_expiry_s": 3600},
                                   "agent": {"state_dir": str(work)}}))
    env = {**os.environ, "KASSEL_HUB_INGEST__GROUP": f"bench{workers}"}

    def spawn(i: int, log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [PY, "-m", "edge_agent.cli", "hub", "--config", str(cfg), "--ingest-only",
             "--client-id", f"bench{workers}-w{i}"], stderr=log.open("ab"),
            stdout=subprocess.DEVNULL, env=env, cwd=Path(__file__).resolve().parents[1])

    logs = [work / f"w{workers}-{i}.log" for i in range(workers)]
    procs = [spawn(i, logs[i]) for i in range(workers)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
            log.exists() and "subscribed" in log.read_text() for log in logs):
        time.sleep(0.05)
    for p in procs:  # sessions exist now; stop so the backlog queues at the broker
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    publish_all(broker, msgs)
    n = len(msgs)
    procs = [spawn(i, logs[i]) for i in range(workers)]
    t_first = c_first = None
    rss: list[float] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        c = _count(db)
        now = time.perf_counter()
        if t_first is None and c > 0:
            t_first, c_first = now, c
        if c >= n:
            break
        rss.append(sum(psutil.Process(p.pid).memory_info().rss for p in procs) / 2**20)
        time.sleep(0.05)
    t_end = time.perf_counter()
    for p in procs:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    assert t_first is not None and c_first is not None
    return {"rate": (n - c_first) / max(1e-6, t_end - t_first), "stored": float(_count(db)),
            "rss_max_mb": max(rss) if rss else 0.0}


# --- end-to-end SPaT latency ------------------------------------------------------------------

class _RawPublisher:
    """A minimal MQTT 5 publisher writing a whole 10 Hz tick in one ``sendall``.

    WHY not paho here: at 3,300 msg/s paho's per-message locking makes the load generator
    itself the bottleneck on 2 cores, and its send queue would add latency that is not the
    hub's. Packets come from the project's codec (:mod:`edge_agent.mqtt5.codec`). PUBACKs of QoS 1
    messages are read and discarded by a thread.
    """

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(codec.connect(client_id, keepalive_s=60, clean_start=True))
        self.sock.recv(5)  # CONNACK
        self.mid = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self.sock.recv(65536):
                pass

    def packet(self, topic: str, payload: bytes, qos: int) -> bytes:
        if qos:
            self.mid = self.mid % 65535 + 1
        return codec.publish(topic, payload, qos, self.mid if qos else 0)

    def send(self, packets: list[bytes]) -> None:
        self.sock.sendall(b"".join(packets))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(codec.DISCONNECT_PACKET)
            self.sock.close()


def _load(host: str, port: int, duration: float, intersections: int, buses: int,
          ready: Any) -> None:
    """Load generator: SPaT at 10 Hz per intersection (QoS 0), positions at 1 Hz (QoS 1)."""
    c = _RawPublisher(host, port, f"load-{os.getpid()}")
    ready.set()
    spat_topics = [T.topic("spat", f"ks-{i:04d}") for i in range(intersections)]
    pos_topics = [T.topic("position", f"{i:04d}") for i in range(buses)]
    end = time.monotonic() + duration
    tick = 0
    next_t = time.monotonic()
    last_ping = time.monotonic()
    while time.monotonic() < end:
        now = int(time.time() * 1000)
        packets = []
        for i, topic in enumerate(spat_topics):
            body = (f'{{"v":1,"ts":{now},"seq":{tick},"intersection_id":'
                    f'"ks-{i:04d}","revision":1,"status":"operational","groups":[{{"sg":"K1",'
                    f'"state":"protected-Movement-Allowed","min_end":{now + 2000},"max_end":'
                    f'{now + 9000},"likely_end":{now + 5000},"confidence":80}},{{"sg":"K2",'
                    f'"state":"stop-And-Remain","min_end":null,"max_end":null,"likely_end":null,'
                    f'"confidence":0}}]}}')
            packets.append(c.packet(topic, body.encode(), 0))
        if tick % 10 == 0:
            for i, topic in enumerate(pos_topics):
                body = (f'{{"v":1,"ts":{now},"seq":{tick // 10},"vehicle_id":"{i:04d}","lat":'
                        f'51.31,"lon":9.48,"bearing":90.0,"speed_mps":8.5,"route_id":"1",'
                        f'"trip_id":null,"stop_id":null,"stop_status":"IN_TRANSIT_TO"}}')
                packets.append(c.packet(topic, body.encode(), 1))
        c.send(packets)
        if time.monotonic() - last_ping > 30:
            c.send([codec.PINGREQ_PACKET])
            last_ping = time.monotonic()
        tick += 1
        next_t += 0.1
        time.sleep(max(0.0, next_t - time.monotonic()))
    c.close()


async def _ws_latency(url: str, duration: float) -> list[float]:
    lat: list[float] = []
    async with websockets.connect(url, max_size=2**20, max_queue=None) as ws:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except TimeoutError:
                continue
            now = time.time() * 1000
            s = msg if isinstance(msg, str) else msg.decode()
            i = s.index('"ts":') + 5
            j = s.index(",", i)
            lat.append(now - int(s[i:j]))
    return lat


def spat_latency(broker: MosquittoBroker, work: Path, duration: float, intersections: int,
                 buses: int) -> dict[str, Any]:
    """p50/p99 of controller publish -> WebSocket client, and the hub's RSS over the run."""
    port = free_port()
    cfg = work / "hub-live.yaml"
    cfg.write_text(yaml.safe_dump({"device_id": "hub-1", "kind": "hub",
                                   "database": f"sqlite:///{work / 'live.db'}",
                                   "http": {"host": "127.0.0.1", "port": port},
                                   "mqtt": {"broker": broker.url, "insecure": True,
                                            "session_expiry_s": 3600},
                                   "agent": {"state_dir": str(work)}}))
    env = {**os.environ, "KASSEL_HUB_ADMIN_TOKEN": "bench", "KASSEL_HUB_INGEST__GROUP": "live"}
    hub = subprocess.Popen(
        [PY, "-m", "edge_agent.cli", "hub", "--config", str(cfg)], stdout=subprocess.PIPE,
        stderr=(work / "hub-live.log").open("ab"), env=env,
        cwd=Path(__file__).resolve().parents[1])
    assert hub.stdout is not None
    hub.stdout.readline()  # "kassel hub: http://..."
    time.sleep(2.0)
    ready = mp.Event()
    load = mp.Process(target=_load, args=(broker.host, broker.port, duration + 5,
                                          intersections, buses, ready))
    load.start()
    ready.wait(10)
    proc = psutil.Process(hub.pid)
    rss: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(5.0):
            rss.append(proc.memory_info().rss / 2**20)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    time.sleep(2.0)  # warm-up
    lat = asyncio.run(_ws_latency(f"ws://127.0.0.1:{port}/ws/spat", duration))
    stop.set()
    load.join(30)
    hub.send_signal(signal.SIGTERM)
    hub.wait(30)
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    return {"messages": float(len(lat)), "rate": len(lat) / duration, "p50_ms": q[49],
            "p99_ms": q[98], "max_ms": lat[-1],
            "rss_first_mb": rss[0] if rss else 0.0, "rss_last_mb": rss[-1] if rss else 0.0,
            "rss_max_mb": max(rss) if rss else 0.0,
            # every 30 s (samples are taken every 5 s): shows whether memory has levelled off
            "rss_every_30s_mb": [round(r, 1) for r in rss[5::6]]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=60.0, help="latency run, seconds")
    ap.add_argument("--intersections", type=int, default=300)
    ap.add_argument("--buses", type=int, default=300)
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    results: dict[str, object] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        with MosquittoBroker(work / "mq") as broker:
            if not args.skip_ingest:
                msgs = bus_mix(args.messages)
                bare = bare_paho(broker, msgs)
                print(f"bare paho: {bare:.0f} msg/s", file=sys.stderr, flush=True)
                one = hub_workers(broker, msgs, 1, work)
                print(f"hub, 1 worker: {one}", file=sys.stderr, flush=True)
                two = hub_workers(broker, msgs, 2, work)
                results["ingest"] = {"messages": args.messages, "bare_paho_rate": bare,
                                     "hub_1_worker": one, "hub_2_workers": two,
                                     "ratio_1_worker_vs_bare": one["rate"] / bare,
                                     "ratio_2_vs_1": two["rate"] / one["rate"]}
                print(json.dumps(results["ingest"], indent=2), flush=True)
            if not args.skip_latency:
                results["spat_latency"] = spat_latency(broker, work, args.duration,
                                                       args.intersections, args.buses)
                print(json.dumps(results["spat_latency"], indent=2), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
