"""Signal groups as SUMO sees them: link indices, TLS state strings, the baseline program.

Why here, once: the controller runs speak *signal groups* and lamp aspects; SUMO speaks one
character per controlled link. The mapping (which links a group switches, and whether a green
link must yield — SUMO's ``g`` — because a permissive movement such as a left turn or a
right turn over a parallel crossing shares the stage) is needed by the TraCI adapter every
step, by the safety audit of the baseline, and to write the baseline program. Keeping it pure
lets a unit test check it without SUMO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain.lamps import Lamp


@dataclass(frozen=True, slots=True)
class Link:
    """One controlled link of a SUMO traffic light and the group that switches it."""

    index: int
    sg: str
    #: the link yields to foes while green (SUMO ``g`` instead of ``G``).
    minor: bool


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a SUMO ``tlLogic`` (seconds)."""

    duration: float
    state: str
    min_dur: float | None = None
    max_dur: float | None = None


def lamp_char(lamp: Lamp, minor: bool) -> str:
    """SUMO's link state character for a lamp aspect."""
    if lamp is Lamp.GREEN:
        return "g" if minor else "G"
    if lamp is Lamp.AMBER:
        return "y"
    if lamp is Lamp.RED_AMBER:
        return "u"
    if lamp is Lamp.FLASHING_AMBER:
        return "o"
    if lamp is Lamp.DARK:
        return "O"
    return "r"


_CHAR_LAMP = {"G": Lamp.GREEN, "g": Lamp.GREEN, "y": Lamp.AMBER, "Y": Lamp.AMBER,
              "u": Lamp.RED_AMBER, "r": Lamp.RED, "R": Lamp.RED, "s": Lamp.RED,
              "o": Lamp.FLASHING_AMBER, "O": Lamp.DARK}


def state_string(links: Sequence[Link], lamps: Mapping[str, Lamp]) -> str:
    """The ``setRedYellowGreenState`` string showing ``lamps``; links are index-ordered."""
    return "".join(lamp_char(lamps[link.sg], link.minor) for link in links)


def lamps_of_state(links: Sequence[Link], state: str) -> dict[str, Lamp]:
    """The aspect each group shows in a SUMO state string (for auditing the baseline).

    A group whose links disagree (which a correct program never does) shows the "most
    permissive" of them: green over amber over red-amber over red, so that the audit errs on
    the side of reporting a conflict.
    """
    order = [Lamp.GREEN, Lamp.AMBER, Lamp.RED_AMBER, Lamp.FLASHING_AMBER, Lamp.DARK, Lamp.RED]
    seen: dict[str, list[Lamp]] = {}
    for link in links:
        seen.setdefault(link.sg, []).append(_CHAR_LAMP.get(state[link.index], Lamp.RED))
    return {sg: min(ls, key=order.index) for sg, ls in seen.items()}


def minor_links(program_states: Sequence[str], size: int) -> frozenset[int]:
    """Links that netconvert's own program ever shows as ``g`` (permissive movements)."""
    return frozenset(i for i in range(size) if any(s[i] == "g" for s in program_states))


def _transition(cfg: IntersectionConfig, ending: frozenset[str], entering: frozenset[str]) -> float:
    """Length (s) of the fixed transition between two stages: the largest intergreen of any
    clearing group to any entering group, and at least amber plus red-amber."""
    longest = 0.0
    for a in ending:
        for b, ig in cfg.intergreen_s.get(a, {}).items():
            if b in entering:
                longest = max(longest, ig)
    vehicle_groups = [g for g in cfg.signal_groups if g.sg in ending | entering and g.amber_s]
    amber = max((g.amber_s for g in vehicle_groups), default=0.0)
    red_amber = max((g.red_amber_s for g in vehicle_groups), default=0.0)
    return max(longest, amber + red_amber)


def baseline_phases(cfg: IntersectionConfig, links: Sequence[Link]) -> list[Phase]:
    """SUMO actuated phases with the *same* stages, limits and intergreens as ``cfg``.

    Why the same plan: the baseline must differ from the project's controller only in the
    control logic (SUMO's own gap-out actuation), not in the signal design. Each stage is an
    actuated phase (``minDur``/``maxDur`` from the stage); each transition is amber for the
    ending vehicle groups, all-red, and red-amber for the entering ones, together as long as
    the largest intergreen between the two stages — a fixed transition, so it is never shorter
    than any pairwise intergreen.
    """
    stages = cfg.control.stages or []
    by_sg = {g.sg: g for g in cfg.signal_groups}

    def state(lamps: Mapping[str, Lamp]) -> str:
        return state_string(links, {sg: lamps.get(sg, Lamp.RED) for sg in by_sg})

    phases: list[Phase] = []
    for i, stage in enumerate(stages):
        nxt = stages[(i + 1) % len(stages)]
        here, there = frozenset(stage.groups), frozenset(nxt.groups)
        ending, entering = here - there, there - here
        phases.append(Phase(
            stage.max_green_s, state(dict.fromkeys(here, Lamp.GREEN)),
            stage.min_green_s, stage.max_green_s,
        ))
        total = _transition(cfg, ending, entering)
        kept = dict.fromkeys(here & there, Lamp.GREEN)
        amber_lamps = {sg: Lamp.AMBER for sg in ending if by_sg[sg].amber_s > 0}
        amber = max((by_sg[sg].amber_s for sg in amber_lamps), default=0.0)
        red_amber_lamps = {sg: Lamp.RED_AMBER for sg in entering if by_sg[sg].red_amber_s > 0}
        red_amber = max((by_sg[sg].red_amber_s for sg in red_amber_lamps), default=0.0)
        if amber > 0:
            phases.append(Phase(amber, state({**kept, **amber_lamps})))
        all_red = total - amber - red_amber
        if all_red > 0:
            phases.append(Phase(all_red, state(kept)))
        if red_amber > 0:
            phases.append(Phase(red_amber, state({**kept, **red_amber_lamps})))
    return phases
