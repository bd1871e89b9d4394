"""One age group's allocation problem in integer form, built once and reused by every round.

Deferred acceptance touches each (child, choice) pair a few times; doing that with strings,
dataclasses and distance computations would dominate the run time. So Kitas and children
become list indices and every (child, choice) pair — a *slot* — gets its Kita and its
priority class (:mod:`~central_hub.kita.domain.priorities`) computed exactly once, including
the one distance test it needs.

Slots live in flat integer tuples (child ``c`` owns slots ``start[c]`` to
``start[c + 1] - 1``, best choice first) rather than a tuple per child: integers are not
tracked by the garbage collector, so a run creates a handful of containers instead of
several per child, and 100,000 children are not rescanned again and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import cos, radians, sin

from central_hub.kita.domain.geo import haversine_bound
from central_hub.kita.domain.priorities import CATCHMENT_BIT, HARDSHIP_BIT, SIBLING_BIT
from central_hub.kita.domain.records import Application, KitaPlaces


@dataclass(frozen=True, slots=True)
class AgeGroupInstance:
    """Everything deferred acceptance needs for one age group, indexed by integers.

    ``positions[c]`` is child ``c``'s position in the caller's application list, so results
    come back in input order. Child ``c``'s choices are the slots ``start[c]`` to
    ``start[c + 1] - 1``; slot ``s`` names Kita ``kita_at[s]``, and ``key_at[s]`` is the
    child's priority key there with the lottery ascending: ``class * n + rank``, where
    ``rank`` is the child's place in ascending lottery order (0 = lowest number) and
    ``by_rank[rank]`` the child.
    """

    age_group: str
    kitas: tuple[KitaPlaces, ...]
    children: tuple[Application, ...]
    positions: tuple[int, ...]
    start: tuple[int, ...]
    kita_at: tuple[int, ...]
    key_at: tuple[int, ...]
    by_rank: tuple[int, ...]

    @property
    def size(self) -> int:
        """Number of children in the age group (the modulus of the priority keys)."""
        return len(self.children)

    def choices(self, child: int) -> tuple[int, ...]:
        """Kita indices child ``child`` ranked, best first."""
        return self.kita_at[self.start[child] : self.start[child + 1]]

    def keys(self, lottery_descending: bool) -> Sequence[int]:
        """Integer priority key per slot: ``class * n + tie_break``, lower wins.

        The tie-break is the child's lottery rank, or the reversed rank in further rounds.
        """
        if not lottery_descending:
            return self.key_at
        n = len(self.children)
        last = n - 1
        # class * n + (last - rank) == key - rank + last - rank
        return [key + last - 2 * (key % n) for key in self.key_at]

    def children_by_tie_break(self, lottery_descending: bool) -> list[int]:
        """The child holding each tie-break value (the inverse of the keys' remainder)."""
        return list(reversed(self.by_rank)) if lottery_descending else list(self.by_rank)


def build_instance(
    age_group: str,
    kitas: Sequence[KitaPlaces],
    children: Sequence[Application],
    positions: Sequence[int],
) -> AgeGroupInstance:
    """Index one age group; ``kitas`` and ``children`` must be valid and of that group."""
    kita_index = {kita.kita_id: k for k, kita in enumerate(kitas)}
    # geo.within_km unrolled, with each Kita's trigonometry and bound computed once: the
    # same float operations in the same order, so the answer is identical to calling it.
    site = [
        (radians(kita.lat), cos(radians(kita.lat)), kita.lon, haversine_bound(kita.catchment_km))
        for kita in kitas
    ]
    n = len(children)
    by_rank = sorted(range(n), key=lambda c: children[c].lottery)
    rank = [0] * n
    for r, c in enumerate(by_rank):
        rank[c] = r
    start = [0]
    kita_at: list[int] = []
    key_at: list[int] = []
    for app, child_rank in zip(children, rank, strict=True):
        phi = radians(app.lat)
        cos_phi = cos(phi)
        lon = app.lon
        sibling_at = kita_index.get(app.sibling_kita, -1) if app.sibling_kita else -1
        hardship = 0 if app.hardship else HARDSHIP_BIT
        home = app.home_verified  # an unverified home is in no catchment
        for kita_id in app.choices:
            k = kita_index[kita_id]
            cls = hardship if k == sibling_at else hardship | SIBLING_BIT
            if not home:
                cls |= CATCHMENT_BIT
            else:
                kita_phi, kita_cos, kita_lon, bound = site[k]
                half_dphi = sin((kita_phi - phi) / 2.0)
                half_dlambda = sin(radians(kita_lon - lon) / 2.0)
                if half_dphi * half_dphi + cos_phi * kita_cos * half_dlambda * half_dlambda > bound:
                    cls |= CATCHMENT_BIT
            kita_at.append(k)
            key_at.append(cls * n + child_rank)
        start.append(len(kita_at))
    return AgeGroupInstance(
        age_group=age_group,
        kitas=tuple(kitas),
        children=tuple(children),
        positions=tuple(positions),
        start=tuple(start),
        kita_at=tuple(kita_at),
        key_at=tuple(key_at),
        by_rank=tuple(by_rank),
    )


def build_instances(
    kitas: Sequence[KitaPlaces], applications: Sequence[Application]
) -> list[AgeGroupInstance]:
    """One instance per age group, in the order the groups first appear among the Kitas."""
    kitas_of: dict[str, list[KitaPlaces]] = {}
    for kita in kitas:
        kitas_of.setdefault(kita.age_group, []).append(kita)
    children_of: dict[str, list[Application]] = {group: [] for group in kitas_of}
    positions_of: dict[str, list[int]] = {group: [] for group in kitas_of}
    for i, app in enumerate(applications):
        children_of[app.age_group].append(app)
        positions_of[app.age_group].append(i)
    return [
        build_instance(group, group_kitas, children_of[group], positions_of[group])
        for group, group_kitas in kitas_of.items()
    ]
