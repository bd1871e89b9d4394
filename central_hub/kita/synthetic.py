"""Seeded, Kassel-like allocation instances for benchmarks, demos and large tests.

Real application data is personal and must not leave the hub, yet performance claims and
cross-checks need realistic sizes: Kitas spread over the city, parents choosing mostly among
nearby Kitas (so popular areas are contested), some siblings and hardship cases, and fewer
places than children. The same seed always yields the same instance.
"""

from __future__ import annotations

import random
from math import cos, radians

from central_hub.kita.domain.lottery import draw_lottery
from central_hub.kita.domain.records import MAX_CHOICES, Application, KitaPlaces

#: Kassel's centre (Königsplatz) and the half-extent of the generated city, in degrees.
CENTRE_LAT = 51.3155
CENTRE_LON = 9.4975
HALF_LAT = 0.055
HALF_LON = 0.09
#: the two age groups of German daycare: under three (crèche) and three and over.
AGE_GROUPS = ("U3", "Ü3")
#: share of children in each age group.
AGE_GROUP_SHARE = (0.4, 0.6)
_GRID = 8


def _grid_cell(lat: float, lon: float) -> tuple[int, int]:
    row = int((lat - CENTRE_LAT + HALF_LAT) / (2 * HALF_LAT) * _GRID)
    col = int((lon - CENTRE_LON + HALF_LON) / (2 * HALF_LON) * _GRID)
    return min(_GRID - 1, max(0, row)), min(_GRID - 1, max(0, col))


def _nearby(
    cells: dict[tuple[int, int], list[int]], lat: float, lon: float, wanted: int
) -> list[int]:
    row, col = _grid_cell(lat, lon)
    reach = 1
    while True:
        found = [
            k
            for r in range(row - reach, row + reach + 1)
            for c in range(col - reach, col + reach + 1)
            for k in cells.get((r, c), ())
        ]
        if len(found) >= wanted or reach > _GRID:
            return found
        reach += 1


def kassel_instance(
    n_children: int = 10_000,
    n_kitas: int = 200,
    *,
    choices: int = MAX_CHOICES,
    places_per_child: float = 0.9,
    seed: int = 0,
) -> tuple[list[KitaPlaces], list[Application]]:
    """Kitas (one row per Kita and age group) and applications, fixed by ``seed``.

    Every child ranks ``choices`` Kitas of its age group, picked among the nearby ones with
    some noise; each age group has about ``places_per_child`` places per child.
    """
    rng = random.Random(seed)
    lon_scale = cos(radians(CENTRE_LAT))
    sites = [
        (
            CENTRE_LAT + rng.uniform(-HALF_LAT, HALF_LAT),
            CENTRE_LON + rng.uniform(-HALF_LON, HALF_LON),
        )
        for _ in range(n_kitas)
    ]
    cells: dict[tuple[int, int], list[int]] = {}
    for k, (lat, lon) in enumerate(sites):
        cells.setdefault(_grid_cell(lat, lon), []).append(k)
    group_of = rng.choices(range(len(AGE_GROUPS)), weights=AGE_GROUP_SHARE, k=n_children)
    kitas: list[KitaPlaces] = []
    for g, group in enumerate(AGE_GROUPS):
        demand = group_of.count(g)
        weights = [rng.uniform(0.5, 1.5) for _ in range(n_kitas)]
        total = sum(weights)
        for k, (lat, lon) in enumerate(sites):
            kitas.append(
                KitaPlaces(
                    kita_id=f"K{k + 1:04d}",
                    name=f"Kita {k + 1}",
                    age_group=group,
                    capacity=round(demand * places_per_child * weights[k] / total),
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    catchment_km=round(rng.uniform(0.8, 1.6), 2),
                )
            )
    child_ids = [f"C{i + 1:06d}" for i in range(n_children)]
    lottery = draw_lottery(child_ids, seed)
    applications: list[Application] = []
    for i, child_id in enumerate(child_ids):
        lat = CENTRE_LAT + rng.uniform(-HALF_LAT, HALF_LAT)
        lon = CENTRE_LON + rng.uniform(-HALF_LON, HALF_LON)
        near = _nearby(cells, lat, lon, choices)
        scored = sorted(
            near,
            key=lambda k: (
                ((sites[k][0] - lat) ** 2 + ((sites[k][1] - lon) * lon_scale) ** 2)
                * rng.uniform(0.3, 3.0)
            ),
        )
        ranked = tuple(f"K{k + 1:04d}" for k in scored[:choices])
        sibling = None
        if rng.random() < 0.15:
            sibling = ranked[0] if rng.random() < 0.7 else f"K{rng.choice(near) + 1:04d}"
        applications.append(
            Application(
                child_id=child_id,
                family_id=f"F{i + 1:06d}",
                age_group=AGE_GROUPS[group_of[i]],
                choices=ranked,
                sibling_kita=sibling,
                hardship=rng.random() < 0.06,
                lat=round(lat, 6),
                lon=round(lon, 6),
                lottery=lottery[i],
            )
        )
    return kitas, applications
