"""GLOSA (green light optimal speed advisory) from the SPaT of the next intersection.

Why these times: advising a speed that arrives as the light turns red is worse than no advice,
so a green is assumed to end at its earliest possible end (``min_end``). A red is assumed to
end at its most likely end (``likely_end``, the controller's median): arriving a little after
the green starts costs seconds, while falling back to the latest end (``max_end``, maximum
greens plus priority budget) turns most advice into "stop" — the bus then drives at full speed
into the red. The contract's ``confidence`` (the chance of the switch within ±1 s) is rarely
high under actuated control, so gating on it did exactly that. In the SUMO evaluation a 60 %
gate cost 2–3 points of the bus CO2 saving (docs/simulations.md); ``min_confidence``
keeps the gate configurable, off by default. A red's end is when its red-amber begins (1 s at
motor-vehicle signals): the advice aims one second later, at the green, because a vehicle
arriving at the end of red brakes for the red-amber and stops (in the SUMO evaluation, aiming
at the red's end left most advised cyclists stopping a second short of the green, and cost
the buses stops too). A green that even the top speed cannot make is not the end of the
advice when the SPaT says when the group is green again (``next_green``): the vehicle glides
to that green instead (it is the green's own start: nothing is added for a red-amber). The
same holds one green earlier: during a red the SPaT also says when the coming green likely
ends (``green_end``) and when the green after it begins (``next_green``), and a vehicle that
would arrive after that end even at the top speed glides to the later green when a speed in
the range reaches it (in the SUMO evaluation, riders who rode at full pace into a green that
ended at its minimum just before them were half of the cyclists' remaining stops). The
advice never leaves
``[min_speed_mps, max_speed_mps]`` and never asks to speed up beyond the limit. Amber means
"prepare to stop". A SPaT whose ``prediction`` the controller calls ``stale`` (fail-safe,
flashing, the all-red before a program runs) gives no advice at all: its timings are not a
prediction. ``degraded`` (learners still learning, a loop faulty or silent) still advises, as
the bounds stay honest, and says so in the reason. The result is consumed by the on-board
display adapter and by the simulation.

One rule for every vehicle: what differs between a bus and a cyclist is only the speed range
the advice may use (:class:`GlosaLimits`; :data:`BUS_LIMITS`, :data:`BICYCLE_LIMITS`), so the
cyclists of the SUMO evaluation get their advice from this function too, from the same SPaT.
It lives beside the SPaT payload it reads, in the contract, because three packages read SPaT
this way: the bus gateway (its driver's display), the hub (the passenger app's cyclist
advice) and the simulations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge_agent.contract.payloads import GREEN_STATES, SpatGroup, SpatPrediction

AdviceKind = Literal["keep", "adjust", "stop", "none"]
_RED = frozenset({"stop-And-Remain", "stop-Then-Proceed", "pre-Movement"})
_AMBER = frozenset({"protected-clearance", "permissive-clearance"})


@dataclass(frozen=True, slots=True)
class GlosaAdvice:
    """``keep``: current speed arrives in green; ``adjust``: drive ``speed_mps``;
    ``stop``: no speed within the limits arrives in green; ``none``: no usable SPaT (none,
    or its prediction is stale)."""

    kind: AdviceKind
    speed_mps: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class GlosaLimits:
    """Speeds the advice may ask for (the default speeds are the city bus's: 15–50 km/h)."""

    min_speed_mps: float = 15 / 3.6
    max_speed_mps: float = 50 / 3.6
    #: below this confidence (0–100) the red's ``max_end`` is used instead of ``likely_end``
    #: (0: never; see the module docstring).
    min_confidence: int = 0
    #: aim to reach the stop line this long after a red's predicted end (s): the red-amber
    #: that follows a red at a motor-vehicle signal (see the module docstring).
    arrive_after_red_s: float = 1.0
    #: when even the top speed misses the green, glide to the group's ``next_green`` (if the
    #: SPaT has one). Off for a vehicle whose priority request may still extend the green: it
    #: would give up a green it can get (see the module docstring).
    glide_to_next_green: bool = True


#: a city bus: slower than 15 km/h holds up the traffic behind it; 50 km/h is the limit. It
#: asks for priority, so it never gives up a green it cannot make by itself.
BUS_LIMITS = GlosaLimits(glide_to_next_green=False)
#: a cyclist: below 12 km/h riding gets unsteady, above 25 km/h is beyond most riders (and a
#: pedelec's assistance). When no speed in this range makes the green, the advice is "stop":
#: a cyclist is then shown no advice and rides as usual.
BICYCLE_LIMITS = GlosaLimits(min_speed_mps=12 / 3.6, max_speed_mps=25 / 3.6)


def advise(
    distance_m: float,
    speed_mps: float,
    group: SpatGroup | None,
    now_ms: int,
    limits: GlosaLimits = GlosaLimits(),
    *,
    prediction: SpatPrediction | None = None,
) -> GlosaAdvice:
    """The advice for a vehicle ``distance_m`` before the stop line of ``group``, whose SPaT
    says ``prediction`` (``None``: the controller does not report it)."""
    if group is None or distance_m < 0:
        return GlosaAdvice("none", None, "no SPaT for the signal group")
    if prediction is not None and prediction.state == "stale":
        return GlosaAdvice("none", None, "SPaT prediction stale" + _why(prediction))
    advice = _advise(distance_m, speed_mps, group, now_ms, limits)
    if prediction is not None and prediction.state == "degraded":
        return GlosaAdvice(advice.kind, advice.speed_mps,
                           f"{advice.reason}; prediction degraded{_why(prediction)}")
    return advice


def _next_green(distance_m: float, group: SpatGroup, now_ms: int, limits: GlosaLimits,
                why: str) -> GlosaAdvice:
    """A green (or amber) this vehicle will not make: glide to the next green when the SPaT
    says when it comes and the vehicle may (:attr:`GlosaLimits.glide_to_next_green`), else
    "stop"."""
    if group.next_green is None or not limits.glide_to_next_green:
        return GlosaAdvice("stop", None, why)
    return _arrive_after(distance_m, (group.next_green - now_ms) / 1000, limits,
                         f"{why}; next")


def _arrive_after(distance_m: float, wait_s: float, limits: GlosaLimits,
                  why: str) -> GlosaAdvice:
    """The speed that reaches the stop line ``wait_s`` from now, as the light turns green."""
    hi = limits.max_speed_mps
    if wait_s <= 0 or distance_m / hi >= wait_s:
        # the light will be green by the time we arrive even at the limit
        return GlosaAdvice("keep", None, f"{why} green before arrival")
    needed = distance_m / wait_s
    if needed < limits.min_speed_mps:
        return GlosaAdvice("stop", None, f"{why} green in {wait_s:.0f} s: too long to glide")
    return GlosaAdvice("adjust", min(needed, hi), f"{why} green in {wait_s:.0f} s")


def _past_coming_green(distance_m: float, group: SpatGroup, now_ms: int, limits: GlosaLimits
                       ) -> GlosaAdvice | None:
    """During a red: the glide to the green after the coming one when the SPaT says the coming
    green likely ends (``green_end``) before even the top speed arrives, and a speed in the
    range reaches that later green (``next_green``); else ``None`` (the red's own advice)."""
    if (not limits.glide_to_next_green or group.green_end is None or group.next_green is None
            or distance_m / limits.max_speed_mps <= (group.green_end - now_ms) / 1000):
        return None
    glide = _arrive_after(distance_m, (group.next_green - now_ms) / 1000, limits,
                          "red: the coming green ends before arrival; next")
    return glide if glide.kind == "adjust" else None


def _why(prediction: SpatPrediction) -> str:
    return f" ({', '.join(prediction.reasons)})" if prediction.reasons else ""


def _advise(
    distance_m: float, speed_mps: float, group: SpatGroup, now_ms: int, limits: GlosaLimits
) -> GlosaAdvice:
    lo, hi = limits.min_speed_mps, limits.max_speed_mps
    if group.state in GREEN_STATES:
        end = group.min_end if group.min_end is not None else group.likely_end
        if end is None:
            return GlosaAdvice("keep", None, "green without a known end")
        left_s = (end - now_ms) / 1000
        if left_s <= 0:
            return _next_green(distance_m, group, now_ms, limits, "green is ending")
        needed = distance_m / left_s
        if needed > hi:
            return _next_green(distance_m, group, now_ms, limits,
                               f"green ends in {left_s:.0f} s: not reachable")
        if speed_mps >= needed:
            return GlosaAdvice("keep", None, f"arrives within the green ({left_s:.0f} s left)")
        return GlosaAdvice("adjust", max(needed, lo), f"green ends in {left_s:.0f} s")
    if group.state in _RED:
        if group.confidence >= limits.min_confidence and group.likely_end is not None:
            end = group.likely_end
        else:
            end = group.max_end if group.max_end is not None else group.likely_end
        if end is None:
            return GlosaAdvice("none", None, "red without a known end")
        glide = _past_coming_green(distance_m, group, now_ms, limits)
        if glide is not None:
            return glide
        return _arrive_after(distance_m, (end - now_ms) / 1000 + limits.arrive_after_red_s,
                             limits, "red:")
    if group.state in _AMBER:
        return _next_green(distance_m, group, now_ms, limits, "amber")
    return GlosaAdvice("none", None, f"state {group.state}")
