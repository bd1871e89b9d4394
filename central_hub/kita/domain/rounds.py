"""Allocation rounds: the first allocation, then further rounds for places that were freed.

Round 1 runs deferred acceptance per age group for every child with full capacities and the
lottery ascending. Families then accept or decline their offer: an accepted place is kept for
good, a declined one is freed (the child leaves the procedure). Each further round re-runs
deferred acceptance for the children still without an offer, on the places nobody has
accepted, with the lottery *reversed* so that the children who drew badly in the first round
go first now. Nobody who accepted can lose a place, because they no longer take part and their
places are no longer counted as open. Every run is checked for stability before it is
returned.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from central_hub.kita.domain.deferred_acceptance import UNPLACED, propose
from central_hub.kita.domain.instance import AgeGroupInstance, build_instances
from central_hub.kita.domain.records import Application, KitaPlaces
from central_hub.kita.domain.stability import blocking_pairs
from central_hub.kita.domain.validation import find_problems
from central_hub.kita.errors import DecisionError, RecordsError, UnstableAllocationError

#: blocking pairs named in an :class:`UnstableAllocationError` message.
_SHOWN_VIOLATIONS = 10


class Decision(StrEnum):
    """A family's answer to an offer."""

    ACCEPT = "accept"
    DECLINE = "decline"


class Placement(NamedTuple):
    """A round's result for one participating child: the offered Kita, or none.

    ``choice_rank`` is 1 for the first choice; both it and ``kita_id`` are ``None`` when the
    child got no offer in this round.
    """

    child_id: str
    age_group: str
    kita_id: str | None
    choice_rank: int | None
    lottery: int


@dataclass(frozen=True, slots=True)
class GroupRound:
    """One age group's state after one round, in the instance's integer indices.

    ``capacities`` are the places open in this round, ``participants`` the children who took
    part, ``held[c]`` the slot offered to child ``c`` (or ``UNPLACED``), ``keys`` the priority
    key per slot used in this round, ``accepted[c]`` the Kita index a child accepted in an
    earlier round (or ``UNPLACED``) and ``withdrawn`` the children who declined an earlier
    offer or whose application was withdrawn.
    """

    instance: AgeGroupInstance
    lottery_descending: bool
    capacities: tuple[int, ...]
    participants: tuple[int, ...]
    held: tuple[int, ...]
    keys: Sequence[int]
    accepted: tuple[int, ...]
    withdrawn: frozenset[int]

    def offered_kita(self, child: int) -> int:
        """Kita index offered to ``child`` in this round, or ``UNPLACED``."""
        slot = self.held[child]
        return UNPLACED if slot == UNPLACED else self.instance.kita_at[slot]


@dataclass(frozen=True, slots=True)
class Round:
    """The outcome of one allocation round over all age groups.

    ``placements`` lists this round's participants in application order; children who
    accepted or declined in an earlier round appear in :meth:`accepted` or :meth:`withdrawn`.
    """

    number: int
    lottery_descending: bool
    groups: tuple[GroupRound, ...]
    placements: tuple[Placement, ...]

    def offers(self) -> dict[str, str]:
        """child_id → Kita id for every child offered a place in this round."""
        return {p.child_id: p.kita_id for p in self.placements if p.kita_id is not None}

    def accepted(self) -> dict[str, str]:
        """child_id → Kita id for every place accepted in an earlier round."""
        out: dict[str, str] = {}
        for group in self.groups:
            inst = group.instance
            for c, kita in enumerate(group.accepted):
                if kita != UNPLACED:
                    out[inst.children[c].child_id] = inst.kitas[kita].kita_id
        return out

    def withdrawn(self) -> frozenset[str]:
        """Children who declined an offer in an earlier round or were withdrawn since."""
        return frozenset(
            group.instance.children[c].child_id for group in self.groups for c in group.withdrawn
        )


def _placements(groups: Sequence[GroupRound]) -> tuple[Placement, ...]:
    slots: list[Placement | None] = [None] * sum(group.instance.size for group in groups)
    for group in groups:
        inst = group.instance
        age_group = inst.age_group
        kita_ids = [place.kita_id for place in inst.kitas]
        for c in group.participants:
            app = inst.children[c]
            slot = group.held[c]
            slots[inst.positions[c]] = (
                Placement(app.child_id, age_group, None, None, app.lottery)
                if slot == UNPLACED
                else Placement(
                    app.child_id,
                    age_group,
                    kita_ids[inst.kita_at[slot]],
                    slot - inst.start[c] + 1,
                    app.lottery,
                )
            )
    return tuple([placement for placement in slots if placement is not None])


