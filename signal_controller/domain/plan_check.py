"""Semantic plan check: does a plan respect conflicts, intergreens and minimum greens?

Why here and not in the config model: the rules are signal engineering (RiLSA), and the
controller must apply exactly the same check when it loads a config and when ``set_plan``
arrives, as ``kassel config validate`` does (``edge_agent.cli.config.SEMANTIC_CHECKS``).
The check works on the millisecond model the controller actually runs
(:class:`~signal_controller.domain.intersection.Intersection`), so what passes here is what
runs. Every message names the groups and the seconds.
"""

from __future__ import annotations

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain.intersection import Intersection, Window


def _s(ms: int) -> str:
    return f"{ms / 1000:g} s"


def _span(w: Window, cycle: int) -> tuple[int, int]:
    """``[start, end)`` of a window with ``end`` unrolled past the cycle when it wraps."""
    return (w.start, w.end if w.end > w.start else w.end + cycle)


def _check_stages(model: Intersection) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for stage in model.stages:
        field = f"control.stages.{stage.id}"
        members = sorted(stage.groups)
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if b in model.conflicts[a]:
                    ab = model.intergreen[a].get(b, 0)
                    ba = model.intergreen[b].get(a, 0)
                    problems.append((
                        f"{field}.groups",
                        f"{a} and {b} conflict (intergreen {a}->{b} {_s(ab)}, {b}->{a} "
                        f"{_s(ba)}) and cannot be green in the same stage",
                    ))
        for sg in members:
            g = model.by_sg[sg]
            if stage.min_green < g.min_green:
                problems.append((
                    f"{field}.min_green_s",
                    f"stage minimum green {_s(stage.min_green)} is below the minimum green "
                    f"{_s(g.min_green)} of {sg}",
                ))
    return problems


def _check_windows(model: Intersection) -> list[tuple[str, str]]:
    plan = model.plan
    if plan is None:
        return []
    problems: list[tuple[str, str]] = []
    cycle = plan.cycle
    for sg, windows in plan.windows.items():
        g = model.by_sg[sg]
        field = f"control.greens.{sg}"
        spans = sorted(_span(w, cycle) for w in windows)
        for start, end in spans:
            length = end - start
            if length <= 0:
                problems.append((field, f"window at {_s(start)} of {sg} has no green time"))
            elif length < g.min_green:
                problems.append((
                    field,
                    f"window [{_s(start)}, {_s(end % cycle or cycle)}] gives {sg} "
                    f"{_s(length)} of green, below its minimum green {_s(g.min_green)}",
                ))
        # Between two greens of the same group: amber and red-amber must fit, and some red.
        need = g.amber + g.red_amber
        for i, (_start, end) in enumerate(spans):
            nxt_start = spans[(i + 1) % len(spans)][0] + (cycle if i + 1 == len(spans) else 0)
            gap = nxt_start - end
            if gap < 0:
                problems.append((field, f"windows of {sg} overlap at {_s(nxt_start % cycle)}"))
            elif gap <= need:
                problems.append((
                    field,
                    f"{sg} is red for only {_s(gap)} between greens (at {_s(end % cycle)}); "
                    f"amber {_s(g.amber)} plus red-amber {_s(g.red_amber)} and a red need more",
                ))
    for a, row in model.intergreen.items():
        for b, ig in row.items():
            for wa in plan.windows.get(a, ()):
                for wb in plan.windows.get(b, ()):
                    problem = _pair_problem(
                        a, b, ig, wa=_span(wa, cycle), wb=_span(wb, cycle), cycle=cycle
                    )
                    if problem:
                        problems.append((f"control.greens.{b}", problem))
    return problems


def _pair_problem(
    a: str, b: str, ig: int, *, wa: tuple[int, int], wb: tuple[int, int], cycle: int
) -> str | None:
    """Whether green window ``wb`` of ``b`` starts too soon after window ``wa`` of ``a`` ends."""
    sb, eb = wb
    for k in (-2, -1, 0, 1, 2):
        sa, ea = wa[0] + k * cycle, wa[1] + k * cycle
        if sa < eb and sb < ea:
            return (
                f"{a} and {b} conflict and are both green at {_s(max(sa, sb) % cycle)} "
                f"into the cycle"
            )
        if ea <= sb and sb - ea < ig:
            return (
                f"{a} -> {b}: green of {a} ends at {_s(ea % cycle)} and {b} starts at "
                f"{_s(sb % cycle)}: intergreen {_s(sb - ea)} is below the required {_s(ig)}"
            )
    return None


def _check_references(model: Intersection) -> list[tuple[str, str]]:
    if not model.stages:
        return []
    problems: list[tuple[str, str]] = []
    served = frozenset().union(*(s.groups for s in model.stages))
    for det_id, (sg, _kind) in model.detectors.items():
        if sg not in served:
            problems.append((
                f"detectors.{det_id}.sg",
                f"{sg} is in no stage, so detector {det_id} could never call a green",
            ))
    for sg in sorted(model.priority.groups):
        if sg not in served:
            problems.append(("priority.groups", f"{sg} is in no stage and cannot get priority"))
    return problems


def check_model(model: Intersection) -> list[tuple[str, str]]:
    """Problems of an already converted model (used for ``set_plan``)."""
    return _check_stages(model) + _check_windows(model) + _check_references(model)


def check_intersection(cfg: IntersectionConfig) -> list[tuple[str, str]]:
    """``[(field, message), ...]``: every way ``cfg``'s plans break a safety rule; empty if none.

    Checked: conflicting groups in one stage; a stage minimum green below a member group's
    minimum green; fixed-time windows shorter than the group's minimum green, overlapping or
    too close to each other for amber and red-amber; conflicting windows that overlap or cut
    the intergreen (cyclically, across the cycle boundary); detectors and priority groups that
    no stage serves.
    """
    return check_model(Intersection.from_config(cfg))
