"""Fixed-time programs: cycle, green windows, and their exact SPaT timing.

Why separate: a fixed-time program is a pure function of time. The cycle is aligned to the
epoch (cycle second = epoch ms mod cycle), the way coordinated controllers share GPS time, so
neighbouring junctions with the same cycle keep their offsets. A program is entered at a
``start`` instant at which every group is red and every intergreen of the previous program has
run out; window occurrences whose red-amber would have begun before ``start`` are skipped
(the group stays red until its next window), so the first cycle never cuts a minimum green,
a red-amber or an intergreen. From then on every instant is known exactly.
"""

from __future__ import annotations

from signal_controller.domain.intersection import FixedPlan, Group


def _occurrences(plan: FixedPlan, g: Group, t: int) -> list[tuple[int, int]]:
    """``(green start, green end)`` of ``g``'s windows in the cycles around ``t``, sorted."""
    cycle = plan.cycle
    base = (t // cycle) * cycle
    out = []
    for w in plan.windows.get(g.sg, ()):
        length = (w.end - w.start) if w.end > w.start else (w.end + cycle - w.start)
        for k in (-2, -1, 0, 1, 2):
            s = base + k * cycle + w.start
            out.append((s, s + length))
    out.sort()
    return out


def target(plan: FixedPlan, g: Group, start: int, t: int) -> tuple[bool, int]:
    """``(wants green, green instant)`` of ``g`` at ``t`` for a program entered at ``start``."""
    for s, e in _occurrences(plan, g, t):
        if s - g.red_amber >= start and s - g.red_amber <= t < e:
            return True, s
    return False, 0


def next_green(plan: FixedPlan, g: Group, start: int, t: int) -> int | None:
    """The first green instant of ``g`` whose red-amber begins after ``t`` (and ``start``)."""
    for s, _e in _occurrences(plan, g, t):
        if s - g.red_amber > t and s - g.red_amber >= start:
            return s
    for s, _e in _occurrences(plan, g, t + plan.cycle * 2):
        if s - g.red_amber > t and s - g.red_amber >= start:
            return s
    return None


def green_end(plan: FixedPlan, g: Group, green_since: int) -> int | None:
    """End of the window occurrence during which ``g`` turned green at ``green_since``."""
    for s, e in _occurrences(plan, g, green_since):
        if s <= green_since < e:
            return e
    return None
