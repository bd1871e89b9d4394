"""Edge-agent benchmarks (issue 2): durable-queue throughput and idle footprint.

1. Publish throughput of QoS 1 messages through the durable SQLite queue, divided by the
   throughput of the same MQTT connection code publishing directly (same broker, same
   in-flight window, same payloads, measured in the same run). Both count a message as done
   when its PUBACK has arrived. Measured with ``synchronous=full`` (survives power loss) and
   ``normal`` (survives a crash).
2. Idle agent: RSS and CPU % of one core of a real agent process that only keeps its session
   and reports health.
3. The cost of one QoS 0 publish (SPaT and SPATEM, 10 Hz per controller), µs per message
   until it is written to the socket, three ways on the same connection class: paho's
   ``publish`` with its ``on_publish`` callback set (the agent before 2026-12-06), paho's
   ``publish`` without it, and the agent's path (``publish_qos0``: the project's codec
   builds the packet, paho's queue writes it). Ratios against the first.

Run: ``.venv/bin/python bench/bench_agent.py`` (about 1 minute).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as paho
import psutil
import yaml
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
# this checkout's packages, not those of the installed (editable) copy
sys.path.insert(0, str(ROOT))

from central_hub.broker import MosquittoBroker  # noqa: E402
from edge_agent.agent import EdgeAgent  # noqa: E402
from edge_agent.contract.configs import BusConfig, load_config  # noqa: E402
from edge_agent.contract.payloads import Position, PositionFields, encode  # noqa: E402
from edge_agent.mqtt import BrokerAddress, MqttConnection, _BoundedReadClient  # noqa: E402

N = 20_000
WINDOW = 100
#: the environment the systemd units set (firmware_configs/systemd/*.service).
DEPLOYED_ENV = {"MALLOC_ARENA_MAX": "2", "PYTHONDONTWRITEBYTECODE": "1"}


def _config(tmp: Path, url: str, synchronous: str, health_s: float = 30.0) -> Path:
    data = yaml.safe_load((ROOT / "firmware_configs/buses/bus-1234.yaml").read_text())
    data["mqtt"] = {"broker": url, "insecure": True}  # the local broker has no TLS
    data["agent"] = {"state_dir": str(tmp / f"state-{synchronous}"), "health_interval_s": health_s,
                     "queue": {"synchronous": synchronous, "max_inflight": WINDOW}}
    path = tmp / f"bus-{synchronous}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _fields(i: int) -> PositionFields:
    return PositionFields(vehicle_id="1234", lat=51.3 + i * 1e-7, lon=9.5, bearing=90.0,
                          speed_mps=8.0, route_id="4", trip_id="t1", stop_id=None,
                          stop_status="IN_TRANSIT_TO")


async def direct_rate(config: BusConfig, url: str) -> float:
    """Messages/s with the bare connection: build, encode, publish, await PUBACK."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    inflight = 0
    acked = 0
    window = asyncio.Event()

    def on_puback(_mid: int, _code: int) -> None:
        nonlocal inflight, acked
        inflight -= 1
        acked += 1
        if inflight <= WINDOW // 2:
            window.set()
        if acked == N:
            done.set()

    conn = MqttConnection(client_id="bench-direct", address=BrokerAddress.parse(url),
                          settings=config.mqtt, will=None, on_message=lambda _m: None,
                          on_puback=on_puback, max_inflight=WINDOW)
    await conn.connect()
    t0 = loop.time()
    for i in range(N):
        while inflight >= WINDOW:
            window.clear()
            await window.wait()
        # the fields model, then the wire model built from it: as EdgeAgent.publish does
        payload = encode(Position.model_validate(
            {**dict(_fields(i)), "ts": int(time.time() * 1000), "seq": i + 1}))
        conn.publish("kassel/v1/bus/1234/position", payload, 1, False)
        inflight += 1
    await done.wait()
    elapsed = loop.time() - t0
    conn.disconnect()
    return N / elapsed


