"""Every Kita's complete ranked list of its applicants, as plain preference lists.

Deferred acceptance never needs these lists (it compares integer keys), but they are the
textbook form of the same instance: an auditor can read a Kita's order of applicants, and
any other hospital/residents solver — the tests and the benchmark use the ``matching``
library — can be fed the very same instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from central_hub.kita.domain.instance import AgeGroupInstance


@dataclass(frozen=True, slots=True)
class PreferenceLists:
    """One age group as preference lists keyed by id.

    ``children[child_id]`` lists Kita ids best first; ``kitas[kita_id]`` lists the children
    who applied there, highest priority first; ``capacities[kita_id]`` is its places.
    """

    age_group: str
    children: dict[str, list[str]]
    kitas: dict[str, list[str]]
    capacities: dict[str, int]


def preference_lists(inst: AgeGroupInstance, lottery_descending: bool = False) -> PreferenceLists:
    """The instance's preference lists under the lottery direction of a round."""
    keys = inst.keys(lottery_descending)
    applicants: list[list[tuple[int, str]]] = [[] for _ in inst.kitas]
    children: dict[str, list[str]] = {}
    for c, app in enumerate(inst.children):
        children[app.child_id] = [inst.kitas[k].kita_id for k in inst.choices(c)]
        for slot in range(inst.start[c], inst.start[c + 1]):
            applicants[inst.kita_at[slot]].append((keys[slot], app.child_id))
    kitas = {
        place.kita_id: [child_id for _, child_id in sorted(applicants[k])]
        for k, place in enumerate(inst.kitas)
    }
    capacities = {place.kita_id: place.capacity for place in inst.kitas}
    return PreferenceLists(inst.age_group, children, kitas, capacities)
