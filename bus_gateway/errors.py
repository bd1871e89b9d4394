"""Errors of the bus gateway's adapters, under the project's root :class:`KasselError`.

Why a tree: the app decides per family whether a failure is fatal (the firewall cannot be
installed: the passenger WLAN must not run open) or degrades a feature (no probe sniffer:
occupancy falls back to the other sources).

    KasselError
    └── GatewayError
        ├── FirewallError      nft refused a ruleset or an element change
        ├── ShaperError        tc (netlink) refused a qdisc, class or filter
        ├── DhcpError          dnsmasq cannot be configured or keeps dying
        ├── SourceError        a GPS, probe or door source cannot be opened or read
        └── PortalError        a client cannot be admitted (not on the passenger LAN, no MAC)
"""

from __future__ import annotations

from edge_agent.errors import KasselError


class GatewayError(KasselError):
    """Root of the bus gateway's errors."""


class FirewallError(GatewayError):
    """``nft`` refused a ruleset or an element change (its stderr is the message)."""


class ShaperError(GatewayError):
    """The kernel refused a traffic-control change."""


class DhcpError(GatewayError):
    """dnsmasq cannot be configured or started."""


class SourceError(GatewayError):
    """A GPS, probe-request or door-counter source cannot be used."""


class PortalError(GatewayError):
    """A client cannot be admitted; ``status`` is the HTTP status the portal answers with."""

    def __init__(self, message: str, status: int = 403) -> None:
        self.status = status
        super().__init__(message)