async def queued_rate(config: BusConfig) -> float:
    """Messages/s through EdgeAgent.publish: committed to SQLite, sent, PUBACK, deleted."""
    agent = EdgeAgent(config, kind="bus", entity_id="1234")
    runner = asyncio.create_task(agent.run())
    while not agent.is_connected:
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    producers = 200  # long-lived concurrent producers (like an app's loops): committed together

    async def produce(first: int) -> None:
        for i in range(first, N, producers):
            await agent.publish(_fields(i))

    await asyncio.gather(*(produce(k) for k in range(producers)))
    while agent.queue_state.depth > 0:
        await asyncio.sleep(0.005)
    elapsed = loop.time() - t0
    agent.stop()
    await runner
    return N / elapsed


def idle_footprint(config_path: Path) -> tuple[float, float]:
    """RSS (MB) and CPU % of one core of an idle agent process over 20 s."""
    script = (
        "import asyncio,sys\n"
        "from edge_agent.agent import EdgeAgent\n"
        "from edge_agent.contract.configs import load_config\n"
        "c = load_config(sys.argv[1])\n"
        "a = EdgeAgent(c, kind='bus', entity_id=c.vehicle.id)\n"
        "async def m():\n"
        "    a.install_signal_handlers()\n"
        "    await a.run()\n"
        "asyncio.run(m())\n"
    )
    env = {**os.environ, **DEPLOYED_ENV}
    proc = subprocess.Popen([sys.executable, "-c", script, str(config_path)], cwd=ROOT, env=env)
    try:
        time.sleep(5)
        p = psutil.Process(proc.pid)
        p.cpu_percent(None)
        time.sleep(20)
        cpu = p.cpu_percent(None)
        rss = p.memory_info().rss / 1e6
    finally:
        proc.terminate()
        proc.wait(10)
    return rss, cpu


def qos0_cost(url: str, n: int = 60_000) -> dict[str, float]:
    """µs per QoS 0 message (a 300-byte SPaT-sized payload) from the call until written:
    the writes are left to the socket's writer as in the agent (``on_socket_register_write``
    set), then drained."""
    addr = BrokerAddress.parse(url)
    payload = b"x" * 300
    topic = "kassel/v1/signal/ks-0042/spat"
    out: dict[str, float] = {}
    for way in ("paho + on_publish", "paho", "publish_qos0"):
        c = _BoundedReadClient(CallbackAPIVersion.VERSION2, client_id=f"cost-{len(out)}",
                               protocol=paho.MQTTv5)
        if way == "paho + on_publish":
            c.on_publish = lambda *_a: None
        c.connect(addr.host, addr.port)
        while not c.is_connected():
            c.loop(0.05)
        c.on_socket_register_write = lambda *_a: None
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            if way == "publish_qos0":
                for _i in range(n):
                    c.publish_qos0(topic, payload, False)
            else:
                for _i in range(n):
                    c.publish(topic, payload, 0, False)
            while c.want_write():
                c.loop_write()
                c.loop_read(1000)
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        out[way] = best
        c.disconnect()
    return out


async def main() -> None:
    with tempfile.TemporaryDirectory() as d, MosquittoBroker(Path(d) / "mosq") as broker:
        tmp = Path(d)
        results = {}
        for sync in ("full", "normal"):
            cfg = load_config(_config(tmp, broker.url, sync))
            assert isinstance(cfg, BusConfig)
            direct = await direct_rate(cfg, broker.url)
            queued = await queued_rate(cfg)
            results[sync] = (direct, queued)
            print(f"synchronous={sync}: direct {direct:,.0f} msg/s, through queue "
                  f"{queued:,.0f} msg/s, ratio {queued / direct:.2f} (goal >= 0.5)")
        cost = qos0_cost(broker.url)
        first = next(iter(cost.values()))
        print("QoS 0 publish: " + ", ".join(
            f"{way} {us:.1f} µs ({us / first:.2f})" for way, us in cost.items()))
        rss, cpu = idle_footprint(_config(tmp, broker.url, "full", health_s=30.0))
        print(f"idle agent: RSS {rss:.1f} MB (goal < 40), CPU {cpu:.2f} % of one core "
              f"(goal < 1)")


if __name__ == "__main__":
    asyncio.run(main())
