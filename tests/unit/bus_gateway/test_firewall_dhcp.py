"""Rendering of the nftables ruleset and the dnsmasq configuration."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from bus_gateway.brokerguard import protected_addresses
from bus_gateway.dhcp import (
    DnsmasqSettings,
    DnsmasqSupervisor,
    dhcp_range,
    read_leases,
    render_conf,
)
from bus_gateway.domain.firewall import (
    AdmissionChange,
    FirewallSpec,
    merge_changes,
    pair,
    render_delta,
    render_protected,
    render_ruleset,
)
from bus_gateway.errors import DhcpError

GW = IPv4Interface("10.77.0.1/24")


def spec(**kw):
    base = {"lan": "br-pax", "uplink": "wwan0", "gateway": GW, "portal_port": 8080,
            "walled_garden": (IPv4Address("10.0.0.5"),),
            "protected": (IPv4Address("192.0.2.7"), IPv4Address("192.0.2.8"))}
    base.update(kw)
    return FirewallSpec(**base)


def test_ruleset_replaces_table_atomically_and_holds_the_policy():
    text = render_ruleset(spec(admitted=(("02:AA:00:00:00:01", IPv4Address("10.77.0.20")),)))
    lines = text.splitlines()
    assert lines[:2] == ["table inet kassel_bus", "delete table inet kassel_bus"]
    assert "elements = { 02:aa:00:00:00:01 . 10.77.0.20 }" in text
    # the broker's addresses, every port (not only MQTT's)
    assert "elements = { 192.0.2.7, 192.0.2.8 }" in text
    assert 'iifname "br-pax" ip daddr @protected drop' in text
    assert 'iifname "br-pax" tcp dport 80 redirect to :8080' in text
    assert 'iifname "br-pax" oifname "br-pax" drop' in text
    assert 'oifname "wwan0" ip saddr 10.77.0.0/24 masquerade' in text
    assert "ip daddr != 10.77.0.1 drop" in text
    # the broker rule comes before anything that accepts forwarded traffic
    fwd = text[text.index("chain forward"):]
    assert fwd.index("@protected drop") < fwd.index("jump broker_guard")
    assert fwd.index("jump broker_guard") < fwd.index("@walled_garden accept")
    assert fwd.index("@protected drop") < fwd.index("@walled_garden accept")
    assert fwd.index("@protected drop") < fwd.index("@admitted counter")
    # no blanket accept of established traffic: removal cuts open connections
    assert "ct state established,related accept" not in text
    # DHCP is limited per sending station before it is accepted
    dhcp = text[text.index("table inet kassel_bus_dhcp {"):]
    assert "hook input priority filter - 1;" in dhcp  # before the main table's accept
    assert ('iifname "br-pax" udp sport 68 udp dport 67 update @stations { ether saddr '
            "limit rate over 10/minute burst 10 packets } drop") in dhcp


def _guard(text: str) -> str:
    start = text.index("chain broker_guard {")
    return text[start:text.index("}", start)]


def test_broker_unknown_fails_closed_and_the_update_is_one_transaction():
    # open once the addresses are known ...
    assert "drop" not in _guard(render_ruleset(spec()))
    # ... closed while they are not: nothing from the passengers is forwarded
    closed = render_ruleset(spec(protected=None))
    assert "drop" in _guard(closed)
    assert "set protected {\n\t\ttype ipv4_addr\n\t}" in closed
    assert render_protected((IPv4Address("192.0.2.9"),)).splitlines() == [
        "flush set inet kassel_bus protected",
        "flush chain inet kassel_bus broker_guard",
        "add element inet kassel_bus protected { 192.0.2.9 }",
    ]
    assert render_protected(None).splitlines()[-1] == "add rule inet kassel_bus broker_guard drop"


def test_broker_addresses_are_kept_a_while_after_dns_stops_returning_them():
    seen: dict[IPv4Address, float] = {}
    a, b = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")
    assert protected_addresses(seen, [a], 0.0) == (a,)
    assert protected_addresses(seen, [b], 10.0) == (a, b)  # moved: both, for a while
    assert protected_addresses(seen, [b], 700.0) == (b,)


A = pair("02:AA:00:00:00:01", "10.77.0.20")
B = pair("02:aa:00:00:00:02", "10.77.0.21")
C = pair("02:aa:00:00:00:03", "10.77.0.22")


def test_element_changes_touch_both_sets():
    delta, after = merge_changes(set(), [AdmissionChange(admit=(A,))])
    add = render_delta(delta)
    assert add.count("add element") == 2 and "02:aa:00:00:00:01 . 10.77.0.20" in add
    assert after == {A}
    delta, after = merge_changes(after, [AdmissionChange(remove=(A,))])
    assert render_delta(delta).count("delete element") == 2 and after == set()


def test_merged_changes_are_one_transaction_with_the_net_delta():
    changes = [
        AdmissionChange(admit=(B,)),
        AdmissionChange(admit=(C,)),
        AdmissionChange(remove=(A,)),
        AdmissionChange(remove=(C,)),  # admitted and removed in the same batch: net nothing
    ]
    delta, after = merge_changes({A}, changes)
    assert after == {B}
    assert delta.add_pairs == (B,) and delta.delete_pairs == (A,)
    text = render_delta(delta)
    # one statement per set and verb, deletions first, no element of C anywhere
    assert text.splitlines() == [
        "delete element inet kassel_bus admitted { 02:aa:00:00:00:01 . 10.77.0.20 }",
        "delete element inet kassel_bus admitted_ip { 10.77.0.20 }",
        "add element inet kassel_bus admitted { 02:aa:00:00:00:02 . 10.77.0.21 }",
        "add element inet kassel_bus admitted_ip { 10.77.0.21 }",
    ]


def test_moving_client_and_shared_address_keep_admitted_ip_consistent():
    moved = pair("02:aa:00:00:00:01", "10.77.0.30")
    delta, after = merge_changes({A}, [AdmissionChange(admit=(moved,), remove=(A,))])
    assert after == {moved}
    assert delta.delete_ips == (IPv4Address("10.77.0.20"),)
    assert delta.add_ips == (IPv4Address("10.77.0.30"),)
    # a stale pair with the same IP keeps that IP in admitted_ip when the other pair leaves
    twin = pair("02:aa:00:00:00:09", "10.77.0.20")
    delta, after = merge_changes({A, twin}, [AdmissionChange(remove=(A,))])
    assert delta.delete_pairs == (A,) and delta.delete_ips == ()
    assert merge_changes({A}, [AdmissionChange(admit=(A,))])[0].empty


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"lan": 'br0"; flush ruleset'}, "interface name"),
        ({"uplink": "br-pax"}, "must differ"),
        ({"portal_port": 0}, "out of range"),
    ],
)
def test_spec_refuses_unsafe_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        spec(**kw)


def test_dnsmasq_conf_has_captive_portal_option(tmp_path: Path):
    s = DnsmasqSettings("br-pax", GW, 8080, tmp_path)
    conf = render_conf(s)
    assert 'dhcp-option=114,"http://10.77.0.1:8080/api/captive"' in conf
    # short leases until the portal admits a client (its normal lease comes from hostsdir)
    assert "dhcp-range=10.77.0.11,10.77.0.254,255.255.255.0,300s" in conf
    assert f"dhcp-hostsdir={tmp_path / 'dhcp-hosts'}" in conf
    # routine DHCP is not logged; no 3-s ping stall per new address
    assert "quiet-dhcp" in conf.splitlines() and "no-ping" in conf.splitlines()
    assert "interface=br-pax" in conf and "bind-interfaces" in conf
    assert "no-resolv" not in conf
    conf = render_conf(DnsmasqSettings("br-pax", GW, 8080, tmp_path, upstream_dns=("9.9.9.9",)))
    assert "no-resolv" in conf and "server=9.9.9.9" in conf


def test_dhcp_range_needs_room():
    assert dhcp_range(IPv4Interface("10.77.0.1/24")) == ("10.77.0.11", "10.77.0.254")
    with pytest.raises(DhcpError, match="too small"):
        dhcp_range(IPv4Interface("10.77.0.1/29"))


def test_admitted_clients_get_the_normal_lease_through_hostsdir(tmp_path: Path):
    sup = DnsmasqSupervisor(DnsmasqSettings("br-pax", GW, 8080, tmp_path), binary="/bin/true")
    sup.write_config()
    sup.set_admitted(["02:AA:00:00:00:01", "02:aa:00:00:00:02"])
    files = sorted(p.name for p in (tmp_path / "dhcp-hosts").iterdir())
    assert files == ["02aa00000001", "02aa00000002"]
    assert (tmp_path / "dhcp-hosts" / "02aa00000001").read_text() == "02:aa:00:00:00:01,3600s\n"
    sup.set_admitted(["02:aa:00:00:00:02"])
    assert [p.name for p in (tmp_path / "dhcp-hosts").iterdir()] == ["02aa00000002"]
    sup.write_config()  # a restart admits nobody
    assert list((tmp_path / "dhcp-hosts").iterdir()) == []


def test_lease_file_parsing(tmp_path: Path):
    leases = tmp_path / "l"
    leases.write_text("1767225600 02:AA:00:00:00:01 10.77.0.20 phone 01:02\n\nbroken\n")
    assert read_leases(leases) == {"10.77.0.20": "02:aa:00:00:00:01"}
    assert read_leases(tmp_path / "missing") == {}
