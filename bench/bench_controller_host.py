"""How late in-process controllers tick when their process and machine are busy, with and
without the weight :class:`~signal_controller.host.ControllerHost` gives their thread.

    .venv/bin/python bench/bench_controller_host.py --seconds 30 --controllers 10

Each setting of :data:`SETTINGS` runs N full controllers (domain, edge agent, MQTT to a private
Mosquitto, one TickScheduler) on a ControllerHost for S seconds while another thread of the
process runs pure-Python work for a share of the time (holding the GIL, as the demo's hub and
buses do when busy) and CPU-bound processes may run beside it on the machine. Reported per
setting: the worst lag of any tick behind its 100 ms slot, the share of ticks more than 100 ms
late, and ticks at least 500 ms late (what trips the safety kernel's watchdog). The figures are
ratios against ``quiet`` measured in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# this checkout's packages, not those of the installed (editable) copy
sys.path.insert(0, str(ROOT))

from central_hub.broker import MosquittoBroker  # noqa: E402
from edge_agent.contract.configs import IntersectionConfig, parse_config  # noqa: E402
from signal_controller.heads import FakeSignalHeads  # noqa: E402
from signal_controller.host import TICK_NICE, ControllerHost  # noqa: E402
from signal_controller.scheduler import TickScheduler  # noqa: E402
from signal_controller.wiring import build_controller  # noqa: E402

CONFIG = ROOT / "firmware_configs" / "intersections" / "ks-0042.yaml"
HOG = "while True: pass"


def _config(device_id: str, state_dir: Path, url: str) -> IntersectionConfig:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["device_id"] = device_id
    data["mqtt"] = {"broker": url, "insecure": True}  # the bench's local broker has no TLS
    data["agent"] = {"state_dir": str(state_dir / device_id), "health_interval_s": 30}
    cfg = parse_config(data, str(CONFIG))
    assert isinstance(cfg, IntersectionConfig)
    return cfg


def _busy(stop: threading.Event, duty: float) -> None:
    """Pure-Python work on the calling thread for ``duty`` of every 100 ms (the rest asleep):
    while it runs it holds the GIL except at the interpreter's switch interval."""
    x = 0
    while not stop.is_set():
        until = time.monotonic() + 0.1 * duty
        while time.monotonic() < until:
            for i in range(1_000):
                x ^= i * i
        if duty < 1:
            time.sleep(0.1 * (1 - duty))


#: setting -> (CPU hogs beside the process, nice of the controllers' thread, switch interval)
SETTINGS = {
    "quiet": (0, 0, 0.005),
    "loaded": (2, 0, 0.005),
    "host": (2, TICK_NICE, 0.005),
    "host-1ms": (2, TICK_NICE, 0.001),
}


def run(setting: str, n: int, seconds: float, duty: float) -> dict[str, float]:
    """One setting of :data:`SETTINGS`."""
    n_hogs, nice, switch = SETTINGS[setting]
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(n_hogs)]
    stop = threading.Event()
    old_switch = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default; the host shortens it where asked to
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                MosquittoBroker(Path(tmp) / "mosquitto") as broker:
            scheduler = TickScheduler()
            controllers = [
                build_controller(_config(f"ks-{9100 + i}", Path(tmp), broker.url),
                                 broker_url=broker.url, heads=FakeSignalHeads(),
                                 scheduler=scheduler)
                for i in range(n)]
            with ControllerHost(controllers, nice=nice, switch_interval_s=switch):
                time.sleep(3)  # connected and ticking
                base = [(c.ticks, c.late_ticks) for c in controllers]
                for c in controllers:
                    c.max_lag_ms = 0
                worker = threading.Thread(target=_busy, args=(stop, duty))
                worker.start()
                time.sleep(seconds)
                stop.set()
                worker.join()
                ticks = sum(c.ticks - b[0] for c, b in zip(controllers, base, strict=True))
                late = sum(c.late_ticks - b[1] for c, b in zip(controllers, base, strict=True))
                worst = max(c.max_lag_ms for c in controllers)
                tripped = sum(1 for c in controllers if c.state.kernel.failed)
    finally:
        sys.setswitchinterval(old_switch)
        stop.set()
        for h in hogs:
            h.kill()
            h.wait()
    return {"ticks": ticks, "late_pct": 100 * late / max(ticks, 1), "worst_ms": worst,
            "fail_safe": tripped}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--controllers", type=int, default=10)
    ap.add_argument("--duty", type=float, default=0.5,
                    help="share of the time the busy thread of the process computes")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds of every setting, interleaved; the table sums them")
    args = ap.parse_args()
    run("quiet", args.controllers, 5, args.duty)  # warm-up, not reported
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for name in SETTINGS:
            r = run(name, args.controllers, args.seconds, args.duty)
            if name not in results:
                results[name] = r
                continue
            acc = results[name]
            late = (acc["late_pct"] * acc["ticks"] + r["late_pct"] * r["ticks"]) / 100
            acc["ticks"] += r["ticks"]
            acc["late_pct"] = 100 * late / max(acc["ticks"], 1)
            acc["worst_ms"] = max(acc["worst_ms"], r["worst_ms"])
            acc["fail_safe"] += r["fail_safe"]
    q = results["quiet"]
    print(f"{args.controllers} controllers, {args.rounds} x {args.seconds:.0f} s per setting; "
          f"a thread of the same process computes {args.duty:.0%} of the time (holding the GIL); "
          "beside the process: CPU hogs as in the table")
    print(f"{'setting':9} {'hogs':>4} {'nice':>4} {'switch':>6} {'ticks':>6} "
          f"{'late>100ms %':>13} {'worst lag ms':>13} {'x quiet':>8} {'fail-safe':>10}")
    for name, r in results.items():
        hogs, nice, switch = SETTINGS[name]
        print(f"{name:9} {hogs:4} {nice:4} {switch * 1000:4.0f}ms {r['ticks']:6.0f} "
              f"{r['late_pct']:13.2f} {r['worst_ms']:13.0f} "
              f"{r['worst_ms'] / max(q['worst_ms'], 1):8.1f} {r['fail_safe']:10.0f}")


if __name__ == "__main__":
    main()
