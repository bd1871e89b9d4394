"""Associated stations from hostapd's control interface.

hostapd cannot run here (no WLAN device, no mac80211_hwsim), so ``fake_hostapd.py`` serves
the control socket in hostapd's text format; everything else is real: the client's UNIX
datagram sockets, and in the last test ``kassel bus`` in namespaces publishing occupancy to
Mosquitto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus_gateway.hostapd import HostapdStations
from testbed.netlab import INTERNET_BROKER
from tests.integration.bus_gateway.fake_hostapd import FakeHostapd
from tests.integration.bus_gateway.gatewaylab import Gateway, wait_for

PHONE_A, PHONE_B, PHONE_C = "02:aa:00:00:00:0a", "02:aa:00:00:00:0b", "02:aa:00:00:00:0c"


@pytest.fixture
def ctrl_dir(tmp_path: Path) -> Path:
    return tmp_path / "hostapd"


@pytest.fixture
def radio(ctrl_dir: Path) -> Iterator[FakeHostapd]:
    fake = FakeHostapd(ctrl_dir, "wlan0")
    yield fake
    fake.close()


def test_no_control_socket_means_neighbour_table(ctrl_dir: Path):
    stations = HostapdStations(ctrl_dir)
    assert not stations.available() and stations.poll() == set()
    ctrl_dir.mkdir()
    (ctrl_dir / "not-a-socket").write_text("")
    assert not stations.available()


def test_walk_then_events_then_resync(ctrl_dir: Path, radio: FakeHostapd):
    radio.associate(PHONE_A)
    radio.associate(PHONE_B)
    radio.authenticate_only(PHONE_C)  # listed by hostapd, but not associated
    stations = HostapdStations(ctrl_dir, resync_s=3600)
    assert stations.available()
    assert stations.poll() == {PHONE_A, PHONE_B}
    assert radio.requests.count("STA-FIRST") == 1 and "ATTACH" in radio.requests
    # events move the set without another walk
    radio.disassociate(PHONE_A)
    radio.associate(PHONE_C)
    assert stations.poll() == {PHONE_B, PHONE_C}
    assert radio.requests.count("STA-FIRST") == 1
    # an event hostapd could not deliver is corrected by the next full walk
    radio.associate(PHONE_A, event=False)
    assert stations.poll() == {PHONE_B, PHONE_C}
    stations.resync_s = 0
    assert stations.poll() == {PHONE_A, PHONE_B, PHONE_C}
    stations.close()
    assert "DETACH" in radio.requests


def test_hostapd_restart_and_second_radio(ctrl_dir: Path, radio: FakeHostapd):
    radio.associate(PHONE_A)
    stations = HostapdStations(ctrl_dir)
    assert stations.poll() == {PHONE_A}
    five_ghz = FakeHostapd(ctrl_dir, "wlan1")
    try:
        five_ghz.associate(PHONE_B)
        assert stations.poll() == {PHONE_A, PHONE_B}
        radio.close()  # hostapd of wlan0 stopped: its stations are gone with it
        assert stations.poll() == {PHONE_B}
        restarted = FakeHostapd(ctrl_dir, "wlan0")
        try:
            restarted.associate(PHONE_C)
            assert stations.poll() == {PHONE_B, PHONE_C}
        finally:
            restarted.close()
    finally:
        five_ghz.close()
        stations.close()


class Subscription:
    """``mosquitto_sub`` in the internet namespace; JSON messages collected by a thread."""

    def __init__(self, gw: Gateway, topic: str) -> None:
        lab = gw.lab
        self.proc = lab.spawn_piped(lab.inet, "mosquitto_sub", "-h", INTERNET_BROKER,
                                    "-t", topic)
        self.messages: list[dict[str, object]] = []
        self.raw: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            self.messages.append(json.loads(line))

    def wlan_clients(self) -> int | None:
        if not self.messages:
            return None
        sources = self.messages[-1]["sources"]
        assert isinstance(sources, dict)
        return int(sources["wlan_clients"])


def test_gateway_counts_hostapd_stations_not_the_neighbour_table(tmp_path: Path):
    ctrl_dir = tmp_path / "hostapd"
    fake = FakeHostapd(ctrl_dir, "wlan0")
    gw = Gateway(tmp_path, passengers=2, bridge=True,
                 wlan_extra={"hostapd_ctrl_dir": str(ctrl_dir)})
    try:
        lab = gw.lab
        occupancy = Subscription(gw, f"kassel/v1/bus/t{lab.id}/occupancy")
        passenger0 = "02:00:00:00:00:01"  # NetLab's passenger 0 (on the LAN, with a lease)
        for mac in (passenger0, PHONE_A, PHONE_B):
            fake.associate(mac)
        fake.authenticate_only(PHONE_C)
        lab.dhcp(0)
        lab.dhcp(1)  # in the neighbour table, but hostapd does not list it: not counted
        wait_for(lambda: occupancy.wlan_clients() == 3, "3 associated stations", timeout=30)
        fake.disassociate(PHONE_A)
        wait_for(lambda: occupancy.wlan_clients() == 2, "the disconnect event", timeout=30)
        # passenger 0 (associated, address from the neighbour table) is admitted as usual
        assert gw.accept(0)[0] == 200
        # no MAC (nor its hostapd spelling) leaves the bus
        published = "".join(occupancy.raw).lower()
        for mac in (passenger0, PHONE_A, PHONE_B, PHONE_C, "02:00:00:00:01:01"):
            assert mac not in published and mac.replace(":", "") not in published
    finally:
        gw.close()
        fake.close()
