"""The safety kernel: the only code that changes lamp states (EN 12675 spirit).

Why a separate, small module: everything else in the controller (fixed-time plans, actuated
logic, bus priority, commands) only *requests* lamp aspects. This module checks every request
against the rules that protect road users and applies it only when all of them hold:

* lamp sequence: red -> red-amber -> green -> amber -> red (red -> green -> red for groups
  without amber/red-amber times); nothing else, and no aborting a red-amber;
* minimum durations: green >= min green, amber >= amber time, red-amber >= red-amber time;
* conflicts: two conflicting groups are never green at the same instant;
* intergreens: a group enters green no earlier than ``last green instant of every conflicting
  group + intergreen(clearing -> entering)``; a group still green counts as green *now*;
* start-up: after power-up or ``resume`` no group leaves red before the all-red time is over;
* timing: a tick late by more than :data:`WATCHDOG_MS`, a clock that runs backwards or jumps.

A request that breaks any rule is *not* applied: the kernel enters fail-safe instead (vehicle
heads flashing amber, pedestrian and tram heads dark) and reports a :class:`Violation`. Only
:func:`start_up` leaves fail-safe, through the defined start-up sequence: heads that flashed
amber show steady amber for their amber time, then every head is red for the longest
intergreen of the intersection, then the program may begin.

The kernel state is immutable; every function returns a new state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from signal_controller.domain.intersection import WATCHDOG_MS, Group, Intersection
from signal_controller.domain.lamps import FAIL_SAFE_LAMPS, Lamp


@dataclass(frozen=True, slots=True)
class Head:
    """What one group shows, since when, and the last instant it was green."""

    lamp: Lamp
    since: int
    #: end of the group's latest green (its last green instant); ``None``: never green.
    last_green: int | None


@dataclass(frozen=True, slots=True)
class Violation:
    """Why the kernel refused a request or stopped: a rule, the groups and the times."""

    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class KernelState:
    """The applied lamp state of every group plus the kernel's own bookkeeping."""

    heads: Mapping[str, Head]
    failed: bool
    #: why the kernel is in fail-safe (``None`` while running).
    fault: Violation | None
    #: no group may leave red before this instant (start-up all-red).
    hold_red_until: int
    last_tick: int

    def lamp(self, sg: str) -> Lamp:
        """The aspect ``sg`` shows."""
        return self.heads[sg].lamp

    def last_green(self, sg: str, now: int) -> int | None:
        """The last green instant of ``sg`` as seen at ``now`` (``now`` while still green)."""
        head = self.heads[sg]
        return now if head.lamp is Lamp.GREEN else head.last_green


def power_up(model: Intersection, now: int) -> KernelState:
    """The state of a controller that just started: every head dark, then :func:`start_up`."""
    dark = KernelState(
        heads={g.sg: Head(g.fail_safe_lamp, now, now) for g in model.groups},
        failed=True,
        fault=Violation("power_up", "controller started"),
        hold_red_until=now,
        last_tick=now,
    )
    return start_up(dark, model, now)


def fail_safe(
    state: KernelState, model: Intersection, violation: Violation, now: int
) -> KernelState:
    """Switch every head to its fail-safe aspect at once and remember why.

    ``now`` becomes the kernel's time even when it is earlier than the last tick (the wall
    clock was stepped back): what follows (the halted ticks, a ``resume`` and its start-up
    sequence, which re-bases every head) runs in the new time, and a ``resume`` that arrives
    before the next tick does not trip the watchdog a second time.
    """
    heads = {}
    for g in model.groups:
        old = state.heads.get(g.sg)
        last = now if old is None or old.lamp in (Lamp.GREEN, *FAIL_SAFE_LAMPS) else old.last_green
        heads[g.sg] = Head(g.fail_safe_lamp, now, last)
    return KernelState(heads, True, violation, now, now)


def start_up(state: KernelState, model: Intersection, now: int) -> KernelState:
    """Leave fail-safe through the start-up sequence (amber, then all red, then the program).

    Flashing-amber traffic may still be inside the junction, so every group's last green
    instant is taken as the end of its amber; no head leaves red before all have been red for
    the longest intergreen.
    """
    heads = {}
    clear_from = now
    for g in model.groups:
        if state.heads[g.sg].lamp is Lamp.FLASHING_AMBER and g.amber > 0:
            heads[g.sg] = Head(Lamp.AMBER, now, now + g.amber)
            clear_from = max(clear_from, now + g.amber)
        else:
            heads[g.sg] = Head(Lamp.RED, now, now)
    return KernelState(heads, False, None, clear_from + model.max_intergreen, now)


