"""Why a child did not get a choice: each Kita's cutoff, and one explanation per missed choice.

A Kita's *cutoff* is the priority of the last child it admitted in a round (when all its
places are taken). Because the allocation is stable, a child who missed a choice it ranked
above its offer always stands below that Kita's cutoff in the published criteria — so the
family can check for itself that "every place went to a child with higher priority", without
seeing any other family's data beyond the cutoff.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from central_hub.kita.domain.deferred_acceptance import UNPLACED
from central_hub.kita.domain.priorities import CLASS_CRITERIA, Priority, decode
from central_hub.kita.domain.rounds import GroupRound, Round


class Reason(StrEnum):
    """Why a choice was not obtained."""

    #: every place went to a child with higher priority (the Kita was full at its cutoff).
    HIGHER_PRIORITY = "higher_priority"
    #: the Kita had no places for this age group in this round.
    NO_PLACES = "no_places"
    #: the child was offered a place it ranked higher.
    PLACED_AT_BETTER_CHOICE = "placed_at_better_choice"


class Cutoff(NamedTuple):
    """A Kita's outcome for one age group in one round.

    ``last_admitted`` is the priority of the last child admitted when every place is taken,
    and ``None`` when places stayed free (then every child who ranked the Kita high enough
    got in) or there were none.
    """

    kita_id: str
    age_group: str
    places: int
    admitted: int
    last_admitted: Priority | None


class Explanation(NamedTuple):
    """One choice a child did not obtain, its own priority there, and the Kita's cutoff."""

    child_id: str
    choice_rank: int
    kita_id: str
    reason: Reason
    priority: Priority
    cutoff: Priority | None


def _lottery_of_tie_break(group: GroupRound) -> list[int]:
    inst = group.instance
    holders = inst.children_by_tie_break(group.lottery_descending)
    return [inst.children[c].lottery for c in holders]


def _group_cutoffs(group: GroupRound, lotteries: list[int]) -> list[Cutoff]:
    inst = group.instance
    count = [0] * len(inst.kitas)
    worst = [-1] * len(inst.kitas)
    for c in group.participants:
        slot = group.held[c]
        if slot != UNPLACED:
            kita = inst.kita_at[slot]
            count[kita] += 1
            worst[kita] = max(worst[kita], group.keys[slot])
    out = []
    for k, place in enumerate(inst.kitas):
        full = count[k] > 0 and count[k] >= group.capacities[k]
        last = decode(worst[k], inst.size, lotteries) if full else None
        out.append(Cutoff(place.kita_id, inst.age_group, group.capacities[k], count[k], last))
    return out


def cutoffs(round_: Round) -> list[Cutoff]:
    """Every Kita's cutoff in this round, per age group in input order of the Kitas."""
    out: list[Cutoff] = []
    for group in round_.groups:
        out.extend(_group_cutoffs(group, _lottery_of_tie_break(group)))
    return out


def explain(round_: Round) -> list[Explanation]:
    """One explanation per choice a participant did not obtain, in application order.

    Choices ranked above the offer (or all choices of a child without an offer) are
    :attr:`Reason.HIGHER_PRIORITY` or :attr:`Reason.NO_PLACES`; choices ranked below it are
    :attr:`Reason.PLACED_AT_BETTER_CHOICE`.
    """
    groups = round_.groups
    total = sum(group.instance.size for group in groups)
    # which group and child sits at each application position: plain ints, so rows come out
    # in input order without sorting per-child lists
    group_at = [-1] * total
    child_at = [0] * total
    contexts = []
    for g, group in enumerate(groups):
        inst = group.instance
        for c in group.participants:
            group_at[inst.positions[c]] = g
            child_at[inst.positions[c]] = c
        lotteries = _lottery_of_tie_break(group)
        contexts.append(
            (
                inst,
                group.held,
                group.capacities,
                [cutoff.last_admitted for cutoff in _group_cutoffs(group, lotteries)],
                [place.kita_id for place in inst.kitas],
            )
        )
    rows: list[Explanation] = []
    for position, g in enumerate(group_at):
        if g < 0:
            continue
        inst, held_slots, capacities, last_admitted, kita_ids = contexts[g]
        c = child_at[position]
        held = held_slots[c]
        app = inst.children[c]
        n = inst.size
        first = inst.start[c]
        for slot in range(first, inst.start[c + 1]):
            if slot == held:
                continue
            k = inst.kita_at[slot]
            if held != UNPLACED and slot > held:
                reason = Reason.PLACED_AT_BETTER_CHOICE
            elif capacities[k] <= 0:
                reason = Reason.NO_PLACES
            else:
                reason = Reason.HIGHER_PRIORITY
            # the class is the same in every round; only the lottery direction turns
            sibling, hardship, in_catchment = CLASS_CRITERIA[inst.key_at[slot] // n]
            rows.append(
                Explanation(
                    app.child_id,
                    slot - first + 1,
                    kita_ids[k],
                    reason,
                    Priority(sibling, hardship, in_catchment, app.lottery),
                    last_admitted[k],
                )
            )
    return rows
