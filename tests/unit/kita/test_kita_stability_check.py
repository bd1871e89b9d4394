"""The stability check finds every kind of violation, and an unstable result is withheld."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from central_hub.kita.domain import Application, KitaPlaces, first_round
from central_hub.kita.domain import rounds as rounds_module
from central_hub.kita.domain.deferred_acceptance import UNPLACED
from central_hub.kita.domain.stability import BlockingPair, Violation, blocking_pairs
from central_hub.kita.errors import UnstableAllocationError

# two children, two Kitas with one place each; both rank A then B; keys: child 0 beats 1
START = (0, 2, 4)
KITA_AT = (0, 1, 0, 1)
KEYS = (0, 2, 1, 3)


def check(held: Sequence[int], capacities: Sequence[int] = (1, 1)) -> list[BlockingPair]:
    return blocking_pairs(START, KITA_AT, KEYS, capacities, participants=(0, 1), held=held)


def test_the_deferred_acceptance_result_is_stable() -> None:
    assert check([0, 3]) == []


def test_justified_envy_is_found() -> None:
    assert check([1, 2]) == [BlockingPair(0, 0, 0, Violation.JUSTIFIED_ENVY)]


def test_a_wasted_place_is_found() -> None:
    assert check([0, UNPLACED]) == [BlockingPair(1, 3, 1, Violation.WASTED_PLACE)]


def test_over_capacity_is_found() -> None:
    assert check([0, 2]) == [BlockingPair(-1, -1, 0, Violation.OVER_CAPACITY)]


def test_an_unstable_result_is_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    def nobody_placed(start: Sequence[int], *_: object, **__: object) -> list[int]:
        return [UNPLACED] * (len(start) - 1)

    monkeypatch.setattr(rounds_module, "propose", nobody_placed)
    kitas = [KitaPlaces("A", "A", "U3", 1, 51.3, 9.5, 1.0)]
    apps = [Application("c", "f", "U3", ("A",), None, False, 51.3, 9.5, 1)]
    with pytest.raises(UnstableAllocationError, match="wasted_place child=c kita=A"):
        first_round(kitas, apps)
