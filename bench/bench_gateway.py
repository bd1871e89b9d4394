"""Bus gateway benchmark (issue 4): CPU and RSS of ``kassel bus`` with 100 admitted clients and
50 probe requests per second, and the time from ``POST /accept`` to traffic passing.

Run (as root): ``.venv/bin/python bench/bench_gateway.py [--window S] [--clients N] [--json OUT]``

Why this shape: the goals (< 10 % of one core, RSS < 80 MB, admission < 50 ms) are about the
router's real work, so nothing is simulated on the gateway side. The bench builds its own
passengers ↔ gateway ↔ internet network namespaces with the integration tests' ``NetLab``
and runs the unchanged ``kassel bus`` CLI (nftables backend, HTB/IFB shaping, dnsmasq, the
portal, a Mosquitto broker in the "internet" namespace) inside the gateway namespace:

* **clients**: one veth into a passenger namespace (one access point port on the bridge)
  carries N macvlans, each with its own MAC and address — N phones behind one AP. Each is
  admitted by a real ``POST /accept`` sent from its own MAC and IP (``SO_BINDTODEVICE``), so
  the gateway finds the MAC in its neighbour table and programs ``MAC . IP`` exactly as for a
  phone (``testbed/portal_clients.py``).
* **probe requests**: a TAP device ``mon0`` whose link type is set to 802.11 + radiotap
  (``TUNSETLINK`` 803) stands in for the monitor-mode interface; ``occupancy.probe_source`` is
  ``iface:mon0``, so the live sniffer path runs (kernel BPF filter, frame parsing,
  pseudonymisation, fusion). Scapy-built probe requests (randomised MACs with continuing
  sequence numbers, roadside devices, beacons that the BPF filter must drop:
  ``testbed/probe_frames.py``'s street) are written into the TAP at a fixed rate
  (``testbed/monitor_tap.py``, shared with the probe-flood test).
* **admission latency**: from the start of the HTTP request until a TCP connection from that
  client to a server in the internet namespace succeeds (port 8081, which the portal never
  redirects); connection attempts run concurrently with the request, each given 1 ms, so the
  resolution is about 1 ms. Clients are admitted one after the other, except the last
  ``--burst`` (10), who post at the same moment like people boarding at a stop. Baselines in
  the same run: the same connect from an admitted client (no firewall change) and a portal
  ``GET /api/captive`` round trip.
* **CPU/RSS**: psutil on the gateway process, its reaped ``nft`` children and dnsmasq, over
  three windows (idle; N clients; N clients + probes; ``testbed/resource_window.py``).
  Baselines in the same run: a sleeping bare interpreter and one that only imports the
  gateway's modules.

Every namespace (and every process in it) is removed on exit, also after an error, a signal
or the overall time limit. Traffic only flows inside these namespaces.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

# this checkout's packages, and testbed/ (shared with the tests; not installed)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.monitor_tap import inject
from testbed.netlab import INTERNET_BROKER, INTERNET_WEB, NetLab, sh
from testbed.portal_clients import (
    GATEWAY_IP,
    PORTAL_PORT,
    SINK_PORT,
    add_clients,
    role_clients,
    role_sink,
)
from testbed.probe_frames import STREET, probe_frames
from testbed.resource_window import cpu_seconds, measure

PY = sys.executable
THIS = str(Path(__file__).resolve())
GOAL_CPU_PCT = 10.0
GOAL_RSS_MB = 80.0
GOAL_ACCEPT_MS = 50.0
#: an interpreter that has imported what ``kassel bus`` imports, and sleeps
IMPORTS_BASELINE = "import bus_gateway.app, edge_agent.cli, time\ntime.sleep(3600)\n"


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- helper roles (run by the bench inside its namespaces; the passengers' and the internet
# server's are in testbed/portal_clients.py) ---------------------------------------------------


def role_inject(frames_needed: int) -> None:
    """``mon0`` with a busy street's probe requests and beacons, written on command."""
    inject(probe_frames(frames_needed, STREET, seed=4))


