"""Child-proposing deferred acceptance (Gale–Shapley) on integer indices.

Why this algorithm: among all stable allocations (nobody passed over by a child of lower
priority, no place left empty that someone wanted) it gives every child the best Kita it can
get, and telling the true ranking is each family's best strategy (Roth 1982; Dubins & Freedman
1981). Any order of proposals yields the same result, so a plain stack suffices.

Each Kita keeps its tentatively admitted children as a max-heap of priority keys (stored
negated in :mod:`heapq`'s min-heap), so admitting or bumping costs ``O(log capacity)`` and the
whole run ``O(choices · log capacity)``. The first proposals, most of all proposals, are
handled in bulk with a sort per Kita. Keys are unique integers whose remainder modulo the
group size is the child's tie-break, so the heap holds bare ints and the bumped child is found
by ``key % modulus`` with no tuple allocation. Choices are the flat *slots* of
:class:`~central_hub.kita.domain.instance.AgeGroupInstance`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from heapq import heapify, heappush, heapreplace

#: ``held`` value of a child without a place.
UNPLACED = -1


def propose(
    start: Sequence[int],
    kita_at: Sequence[int],
    keys: Sequence[int],
    capacities: Sequence[int],
    proposers: Iterable[int],
    *,
    modulus: int,
    child_of_tie_break: Sequence[int],
) -> list[int]:
    """Run deferred acceptance for ``proposers``; return the slot each child holds.

    Child ``c`` ranks the Kitas ``kita_at[start[c]]``, ``kita_at[start[c] + 1]``, ... up to
    slot ``start[c + 1] - 1``; ``keys[s]`` is its priority key in slot ``s`` (lower wins;
    unique per child, and ``key % modulus`` is the child's tie-break, whose holder is
    ``child_of_tie_break[key % modulus]``). ``capacities[k]`` is Kita ``k``'s places.

    The result has one entry per child: the slot of the Kita that admitted it, or
    :data:`UNPLACED` (also for children not among ``proposers``).
    """
    next_slot = list(start)
    # All first proposals at once (Gale and Shapley's simultaneous first step): each Kita
    # keeps the best of its first-choice applicants, sorted in C instead of one by one.
    first_choices: list[list[int]] = [[] for _ in capacities]
    for child in proposers:
        slot = start[child]
        if slot < start[child + 1]:
            first_choices[kita_at[slot]].append(keys[slot])
            next_slot[child] = slot + 1
    free: list[int] = []
    admitted: list[list[int]] = []
    for kita, applied in enumerate(first_choices):
        places = max(capacities[kita], 0)
        if len(applied) > places:
            applied.sort()
            free.extend([child_of_tie_break[key % modulus] for key in applied[places:]])
            del applied[places:]
        heap = [-key for key in applied]
        heapify(heap)
        admitted.append(heap)
    # Then the rejected apply further down their lists, one at a time. A child is held
    # where it last applied unless displaced, so ``held`` is read off the heaps at the end.
    pop = free.pop
    push_free = free.append
    push = heappush
    replace = heapreplace
    while free:
        child = pop()
        slot = next_slot[child]
        end = start[child + 1]
        while slot < end:
            kita = kita_at[slot]
            key = keys[slot]
            heap = admitted[kita]
            slot += 1
            if len(heap) < capacities[kita]:
                push(heap, -key)
                break
            if heap and -heap[0] > key:
                push_free(child_of_tie_break[(-replace(heap, -key)) % modulus])
                break
        next_slot[child] = slot
    held = [UNPLACED] * (len(start) - 1)
    for heap in admitted:
        for negated in heap:
            child = child_of_tie_break[(-negated) % modulus]
            held[child] = next_slot[child] - 1
    return held
