"""The Kita service's rules without HTTP: deadline by an injected clock, lottery, tokens, replay."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, update

from central_hub.core.config import HubSettings
from central_hub.core.resolver import IdentityResolver, static_tokens
from central_hub.kita.domain import Decision, KitaPlaces, Reason, draw_lottery
from central_hub.kita.errors import (
    AllocationFailedError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
)
from central_hub.kita.model import (
    ApplicationInput,
    Claim,
    ClaimState,
    Family,
    KitaLimits,
    Staff,
    Status,
    Verdict,
    viewer_of,
)
from central_hub.kita.service import KitaService
from central_hub.kita.settings import KitaSettings
from central_hub.kita.tables import SchemaError, create_schema, families_table, placements_table
from central_hub.storage.db import make_engine

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
HOME = (51.2800, 9.4000)  # outside every catchment below


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


_names = itertools.count(1)
BORN = date(2024, 5, 1)


def applying(choices: tuple[str, ...], *, hardship: bool = False,
             name: str | None = None) -> ApplicationInput:
    """A child's application; every call a different child unless ``name`` is given."""
    return ApplicationInput(name or f"Kind {next(_names)}", "U3", choices, None, hardship,
                            *HOME, date_of_birth=BORN)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'kita.db'}")
    create_schema(eng)  # what mounting the service does
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
    service.verify_claim(hardship, Claim.HARDSHIP, Verdict.VERIFIED,
                         note="Jugendamt letter seen", checked_by="Frau Schmidt")
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
    assert service.family_of_token(registration.token) == registration.family_id
    assert service.family_of_token(registration.token + "x") is None


def test_families_and_staff_are_resolved_by_the_hubs_one_resolver(engine: Engine) -> None:
    """Kita staff are principals holding ``kita_staff`` (here the settings' static token);
    families are resolved by the same resolver through the service's lookup."""
    service = KitaService.from_settings(engine, HubSettings().kita)
    resolver = IdentityResolver(static_tokens(HubSettings(kita_staff_token="city-hall",
                                                          admin_token="traffic")))
    resolver.add_family_lookup(service.family_of_token)
    registration = service.register_family()
    assert viewer_of(resolver.resolve("city-hall")) == Staff()
    assert viewer_of(resolver.resolve(registration.token)) == Family(registration.family_id)
    assert viewer_of(resolver.resolve("traffic")) is None  # admin is no Kita caseworker
    assert resolver.resolve("town-hall") is None
    assert resolver.resolve(None) is None


def test_limits_come_from_the_settings() -> None:
    limits = KitaLimits.from_settings(KitaSettings(max_children_per_family=2,
                                                   registration_burst=1,
                                                   registrations_per_hour=4))
    assert limits == KitaLimits(2, 1, 4.0)


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


# -- issue 13: nothing that moves a child up is taken on trust ---------------------------------

NEAR_K1 = (51.3160, 9.4980)  # inside K1's catchment


def check(service: KitaService, child_id: str, claim: Claim,
          verdict: Verdict = Verdict.VERIFIED) -> None:
    service.verify_claim(child_id, claim, verdict, note="documents seen", checked_by="Herr Ohm")


