"""The stability check run after every allocation, independent of how it was computed.

An allocation is stable when no child has *justified envy* (it prefers a Kita that admitted a
child of lower priority there) and no place is *wasted* (it prefers a Kita with a free place),
and no Kita is over capacity. These are exactly the fairness promises made to families, so a
result that fails the check is withheld (:class:`UnstableAllocationError`) instead of
published. The check is linear in the number of choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from central_hub.kita.domain.deferred_acceptance import UNPLACED


class Violation(StrEnum):
    """Why a (child, Kita) pair blocks the allocation, or a Kita breaks its capacity."""

    JUSTIFIED_ENVY = "justified_envy"
    WASTED_PLACE = "wasted_place"
    OVER_CAPACITY = "over_capacity"


@dataclass(frozen=True, slots=True)
class BlockingPair:
    """Child ``child`` would rather have Kita ``kita`` (in its slot ``slot``) and could.

    For :attr:`Violation.OVER_CAPACITY` only ``kita`` is meaningful (``child`` and ``slot``
    are -1).
    """

    child: int
    slot: int
    kita: int
    violation: Violation


def blocking_pairs(
    start: Sequence[int],
    kita_at: Sequence[int],
    keys: Sequence[int],
    capacities: Sequence[int],
    *,
    participants: Iterable[int],
    held: Sequence[int],
) -> list[BlockingPair]:
    """Every violation of stability among ``participants``; empty when stable.

    Arguments are those of :func:`~central_hub.kita.domain.deferred_acceptance.propose`
    plus its result ``held``.
    """
    members = list(participants)
    count = [0] * len(capacities)
    worst = [-1] * len(capacities)
    for c in members:
        slot = held[c]
        if slot != UNPLACED:
            kita = kita_at[slot]
            count[kita] += 1
            worst[kita] = max(worst[kita], keys[slot])
    found = [
        BlockingPair(-1, -1, kita, Violation.OVER_CAPACITY)
        for kita, n in enumerate(count)
        if n > capacities[kita]
    ]
    for c in members:
        slot = held[c]
        first = start[c]
        if slot == first:
            continue  # first choice: nothing it could prefer
        for better in range(first, slot if slot != UNPLACED else start[c + 1]):
            kita = kita_at[better]
            if count[kita] < capacities[kita]:
                found.append(BlockingPair(c, better, kita, Violation.WASTED_PLACE))
            elif count[kita] and keys[better] < worst[kita]:
                found.append(BlockingPair(c, better, kita, Violation.JUSTIFIED_ENVY))
    return found
