"""Roles of the probe-flood test, each run inside the lab's gateway namespace.

``python probeflood.py inject COUNT`` prepares COUNT frames of a probe-request flood
(:data:`testbed.probe_frames.FLOOD`: four of five frames from a new device — random locally
administered MAC, random sequence number, its own IE fingerprint — and one of five from 400
fake devices that probe over and over, so they are seen on both sides of every departure and
would count as riders) and writes them into ``mon0`` on command
(:func:`testbed.monitor_tap.inject`: ``ready``, then ``go RATE SECONDS`` → ``done FRAMES
SECONDS PROBES``). The gateway's live sniffer (``iface:mon0``) reads them exactly like a
monitor-mode interface.

``python probeflood.py gateway CONFIG STOPS_JSON`` runs the real :class:`BusGateway` with two
extra tasks: a 10-ms timer whose lateness is the event loop's lag, and a once-a-second JSON
line on stdout (worst lag of that second, longest garbage collection, RSS, the sniffer's and
the fusion's counters, the last published occupancy).
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

if __name__ == "__main__":  # run as a script in a lab namespace: this checkout's testbed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bus_gateway.domain.geo import offset
from bus_gateway.domain.nmea import gga_sentence, rmc_sentence
from testbed.monitor_tap import inject
from testbed.probe_frames import FLOOD, probe_frames

#: the seed of the flood's frames (the same flood in every run)
SEED = 13


#: where the drive of :func:`drive` starts, and how far apart its stops are
ORIGIN = (51.3000, 9.4800)
STOP_EVERY_M = 150.0


def drive(start_ms: int, seconds: int) -> tuple[str, list[list[object]]]:
    """NMEA and the stops (``[id, name, lat, lon]``) of a bus that stands 4 s at a stop,
    drives 150 m in 10 s, and so on."""
    lines, t, m, stops = [], 0, 0.0, []
    n = 0
    while t < seconds:
        stops.append([f"S{n}", f"S{n}", *offset(*ORIGIN, 0.0, n * STOP_EVERY_M)])
        for _ in range(4):
            lat, lon = offset(*ORIGIN, 0.0, m)
            lines += [gga_sentence(start_ms + t * 1000, lat, lon),
                      rmc_sentence(start_ms + t * 1000, lat, lon, 0.0, 0.0)]
            t += 1
        for _ in range(10):
            m += STOP_EVERY_M / 10
            lat, lon = offset(*ORIGIN, 0.0, m)
            lines += [gga_sentence(start_ms + t * 1000, lat, lon),
                      rmc_sentence(start_ms + t * 1000, lat, lon, STOP_EVERY_M / 10, 0.0)]
            t += 1
        n += 1
    stops.append([f"S{n}", f"S{n}", *offset(*ORIGIN, 0.0, n * STOP_EVERY_M)])
    return "\n".join(lines) + "\n", stops


def role_inject(count: int) -> None:
    """``mon0`` and ``count`` frames of the flood, written on command."""
    inject(probe_frames(count, FLOOD, seed=SEED))


def role_gateway(config_path: str, stops_path: str) -> None:
    import psutil  # noqa: PLC0415

    from bus_gateway.domain.stops import RouteStop  # noqa: PLC0415
    from bus_gateway.wiring import build_gateway  # noqa: PLC0415
    from edge_agent.contract.configs import BusConfig  # noqa: PLC0415
    from edge_agent.heap import freeze_start_up_heap  # noqa: PLC0415

    raw_config = json.loads(Path(config_path).read_text())
    broker = raw_config.pop("_broker")
    config = BusConfig.model_validate(raw_config)
    stops = [RouteStop(*s) for s in json.loads(Path(stops_path).read_text())]
    gateway = build_gateway(config, broker, config_dir=Path(config_path).parent, stops=stops)
    freeze_start_up_heap()  # as ``kassel bus`` does
    me = psutil.Process()
    worst = [0.0]
    gc_worst = [0.0]
    gc_started = [0.0]

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_worst[0] = max(gc_worst[0], time.perf_counter() - gc_started[0])

    gc.callbacks.append(gc_timer)

    async def lag_timer() -> None:
        period = 0.01
        while True:
            t = time.perf_counter()
            await asyncio.sleep(period)
            worst[0] = max(worst[0], time.perf_counter() - t - period)

    async def report() -> None:
        while True:
            await asyncio.sleep(1.0)
            probes = gateway._probes
            occ = gateway.state.last_occupancy
            line = {
                "t": time.time(),
                "lag_ms": round(worst[0] * 1000, 2),
                "gc_ms": round(gc_worst[0] * 1000, 2),
                "rss_mb": round(me.memory_info().rss / 2**20, 2),
                "cpu_s": round(sum(me.cpu_times()[:2]), 3),
                "frames": probes.frames if probes is not None else None,
                "dropped": getattr(probes, "dropped", None),
                "kernel_dropped": getattr(probes, "kernel_dropped", None),
                "fusion": asdict(gateway.fusion.stats),
                "passengers": occ.passengers if occ else None,
                "probe_devices": occ.probe_devices if occ else None,
            }
            worst[0] = gc_worst[0] = 0.0
            print(json.dumps(line), flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, gateway.stop)
        extra = [asyncio.create_task(lag_timer()), asyncio.create_task(report())]
        try:
            await gateway.run()
        finally:
            for task in extra:
                task.cancel()

    asyncio.run(main())


if __name__ == "__main__":
    if sys.argv[1] == "inject":
        role_inject(int(sys.argv[2]))
    else:
        role_gateway(sys.argv[2], sys.argv[3])
