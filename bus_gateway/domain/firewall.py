"""The passenger-side nftables ruleset, rendered as text for ``nft -f``.

Why generated text in one table: the whole policy is replaced atomically in one ``nft -f``
transaction (``table``; ``delete table``; ``table {...}``), it can be read and reviewed as one
file, and it does not touch other tables on the router. Admission is a set of
``MAC . IP`` pairs (a client must present both; a spoofed IP alone gets nothing) plus the
same IPs in a second set for the download direction, both changed element by element.

Layout (``LAN`` = passenger interface, a bridge or a plain interface; ``UP`` = uplink):

* ``prerouting`` (nat): admitted clients and the walled garden pass; every other HTTP
  connection (TCP 80, to any address) is redirected to the portal port on the gateway.
* ``input``: from LAN only DHCP, DNS and the portal, on the gateway's LAN address; all other
  services of the gateway (the broker among them) are unreachable; no IPv6. DHCP is limited
  per sending station (Ethernet source address, which on the WLAN is the address that
  associated): :data:`DHCP_BURST` packets, then :data:`DHCP_RATE`; more are dropped before
  dnsmasq sees them, so one station cannot take the address pool.
* ``forward``: LAN→LAN dropped (client isolation for routed traffic; on a bridge the ports are
  isolated as well); the broker's addresses (``protected``, every port and protocol) dropped
  even for admitted clients; then ``broker_guard``, which drops everything from the LAN while
  the broker's addresses are not known (fail closed: the name did not resolve yet) and is
  empty once they are; the walled garden is open; admitted ``MAC . IP`` pairs pass to the
  uplink; everything else from LAN is dropped.
  The download direction passes only replies to admitted IPs (or from the walled garden), so
  removing a client from the sets cuts its open connections too (no blanket
  ``established`` accept).
* ``postrouting`` (nat): passenger addresses are masqueraded to the uplink.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface

from bus_gateway.domain.privacy import parse_mac

TABLE = "kassel_bus"
#: the per-station DHCP limit (before the main table's input chain)
DHCP_TABLE = "kassel_bus_dhcp"
FAMILY = "inet"
#: DHCP packets one station may send in a row, then per minute (a phone needs 2 to join and
#: 1 per renewal; a flood of made-up client addresses from one station gets this many leases)
DHCP_BURST = 10
DHCP_RATE = "10/minute"
#: stations tracked for the DHCP limit (a station unheard for 10 minutes is forgotten)
DHCP_STATIONS = 4096
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


@dataclass(frozen=True, slots=True)
class FirewallSpec:
    """Everything the ruleset depends on."""

    lan: str
    uplink: str
    gateway: IPv4Interface
    portal_port: int
    walled_garden: tuple[IPv4Address, ...] = ()
    #: the broker's addresses, which no passenger may reach on any port; ``None`` while they
    #: are not known, and then nothing from the passengers is forwarded at all.
    protected: tuple[IPv4Address, ...] | None = None
    admitted: tuple[tuple[str, IPv4Address], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in (self.lan, self.uplink):
            if not _IFNAME.match(name):
                raise ValueError(f"not an interface name: {name!r}")
        if self.lan == self.uplink:
            raise ValueError("the passenger interface and the uplink must differ")
        if not 1 <= self.portal_port <= 65535:
            raise ValueError(f"portal port {self.portal_port} out of range")


def mac_text(mac: str) -> str:
    """A MAC in nft's lower-case colon form (validates it)."""
    return ":".join(f"{b:02x}" for b in parse_mac(mac))


def _elements(items: Iterable[str]) -> str:
    listed = list(items)
    return f"\t\telements = {{ {', '.join(listed)} }}\n" if listed else ""


