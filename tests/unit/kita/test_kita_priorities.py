"""The published priority order, its integer encoding, the catchment distance and the lottery."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.kita.domain import Application, KitaPlaces, Priority, draw_lottery, first_round
from central_hub.kita.domain.geo import EARTH_RADIUS_KM, haversine_km, within_km
from central_hub.kita.domain.priorities import decode

KASSEL = (51.3155, 9.4975)
FAR = (51.3600, 9.4975)  # about 5 km north


def kita(kita_id: str = "A", capacity: int = 1) -> KitaPlaces:
    return KitaPlaces(kita_id, f"Kita {kita_id}", "U3", capacity, *KASSEL, 1.0)


def child(
    child_id: str,
    *,
    lottery: int,
    sibling: str | None = None,
    hardship: bool = False,
    near: bool = False,
    choices: tuple[str, ...] = ("A",),
    home_verified: bool = True,
) -> Application:
    lat, lon = KASSEL if near else FAR
    return Application(
        child_id, f"F-{child_id}", "U3", choices, sibling, hardship, lat, lon, lottery,
        home_verified=home_verified,
    )


@pytest.mark.parametrize(
    ("winner", "loser"),
    [
        pytest.param(
            child("w", lottery=9, sibling="A"),
            child("l", lottery=1, hardship=True, near=True),
            id="sibling beats hardship, catchment and lottery",
        ),
        pytest.param(
            child("w", lottery=9, hardship=True),
            child("l", lottery=1, near=True),
            id="hardship beats catchment and lottery",
        ),
        pytest.param(
            child("w", lottery=9, near=True),
            child("l", lottery=1),
            id="catchment beats lottery",
        ),
        pytest.param(child("w", lottery=1), child("l", lottery=2), id="lower lottery wins"),
        pytest.param(
            child("w", lottery=1),
            child("l", lottery=2, sibling="B"),
            id="a sibling at another Kita does not count",
        ),
        pytest.param(
            child("w", lottery=1),
            child("l", lottery=2, near=True, home_verified=False),
            id="an unverified home is in no catchment",
        ),
    ],
)
def test_priority_order(winner: Application, loser: Application) -> None:
    kitas = [kita("A"), kita("B")]
    for apps in ([winner, loser], [loser, winner]):
        offers = first_round(kitas, apps).offers()
        assert offers == {"w": "A"}


def test_priority_key_decodes_to_the_criteria() -> None:
    n = 5
    lotteries = [10, 20, 30, 40, 50]
    seen = []
    for cls in range(8):
        for tie in range(n):
            priority = decode(cls * n + tie, n, lotteries)
            seen.append(priority.sort_key())
            assert priority.lottery == lotteries[tie]
    assert seen == sorted(seen)  # integer order is priority order
    assert len(set(seen)) == 8 * n


def test_sort_key_reverses_the_lottery_in_further_rounds() -> None:
    early, late = Priority(False, False, True, 1), Priority(False, False, True, 2)
    assert early.sort_key() < late.sort_key()
    assert late.sort_key(lottery_descending=True) < early.sort_key(lottery_descending=True)
    assert Priority(True, False, False, 99).sort_key() < early.sort_key()


def test_haversine_known_distances() -> None:
    assert haversine_km(*KASSEL, *KASSEL) == 0.0
    one_degree = EARTH_RADIUS_KM * math.pi / 180
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(one_degree, rel=1e-12)
    assert haversine_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(EARTH_RADIUS_KM * math.pi / 2)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(EARTH_RADIUS_KM * math.pi)
    # Kassel Hauptbahnhof to Kassel-Wilhelmshöhe station: about 2.9 km
    assert haversine_km(51.3181, 9.4892, 51.3130, 9.4470) == pytest.approx(2.98, abs=0.05)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(0, 25_000),
)
def test_within_agrees_with_the_distance(
    lat1: float, lon1: float, lat2: float, lon2: float, radius: float
) -> None:
    distance = haversine_km(lat1, lon1, lat2, lon2)
    if abs(distance - radius) > 1e-6:  # away from the rounding at exactly the boundary
        assert within_km(lat1, lon1, lat2, lon2, radius) == (distance <= radius)


def test_lottery_is_a_reproducible_permutation_independent_of_row_order() -> None:
    ids = [f"C{i:03d}" for i in range(50)]
    drawn = draw_lottery(ids, seed=42)
    assert sorted(drawn) == list(range(1, 51))
    assert draw_lottery(ids, seed=42) == drawn
    reordered = list(reversed(ids))
    by_id = dict(zip(ids, drawn, strict=True))
    assert dict(zip(reordered, draw_lottery(reordered, seed=42), strict=True)) == by_id
    assert draw_lottery(ids, seed=43) != drawn
