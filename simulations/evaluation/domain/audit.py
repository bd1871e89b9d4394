"""Independent safety audit of every lamp state of a run (no conflicting greens, no cut times).

Why a second check beside the controller's safety kernel: the evaluation must *show* that the
lamps SUMO was driven with were safe, for the project's controller and for SUMO's baseline
alike, from the recorded states alone. The audit therefore only reads the intersection's
static rules (intergreen matrix, minimum green, amber and red-amber times, in the millisecond
model the controller runs) and replays the recorded aspect changes; it never asks the
controller. Rules checked at every change:

* two conflicting groups are never green at the same instant;
* a group enters green no earlier than every conflicting group's last green plus the
  intergreen (clearing -> entering);
* a green, an amber and a red-amber last at least their configured times;
* a vehicle group follows red -> red-amber -> green -> amber -> red (groups without amber or
  red-amber skip those); fail-safe aspects (flashing amber, dark) count as violations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import FAIL_SAFE_LAMPS, Lamp

MAX_MESSAGES = 20
#: tolerance for the sampled baseline (SUMO switches on its step grid).
DEFAULT_TOLERANCE_MS = 0


@dataclass(slots=True)
class _Head:
    lamp: Lamp
    since: int
    last_green: int | None


@dataclass(slots=True)
class LampAudit:
    """Replays one intersection's aspect changes and counts rule violations."""

    model: Intersection
    tolerance_ms: int = DEFAULT_TOLERANCE_MS
    heads: dict[str, _Head] = field(default_factory=dict)
    violations: int = 0
    messages: list[str] = field(default_factory=list)
    changes: int = 0

    def _violate(self, now: int, text: str) -> None:
        self.violations += 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(f"{self.model.id} @ {now} ms: {text}")

    def record(self, now: int, lamps: Mapping[str, Lamp]) -> None:
        """The aspects every group shows from ``now`` on (only changes matter)."""
        if not self.heads:
            for sg, lamp in lamps.items():
                self.heads[sg] = _Head(lamp, now, None)
                if lamp in FAIL_SAFE_LAMPS:
                    self._violate(now, f"{sg} starts in fail-safe aspect {lamp.value}")
            self._check_conflicts(now)
            return
        changed = [sg for sg, lamp in lamps.items() if self.heads[sg].lamp is not lamp]
        if not changed:
            return
        self.changes += len(changed)
        for sg in changed:
            self._check_leave(now, sg, lamps[sg])
        for sg in changed:
            head = self.heads[sg]
            if head.lamp is Lamp.GREEN:
                head.last_green = now
            head.lamp, head.since = lamps[sg], now
        for sg in changed:
            if lamps[sg] is Lamp.GREEN:
                self._check_intergreen(now, sg)
        self._check_conflicts(now)

    def _check_leave(self, now: int, sg: str, new: Lamp) -> None:
        g = self.model.by_sg[sg]
        head = self.heads[sg]
        held = now - head.since + self.tolerance_ms
        old = head.lamp
        if new in FAIL_SAFE_LAMPS:
            self._violate(now, f"{sg} entered fail-safe aspect {new.value}")
            return
        legal = {
            Lamp.RED: {Lamp.RED_AMBER} if g.red_amber else {Lamp.GREEN},
            Lamp.RED_AMBER: {Lamp.GREEN},
            Lamp.GREEN: {Lamp.AMBER} if g.amber else {Lamp.RED},
            Lamp.AMBER: {Lamp.RED},
        }
        if new not in legal.get(old, set()):
            self._violate(now, f"{sg}: {old.value} -> {new.value} is not a legal sequence")
        minimum = {Lamp.GREEN: g.min_green, Lamp.AMBER: g.amber, Lamp.RED_AMBER: g.red_amber}
        if old in minimum and held < minimum[old]:
            self._violate(
                now, f"{sg}: {old.value} lasted {held / 1000:g} s < {minimum[old] / 1000:g} s"
            )

    def _check_intergreen(self, now: int, sg: str) -> None:
        for other, ig in self.model.intergreen_in[sg].items():
            last = self.heads[other].last_green
            if last is not None and now - last + self.tolerance_ms < ig:
                self._violate(
                    now,
                    f"{other} -> {sg}: intergreen {(now - last) / 1000:g} s < {ig / 1000:g} s",
                )

    def _check_conflicts(self, now: int) -> None:
        green = sorted(sg for sg, h in self.heads.items() if h.lamp is Lamp.GREEN)
        for i, a in enumerate(green):
            for b in green[i + 1:]:
                if b in self.model.conflicts[a]:
                    self._violate(now, f"{a} and {b} conflict and are both green")
