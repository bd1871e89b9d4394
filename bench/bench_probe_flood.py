"""Probe-request flood benchmark (issue 13, attack 7): matcher cost, sustained rate, loop lag.

Run (as root): ``.venv/bin/python bench/bench_probe_flood.py [--rate 2000] [--seconds 20]
[--json OUT]``; about 2.5 minutes.

Why this shape: the attack is a stream of probe requests from new random addresses, each its
own "device" (own IE fingerprint), and what it hurt was the event loop everything else runs
on. So the bench measures, in one run, the old code against the new:

1. **Matcher, in process.** The fusion's cost of one randomised probe from a new address
   (the worst case: it must be matched against the table) with n devices already in the
   table, n = 1,000 / 10,000 / 60,000: the linear scan as it was (kept below as
   :class:`OldFusion`, the code of ``bus_gateway/domain/occupancy.py`` before the change)
   against the indexed, bounded fusion (unbounded for the comparison, and with its default
   bound of 4,096). Also the whole per-frame path of the new code (parse, pseudonym,
   fingerprint, fusion): the frame rate its 25 % share of the loop sustains.
2. **Live, in namespaces.** The real :class:`BusGateway` (``testbed/probeflood.py
   gateway``: the live sniffer on a radiotap TAP, a recorded drive in real time, a Mosquitto)
   flooded at ``--rate`` frames/s for ``--seconds`` (four of five frames from a new device,
   one from 400 repeaters), once with the old ``bus_gateway`` (the tree at the merge base,
   put first on ``PYTHONPATH``) and once with this one: the worst lateness of a 10-ms timer
   in each second (the event loop's lag), CPU, RSS, frames processed and dropped. Then the
   new code at 5,000 and 10,000 frames/s for 8 s each: how many of the frames it processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this checkout's packages, and testbed/ (shared with the tests; not installed)
sys.path.insert(0, str(ROOT))

from bus_gateway.domain.dot11 import LINKTYPE_IEEE802_11_RADIOTAP  # noqa: E402
from bus_gateway.domain.occupancy import (  # noqa: E402
    OccupancyFusion,
    OccupancyRules,
    ProbeObservation,
)
from bus_gateway.domain.privacy import MacHasher  # noqa: E402
from bus_gateway.probes import CPU_SHARE, observation_from_frame  # noqa: E402
from central_hub.broker import free_port  # noqa: E402
from testbed import probeflood  # noqa: E402
from testbed.netlab import INTERNET_BROKER, NetLab  # noqa: E402
from testbed.probe_frames import FLOOD, probe_frames  # noqa: E402

ROLES = Path(probeflood.__file__)
T0 = 1_767_225_600_000


class OldFusion:
    """``OccupancyFusion.on_probe`` before issue 13: a list of devices, scanned per probe."""

    def __init__(self) -> None:
        self.rules = OccupancyRules()
        self.devices: list[list[Any]] = []  # [pseudonyms, randomized, fp, last_seq, last_seen]
        self.by_pseudonym: dict[str, list[Any]] = {}

    def on_probe(self, obs: ProbeObservation) -> None:
        r = self.rules
        dev = self.by_pseudonym.get(obs.device)
        if dev is None and obs.randomized:
            best, best_gap = None, 4096
            for d in self.devices:
                if not d[1] or d[2] != obs.fingerprint:
                    continue
                if obs.ts_ms - d[4] > r.dedup_window_s * 1000:
                    continue
                if obs.seq is None or d[3] is None:
                    continue
                gap = (obs.seq - d[3]) % 4096
                if 0 < gap <= r.max_seq_gap and gap < best_gap:
                    best, best_gap = d, gap
            dev = best
            if dev is not None:
                dev[0].add(obs.device)
                self.by_pseudonym[obs.device] = dev
        if dev is None:
            dev = [{obs.device}, obs.randomized, obs.fingerprint, obs.seq, obs.ts_ms]
            self.devices.append(dev)
            self.by_pseudonym[obs.device] = dev
        dev[4] = max(dev[4], obs.ts_ms)
        if obs.seq is not None:
            dev[3] = obs.seq


def _obs(rng: random.Random, i: int, ts: int, models: int) -> ProbeObservation:
    fp = f"{rng.randrange(models):016x}" if models else f"{rng.getrandbits(64):016x}"
    return ProbeObservation(ts, f"{i:016x}", True, rng.randrange(4096), fp, -50)


def matcher_cost(n: int, *, models: int, probes: int = 2000) -> dict[str, float]:
    """µs per new randomised probe with ``n`` devices in the table (fingerprints: one per
    device when ``models`` is 0, else ``models`` shared ones)."""
    out: dict[str, float] = {}
    makers: dict[str, Any] = {
        "old": OldFusion,
        "new_unbounded": lambda: OccupancyFusion(OccupancyRules(max_devices=10**7)),
        "new_bounded": OccupancyFusion,
    }
    for name, make in makers.items():
        fusion = make()
        rng = random.Random(n)
        for i in range(n):
            obs = _obs(rng, i, T0 + i, models)
            if isinstance(fusion, OldFusion):  # filling it probe by probe would take minutes
                dev = [{obs.device}, True, obs.fingerprint, obs.seq, obs.ts_ms]
                fusion.devices.append(dev)
                fusion.by_pseudonym[obs.device] = dev
            else:
                fusion.on_probe(obs)
        count = probes if name != "old" or n < 10_000 else probes // 10
        batch = [_obs(rng, n + i, T0 + n + i, models) for i in range(count)]
        t = time.perf_counter()
        for obs in batch:
            fusion.on_probe(obs)
        out[name] = (time.perf_counter() - t) / count * 1e6
    return out


def frame_cost(count: int = 20_000) -> float:
    """µs per frame for the new code's whole path: parse, pseudonym, fingerprint, fusion."""
    frames = probe_frames(count, FLOOD, seed=probeflood.SEED)
    hasher = MacHasher(bytes)  # a fixed (zero) key: the cost is the same
    fusion = OccupancyFusion()
    t = time.perf_counter()
    for i, frame in enumerate(frames):
        obs = observation_from_frame(frame, LINKTYPE_IEEE802_11_RADIOTAP, hasher, T0 + i)
        if obs is not None:
            fusion.on_probe(obs)
    return (time.perf_counter() - t) / count * 1e6


