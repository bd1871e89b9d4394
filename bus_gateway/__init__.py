"""Bus gateway: the router of every bus and tram (docs/interfaces.md).

Why a package of its own: the router runs free passenger WLAN (captive portal, nftables,
per-client HTB shaping, dnsmasq), counts passengers, reads GPS and asks traffic lights for
priority. The decisions live in :mod:`bus_gateway.domain` (pure, unit-tested without a
network); the modules next to it are thin adapters to the kernel, dnsmasq, scapy, pyserial,
FastAPI and the edge-agent runtime, wired together in :mod:`bus_gateway.app`.
"""
