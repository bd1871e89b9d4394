"""The running demo's own tasks: planned incidents, operator commands, the status line.

Why a module of its own: once the runner has started the city, these tasks only watch and
disturb it the way people would — a detector card fails, a bus loses its mobile link, an
operator switches a junction to flashing through the hub's API — and report what a user
should see. They share one :class:`Session`; starting and stopping processes is the
runner's job (:mod:`.runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bus_gateway.app import BusGateway
from central_hub.broker import MosquittoBroker
from signal_controller.app import SignalController
from simulations.demo.domain.city import PlannedIntersection
from simulations.demo.domain.incidents import Controller, Incident, incident_round
from simulations.demo.options import DemoOptions
from simulations.demo.street_io import CuttableLink
from simulations.demo.street_traffic import Street, StreetBus


@dataclass
class DemoCity:
    """The running parts, for the status line and the tests."""

    broker: MosquittoBroker
    url: str
    controllers: list[SignalController]
    buses: list[BusGateway]
    intersections: tuple[PlannedIntersection, ...]
    street: list[StreetBus] = field(default_factory=list)
    links: dict[str, CuttableLink] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    """What the demo's own tasks share: the city, the street, where the hub is."""

    city: DemoCity
    street: Street
    opts: DemoOptions
    base_url: str
    token: str
    started: float
    progress: Callable[[str], None]
    stop: asyncio.Event


def incident_controllers(controllers: list[SignalController]) -> list[Controller]:
    """The controllers as the incident plan sees them: each with its loop detectors."""
    return [Controller(c.config.device_id,
                       tuple(d.id for d in c.config.detectors if d.kind == "loop"))
            for c in controllers]


def describe(inc: Incident, city: DemoCity) -> str:
    """One line for the progress output: what happens, and the alarm to look for."""
    names = {p.device_id: p.name for p in city.intersections}
    target = f"{names.get(inc.device_id, inc.device_id)} ({inc.device_id})"
    what = {
        "detector_fault": f"detector {inc.detector} at {target} reports a fault",
        "lte_loss": f"bus {inc.device_id} loses its mobile link (then replays its queue)",
        "flash": f"an operator switches {target} to flashing (fail-safe), then resume",
    }[inc.kind]
    return (f"t={inc.at_s:.0f} s: {what} for {inc.duration_s:.0f} s — alarm {inc.alarm} "
            f"on {inc.device_id}")


async def _command(client: httpx.AsyncClient, base_url: str, token: str, device_id: str,
                   name: str) -> str:
    """An operator's command through the hub's API; the outcome in a few words."""
    try:
        r = await client.post(f"{base_url}api/v1/devices/{device_id}/commands",
                              json={"name": name, "timeout_s": 10},
                              headers={"Authorization": f"Bearer {token}"}, timeout=15)
    except httpx.HTTPError as exc:
        return f"{name} failed: {exc}"
    if r.status_code != 200:
        return f"{name} refused: HTTP {r.status_code} {r.text[:120]}"
    ack = r.json().get("ack", {})
    return f"{name} acknowledged" if ack.get("ok") else f"{name} failed: {ack.get('error')}"


async def _incident(inc: Incident, s: Session) -> None:
    """Start one incident at its time, end it when it is over."""
    city, street, base_url, token = s.city, s.street, s.base_url, s.token
    started, progress, stop = s.started, s.progress, s.stop

    async def until(t: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, started + t - time.monotonic()))
        return not stop.is_set()

    if not await until(inc.at_s):
        return
    progress(f"incident {describe(inc, city)}")
    async with httpx.AsyncClient() as client:
        key = (inc.device_id, inc.detector)
        if inc.kind == "detector_fault":
            street.faults.add(key)
        elif inc.kind == "lte_loss":
            city.links[inc.device_id].cut()
        else:
            progress(f"incident {inc.device_id}: "
                     f"{await _command(client, base_url, token, inc.device_id, 'flash')}")
        ended = await until(inc.ends_s)
        if inc.kind == "detector_fault":
            street.faults.discard(key)
            street.cleared.add(key)
        elif inc.kind == "lte_loss":
            city.links[inc.device_id].restore()
        elif ended:
            progress(f"incident {inc.device_id}: "
                     f"{await _command(client, base_url, token, inc.device_id, 'resume')}")
        if ended:
            progress(f"incident over: {inc.kind} on {inc.device_id}")


async def incidents(s: Session) -> None:
    """Round after round of incidents (:mod:`.domain.incidents`)."""
    city, opts, started, progress, stop = s.city, s.opts, s.started, s.progress, s.stop
    controllers = incident_controllers(city.controllers)
    buses = sorted(city.links)
    tasks: list[asyncio.Task[None]] = []
    number = 0
    try:
        while not stop.is_set():
            plan = incident_round(opts.seed, number, controllers, buses)
            if not plan:
                return
            if number > 0:
                progress("incidents next: " + "; ".join(describe(i, city) for i in plan))
            tasks += [asyncio.create_task(_incident(i, s)) for i in plan]
            number += 1
            next_round = incident_round(opts.seed, number, controllers, buses)[0].at_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_round - 30 - (time.monotonic() - started))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def status_line(s: Session) -> None:
    """Every 10 s: who is live, how late the buses run, how full they are, open alarms."""
    base_url, city, opts, started, progress, stop = (s.base_url, s.city, s.opts, s.started,
                                                     s.progress, s.stop)
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10.0)
            with contextlib.suppress(httpx.HTTPError, ValueError):
                vehicles = (await client.get(base_url + "api/v1/vehicles")).json()
                crossings = (await client.get(base_url + "api/v1/intersections")).json()
                alarms = (await client.get(base_url + "api/v1/alarms")).json()
                live_buses = sum(1 for v in vehicles if v.get("online") and v.get("position"))
                live_x = sum(1 for i in crossings if i.get("online"))
                loads = Counter(_SHORT.get((v.get("occupancy") or {}).get(
                    "occupancy_status", ""), "?") for v in vehicles if v.get("occupancy"))
                delays = sorted(d for b in city.street if (d := b.run.delay_s()) is not None)
                late = (f"delay median {delays[len(delays) // 2]:.0f} s, max {delays[-1]:.0f} s"
                        if delays else "no trips")
                progress(f"t={time.monotonic() - started:4.0f} s  buses live {live_buses}/"
                         f"{opts.buses} ({late}; load "
                         f"{' '.join(f'{k} {n}' for k, n in sorted(loads.items())) or '-'})  "
                         f"intersections live {live_x}/{opts.intersections}  "
                         f"alarms {len(alarms)}")


_SHORT = {"EMPTY": "empty", "MANY_SEATS_AVAILABLE": "seats", "FEW_SEATS_AVAILABLE": "few",
          "STANDING_ROOM_ONLY": "standing", "CRUSHED_STANDING_ROOM_ONLY": "crushed",
          "FULL": "full"}