def role_gateway(argv: Sequence[str]) -> int:
    """``kassel bus`` exactly as the CLI runs it; afterwards its counters go to a JSON file."""
    import bus_gateway.app as app_mod  # noqa: PLC0415  (only this role runs the gateway)
    from edge_agent.cli import main as kassel  # noqa: PLC0415

    stats_path = Path(argv[0])
    made: list[app_mod.BusGateway] = []

    class Recorded(app_mod.BusGateway):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    setattr(app_mod, "BusGateway", Recorded)  # noqa: B010  (the CLI looks it up at run time)
    code = kassel(["bus", *argv[1:]])
    if made:
        gw = made[0]
        probes = gw._probes
        stats = {
            "exit_code": code,
            "sniffed_frames": probes.frames if probes is not None else None,
            "fusion": asdict(gw.fusion.stats),
            "admissions": gw.wlan.admissions,
            "sessions_active": len(gw.wlan.sessions.active()),
            "stations": len(gw.wlan.station_macs()),
            "per_client_kbps": gw.wlan.plan.rate_kbps,
        }
        stats_path.write_text(json.dumps(stats))
    return code


class Helper:
    """A line-oriented helper process inside a namespace (stdin commands, stdout answers)."""

    def __init__(self, lab: NetLab, ns: str, *args: str, log: Path) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, PY, THIS, *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log.open("w"), text=True, start_new_session=True,
        )
        lab.procs.append(self.proc)  # killed by lab.close()
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.log = log

    def read(self, timeout: float) -> str:
        stdout = self.proc.stdout
        assert stdout is not None
        if not self._sel.select(timeout):
            raise TimeoutError(f"helper gave no answer in {timeout} s (see {self.log})")
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"helper exited: {self.log.read_text()[-2000:]}")
        return line.strip()

    def ask(self, command: str, timeout: float = 10.0) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def gateway_config(lab: NetLab, tmp: Path) -> Path:
    (tmp / "empty.nmea").write_text("")
    config = {
        "device_id": f"bus-bench-{lab.id}",
        "kind": "bus",
        "mqtt": {"insecure": True},  # the lab's broker has no TLS
        "vehicle": {"id": f"b{lab.id}", "capacity_seated": 40, "capacity_total": 90},
        "agent": {"state_dir": str(tmp / "state")},
        "wlan": {  # firmware_configs/buses/bus-1234.yaml's values
            "backend": "nftables", "interface": lab.lan, "uplink": "wwan0",
            "portal_port": PORTAL_PORT, "per_client_kbps": 2000, "uplink_kbps": 20000,
            "session_timeout_min": 240, "idle_timeout_min": 30,
        },
        "occupancy": {"probe_source": "iface:mon0"},
        "gps": {"source": f"nmea:{tmp / 'empty.nmea'}"},
        "route": {"route_id": "4"},
    }
    path = tmp / "bus.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    n = args.clients
    t_start = time.monotonic()
    lab = NetLab(tmp, passengers=1, bridge=True)
    try:
        pax = lab.pax[0]
        add_clients(lab, pax, n)
        sink = Helper(lab, lab.inet, "_sink", log=tmp / "sink.log")
        assert sink.read(10) == "listening"
        conf = tmp / "mosquitto.conf"
        conf.write_text(f"listener 1883 {INTERNET_BROKER}\nallow_anonymous true\n"
                        "persistence false\n")
        lab.spawn(lab.inet, "mosquitto", "-c", str(conf), log=tmp / "mosquitto.log")
        frames = int(args.probe_rate * args.window) + 100
        injector = Helper(lab, lab.gw, "_inject", str(frames), log=tmp / "inject.log")
        assert injector.read(30) == "ready"
        bare = lab.spawn(lab.gw, PY, "-c", "import time; time.sleep(3600)")
        imports = lab.spawn(lab.gw, PY, "-c", IMPORTS_BASELINE)
        cfg = gateway_config(lab, tmp)
        stats_file = tmp / "gateway-stats.json"
        gw_log = tmp / "gateway.log"
        t_spawn = time.monotonic()
        lab_s = t_spawn - t_start
        gw_proc = lab.spawn(lab.gw, PY, THIS, "_gateway", str(stats_file), "--config", str(cfg),
                            "--broker", f"mqtt://{INTERNET_BROKER}:1883", "--log-level",
                            "WARNING", log=gw_log)

        def portal_up() -> bool:
            if gw_proc.poll() is not None:
                raise RuntimeError(f"gateway exited:\n{gw_log.read_text()[-3000:]}")
            res = lab.ns(lab.gw, "curl", "-s", "-m", "1",
                         f"http://{GATEWAY_IP}:{PORTAL_PORT}/api/captive", check=False)
            return '"captive"' in res.stdout

        wait_for(portal_up, "the portal", 40)
        startup_s = time.monotonic() - t_spawn
        gw = psutil.Process(gw_proc.pid)
        dnsmasq = next((c for c in gw.children() if c.name() == "dnsmasq"), None)
        bare_p = psutil.Process(bare.pid)
        time.sleep(args.settle)
        print(f"gateway up after {startup_s:.1f} s; measuring", file=sys.stderr)
        idle = measure("idle: 0 clients, no probes", args.idle_window, gw, dnsmasq, bare_p)

        clients = Helper(lab, pax, "_clients", log=tmp / "clients.log")
        assert clients.read(10) == "ready"
        captive = [json.loads(clients.ask(f"captive {k}")) for k in range(min(n, 30))]
        driver = psutil.Process(clients.proc.pid)
        driver0 = sum(cpu_seconds(driver))
        psutil.cpu_percent(None)
        own0, kids0 = cpu_seconds(gw)
        t_adm = time.monotonic()
        sequential = n - args.burst
        accepts = [json.loads(clients.ask(f"accept {k}")) for k in range(sequential)]
        admit_s = time.monotonic() - t_adm
        own1, kids1 = cpu_seconds(gw)
        burst = json.loads(clients.ask(f"burst {sequential} {n}", timeout=30)) if args.burst else []
        machine_busy = psutil.cpu_percent(None)
        driver_cpu = 100 * (sum(cpu_seconds(driver)) - driver0) / (time.monotonic() - t_adm)
        plain = [json.loads(clients.ask(f"connect {k}")) for k in range(min(n, 30))]
        elements = lab.ns(lab.gw, "nft", "-j", "list", "set", "inet", "kassel_bus",
                          "admitted").stdout.count('"concat"')
        classes = lab.ns(lab.gw, "tc", "class", "show", "dev", lab.lan).stdout.count("class htb")
        time.sleep(args.settle)
        loaded = measure(f"{n} clients, no probes", args.idle_window, gw, dnsmasq, bare_p)

        assert injector.proc.stdin is not None
        injector.proc.stdin.write(f"go {args.probe_rate} {args.window}\n")
        injector.proc.stdin.flush()
        busy = measure(f"{n} clients + {args.probe_rate:g} probes/s", args.window, gw, dnsmasq,
                       bare_p)
        _, sent, inject_s, probes_sent = injector.read(30).split()
        busy.extra = {"frames_injected": int(sent), "probe_requests_injected": int(probes_sent),
                      "injection_s": float(inject_s)}
        time.sleep(1.0)  # let the last frames through the sniffer
        imports_rss = psutil.Process(imports.pid).memory_info().rss / 2**20
        bare_rss = bare_p.memory_info().rss / 2**20

        gw_proc.send_signal(signal.SIGTERM)
        gw_proc.wait(30)
        gw_stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        return {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                        "python": platform.python_version()},
            "clients": n, "probe_rate": args.probe_rate, "startup_s": startup_s,
            "lab_build_s": lab_s,
            "windows": [asdict(w) | {"total_cpu_pct": w.total_cpu_pct}
                        for w in (idle, loaded, busy)],
            "baseline_rss_mb": {"bare_python": bare_rss, "imports_only": imports_rss},
            "admission": {
                "accepts": accepts, "burst": burst, "plain_connect": plain,
                "captive_get": captive,
                "wall_s": admit_s, "gateway_cpu_s": (own1 - own0) + (kids1 - kids0),
                "machine_busy_pct": machine_busy, "bench_clients_cpu_pct": driver_cpu,
                "nft_admitted_elements": elements, "htb_classes_on_lan": classes,
            },
            "gateway_stats": gw_stats,
            "total_runtime_s": time.monotonic() - t_start,
        }
    finally:
        lab.close()


