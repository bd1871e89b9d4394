"""The demo's incidents: real faults, at times fixed by ``--seed``, so the alarms show truth.

Why planned, not random: an engineer opening the dashboard should know what to look for and
when, and a test should be able to tell an alarm the demo caused on purpose from one it did
not. Each round has three incidents, each a real fault of the real parts:

* ``detector_fault`` — a loop's detector card reports a fault (open loop); the controller
  counts it as a permanent call, reports it in its health, the hub raises ``detector_fault``;
* ``lte_loss`` — a bus's mobile link drops: its broker connection is cut and reconnects are
  refused until the link is back; the broker publishes the Last Will (``device_offline``) and
  the agent replays what it queued meanwhile (store-and-forward);
* ``flash`` — an operator sends ``flash`` to a controller (fail-safe, flashing amber: the hub
  raises ``signal_degraded``) and ``resume`` after a while.

The first round starts :data:`FIRST_AT_S` after start, the incidents :data:`GAP_S` apart, all
over within three minutes (so the first-hour test needs only three minutes); a new round with
other devices follows every :data:`REPEAT_S`. Pure: the seed, the devices and a round number
in, the round's incidents out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

IncidentKind = Literal["detector_fault", "lte_loss", "flash"]

#: the alarm kind at the hub that each incident raises (and clears when it is over).
ALARM_OF: dict[IncidentKind, str] = {
    "detector_fault": "detector_fault",
    "lte_loss": "device_offline",
    "flash": "signal_degraded",
}
FIRST_AT_S = 60.0
GAP_S = 30.0
REPEAT_S = 1200.0
DURATION_S: dict[IncidentKind, float] = {"detector_fault": 60.0, "lte_loss": 45.0, "flash": 30.0}
#: how many buses ride through the dead spots of the mobile network (their link can drop).
LTE_BUSES = 2


@dataclass(frozen=True, slots=True)
class Incident:
    """One fault: from ``at_s`` (seconds after the demo started) for ``duration_s``."""

    at_s: float
    kind: IncidentKind
    device_id: str
    #: the detector of a ``detector_fault`` (else empty).
    detector: str
    duration_s: float

    @property
    def ends_s(self) -> float:
        """When the fault is over (the alarm clears soon after)."""
        return self.at_s + self.duration_s

    @property
    def alarm(self) -> str:
        """The alarm kind it raises at the hub."""
        return ALARM_OF[self.kind]


@dataclass(frozen=True, slots=True)
class Controller:
    """A controller that can have a detector fault: its id and its loop detectors."""

    device_id: str
    loops: tuple[str, ...]


def lte_buses(seed: int, buses: Sequence[str]) -> tuple[str, ...]:
    """The buses whose link may drop (the runner puts a cuttable link in front of them)."""
    rng = random.Random(f"lte:{seed}")
    return tuple(sorted(rng.sample(list(buses), min(LTE_BUSES, len(buses)))))


def incident_round(seed: int, number: int, controllers: Sequence[Controller],
                   buses: Sequence[str]) -> list[Incident]:
    """Round ``number`` (0 first): a detector fault, then a lost link, then a flashing
    controller, each on a device drawn from the seed; a kind without a device is left out.
    ``buses`` are the ones whose link may drop (:func:`lte_buses`)."""
    rng = random.Random(f"incidents:{seed}:{number}")
    start = FIRST_AT_S + number * REPEAT_S
    out: list[Incident] = []
    with_loops = [c for c in controllers if c.loops]
    faulty: Controller | None = None
    if with_loops:
        faulty = rng.choice(with_loops)
        out.append(Incident(start, "detector_fault", faulty.device_id, rng.choice(faulty.loops),
                            DURATION_S["detector_fault"]))
    if buses:
        out.append(Incident(start + GAP_S, "lte_loss", rng.choice(list(buses)), "",
                            DURATION_S["lte_loss"]))
    others = [c for c in controllers if c is not faulty] or list(controllers)
    if others:
        out.append(Incident(start + 2 * GAP_S, "flash", rng.choice(others).device_id, "",
                            DURATION_S["flash"]))
    return out