def _run(
    inst: AgeGroupInstance,
    capacities: tuple[int, ...],
    participants: tuple[int, ...],
    *,
    accepted: tuple[int, ...],
    withdrawn: frozenset[int],
    lottery_descending: bool,
) -> GroupRound:
    keys = inst.keys(lottery_descending)
    held = propose(
        inst.start,
        inst.kita_at,
        keys,
        capacities,
        participants,
        modulus=inst.size,
        child_of_tie_break=inst.children_by_tie_break(lottery_descending),
    )
    violations = blocking_pairs(
        inst.start, inst.kita_at, keys, capacities, participants=participants, held=held
    )
    if violations:
        shown = "; ".join(
            f"{v.violation} child={inst.children[v.child].child_id if v.child >= 0 else '-'} "
            f"kita={inst.kitas[v.kita].kita_id}"
            for v in violations[:_SHOWN_VIOLATIONS]
        )
        msg = f"age group {inst.age_group!r}: {len(violations)} violations: {shown}"
        raise UnstableAllocationError(msg)
    return GroupRound(
        instance=inst,
        lottery_descending=lottery_descending,
        capacities=capacities,
        participants=participants,
        held=tuple(held),
        keys=keys,
        accepted=accepted,
        withdrawn=withdrawn,
    )


def first_round(kitas: Sequence[KitaPlaces], applications: Sequence[Application]) -> Round:
    """Allocate every child with full capacities and the lottery ascending.

    Raises :class:`RecordsError` if the input breaks a rule
    (:func:`~central_hub.kita.domain.validation.find_problems`) and
    :class:`UnstableAllocationError` if the result fails the stability check.
    """
    problems = find_problems(kitas, applications)
    if problems:
        raise RecordsError([str(p) for p in problems])
    groups = []
    for inst in build_instances(kitas, applications):
        capacities = tuple(kita.capacity for kita in inst.kitas)
        everybody = tuple(range(inst.size))
        nobody = tuple([UNPLACED] * inst.size)
        groups.append(
            _run(
                inst,
                capacities,
                everybody,
                accepted=nobody,
                withdrawn=frozenset(),
                lottery_descending=False,
            )
        )
    return Round(1, False, tuple(groups), _placements(groups))


def _check_decisions(
    previous: Round, decisions: Mapping[str, Decision], withdrawn: Collection[str]
) -> None:
    offered = previous.offers()
    taking_part = {p.child_id for p in previous.placements}
    problems = [
        f"{child_id}: no decision for the offer of Kita {kita_id!r}"
        for child_id, kita_id in offered.items()
        if child_id not in decisions and child_id not in withdrawn
    ]
    problems.extend(
        f"{child_id}: has no offer in round {previous.number} to decide on"
        for child_id in decisions
        if child_id not in offered
    )
    problems.extend(
        f"{child_id}: withdrawn after answering its offer (answers are final)"
        for child_id in withdrawn
        if child_id in decisions
    )
    problems.extend(
        f"{child_id}: withdrawn, but took no part in round {previous.number}"
        for child_id in withdrawn
        if child_id not in taking_part
    )
    if problems:
        raise DecisionError("; ".join(problems))


def next_round(
    previous: Round, decisions: Mapping[str, Decision], withdrawn: Collection[str] = ()
) -> Round:
    """Apply the families' decisions on ``previous`` and allocate the freed places.

    ``decisions`` must hold exactly one :class:`Decision` per child offered a place in
    ``previous`` (:class:`DecisionError` otherwise), except for the children in
    ``withdrawn``: applications withdrawn since ``previous`` (by staff), offered or waiting,
    which must have no decision. Accepted places are kept; declining and withdrawn children
    leave, and their offers are freed; the children without an offer compete for the places
    nobody accepted, with the lottery reversed.
    """
    withdrawn = frozenset(withdrawn)
    _check_decisions(previous, decisions, withdrawn)
    groups = []
    for group in previous.groups:
        inst = group.instance
        accepted = list(group.accepted)
        withdrawn_children = set(group.withdrawn)
        waiting: list[int] = []
        for c in group.participants:
            kita = group.offered_kita(c)
            if inst.children[c].child_id in withdrawn:
                withdrawn_children.add(c)
            elif kita == UNPLACED:
                waiting.append(c)
            elif decisions[inst.children[c].child_id] is Decision.ACCEPT:
                accepted[c] = kita
            else:
                withdrawn_children.add(c)
        taken = [0] * len(inst.kitas)
        for kita in accepted:
            if kita != UNPLACED:
                taken[kita] += 1
        capacities = tuple(place.capacity - n for place, n in zip(inst.kitas, taken, strict=True))
        groups.append(
            _run(
                inst,
                capacities,
                tuple(waiting),
                accepted=tuple(accepted),
                withdrawn=frozenset(withdrawn_children),
                lottery_descending=True,
            )
        )
    return Round(previous.number + 1, True, tuple(groups), _placements(groups))