def test_claims_count_only_once_verified_and_only_for_the_value_checked(
    service: KitaService, clock: Clock
) -> None:
    parents = family(service)
    claimed = ApplicationInput("Ida", "U3", ("K1",), "K1", True, *NEAR_K1, date_of_birth=BORN)
    ida = service.submit(parents, claimed).child_id
    states = {c.claim: c.state for c in service.view(parents, ida).claims}
    assert states == {Claim.SIBLING: ClaimState.UNVERIFIED,
                      Claim.HARDSHIP: ClaimState.UNVERIFIED, Claim.HOME: ClaimState.UNVERIFIED}
    plain = service.submit(parents, applying(("K1",))).child_id
    assert {c.claim: c.state for c in service.view(parents, plain).claims}[Claim.SIBLING] is (
        ClaimState.NOT_CLAIMED)
    with pytest.raises(ConflictError, match="claims no hardship"):
        check(service, plain, Claim.HARDSHIP)
    with pytest.raises(InvalidRequestError) as empty:
        service.verify_claim(ida, Claim.HOME, Verdict.VERIFIED, note=" ", checked_by="")
    assert [p.field for p in empty.value.problems] == ["note", "checked_by"]

    check(service, ida, Claim.HOME)
    check(service, ida, Claim.SIBLING, Verdict.REJECTED)
    view = service.view(Staff(), ida)
    home = next(c for c in view.claims if c.claim is Claim.HOME)
    assert home.state is ClaimState.VERIFIED and home.check is not None
    assert (home.check.checked_by, home.check.note) == ("Herr Ohm", "documents seen")
    # the family moves: the new address is unverified again
    moved = ApplicationInput("Ida", "U3", ("K1",), "K1", True, 51.3161, 9.4981,
                             date_of_birth=BORN)
    service.update(parents, ida, moved)
    assert {c.claim: c.state for c in service.view(parents, ida).claims} == {
        Claim.SIBLING: ClaimState.REJECTED, Claim.HARDSHIP: ClaimState.UNVERIFIED,
        Claim.HOME: ClaimState.UNVERIFIED}

    clock.now = T0 + timedelta(hours=2)
    service.run_round(seed=11)
    # nothing of Ida's counts: she is one more lottery number, like the plain child
    results = [service.result(parents, child) for child in (ida, plain)]
    assert sorted(r.status for r in results) == [Status.OFFERED, Status.WAITING]
    (missed,) = [e for r in results for e in r.rounds[0].explanations]
    assert missed.cutoff is not None
    for priority in (missed.priority, missed.cutoff):
        assert not (priority.sibling or priority.hardship or priority.in_catchment)
    with pytest.raises(ConflictError, match="claims are fixed"):
        check(service, ida, Claim.HARDSHIP)


def test_one_application_per_child_and_a_cap_per_family(engine: Engine, clock: Clock) -> None:
    service = KitaService(engine, clock=clock, limits=KitaLimits(children_per_family=3))
    service.save_kita(KitaPlaces("K1", "Sonne", "U3", 1, 51.3155, 9.4975, 0.5))
    service.set_deadline(T0 + timedelta(hours=1))
    parents, others = family(service), family(service)
    mia = service.submit(parents, applying(("K1",), name="Mia Muster")).child_id
    with pytest.raises(ConflictError, match=f"already has an application: {mia}"):
        service.submit(parents, applying(("K1",), name="  mia   MUSTER "))
    twin = service.submit(parents, ApplicationInput("Mia Muster", "U3", ("K1",), None, False,
                                                    *HOME, date_of_birth=BORN.replace(day=2)))
    with pytest.raises(ConflictError, match="already has an application"):
        service.update(parents, twin.child_id, applying(("K1",), name="MIA MUSTER"))
    service.submit(parents, applying(("K1",)))
    with pytest.raises(ConflictError, match="at most 3 children"):
        service.submit(parents, applying(("K1",)))
    # another family applying for a child of the same name and birthday is not refused —
    # that would let anybody block a real child — but staff see it
    copy = service.submit(others, applying(("K1",), name="Mia Muster")).child_id
    assert service.duplicates() == [[mia, copy]]
    with pytest.raises(InvalidRequestError, match="date_of_birth: must not be in the future"):
        service.submit(others, ApplicationInput("Zoe", "U3", ("K1",), None, False, *HOME,
                                                date_of_birth=T0.date() + timedelta(days=1)))
    with pytest.raises(InvalidRequestError, match="younger than 8"):
        service.submit(others, ApplicationInput("Ole", "U3", ("K1",), None, False, *HOME,
                                                date_of_birth=date(2018, 2, 1)))