def report(r: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    m = r["machine"]
    add(f"Bus gateway benchmark (issue 4) — {r['date']}, {m['cores']} cores, "
        f"kernel {m['kernel']}, Python {m['python']}")
    add(f"namespaces, {r['clients']} macvlan clients, broker and probe injector ready in "
        f"{r['lab_build_s']:.1f} s; gateway started (portal answering) in {r['startup_s']:.1f} s")
    idle, loaded, busy = r["windows"]
    add("")
    add("CPU, % of one core (gateway = Python process + its reaped `nft` children):")
    for w in r["windows"]:
        add(f"  {w['name']:<34} {w['total_cpu_pct']:5.2f} %  (process {w['gateway_cpu_pct']:.2f}"
            f" + nft {w['nft_children_cpu_pct']:.2f}; busiest 2 s {w['max_2s_cpu_pct']:.1f} %;"
            f" dnsmasq {w['dnsmasq_cpu_pct']:.2f} %; {w['seconds']:.0f} s;"
            f" machine busy {w['machine_busy_pct']:.0f} %)")
    ok = busy["total_cpu_pct"] < GOAL_CPU_PCT
    add(f"  goal < {GOAL_CPU_PCT:g} % with clients + probes: {'met' if ok else 'MISSED'}; "
        f"{busy['total_cpu_pct'] / GOAL_CPU_PCT:.2f}× the goal, "
        f"{busy['total_cpu_pct'] / max(idle['total_cpu_pct'], 1e-3):.1f}× the idle gateway; "
        f"a sleeping bare interpreter used {busy['bare_python_cpu_pct']:.3f} %")
    add(f"  probes cost {busy['total_cpu_pct'] - loaded['total_cpu_pct']:+.2f} points, "
        f"{r['clients']} clients {loaded['total_cpu_pct'] - idle['total_cpu_pct']:+.2f} points")
    base = r["baseline_rss_mb"]
    rss = max(w["rss_mb_max"] for w in r["windows"])
    add("")
    add(f"RSS: gateway peak {rss:.1f} MB (end {busy['rss_mb_end']:.1f} MB), goal < "
        f"{GOAL_RSS_MB:g} MB: {'met' if rss < GOAL_RSS_MB else 'MISSED'}; "
        f"{rss / base['bare_python']:.1f}× a bare interpreter ({base['bare_python']:.1f} MB), "
        f"{rss / base['imports_only']:.2f}× an idle interpreter that only imports the "
        f"gateway's modules ({base['imports_only']:.1f} MB)")
    g = r["gateway_stats"]
    e = busy["extra"]
    add("")
    add(f"probes: {e.get('probe_requests_injected')} probe requests + "
        f"{e.get('frames_injected', 0) - e.get('probe_requests_injected', 0)} beacons written "
        f"in {e.get('injection_s')} s; the gateway's sniffer got {g.get('sniffed_frames')} "
        f"frames, fusion {g.get('fusion')}")
    a = r["admission"]
    passed = [x["pass_ms"] for x in a["accepts"] if x["pass_ms"] is not None]
    resp = [x["response_ms"] for x in a["accepts"]]
    plain = [x["pass_ms"] for x in a["plain_connect"] if x["pass_ms"] is not None]
    captive = [x["ms"] for x in a["captive_get"]]
    failed = len(a["accepts"]) + len(a["burst"]) - len(passed)
    bad = [x for x in a["accepts"] + a["burst"] if x["status"] != 200]
    burst = [x["pass_ms"] for x in a["burst"] if x["pass_ms"] is not None]
    failed -= len(burst)
    add("")
    add(f"admission ({len(a['accepts'])} × POST /accept one client after the other, then "
        f"{len(a['burst'])} at once; "
        f"{failed} never passed, {len(bad)} non-200):")
    if passed:
        p50, p95 = pct(passed, 50), pct(passed, 95)
        add(f"  POST start → TCP to the internet passes: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
            f"max {max(passed):.1f} ms; goal < {GOAL_ACCEPT_MS:g} ms (p95): "
            f"{'met' if p95 < GOAL_ACCEPT_MS else 'MISSED'}")
        first = [x["pass_ms"] for x in a["accepts"][:30] if x["pass_ms"] is not None]
        add(f"  first 30 clients only: p50 {pct(first, 50):.1f} ms, p95 {pct(first, 95):.1f} ms")
    add(f"  POST start → HTTP response complete: p50 {pct(resp, 50):.1f} ms, "
        f"p95 {pct(resp, 95):.1f} ms, max {max(resp):.1f} ms")
    if a["burst"]:
        add(f"  {len(a['burst'])} clients posting at the same moment (clients "
            f"{a['burst'][0]['client']}…{a['burst'][-1]['client']}): traffic passes p50 "
            f"{pct(burst, 50):.1f} ms, max {max(burst):.1f} ms; responses p50 "
            f"{pct([x['response_ms'] for x in a['burst']], 50):.1f} ms, max "
            f"{max(x['response_ms'] for x in a['burst']):.1f} ms" if burst else
            f"  {len(a['burst'])} clients posting at the same moment: none passed")
    if plain and passed:
        add(f"  baseline, admitted client's TCP connect (no firewall change): p50 "
            f"{pct(plain, 50):.2f} ms, p95 {pct(plain, 95):.2f} ms → accept is "
            f"{pct(passed, 50) / pct(plain, 50):.0f}× that (p50)")
    add(f"  baseline, portal GET /api/captive round trip: p50 {pct(captive, 50):.1f} ms, "
        f"p95 {pct(captive, 95):.1f} ms → accept is {pct(passed, 50) / pct(captive, 50):.1f}× "
        f"that (p50)" if passed else "")
    add(f"  gateway CPU per admission {1000 * a['gateway_cpu_s'] / len(a['accepts']):.1f} ms; "
        f"afterwards nft holds {a['nft_admitted_elements']} MAC.IP pairs, "
        f"{a['htb_classes_on_lan']} HTB classes on the LAN device, the gateway "
        f"{g.get('sessions_active')} sessions / {g.get('stations')} stations at "
        f"{g.get('per_client_kbps')} kbit/s each")
    add(f"  while admitting: machine busy {a['machine_busy_pct']:.0f} % (all cores, everything), "
        f"the bench's own client process {a['bench_clients_cpu_pct']:.0f} % of a core")
    add(f"total runtime {r['total_runtime_s']:.0f} s")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_sink":
        role_sink(INTERNET_WEB, SINK_PORT)
        return 0
    if argv and argv[0] == "_inject":
        role_inject(int(argv[1]))
        return 0
    if argv and argv[0] == "_clients":
        role_clients()
        return 0
    if argv and argv[0] == "_gateway":
        return role_gateway(argv[1:])

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--probe-rate", type=float, default=50.0, help="probe requests/s")
    parser.add_argument("--window", type=float, default=30.0, help="s with clients + probes")
    parser.add_argument("--idle-window", type=float, default=10.0,
                        help="s of each comparison window (idle; clients without probes)")
    parser.add_argument("--burst", type=int, default=10,
                        help="the last N clients post /accept at the same moment")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--time-limit", type=int, default=170, help="s; then clean up and fail")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 150:
        parser.error("--clients must be 1..150 (10.77.0.100 and up, below the broadcast)")
    if not 0 <= args.burst < args.clients:
        parser.error("--burst must be smaller than --clients")
    if os.geteuid() != 0:
        print("needs root (network namespaces, nftables, tc)", file=sys.stderr)
        return 2
    missing = [t for t in ("nft", "tc", "dnsmasq", "mosquitto", "curl") if not shutil.which(t)]
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2

    def bail(signum: int, _frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}; namespaces removed")

    def too_long(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"time limit of {args.time_limit} s reached; namespaces removed")

    signal.signal(signal.SIGTERM, bail)
    signal.signal(signal.SIGINT, bail)
    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(args.time_limit)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-gw-") as tmp:
            result = run(args, Path(tmp))
    finally:
        signal.alarm(0)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    with contextlib.suppress(Exception):
        leftover = [ns for ns in sh("ip", "netns", "list").stdout.split()
                    if ns.startswith(("kbgw-", "kbin-", "kbp")) and f"{os.getpid() % 100000}x"
                    in ns]
        if leftover:
            print(f"WARNING: namespaces left over: {leftover}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