def render_ruleset(spec: FirewallSpec) -> str:
    """The complete table as ``nft -f`` input; replaces an older version atomically."""
    lan, up = f'"{spec.lan}"', f'"{spec.uplink}"'
    gw = spec.gateway.ip
    net = spec.gateway.network
    pairs = [f"{mac_text(m)} . {ip}" for m, ip in spec.admitted]
    ips = sorted({str(ip) for _, ip in spec.admitted}, key=IPv4Address)
    garden = [str(a) for a in spec.walled_garden]
    protected = [str(a) for a in spec.protected or ()]
    return (
        f"table {FAMILY} {TABLE}\n"
        f"delete table {FAMILY} {TABLE}\n"
        f"table {FAMILY} {TABLE} {{\n"
        "\tset admitted {\n\t\ttype ether_addr . ipv4_addr\n\t\tcounter\n"
        f"{_elements(pairs)}\t}}\n"
        "\tset admitted_ip {\n\t\ttype ipv4_addr\n\t\tcounter\n"
        f"{_elements(ips)}\t}}\n"
        "\tset walled_garden {\n\t\ttype ipv4_addr\n"
        f"{_elements(garden)}\t}}\n"
        "\tset protected {\n\t\ttype ipv4_addr\n"
        f"{_elements(protected)}\t}}\n"

        "\tcounter lan_up {\n\t}\n"
        "\tcounter lan_down {\n\t}\n"
        "\tchain prerouting {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        f"\t\tiifname {lan} ether saddr . ip saddr @admitted return\n"
        f"\t\tiifname {lan} ip daddr @walled_garden return\n"
        f"\t\tiifname {lan} tcp dport 80 redirect to :{spec.portal_port}\n"
        "\t}\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy accept;\n"
        f"\t\tiifname != {lan} accept\n"
        "\t\tmeta nfproto ipv6 drop\n"
        "\t\tudp sport 68 udp dport 67 accept\n"
        f"\t\tip daddr != {gw} drop\n"
        "\t\tmeta l4proto { tcp, udp } th dport 53 accept\n"
        f"\t\ttcp dport {spec.portal_port} accept\n"
        "\t\tdrop\n"
        "\t}\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        f"\t\tiifname {lan} oifname {lan} drop\n"
        f"\t\tiifname {lan} ip daddr @protected drop\n"
        f"\t\tiifname {lan} jump broker_guard\n"
        f"\t\tiifname {lan} oifname {up} ip daddr @walled_garden accept\n"
        f"\t\tiifname {lan} oifname {up} ether saddr . ip saddr @admitted "
        "counter name lan_up accept\n"
        f"\t\tiifname {lan} drop\n"
        f"\t\tiifname {up} oifname {lan} ct state established,related "
        "ip daddr @admitted_ip counter name lan_down accept\n"
        f"\t\tiifname {up} oifname {lan} ct state established,related "
        "ip saddr @walled_garden accept\n"
        f"\t\toifname {lan} drop\n"
        "\t}\n"
        "\tchain broker_guard {\n"
        f"{_GUARD_CLOSED if spec.protected is None else ''}"
        "\t}\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        f"\t\toifname {up} ip saddr {net} masquerade\n"
        "\t}\n"
        "}\n"
        # the DHCP limit in a table of its own: its set fills up under a flood, and the
        # gateway lists the main table every few seconds (counters)
        f"table {FAMILY} {DHCP_TABLE}\n"
        f"delete table {FAMILY} {DHCP_TABLE}\n"
        f"table {FAMILY} {DHCP_TABLE} {{\n"
        "\tset stations {\n\t\ttype ether_addr\n"
        f"\t\tsize {DHCP_STATIONS}\n\t\tflags dynamic,timeout\n\t\ttimeout 10m\n\t}}\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter - 1; policy accept;\n"
        f"\t\tiifname {lan} udp sport 68 udp dport 67 update @stations {{ ether saddr "
        f"limit rate over {DHCP_RATE} burst {DHCP_BURST} packets }} drop\n"
        "\t}\n"
        "}\n"
    )


