"""Random small Kita instances and a naive, independent oracle for the allocation tests.

The oracle re-derives priorities from the records as plain tuples (no integer keys, no
slots) and checks stability by brute comparison, so a bug in the fast code cannot hide in a
shared helper. Only :func:`~central_hub.kita.domain.geo.within_km` is shared; it has its own
tests against known distances.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from hypothesis import strategies as st

from central_hub.kita.domain import Application, KitaPlaces
from central_hub.kita.domain.geo import within_km

#: a few points around Kassel's centre, roughly 0-3 km apart, so catchments differ.
POINTS = (
    (51.3155, 9.4975),
    (51.3200, 9.4975),
    (51.3155, 9.5100),
    (51.3000, 9.4800),
    (51.3300, 9.5200),
)

Assignment = dict[str, str | None]


@st.composite
def instances(
    draw: st.DrawFn,
    *,
    max_kitas: int = 4,
    max_children: int = 7,
    max_capacity: int = 3,
    groups: Sequence[str] = ("U3",),
) -> tuple[list[KitaPlaces], list[Application]]:
    """Valid Kitas and applications: per age group 1..max_kitas Kitas, ranked lists of 1..5."""
    kitas: list[KitaPlaces] = []
    for group in groups:
        for k in range(draw(st.integers(1, max_kitas))):
            lat, lon = draw(st.sampled_from(POINTS))
            kitas.append(
                KitaPlaces(
                    kita_id=f"K{k}",
                    name=f"Kita {k}",
                    age_group=group,
                    capacity=draw(st.integers(0, max_capacity)),
                    lat=lat,
                    lon=lon,
                    catchment_km=draw(st.sampled_from((0.0, 0.5, 1.0, 2.0))),
                )
            )
    all_ids = sorted({k.kita_id for k in kitas})
    n = draw(st.integers(0, max_children))
    lotteries = draw(st.permutations(range(1, n + 1)))
    applications: list[Application] = []
    for i in range(n):
        group = draw(st.sampled_from(groups))
        offered = [k.kita_id for k in kitas if k.age_group == group]
        ranked = draw(st.permutations(offered))
        length = draw(st.integers(1, min(5, len(ranked))))
        lat, lon = draw(st.sampled_from(POINTS))
        applications.append(
            Application(
                child_id=f"C{i}",
                family_id=f"F{i}",
                age_group=group,
                choices=tuple(ranked[:length]),
                sibling_kita=draw(st.none() | st.sampled_from(all_ids)),
                hardship=draw(st.booleans()),
                lat=lat,
                lon=lon,
                lottery=lotteries[i],
                home_verified=draw(st.booleans()),
            )
        )
    return kitas, applications


def priority(
    app: Application, kita: KitaPlaces, lottery_descending: bool = False
) -> tuple[bool, bool, bool, int]:
    """The published order as a tuple: smaller is higher priority."""
    within = app.home_verified and within_km(app.lat, app.lon, kita.lat, kita.lon,
                                             kita.catchment_km)
    draw = -app.lottery if lottery_descending else app.lottery
    return (app.sibling_kita != kita.kita_id, not app.hardship, not within, draw)


def kita_of(kitas: Sequence[KitaPlaces], app: Application, kita_id: str) -> KitaPlaces:
    """The Kita row ``kita_id`` of the child's age group."""
    return next(k for k in kitas if k.kita_id == kita_id and k.age_group == app.age_group)


def blocking(
    kitas: Sequence[KitaPlaces],
    applications: Sequence[Application],
    assignment: Mapping[str, str | None],
    *,
    capacities: Mapping[tuple[str, str], int] | None = None,
    lottery_descending: bool = False,
) -> list[str]:
    """Every stability violation of ``assignment`` (child_id -> kita_id or None), as text.

    ``capacities`` overrides the Kitas' capacities (the places open in a further round).
    """
    cap = capacities or {(k.kita_id, k.age_group): k.capacity for k in kitas}
    holders: dict[tuple[str, str], list[Application]] = {key: [] for key in cap}
    problems = []
    for app in applications:
        kita_id = assignment[app.child_id]
        if kita_id is not None:
            if kita_id not in app.choices:
                problems.append(f"{app.child_id} placed at {kita_id} it did not choose")
            holders[(kita_id, app.age_group)].append(app)
    for key, members in holders.items():
        if len(members) > cap[key]:
            problems.append(f"{key} over capacity")
    for app in applications:
        kita_id = assignment[app.child_id]
        better = app.choices if kita_id is None else app.choices[: app.choices.index(kita_id)]
        for wanted in better:
            key = (wanted, app.age_group)
            kita = kita_of(kitas, app, wanted)
            if len(holders[key]) < cap[key]:
                problems.append(f"{app.child_id} wants {wanted}, which has a free place")
            mine = priority(app, kita, lottery_descending)
            for other in holders[key]:
                if priority(other, kita, lottery_descending) > mine:
                    problems.append(f"{app.child_id} envies {other.child_id} at {wanted}")
    return problems


def all_matchings(
    kitas: Sequence[KitaPlaces], applications: Sequence[Application]
) -> Iterator[Assignment]:
    """Every assignment of children to one of their choices or nothing (tiny instances!)."""
    options = [[None, *app.choices] for app in applications]
    for combo in itertools.product(*options):
        yield {app.child_id: kita for app, kita in zip(applications, combo, strict=True)}


def rank_of(app: Application, kita_id: str | None) -> int:
    """Position of ``kita_id`` in the child's list; unplaced (or unlisted) ranks last."""
    if kita_id is None or kita_id not in app.choices:
        return len(app.choices)
    return app.choices.index(kita_id)
