"""The passenger WLAN on a real kernel: namespaces, nftables, HTB/IFB, dnsmasq, the portal.

Each test builds its own passengers ↔ gateway ↔ internet namespaces (see ``netlab.py``), runs
``kassel bus`` inside the gateway namespace against a Mosquitto in the internet namespace,
and tears everything down again. Only loopback and these namespaces' addresses are used.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.netlab import INTERNET_BROKER, INTERNET_WEB, NetLab
from tests.integration.bus_gateway.gatewaylab import (
    BULK,
    Gateway,
    Receiver,
    class_rate,
    measure,
    wait_for,
)


@pytest.fixture
def bridged(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(tmp_path, passengers=2, bridge=True)
    yield gw
    gw.close()


def test_portal_admission_isolation_and_broker_on_a_bridge(bridged: Gateway):
    lab = bridged.lab
    ip0 = lab.dhcp(0)
    ip1 = lab.dhcp(1)
    assert ip0.startswith("10.77.0.") and ip1.startswith("10.77.0.") and ip0 != ip1
    # bridge ports are isolated from each other
    ports = lab.ns(lab.gw, "bridge", "-d", "link", "show").stdout
    assert ports.count("isolated on") == 2
    # before acceptance: HTTP anywhere is redirected to the portal, nothing else passes
    code, location, _ = lab.http(0, f"http://{INTERNET_WEB}/")
    assert code == 302 and location.startswith("http://10.77.0.1:8080/")
    code, location, _ = lab.http(0, "http://connectivitycheck.example/generate_204",
                                 "--resolve", f"connectivitycheck.example:80:{INTERNET_WEB}")
    assert code == 302 and location.startswith("http://10.77.0.1:8080/")
    assert not lab.tcp_connects(lab.pax[0], INTERNET_WEB, 8081)
    terms = lab.http(0, "http://10.77.0.1:8080/")
    assert terms[0] == 200 and "Nutzungsbedingungen" in terms[2]
    # accept: the same request now reaches the internet server
    code, _, body = bridged.accept(0)
    assert code == 200 and json.loads(body)["admitted"] is True
    code, _, body = lab.http(0, f"http://{INTERNET_WEB}/")
    assert (code, body) == (200, "hello-internet")
    assert lab.tcp_connects(lab.pax[0], INTERNET_WEB, 8081)
    code, _, body = lab.http(0, "http://10.77.0.1:8080/api/captive")
    assert json.loads(body)["captive"] is False
    # the other passenger is still captive
    assert lab.http(1, f"http://{INTERNET_WEB}/")[0] == 302
    # passengers cannot reach each other, admitted or not
    lab.spawn(lab.pax[1], sys.executable, "-m", "http.server", "9000", "--bind", ip1)
    wait_for(lambda: lab.tcp_connects(lab.pax[1], ip1, 9000), "passenger 1's server")
    assert not lab.tcp_connects(lab.pax[0], ip1, 9000)
    assert bridged.accept(1)[0] == 200
    assert not lab.tcp_connects(lab.pax[0], ip1, 9000)
    # neither reaches a broker port: the hub's broker nor a service on the gateway
    for index in (0, 1):
        assert not lab.tcp_connects(lab.pax[index], INTERNET_BROKER, 1883)
        assert not lab.tcp_connects(lab.pax[index], "10.77.0.1", 1883)
    # while the gateway itself is connected to that broker
    assert lab.tcp_connects(lab.gw, INTERNET_BROKER, 1883)


#: the hub's web front in the lab's internet, in the walled garden
GARDEN = "198.51.100.30"


def _garden_server(lab: NetLab) -> None:
    www = lab.tmp / "garden" / "lernen"
    www.mkdir(parents=True)
    (www / "index.html").write_text("Digitale Lernhilfe")
    lab.ns(lab.inet, "ip", "addr", "add", f"{GARDEN}/32", "dev", "lo")
    lab.spawn(lab.inet, sys.executable, "-m", "http.server", "80", "--bind", GARDEN,
              "--directory", str(www.parent))


def test_the_learning_platform_is_free_before_the_terms_are_accepted(tmp_path: Path):
    learning = f"http://{GARDEN}/lernen/"
    gw = Gateway(tmp_path, passengers=1, bridge=False, before_start=_garden_server,
                 wlan_extra={"walled_garden": [GARDEN], "learning_url": learning})
    try:
        lab = gw.lab
        lab.dhcp(0)
        wait_for(lambda: lab.tcp_connects(lab.inet, GARDEN, 80), "the garden's server")
        # the portal links the platform, which answers before acceptance; nothing else does
        terms = lab.http(0, "http://10.77.0.1:8080/")
        assert terms[0] == 200 and f'href="{learning}"' in terms[2]
        assert lab.http(0, learning)[::2] == (200, "Digitale Lernhilfe")
        assert lab.http(0, f"http://{INTERNET_WEB}/")[0] == 302
        assert not lab.tcp_connects(lab.pax[0], INTERNET_WEB, 8081)
    finally:
        gw.close()


def test_expired_session_is_blocked_again_on_a_plain_interface(tmp_path: Path):
    gw = Gateway(tmp_path, passengers=1, bridge=False, session_timeout_min=0.1)
    try:
        lab = gw.lab
        lab.dhcp(0)
        assert lab.http(0, f"http://{INTERNET_WEB}/")[0] == 302
        assert gw.accept(0)[0] == 200
        assert lab.http(0, f"http://{INTERNET_WEB}/")[:3:2] == (200, "hello-internet")
        # after session_timeout_min (6 s) the client is out of the set: redirected again
        wait_for(lambda: lab.http(0, f"http://{INTERNET_WEB}/")[0] == 302,
                 "the session to expire", timeout=30, interval=1.0)
        assert not lab.tcp_connects(lab.pax[0], INTERNET_WEB, 8081)
    finally:
        gw.close()


def test_per_client_throughput_both_directions_and_live_rerating(bridged: Gateway):
    """Download, then upload (one at a time: with both saturated, this kernel's plain FIFO
    leaves queue each direction's ACKs behind the other's data; fq_codel would fix that)."""
    lab = bridged.lab
    lab.dhcp(0)
    assert bridged.accept(0)[0] == 200
    wait_for(lambda: "rate 2Mbit" in class_rate(lab, "br-pax"), "the client's class")
    py = sys.executable
    down_srv = lab.spawn_piped(lab.inet, py, str(BULK), "serve", INTERNET_WEB, "5001", "send")
    assert down_srv.stdout is not None and down_srv.stdout.readline().strip() == "listening"
    down = Receiver(lab.spawn_piped(lab.pax[0], py, str(BULK), "connect", INTERNET_WEB,
                                    "5001", "recv"))
    down_before = measure(down)
    # live re-rating through the hub's command: one client gets min(2000, 1000) kbit/s
    bridged.command("set_uplink_kbps", {"kbps": 1000})
    wait_for(lambda: "rate 1Mbit" in class_rate(lab, "br-pax"), "the re-rating")
    down_after = measure(down)
    assert down.proc.poll() is None and down_srv.poll() is None  # same connection throughout
    down.proc.kill()
    down_srv.kill()

    up_srv = lab.spawn_piped(lab.inet, py, str(BULK), "serve", INTERNET_WEB, "5002", "recv")
    assert up_srv.stdout is not None and up_srv.stdout.readline().strip() == "listening"
    sender = lab.spawn_piped(lab.pax[0], py, str(BULK), "connect", INTERNET_WEB, "5002", "send")
    up = Receiver(up_srv)
    up_before = measure(up)
    bridged.command("set_uplink_kbps", {"kbps": 20000})
    wait_for(lambda: "rate 2Mbit" in class_rate(lab, "br-pax"), "the re-rating back")
    up_after = measure(up)
    assert sender.poll() is None and up_srv.poll() is None
    rates = {"down@2000": down_before, "down@1000": down_after,
             "up@1000": up_before, "up@2000": up_after}
    for name, rate in rates.items():
        target = int(name.split("@")[1])
        assert 0.8 * target <= rate <= 1.2 * target, rates
