"""What dnsmasq writes reaches the gateway's log without passengers' MACs and addresses."""

from __future__ import annotations

from ipaddress import IPv4Interface

from bus_gateway.dhcp import scrub_passengers

GATEWAY = IPv4Interface("10.77.0.1/24")


def test_macs_and_passenger_addresses_are_scrubbed_the_gateway_and_upstream_stay():
    line = ("dnsmasq-dhcp[9]: DHCPACK(wlan0) 10.77.0.23 02:aa:bb:cc:dd:01 phone | inotify: "
            "/state/dhcp-hosts/02aabbccdd01 new or modified | 02-AA-BB-CC-DD-01 | "
            "using nameserver 10.255.255.53#53 | listening on 10.77.0.1")
    out = scrub_passengers(line, GATEWAY)
    assert "10.77.0.23" not in out and "aabbccdd01" not in out.lower()
    assert "02:aa" not in out and "02-AA" not in out
    assert "10.255.255.53#53" in out and "10.77.0.1" in out
    assert out.count("-") >= 4