#: ``broker_guard`` while the broker's addresses are unknown
_GUARD_CLOSED = "\t\tdrop\n"


def render_protected(addresses: tuple[IPv4Address, ...] | None) -> str:
    """``nft -f`` input that sets the broker's addresses (``None``: unknown, fail closed).

    One transaction: the set's new contents and the guard change together, so no packet sees
    an open guard with an empty or half-updated set.
    """
    out = (f"flush set {FAMILY} {TABLE} protected\n"
           f"flush chain {FAMILY} {TABLE} broker_guard\n")
    if addresses:
        out += (f"add element {FAMILY} {TABLE} protected "
                f"{{ {', '.join(str(a) for a in addresses)} }}\n")
    if addresses is None:
        out += f"add rule {FAMILY} {TABLE} broker_guard drop\n"
    return out


Pair = tuple[str, IPv4Address]


def pair(mac: str, ip: IPv4Address | str) -> Pair:
    """A client as the ``admitted`` set holds it: nft's MAC spelling and the IPv4 address."""
    return mac_text(mac), IPv4Address(ip)


@dataclass(frozen=True, slots=True)
class AdmissionChange:
    """One client's change of the admitted sets, applied as a unit (``remove`` first).

    A passenger who moved to a new address leaves with the old pair and enters with the new
    one in the same change, so no transaction can hold only half of it.
    """

    admit: tuple[Pair, ...] = ()
    remove: tuple[Pair, ...] = ()


@dataclass(frozen=True, slots=True)
class ElementDelta:
    """What one transaction changes in the ``admitted`` and ``admitted_ip`` sets."""

    add_pairs: tuple[Pair, ...] = ()
    delete_pairs: tuple[Pair, ...] = ()
    add_ips: tuple[IPv4Address, ...] = ()
    delete_ips: tuple[IPv4Address, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to send to the kernel."""
        return not (self.add_pairs or self.delete_pairs or self.add_ips or self.delete_ips)


def merge_changes(
    current: Iterable[Pair], changes: Iterable[AdmissionChange]
) -> tuple[ElementDelta, frozenset[Pair]]:
    """Fold ``changes`` (in order) onto ``current``; return the net delta and the new set.

    Why net: group commit merges whatever arrived while the previous transaction ran, so a
    client may be admitted and removed in the same batch; only the end state goes to the
    kernel, and an element is deleted only when the table holds it (``delete element`` of a
    missing element would fail the whole transaction). ``admitted_ip`` follows the pairs: an
    address stays while any admitted pair still uses it.
    """
    before = frozenset(current)
    state = set(before)
    for change in changes:
        state.difference_update(change.remove)
        state.update(change.admit)
    after = frozenset(state)
    ips_before = {ip for _, ip in before}
    ips_after = {ip for _, ip in after}
    delta = ElementDelta(
        add_pairs=tuple(sorted(after - before)),
        delete_pairs=tuple(sorted(before - after)),
        add_ips=tuple(sorted(ips_after - ips_before)),
        delete_ips=tuple(sorted(ips_before - ips_after)),
    )
    return delta, after


def render_delta(delta: ElementDelta) -> str:
    """``nft -f`` input for ``delta``: one transaction, all elements or none."""

    def stmt(verb: str, set_name: str, items: list[str]) -> str:
        return f"{verb} element {FAMILY} {TABLE} {set_name} {{ {', '.join(items)} }}\n"

    out = ""
    if delta.delete_pairs:
        out += stmt("delete", "admitted", [f"{m} . {ip}" for m, ip in delta.delete_pairs])
    if delta.delete_ips:
        out += stmt("delete", "admitted_ip", [str(ip) for ip in delta.delete_ips])
    if delta.add_pairs:
        out += stmt("add", "admitted", [f"{m} . {ip}" for m, ip in delta.add_pairs])
    if delta.add_ips:
        out += stmt("add", "admitted_ip", [str(ip) for ip in delta.add_ips])
    return out