def check_tick(state: KernelState, now: int, lag_ms: int, clock_jump: bool) -> Violation | None:
    """The watchdog: a tick late by more than :data:`WATCHDOG_MS` or a clock jump is a fault."""
    if clock_jump:
        return Violation("clock_jump", "wall clock and monotonic clock disagree")
    if now < state.last_tick:
        return Violation("clock_jump", f"time ran backwards by {state.last_tick - now} ms")
    if now - state.last_tick > WATCHDOG_MS:
        return Violation("late_tick", f"no tick for {now - state.last_tick} ms")
    if lag_ms > WATCHDOG_MS:
        return Violation("late_tick", f"tick ran {lag_ms} ms late")
    return None


def _transition_problem(g: Group, head: Head, want: Lamp, now: int, hold_until: int) -> str | None:
    held = now - head.since
    cur = head.lamp
    if want in FAIL_SAFE_LAMPS or cur in FAIL_SAFE_LAMPS:
        return f"{g.sg}: {cur.value} -> {want.value} is only allowed to the kernel itself"
    if want is not Lamp.RED and now < hold_until:
        return f"{g.sg}: {want.value} during the start-up all-red (until {hold_until} ms)"
    if cur is Lamp.RED:
        if want is Lamp.RED_AMBER and g.red_amber > 0:
            return None
        if want is Lamp.GREEN and g.red_amber == 0:
            return None
    elif cur is Lamp.RED_AMBER:
        if want is Lamp.GREEN:
            if held < g.red_amber:
                return f"{g.sg}: red-amber {held / 1000:g} s < {g.red_amber / 1000:g} s"
            return None
    elif cur is Lamp.GREEN:
        if (want is Lamp.AMBER and g.amber > 0) or (want is Lamp.RED and g.amber == 0):
            if held < g.min_green:
                return f"{g.sg}: green {held / 1000:g} s < minimum green {g.min_green / 1000:g} s"
            return None
    elif cur is Lamp.AMBER and want is Lamp.RED:
        if held < g.amber:
            return f"{g.sg}: amber {held / 1000:g} s < {g.amber / 1000:g} s"
        return None
    return f"{g.sg}: {cur.value} -> {want.value} is not a legal lamp sequence"


def _ticked(state: KernelState, now: int) -> KernelState:
    return KernelState(state.heads, state.failed, state.fault, state.hold_red_until, now)


def apply(
    state: KernelState,
    model: Intersection,
    requested: Mapping[str, Lamp],
    now: int,
) -> tuple[KernelState, Violation | None]:
    """Apply ``requested`` aspects at ``now`` if every rule holds, else enter fail-safe.

    Groups missing from ``requested`` keep their aspect. The caller must have run
    :func:`check_tick` for ``now``. In fail-safe, requests are ignored (only :func:`start_up`
    leaves it).
    """
    if state.failed:
        return _ticked(state, now), None
    changes: dict[str, Lamp] = {}
    for sg, want in requested.items():
        head = state.heads.get(sg)
        if head is None:
            v = Violation("unknown_group", f"request for unknown signal group {sg}")
            return fail_safe(state, model, v, now), v
        if want is not head.lamp:
            problem = _transition_problem(model.by_sg[sg], head, want, now, state.hold_red_until)
            if problem is not None:
                v = Violation("sequence", problem)
                return fail_safe(state, model, v, now), v
            changes[sg] = want
    if not changes:
        return _ticked(state, now), None
    new_heads = dict(state.heads)
    for sg, want in changes.items():
        old = state.heads[sg]
        last = now if old.lamp is Lamp.GREEN else old.last_green
        new_heads[sg] = Head(want, now, last)
    # Conflicts and intergreens for every group that enters green now.
    for sg, want in changes.items():
        if want is not Lamp.GREEN:
            continue
        for other, ig in model.intergreen_in[sg].items():
            o = new_heads[other]
            if o.lamp is Lamp.GREEN:
                v = Violation("conflict", f"{sg} and {other} conflict and would both be green")
                return fail_safe(state, model, v, now), v
            if o.last_green is not None and now - o.last_green < ig:
                v = Violation(
                    "intergreen",
                    f"{other} -> {sg}: intergreen {(now - o.last_green) / 1000:g} s "
                    f"< {ig / 1000:g} s",
                )
                return fail_safe(state, model, v, now), v
    return KernelState(new_heads, False, None, state.hold_red_until, now), None
