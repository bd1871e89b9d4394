"""Attack: passengers reach the hub's MQTT broker when DNS did not answer at the gateway's boot.

The gateway is given its broker as a host name. In the gateway's namespace the resolver is a
DNS server in the lab's "internet" namespace (``/etc/netns/<gateway>/resolv.conf``, which
``ip netns exec`` mounts over ``/etc/resolv.conf``): at boot it is not running, so the name
does not resolve (LTE not up yet). A passenger who accepted the terms must then reach neither
the broker's address, on any port, nor the internet (fail closed). Once the DNS server answers,
the passenger reaches the internet but still not the broker, on any of several ports; when the
name moves to a new address, the new address is protected within the re-resolve period.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

from testbed.netlab import INTERNET_BROKER, INTERNET_WEB, NetLab
from tests.hostile.netcheck import connects, listen, pings
from tests.integration.bus_gateway.gatewaylab import Gateway, wait_for

BROKER_NAME = "broker.kassel.test"
NEW_BROKER = "198.51.100.21"
DNS_SERVER = "100.64.0.1"  # the internet namespace's end of the uplink
#: the documented re-resolve period (docs/bus_gateway.md, "Broker protection")
RECHECK_S = 15.0
PORTS = (1883, 8883, 22, 443, 9001)  # MQTT, MQTT/TLS, ssh, https, websockets


def _broker_targets(addr: str) -> list[tuple[str, int]]:
    return [(addr, p) for p in PORTS]


def test_broker_unreachable_before_and_after_dns_answers_and_when_it_moves(tmp_path: Path):
    etc: list[Path] = []

    def resolver(lab: NetLab) -> None:
        d = Path("/etc/netns") / lab.gw
        d.mkdir(parents=True, exist_ok=True)
        etc.append(d)
        (d / "resolv.conf").write_text(f"nameserver {DNS_SERVER}\noptions timeout:1 attempts:1\n")
        (d / "hosts").write_text("127.0.0.1 localhost\n")
        lab.ns(lab.inet, "ip", "addr", "add", f"{NEW_BROKER}/32", "dev", "lo")
        # every port listens on both broker addresses (1883 on the old one is Mosquitto)
        listen(lab, lab.inet, [t for t in _broker_targets(INTERNET_BROKER) if t[1] != 1883]
               + _broker_targets(NEW_BROKER))

    gw = Gateway(tmp_path, passengers=1, bridge=False,
                 broker_url=f"mqtt://{BROKER_NAME}:1883", before_start=resolver)
    try:
        lab = gw.lab
        pax = lab.pax[0]
        lab.dhcp(0)
        code, _, body = gw.accept(0)
        assert code == 200 and json.loads(body)["admitted"] is True
        web = (INTERNET_WEB, 8081)
        old = _broker_targets(INTERNET_BROKER)
        new = _broker_targets(NEW_BROKER)

        # 1. DNS fails: nothing is forwarded for the admitted passenger (fail closed)
        time.sleep(2.0)
        seen = connects(lab, pax, [web, *old, *new])
        assert not any(seen.values()), f"reachable while the broker is unknown: {seen}"
        assert not pings(lab, pax, INTERNET_BROKER)

        # 2. DNS answers: the internet opens, the broker stays closed on every port
        hosts = tmp_path / "dns-hosts"
        hosts.write_text(f"{INTERNET_BROKER} {BROKER_NAME}\n")
        dns = lab.spawn(lab.inet, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                        "--no-resolv", "--no-hosts", f"--addn-hosts={hosts}",
                        f"--listen-address={DNS_SERVER}", "--bind-interfaces", "--port=53",
                        "--user=root", f"--pid-file={tmp_path / 'dns.pid'}",
                        log=tmp_path / "dns.log")
        wait_for(lambda: connects(lab, pax, [web])[f"{INTERNET_WEB}:8081"],
                 "the passenger to reach the internet once DNS answers",
                 timeout=RECHECK_S + 10, interval=0.5)
        assert lab.http(0, f"http://{INTERNET_WEB}/")[:3:2] == (200, "hello-internet")
        seen = connects(lab, pax, [*old, *new])
        assert not any(seen[f"{h}:{p}"] for h, p in old), f"old broker reachable: {seen}"
        assert all(seen[f"{h}:{p}"] for h, p in new), f"new address not yet the broker: {seen}"
        assert not pings(lab, pax, INTERNET_BROKER)
        # the gateway itself still reaches the broker
        assert connects(lab, lab.gw, [(INTERNET_BROKER, 1883)])[f"{INTERNET_BROKER}:1883"]

        # 3. the name moves: the new address is protected within the re-resolve period
        hosts.write_text(f"{NEW_BROKER} {BROKER_NAME}\n")
        dns.send_signal(signal.SIGHUP)  # dnsmasq re-reads --addn-hosts and drops its cache
        moved = time.monotonic()
        wait_for(lambda: not any(connects(lab, pax, new).values()),
                 "the new broker address to be protected", timeout=RECHECK_S + 5,
                 interval=0.5)
        took = time.monotonic() - moved
        seen = connects(lab, pax, [web, *old, *new])
        assert seen[f"{INTERNET_WEB}:8081"], seen
        assert not any(seen[f"{h}:{p}"] for h, p in [*old, *new]), seen
        print(f"new broker address protected {took:.1f} s after DNS changed "
              f"(re-resolve period {RECHECK_S:g} s)")
    finally:
        gw.close()
        for d in etc:
            shutil.rmtree(d, ignore_errors=True)