# --- live ---------------------------------------------------------------------------------------


def _drive(tmp: Path) -> None:
    nmea, stops = probeflood.drive(int((time.time() + 3) * 1000), 300)
    (tmp / "drive.nmea").write_text(nmea)
    (tmp / "stops.json").write_text(json.dumps(stops))


def live(tmp: Path, pythonpath: str | None, phases: list[tuple[float, float]]
         ) -> list[dict[str, Any]]:
    """Run the gateway role under ``phases`` of (rate, seconds); per phase its figures."""
    lab = NetLab(tmp, passengers=0, bridge=False)
    try:
        conf = tmp / "mosquitto.conf"
        conf.write_text(f"listener 1883 {INTERNET_BROKER}\nallow_anonymous true\n"
                        "persistence false\n")
        lab.spawn(lab.inet, "mosquitto", "-c", str(conf), log=tmp / "mosquitto.log")
        total = int(max(r * s for r, s in phases))
        injector = subprocess.Popen(
            ["ip", "netns", "exec", lab.gw, sys.executable, str(ROLES), "inject", str(total)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        lab.procs.append(injector)
        assert injector.stdout is not None and injector.stdin is not None
        assert injector.stdout.readline().strip() == "ready"
        _drive(tmp)
        config = {
            "_broker": f"mqtt://{INTERNET_BROKER}:1883", "device_id": f"bus-{lab.id}",
            "mqtt": {"insecure": True},  # the lab's broker has no TLS
            "kind": "bus", "vehicle": {"id": f"b{lab.id}", "capacity_seated": 40,
                                       "capacity_total": 90},
            "agent": {"state_dir": str(tmp / "state")},
            "wlan": {"backend": "simulated", "interface": "wlan0", "uplink": "wwan0",
                     "portal_port": free_port(), "per_client_kbps": 2000,
                     "uplink_kbps": 20000},
            "occupancy": {"probe_source": "iface:mon0"},
            "gps": {"source": f"nmea:{tmp / 'drive.nmea'}"}, "route": {"route_id": "B"},
        }
        (tmp / "bus.json").write_text(json.dumps(config))
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        gateway = subprocess.Popen(
            ["ip", "netns", "exec", lab.gw, sys.executable, str(ROLES), "gateway",
             str(tmp / "bus.json"), str(tmp / "stops.json")],
            stdout=subprocess.PIPE, stderr=(tmp / "gateway.log").open("w"), text=True, env=env,
            start_new_session=True)
        lab.procs.append(gateway)
        lines: list[dict[str, Any]] = []

        def read() -> None:
            assert gateway.stdout is not None
            for line in gateway.stdout:
                if line.startswith("{"):
                    lines.append(json.loads(line))

        threading.Thread(target=read, daemon=True).start()
        time.sleep(8.0)
        results = []
        quiet = list(lines)
        for rate, seconds in phases:
            before = lines[-1] if lines else {}
            start = time.time()
            injector.stdin.write(f"go {rate} {seconds}\n")
            injector.stdin.flush()
            done = injector.stdout.readline().split()
            end = time.time()
            time.sleep(3.0)
            during = [x for x in lines if start + 1 <= x["t"] <= end + 1]
            after = lines[-1]
            cpu = ((during[-1]["cpu_s"] - during[0]["cpu_s"]) / (during[-1]["t"] - during[0]["t"])
                   if len(during) > 1 else float("nan"))
            lags = [x["lag_ms"] for x in during]
            results.append({
                "rate": rate, "seconds": seconds, "written": int(done[1]),
                "write_s": float(done[2]),
                "reported_seconds": len(during),
                "lag_ms_per_second": lags,
                "lag_ms_median": statistics.median(lags) if lags else None,
                "lag_ms_max": max(lags) if lags else None,
                "quiet_lag_ms_max": max(x["lag_ms"] for x in quiet) if quiet else None,
                "cpu_pct": 100 * cpu,
                "rss_mb_before": before.get("rss_mb"), "rss_mb_max": max(
                    (x["rss_mb"] for x in during), default=None),
                "processed": after["fusion"]["probes"] - before.get("fusion", {}).get("probes", 0),
                "dropped": (after.get("dropped") or 0) - (before.get("dropped") or 0),
                "kernel_dropped": ((after.get("kernel_dropped") or 0)
                                   - (before.get("kernel_dropped") or 0)),
                "devices_created": after["fusion"]["devices_created"],
                "passengers_max": max((x["passengers"] or 0 for x in during), default=None),
            })
            time.sleep(2.0)
        gateway.terminate()
        gateway.wait(30)
        return results
    finally:
        lab.close()


def old_tree(tmp: Path) -> str:
    """``bus_gateway`` as it was at the merge base with main, extracted to ``tmp``."""
    base = subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                          capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", base, "bus_gateway"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces, TAP)", file=sys.stderr)
        return 2
    load = os.getloadavg()
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version(), "loadavg_at_start": load},
    }
    matcher: dict[str, Any] = {}
    for n in (1_000, 10_000, 60_000):
        matcher[f"n={n}, every device its own fingerprint"] = matcher_cost(n, models=0)
        matcher[f"n={n}, 8 shared fingerprints"] = matcher_cost(n, models=8)
    result["matcher_us_per_probe"] = matcher
    per_frame = frame_cost()
    result["new_frame_path_us"] = per_frame
    result["new_sustained_fps_at_share"] = CPU_SHARE / (per_frame / 1e6)
    with tempfile.TemporaryDirectory(prefix="bench-pf-") as t:
        tmp = Path(t)
        (tmp / "old").mkdir()
        result["old_commit"] = old_tree(tmp / "old")
        (tmp / "o").mkdir()
        (tmp / "n").mkdir()
        result["live_old"] = live(tmp / "o", str(tmp / "old"), [(args.rate, args.seconds)])
        result["live_new"] = live(tmp / "n", None, [(args.rate, args.seconds), (5000.0, 8.0),
                                                    (10000.0, 8.0)])
    result["loadavg_at_end"] = os.getloadavg()
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def report(r: dict[str, Any]) -> str:
    out = [f"Probe-flood benchmark — {r['date']}, {r['machine']['cores']} cores, Python "
           f"{r['machine']['python']}; load average at start {r['machine']['loadavg_at_start']}"
           f", at end {r['loadavg_at_end']}", "",
           "matcher, µs per randomised probe from a new address (old = linear scan):"]
    for name, v in r["matcher_us_per_probe"].items():
        out.append(f"  {name:<44} old {v['old']:9.1f}  new {v['new_unbounded']:6.1f} "
                   f"(×{v['old'] / v['new_unbounded']:.0f})  new bounded {v['new_bounded']:6.1f}")
    out.append(f"new code, whole frame path (parse, pseudonym, fingerprint, fusion): "
               f"{r['new_frame_path_us']:.1f} µs/frame → {r['new_sustained_fps_at_share']:.0f} "
               f"frames/s within its {CPU_SHARE:.0%} share of the loop")
    for name in ("live_old", "live_new"):
        for p in r[name]:
            out.append(
                f"{name[5:]:>3} @ {p['rate']:.0f}/s × {p['seconds']:.0f} s: loop lag per second "
                f"median {p['lag_ms_median']} ms, max {p['lag_ms_max']} ms (quiet max "
                f"{p['quiet_lag_ms_max']} ms); reported {p['reported_seconds']} s; CPU "
                f"{p['cpu_pct']:.0f} %; RSS {p['rss_mb_before']} → {p['rss_mb_max']} MB; "
                f"processed {p['processed']} of {p['written']} written (dropped "
                f"{p['dropped']} at the buffer, {p['kernel_dropped']} in the kernel); "
                f"most passengers {p['passengers_max']}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