def test_staff_withdraw_with_a_reason_until_the_offer_is_answered(
    engine: Engine, clock: Clock
) -> None:
    service = KitaService(engine, clock=clock)
    service.save_kita(KitaPlaces("K1", "Sonne", "U3", 2, 51.3155, 9.4975, 0.5))
    service.set_deadline(T0 + timedelta(hours=1))
    parents = family(service)
    kids = [service.submit(parents, applying(("K1",))).child_id for _ in range(5)]
    before = service.withdraw_by_staff(kids[0], reason="child unknown at the address",
                                       withdrawn_by="Frau Schmidt")
    assert before.withdrawal is not None and before.withdrawal.before_round == 1
    with pytest.raises(ConflictError, match="withdrawn by the city"):
        service.update(parents, kids[0], applying(("K1",)))
    with pytest.raises(ConflictError, match="withdrawn by the city"):
        service.withdraw(parents, kids[0])
    with pytest.raises(InvalidRequestError):
        service.withdraw_by_staff(kids[1], reason="", withdrawn_by="x")
    clock.now = T0 + timedelta(hours=2)
    assert service.run_round(seed=4).participants == 4
    assert service.result(parents, kids[0]).status is Status.WITHDRAWN
    results = {r.child_id: r for r in service.results()}
    offered = [c for c in kids[1:] if results[c].status is Status.OFFERED]
    waiting = [c for c in kids[1:] if results[c].status is Status.WAITING]
    assert (len(offered), len(waiting)) == (2, 2)
    # an open offer withdrawn: it needs no answer and its place is free again
    service.decide(parents, offered[0], Decision.ACCEPT)
    with pytest.raises(ConflictError, match=r"answered \(accept\); answers are final"):
        service.withdraw_by_staff(offered[0], reason="late doubt", withdrawn_by="Herr Ohm")
    service.withdraw_by_staff(offered[1], reason="no such child", withdrawn_by="Herr Ohm")
    service.withdraw_by_staff(waiting[0], reason="moved away", withdrawn_by="Herr Ohm")
    with pytest.raises(ConflictError, match="withdrawn by the city"):
        service.decide(parents, offered[1], Decision.ACCEPT)
    round2 = service.run_round()
    assert (round2.participants, round2.offers) == (1, 1)
    assert service.result(parents, waiting[1]).kita_id == "K1"
    assert service.result(parents, offered[1]).status is Status.WITHDRAWN
    assert service.result(parents, waiting[0]).status is Status.WITHDRAWN
    fresh = KitaService(engine, clock=clock)  # replayed from the stored input
    assert [r.status for r in fresh.results()] == [r.status for r in service.results()]


def test_registrations_are_rate_limited_per_client_address(engine: Engine) -> None:
    now = [0.0]
    service = KitaService(engine, limits=KitaLimits(registration_burst=2,
                                                    registrations_per_hour=6),
                          monotonic=lambda: now[0])
    service.register_family("192.0.2.7")
    service.register_family("192.0.2.7")
    with pytest.raises(RateLimitedError) as limited:
        service.register_family("192.0.2.7")
    assert limited.value.retry_after == 600
    service.register_family("192.0.2.8")  # another address
    service.register_family("2001:db8::1")
    service.register_family("2001:db8::2")
    with pytest.raises(RateLimitedError):  # the same /64
        service.register_family("2001:db8::ffff:1")
    now[0] = 600.0
    service.register_family("192.0.2.7")
    service.register_family()  # in-process callers are not limited


def test_applications_of_the_older_layout_are_rebuilt_only_when_empty(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old_layout = ("CREATE TABLE kita_applications (seq INTEGER PRIMARY KEY, child_id VARCHAR(64)"
                  " NOT NULL UNIQUE, family_id VARCHAR(64) NOT NULL, child_name VARCHAR(200))")
    with engine.begin() as conn:
        conn.exec_driver_sql(old_layout)
    create_schema(engine)
    assert "date_of_birth" in {c["name"] for c in inspect(engine).get_columns(
        "kita_applications")}
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE kita_applications")
        conn.exec_driver_sql(old_layout)
        conn.exec_driver_sql("INSERT INTO kita_applications VALUES (1, 'C-1', 'F-1', 'Ann')")
    with pytest.raises(SchemaError, match="holds 1 applications"):
        create_schema(engine)
    engine.dispose()
