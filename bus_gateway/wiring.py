"""Builds one bus's router from its config: the only place that picks the gateway's adapters.

Why one function: :class:`~bus_gateway.app.BusGateway` takes every collaborator (edge agent,
WLAN gateway with its dataplane, broker guard, GPS, door counters, probe sniffer, uplink
monitor, clock, display) as an argument, so production, replays, the demo and the tests differ
only in what is passed here. Nothing here does I/O: the broker's name is resolved by the
:class:`~bus_gateway.brokerguard.BrokerGuard` once the gateway runs (asynchronously, and again
every few seconds), never while building. ``kassel bus``, the demo and the tests call
:func:`build_gateway`.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from bus_gateway.app import BusGateway, Display, LogDisplay
from bus_gateway.brokerguard import BrokerGuard
from bus_gateway.clock import Clock, WallClock, now_ms
from bus_gateway.domain.autorate import AutorateSettings, CapacityEstimator
from bus_gateway.domain.privacy import MacHasher
from bus_gateway.domain.stops import RouteStop
from bus_gateway.doors import DoorSource, make_doors
from bus_gateway.gps import GpsSource, make_gps
from bus_gateway.probes import ProbeSniffer
from bus_gateway.uplink import UplinkMonitor, parse_endpoint
from bus_gateway.wlan import WlanGateway, make_wlan
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import BusConfig
from edge_agent.mqtt import BrokerAddress


def build_gateway(
    config: BusConfig,
    broker_url: str,
    *,
    config_dir: Path,
    stops: Sequence[RouteStop] = (),
    clock: Clock | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    rng: random.Random | None = None,
    display: Display | None = None,
    agent: EdgeAgent | None = None,
    portal_host: str | None = None,
    gps: GpsSource | None = None,
    doors: DoorSource | None = None,
) -> BusGateway:
    """The router of ``config``, talking to ``broker_url``.

    Every adapter not passed is built from the config: relative source files (NMEA, pcap,
    door log) are relative to ``config_dir``; ``random_bytes`` seeds the MAC pseudonyms' key,
    ``rng`` the simulated door counters; the portal listens on the WLAN's gateway address
    (``127.0.0.1`` with the simulated backend) unless ``portal_host`` is given.
    """
    clock = clock or WallClock()
    rng = rng or random.Random()
    route_stops = list(stops)
    if agent is None:
        agent = EdgeAgent(config, kind="bus", entity_id=config.vehicle.id,
                          broker_url=broker_url, clock=clock.now)
    state_dir = Path(config.agent.state_dir) / config.device_id / "wlan"
    wlan = make_wlan(config.wlan, lambda: now_ms(clock), state_dir)
    hasher = MacHasher(random_bytes)
    occupancy = config.occupancy
    if doors is None and occupancy.door_counters:
        doors = make_doors(occupancy.door_counters, clock, config_dir, rng)
    probes = (ProbeSniffer(occupancy.probe_source, hasher, clock, config_dir)
              if occupancy.probe_source else None)
    simulated = config.wlan.backend == "simulated"
    return BusGateway(
        config,
        agent=agent,
        clock=clock,
        wlan=wlan,
        # passengers are forwarded only once the broker's addresses are known
        broker_guard=BrokerGuard(BrokerAddress.parse(broker_url).host, wlan.set_protected),
        uplink=_uplink_monitor(config, wlan, broker_url),
        gps=gps or make_gps(config.gps.source, clock, route_stops, config_dir),
        doors=doors,
        probes=probes,
        hasher=hasher,
        display=display or LogDisplay(),
        portal_host=portal_host or ("127.0.0.1" if simulated else str(config.wlan.gateway.ip)),
        stops=route_stops,
    )


def _uplink_monitor(config: BusConfig, wlan: WlanGateway, broker_url: str) -> UplinkMonitor | None:
    """The measured uplink capacity, when configured (real kernel only)."""
    settings = config.wlan
    auto = settings.uplink_autorate
    if auto is None or settings.backend != "nftables":
        return None
    if auto.reflector is not None:
        reflector = parse_endpoint(auto.reflector)
    else:
        broker = BrokerAddress.parse(broker_url)
        reflector = (broker.host, broker.port)
    estimator = CapacityEstimator(AutorateSettings(
        base_kbps=settings.uplink_kbps, min_kbps=auto.min_kbps, max_kbps=auto.max_kbps,
        delay_threshold_ms=auto.delay_threshold_ms,
    ))
    return UplinkMonitor(
        interface=settings.uplink, reflector=reflector, estimator=estimator,
        apply_kbps=wlan.set_uplink_kbps, applied_kbps=lambda: wlan.plan.uplink_kbps,
        interval_s=auto.interval_s, hysteresis=auto.hysteresis_pct / 100,
    )
