"""The Kita service's rules without HTTP: deadline by an injected clock, lottery, tokens, replay."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from central_hub.kita.domain import Decision, KitaPlaces, Reason, draw_lottery
from central_hub.kita.service import (
    STAFF_TOKEN_ENV,
    AllocationFailedError,
    ApplicationInput,
    ConflictError,
    Family,
    InvalidRequestError,
    KitaService,
    NotFoundError,
    Staff,
    Status,
)
from central_hub.kita.store import families_table, placements_table
from central_hub.storage.db import make_engine

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
HOME = (51.2800, 9.4000)  # outside every catchment below


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def applying(choices: tuple[str, ...], *, hardship: bool = False) -> ApplicationInput:
    return ApplicationInput("Kind", "U3", choices, None, hardship, *HOME)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'kita.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def service(engine: Engine, clock: Clock) -> KitaService:
    svc = KitaService(engine, clock=clock)
    svc.save_kita(KitaPlaces("K1", "Sonne", "U3", 1, 51.3155, 9.4975, 0.5))
    svc.save_kita(KitaPlaces("K2", "Regen", "U3", 1, 51.3300, 9.5200, 0.5))
    svc.set_deadline(T0 + timedelta(hours=1))
    return svc


def family(service: KitaService) -> Family:
    return Family(service.register_family().family_id)


def test_the_deadline_follows_the_injected_clock(service: KitaService, clock: Clock) -> None:
    parents = family(service)
    child = service.submit(parents, applying(("K1",)))
    assert service.period().open is True
    with pytest.raises(ConflictError, match="open until"):
        service.run_round(seed=1)
    clock.now = T0 + timedelta(hours=1)  # the deadline itself is too late
    assert service.period().open is False
    with pytest.raises(ConflictError, match=r"deadline .* has passed"):
        service.submit(parents, applying(("K2",)))
    with pytest.raises(ConflictError, match="has passed"):
        service.update(parents, child.child_id, applying(("K2",)))
    with pytest.raises(ConflictError, match="has passed"):
        service.withdraw(parents, child.child_id)
    assert service.run_round(seed=1).number == 1
    with pytest.raises(ConflictError, match="allocation has started"):
        service.set_deadline(T0 + timedelta(days=1))
    with pytest.raises(ConflictError, match="allocation has started"):
        service.save_kita(KitaPlaces("K3", "Neu", "U3", 4, 51.3, 9.5, 1.0))


def test_a_random_seed_is_stored_and_reproduces_the_lottery(
    service: KitaService, clock: Clock
) -> None:
    parents = family(service)
    children = [service.submit(parents, applying(("K1", "K2"))).child_id for _ in range(5)]
    clock.now = T0 + timedelta(hours=2)
    row = service.run_round()
    assert row.seed is not None
    drawn = draw_lottery(children, row.seed)
    assert [service.result(parents, c).lottery for c in children] == drawn
    assert sorted(drawn) == [1, 2, 3, 4, 5]


def test_priority_beats_the_lottery_and_the_explanation_says_so(
    service: KitaService, clock: Clock
) -> None:
    parents = family(service)
    lucky = service.submit(parents, applying(("K1",))).child_id
    hardship = service.submit(parents, applying(("K1",), hardship=True)).child_id
    clock.now = T0 + timedelta(hours=2)
    service.run_round(seed=3)
    assert service.result(parents, hardship).kita_id == "K1"
    missed = service.result(parents, lucky)
    assert missed.status is Status.WAITING
    (explanation,) = missed.rounds[0].explanations
    assert explanation.reason is Reason.HIGHER_PRIORITY
    assert explanation.cutoff is not None and explanation.cutoff.hardship is True
    assert explanation.priority.hardship is False


def test_families_see_only_their_own_children(service: KitaService) -> None:
    first, second = family(service), family(service)
    child = service.submit(first, applying(("K1",))).child_id
    assert service.applications(second) == []
    assert [a.child_id for a in service.applications(Staff())] == [child]
    with pytest.raises(NotFoundError, match="no such application") as other:
        service.application(second, child)
    with pytest.raises(NotFoundError, match="no such application") as nobody:
        service.application(second, "C-unknown")
    assert str(other.value) == str(nobody.value)


def test_rule_violations_name_the_field(service: KitaService) -> None:
    parents = family(service)
    with pytest.raises(InvalidRequestError) as caught:
        service.submit(parents, applying(("K1", "K9", "K1")))
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("choice2", "unknown Kita 'K9'"),
        ("choice3", "Kita 'K1' is already choice1"),
    ]
    with pytest.raises(InvalidRequestError) as kita:
        service.save_kita(KitaPlaces("K5", "", "U3", -1, 91.0, 9.5, 1.0))
    assert [p.field for p in kita.value.problems] == ["capacity", "lat"]


def test_tokens_are_stored_only_as_digests(service: KitaService, engine: Engine) -> None:
    registration = service.register_family()
    with engine.connect() as conn:
        rows = conn.execute(select(families_table)).all()
    assert [(r.family_id, r.token_digest) for r in rows] == [
        (registration.family_id, hashlib.sha256(registration.token.encode()).hexdigest())
    ]
    assert registration.token not in repr(rows)
    assert service.authenticate(registration.token) == Family(registration.family_id)
    assert service.authenticate(registration.token + "x") is None
    assert service.authenticate(None) is None


def test_staff_token_comes_from_the_environment(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    configured = KitaService.from_env(engine, {STAFF_TOKEN_ENV: "city-hall"})
    assert configured.authenticate("city-hall") == Staff()
    assert configured.authenticate("town-hall") is None
    with caplog.at_level(logging.WARNING):
        unconfigured = KitaService.from_env(engine, {})
    assert unconfigured.authenticate("city-hall") is None
    assert STAFF_TOKEN_ENV in caplog.text


def test_a_further_round_needs_every_answer_and_a_waiting_child(
    engine: Engine, clock: Clock
) -> None:
    service = KitaService(engine, clock=clock)
    service.save_kita(KitaPlaces("K1", "Sonne", "U3", 2, 51.3155, 9.4975, 0.5))
    service.set_deadline(T0)
    clock.now = T0 - timedelta(minutes=1)
    parents = family(service)
    children = [service.submit(parents, applying(("K1",))).child_id for _ in range(2)]
    clock.now = T0
    service.run_round(seed=9)
    service.decide(parents, children[0], Decision.ACCEPT)
    with pytest.raises(ConflictError, match="1 of 2 offers of round 1 await an answer"):
        service.run_round()
    service.decide(Staff(), children[1], Decision.ACCEPT)  # recorded by staff on the phone
    with pytest.raises(ConflictError, match="already answered"):
        service.decide(parents, children[1], Decision.DECLINE)
    with pytest.raises(ConflictError, match="no child is waiting"):
        service.run_round()
    assert [r.status for r in service.results()] == [Status.ACCEPTED, Status.ACCEPTED]


def test_a_tampered_round_is_caught_by_the_replay(
    service: KitaService, engine: Engine, clock: Clock
) -> None:
    parents = family(service)
    winner = service.submit(parents, applying(("K1", "K2"))).child_id
    clock.now = T0 + timedelta(hours=2)
    service.run_round(seed=5)
    with engine.begin() as conn:
        conn.execute(
            update(placements_table)
            .where(placements_table.c.child_id == winner)
            .values(kita_id="K2", choice_rank=2)
        )
    fresh = KitaService(engine, clock=clock)  # no cached replay
    with pytest.raises(AllocationFailedError, match="differs from its replay"):
        fresh.result(parents, winner)
