"""The demo's street in motion: buses drive and riders board, detectors call green.

Why a module of its own: these are the only loops that make things happen on the simulated
street, and they reach the real devices only through the interfaces the field uses — GPS
fixes and door counts through :mod:`.street_io`, phones through the simulated WLAN
dataplane, detector calls as MQTT messages on ``signal/{id}/detector``. The street model
itself (where a bus is, who gets on) is pure and lives in :mod:`.domain.street`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

from bus_gateway.app import BusGateway
from bus_gateway.domain.nmea import GpsFix
from bus_gateway.doors import DoorEvent
from bus_gateway.wlan import SimulatedDataplane
from edge_agent.contract.configs import MqttConfig
from edge_agent.contract.payloads import Detector, encode
from edge_agent.contract.topics import Topics
from edge_agent.mqtt import BrokerAddress, MqttConnection
from signal_controller.app import SignalController
from simulations.demo.device_configs import demo_mqtt, route_stops
from simulations.demo.domain.street import BusRun, DoorCount, TripStarted
from simulations.demo.street_io import StreetDoors, StreetGps


def initial_delay(rng: random.Random) -> float:
    """How late a bus is when the demo finds it: mostly on time, some a few minutes late."""
    band = rng.random()
    if band < 0.55:
        return rng.uniform(-10.0, 45.0)
    if band < 0.9:
        return rng.uniform(45.0, 150.0)
    return rng.uniform(150.0, 300.0)


@dataclass
class StreetBus:
    """A running bus: the real gateway and the street model that drives its sensors."""

    gateway: BusGateway
    run: BusRun
    gps: StreetGps
    doors: StreetDoors
    phone_ips: dict[str, str] = field(default_factory=dict)


@dataclass
class Street:
    """Detector calls and the detector faults an incident holds."""

    #: (intersection, detector) -> the card reports a fault
    faults: set[tuple[str, str]] = field(default_factory=set)
    cleared: set[tuple[str, str]] = field(default_factory=set)


async def drive(buses: list[StreetBus], day0: float, stop: asyncio.Event) -> None:
    """The street, once a second: every bus moves, riders get on and off, trips change."""
    next_ip = 1 << 16  # phones get 10.1.0.1, 10.1.0.2, ...
    while not stop.is_set():
        now = time.time()
        now_s = now - day0
        for bus in buses:
            for event in bus.run.advance(now_s):
                if isinstance(event, TripStarted):
                    trip = event.trip
                    await bus.gateway.start_trip(
                        None if trip is None else trip.trip_id,
                        None if trip is None else route_stops(trip))
                    continue
                count_doors(bus, event, int(now * 1000))
                plane = bus.gateway.wlan.dataplane
                if isinstance(plane, SimulatedDataplane):
                    for mac in event.left:
                        plane.station_left(mac)
                        bus.phone_ips.pop(mac, None)
                    for mac in event.joined:
                        next_ip += 1
                        ip = f"10.{next_ip >> 16 & 255}.{next_ip >> 8 & 255}.{next_ip & 255}"
                        bus.phone_ips[mac] = ip
                        plane.station_joined(mac, ip)
            f = bus.run.fix(now_s)
            bus.gps.put(GpsFix(int(now * 1000), f.lat, f.lon, f.speed_mps, f.course_deg))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0 - (time.time() - now))


def count_doors(bus: StreetBus, event: DoorCount, ts_ms: int) -> None:
    """The door counters: the riders spread over the doors."""
    doors = bus.run.doors
    for door in range(doors):
        board = event.board // doors + (1 if door < event.board % doors else 0)
        alight = event.alight // doors + (1 if door < event.alight % doors else 0)
        if board or alight:
            bus.doors.put(DoorEvent(ts_ms, door + 1, board, alight))


async def detector_calls(controllers: list[SignalController], url: str, street: Street,
                         rng: random.Random, stop: asyncio.Event) -> None:
    """The street: vehicles and pedestrians call and extend green through the detectors;
    a faulty detector card repeats its fault every second instead."""
    conn = MqttConnection(client_id="demo-fieldbus", address=BrokerAddress.parse(url),
                          settings=MqttConfig(**demo_mqtt(url)), will=None,
                          on_message=lambda _m: None, on_puback=lambda _mid, _code: None)
    await conn.connect()
    topics = Topics()
    occupied: dict[tuple[str, str], bool] = {}
    try:
        while not stop.is_set():
            ts = int(time.time() * 1000)
            for ctl in controllers:
                for det in ctl.config.detectors:
                    key = (ctl.config.device_id, det.id)
                    msg: Detector | None = None
                    if key in street.faults:
                        msg = Detector(ts=ts, detector=det.id, occupied=True, fault=True)
                    elif key in street.cleared:
                        street.cleared.discard(key)
                        occupied[key] = False
                        msg = Detector(ts=ts, detector=det.id, occupied=False, fault=False)
                    else:
                        rate = 0.5 if det.kind == "loop" else 0.05  # per second
                        now_occupied = occupied.get(key, False)
                        if now_occupied or rng.random() < rate:
                            occupied[key] = not now_occupied
                            msg = Detector(ts=ts, detector=det.id, occupied=occupied[key])
                    if msg is not None:
                        conn.publish(topics.topic("detector", ctl.config.device_id),
                                     encode(msg), 0, False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        conn.disconnect()
