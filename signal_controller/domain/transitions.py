"""The shortest legal stage transition, computed from the intergreen matrix.

Why one function: the running controller, the SPaT lower bound, the SPaT upper bound and the
likely prediction all need "when would the entering groups get green if the current stage
ended at t0?". Using the same function everywhere is what makes the published bounds honest.

The rule (documented in docs/signal_controller.md): at the decision instant ``t0`` every group
of the old stage that the new stage does not keep ends its green (amber starts at ``t0``, which
is its last green instant). Each entering group ``B`` gets green at the earliest instant
allowed by every rule at once::

    green(B) = max( t0 + red_amber(B),                          # its own red-amber
                    max over conflicting A: last_green(A) + intergreen(A -> B),
                    hold_red_until + red_amber(B),              # start-up all-red
                    amber_end(B) + tick + red_amber(B) )        # if B itself is still amber

where ``last_green(A)`` is ``t0`` for groups ending now. Groups kept by the new stage stay
green. The new stage is fully green at the latest entering green (``t0`` if none enters).
The result is monotone: a later ``t0`` or later last-green instants never give an earlier
green, which the SPaT bounds rely on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from signal_controller.domain.intersection import TICK_MS, Intersection


def green_start(
    model: Intersection,
    sg: str,
    t0: int,
    last_green: Mapping[str, int | None],
    *,
    amber_end: int | None,
    hold_red_until: int,
) -> int:
    """Earliest green of entering group ``sg`` for a transition decided at ``t0``."""
    g = model.by_sg[sg]
    start = max(t0, hold_red_until) + g.red_amber
    if amber_end is not None and amber_end > t0 - TICK_MS:
        start = max(start, amber_end + TICK_MS + g.red_amber)
    for other, ig in model.intergreen_in[sg].items():
        lg = last_green.get(other)
        if lg is not None and lg + ig > start:
            start = lg + ig
    return start


def plan_transition(
    model: Intersection,
    green_now: Iterable[str],
    target: frozenset[str],
    t0: int,
    last_green: Mapping[str, int | None],
    *,
    amber_ends: Mapping[str, int],
    hold_red_until: int,
) -> tuple[dict[str, int], frozenset[str], int]:
    """``(green starts of entering groups, ending groups, stage start)`` for ``-> target``.

    ``last_green`` must map groups that are green now to ``t0``'s view of them (they end at
    ``t0`` if ``target`` does not keep them).
    """
    green = frozenset(green_now)
    ending = green - target
    lg = dict(last_green)
    for sg in ending:
        lg[sg] = t0
    entering = {
        sg: green_start(
            model, sg, t0, lg, amber_end=amber_ends.get(sg), hold_red_until=hold_red_until
        )
        for sg in sorted(target - green)  # an order that does not depend on str hashing
    }
    start = max(entering.values(), default=t0)
    return entering, ending, start
