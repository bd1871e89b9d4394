"""The Kita allocation's use cases for families and city staff, free of HTTP.

WHY a service between the API and the domain: the rules about *when* something may happen
(applications only until the deadline, Kitas and deadline fixed once the allocation started,
a further round only when every offer is answered) and *who* may see what (a family only its
own children) must hold for any adapter, and tests check them without a web server. The
allocation itself stays in :mod:`central_hub.kita.domain`; this module only feeds it stored
records and stores what it returns.

Rounds are stored (seed, lottery, placements, decisions) and, when a family asks for its
explanation, *replayed* from the stored input: the domain is deterministic, the input is
frozen once round 1 ran, and the replay is compared with the stored placements, so a
mismatch is caught instead of published. The replay is cached per number of rounds.

Nothing is taken on trust that would move a child up (issue 13: twenty anonymous families
with invented "hardship + sibling" children pushed the one real applicant out):

* one application per child — a child is its name (case, spacing and Unicode forms folded)
  and date of birth within its family; the same child from two families is *shown* to staff
  (:meth:`KitaService.duplicates`), not refused, since refusing would let anybody block a
  real child by applying for it first;
* at most :attr:`KitaLimits.children_per_family` applications per family, and registrations
  rate-limited per client address (:class:`~central_hub.core.ratelimit.RateLimiter`);
* every priority claim (sibling, hardship, a home in a catchment) starts *unverified*; staff
  record their check of the value claimed (:meth:`KitaService.verify_claim`: verdict, what
  was checked, who), a changed value is unverified again, and the allocation counts only
  verified claims;
* staff may withdraw any application, with a reason, until its offer is answered
  (:meth:`KitaService.withdraw_by_staff`); a withdrawn offer is freed for the next round.

Nothing personal is logged — no names, homes, child or family ids, addresses, tokens — only
counts.

Error tree (the API maps each to one status code)::

    KitaError
    └── KitaServiceError
        ├── NotFoundError          404: no such record, or not the caller's (never told apart)
        ├── ConflictError          409: not now (deadline passed, allocation started, ...)
        ├── InvalidRequestError    422: a rule of the domain is broken, per field
        ├── RateLimitedError       429: too many registrations from this address, retry later
        └── AllocationFailedError  500: the stability check or the replay failed (a bug)
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import ParamSpec

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from central_hub.core.config import KitaSettings
from central_hub.core.identity import Kind, Principal, Role
from central_hub.core.ratelimit import RateLimiter, retry_after
from central_hub.kita import store
from central_hub.kita.csv_io import RESULT_COLUMNS
from central_hub.kita.domain import (
    Application,
    Cutoff,
    Decision,
    Explanation,
    KitaPlaces,
    Placement,
    Problem,
    Round,
    cutoffs,
    draw_lottery,
    explain,
    find_problems,
    first_round,
    next_round,
)
from central_hub.kita.errors import KitaError
from central_hub.kita.store import ClaimCheck, RoundRow, StoredApplication, Withdrawal

log = logging.getLogger(__name__)

_P = ParamSpec("_P")

#: seeds are stored as signed 64-bit integers.
MAX_SEED = 2**63 - 1
#: a Kita child is younger than this (school starts at six).
MAX_AGE_YEARS = 8


class KitaServiceError(KitaError):
    """A use case refused a request; the subclass says why."""


class NotFoundError(KitaServiceError):
    """No such record for this caller — also when it exists but belongs to another family."""


class ConflictError(KitaServiceError):
    """The request is well-formed but not allowed in the procedure's current state."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One broken rule in a request: the domain's field name and a message for people.

    Field names are those of the domain and the CSV formats (``choice2``, ``lat``,
    ``capacity``), so the same words appear in files, forms and documentation.
    """

    field: str
    message: str


class InvalidRequestError(KitaServiceError):
    """A Kita or application breaks a rule of the domain; ``problems`` names every field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


class AllocationFailedError(KitaServiceError):
    """The stability check or the replay of a stored round failed: a bug, nothing is published."""


class RateLimitedError(KitaServiceError):
    """Too many registrations from one client address; ``retry_after`` seconds until the next."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many registrations from your network; try again in {retry_after_s} s"
        )
        self.retry_after = retry_after_s


@dataclass(frozen=True, slots=True)
class KitaLimits:
    """How much one family and one client address may do.

    ``children_per_family``: applications per family (withdrawn ones count): more children
    of Kita age in one household are very rare. ``registration_burst`` registrations at once
    per client address, then ``registrations_per_hour`` (a citizens' office or a library
    registering for several families gets a few at once).
    """

    children_per_family: int = 5
    registration_burst: int = 5
    registrations_per_hour: float = 10.0

    def __post_init__(self) -> None:
        if self.children_per_family < 1 or self.registration_burst < 1:
            raise ValueError("children_per_family and registration_burst must be >= 1")
        if not self.registrations_per_hour > 0:
            raise ValueError("registrations_per_hour must be > 0")

    @classmethod
    def from_settings(cls, settings: KitaSettings) -> KitaLimits:
        """From the hub's settings (``KASSEL_HUB_KITA__MAX_CHILDREN_PER_FAMILY`` ...)."""
        return cls(settings.max_children_per_family, settings.registration_burst,
                   settings.registrations_per_hour)


class Claim(StrEnum):
    """A fact an application claims that raises the child's priority."""

    #: a sibling attends ``sibling_kita``.
    SIBLING = "sibling"
    #: a hardship case.
    HARDSHIP = "hardship"
    #: the home at ``lat``/``lon`` (it decides the catchment criterion).
    HOME = "home"


class Verdict(StrEnum):
    """Staff's finding on a claimed value."""

    VERIFIED = "verified"
    REJECTED = "rejected"


class ClaimState(StrEnum):
    """Where a claim stands; only ``verified`` counts in the allocation."""

    NOT_CLAIMED = "not_claimed"
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """A claim's state and staff's latest check of the value claimed now (``None``: none)."""

    claim: Claim
    state: ClaimState
    check: ClaimCheck | None


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application with the state of its claims and staff's withdrawal, if any."""

    application: StoredApplication
    claims: tuple[ClaimStatus, ...]
    withdrawal: Withdrawal | None


@dataclass(frozen=True, slots=True)
class Staff:
    """City staff: manage Kitas, the deadline and rounds, and see every application."""


@dataclass(frozen=True, slots=True)
class Family:
    """A registered family: sees and edits only the applications it submitted."""

    family_id: str


#: whose view of the applications a use case takes: the service's rule of who sees what.
Viewer = Staff | Family


def viewer_of(principal: Principal | None) -> Viewer | None:
    """The Kita view of a hub principal: a family's own, or staff's for holders of
    ``kita_staff``; ``None`` for anybody else (no Kita data at all)."""
    if principal is None:
        return None
    if principal.kind is Kind.FAMILY and principal.family_id is not None:
        return Family(principal.family_id)
    if principal.kind is Kind.STAFF and principal.has(Role.KITA_STAFF):
        return Staff()
    return None


@dataclass(frozen=True, slots=True)
class Registration:
    """A new family's id and token; the token is shown once and only its digest is kept."""

    family_id: str
    token: str


@dataclass(frozen=True, slots=True)
class ApplicationInput:
    """What a family states for one child; the id, family and lottery are not theirs to set.

    ``sibling_kita``, ``hardship`` and the home (``lat``/``lon``) are *claims*: they count
    only once staff verified them.
    """

    child_name: str
    age_group: str
    choices: tuple[str, ...]
    sibling_kita: str | None
    hardship: bool
    lat: float
    lon: float
    date_of_birth: date


@dataclass(frozen=True, slots=True)
class PeriodView:
    """The application deadline, whether applications are open, and rounds run so far."""

    deadline: datetime | None
    open: bool
    rounds: int


class Status(StrEnum):
    """Where a child stands in the procedure."""

    #: no round has been run yet.
    PENDING = "pending"
    #: offered a place in the latest round; the family has not answered yet.
    OFFERED = "offered"
    #: the family accepted an offer: the place is final.
    ACCEPTED = "accepted"
    #: the family declined an offer and left the procedure.
    DECLINED = "declined"
    #: no offer in the latest round; takes part in the next one.
    WAITING = "waiting"
    #: withdrawn by staff (see the application's ``withdrawal``); takes part no more.
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """One round a child took part in: its offer, the answer, and why it missed better choices."""

    number: int
    kita_id: str | None
    choice_rank: int | None
    decision: Decision | None
    explanations: tuple[Explanation, ...]


@dataclass(frozen=True, slots=True)
class ChildResult:
    """A child's standing: status, current offer or place, lottery number and every round."""

    child_id: str
    status: Status
    kita_id: str | None
    choice_rank: int | None
    lottery: int | None
    rounds: tuple[RoundOutcome, ...]


def child_key(child_name: str, date_of_birth: date) -> str:
    """What identifies a child within its family: name and date of birth, as a digest.

    The name is compared with Unicode forms, case and spacing folded (``"  mia  MUSTER"`` is
    ``"Mia Muster"``); spelling variants (``ü``/``ue``, a second given name) are not caught.
    A digest only to give the key a fixed length: a name and a birthday are easy to guess,
    so it hides nothing.
    """
    folded = " ".join(unicodedata.normalize("NFKC", child_name).casefold().split())
    return hashlib.sha256(f"{folded}\n{date_of_birth.isoformat()}".encode()).hexdigest()


def claimed_value(app: StoredApplication, claim: Claim) -> str | None:
    """The value an application claims for ``claim`` as staff check it; ``None``: not claimed."""
    if claim is Claim.SIBLING:
        return app.sibling_kita
    if claim is Claim.HARDSHIP:
        return "true" if app.hardship else None
    return f"{app.lat!r},{app.lon!r}"


def claim_statuses(
    app: StoredApplication, checks: Mapping[str, ClaimCheck]
) -> tuple[ClaimStatus, ...]:
    """Each claim's state: a check counts only for the value the application claims now."""
    out = []
    for claim in Claim:
        value = claimed_value(app, claim)
        check = checks.get(claim.value)
        if value is None:
            out.append(ClaimStatus(claim, ClaimState.NOT_CLAIMED, None))
        elif check is None or check.value != value:
            out.append(ClaimStatus(claim, ClaimState.UNVERIFIED, None))
        else:
            out.append(ClaimStatus(claim, ClaimState(check.verdict), check))
    return tuple(out)


def verified_claims(app: StoredApplication, checks: Mapping[str, ClaimCheck]) -> set[Claim]:
    """The claims that count in the allocation."""
    return {s.claim for s in claim_statuses(app, checks) if s.state is ClaimState.VERIFIED}


def token_digest(token: str) -> str:
    """Hex SHA-256 of a bearer token: what is stored and compared, never the token.

    Tokens carry 256 random bits, so an unsalted hash is enough to make a leaked table
    useless without slowing every request down like a password hash would.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _History:
    """Every round replayed from the stored input, indexed by child for quick answers."""

    rounds: tuple[Round, ...]
    placements: tuple[dict[str, Placement], ...]
    explanations: tuple[dict[str, tuple[Explanation, ...]], ...]

    def extend(self, round_: Round) -> _History:
        by_child: dict[str, list[Explanation]] = {}
        for row in explain(round_):
            by_child.setdefault(row.child_id, []).append(row)
        return _History(
            (*self.rounds, round_),
            (*self.placements, {p.child_id: p for p in round_.placements}),
            (*self.explanations, {child: tuple(rows) for child, rows in by_child.items()}),
        )


_NO_HISTORY = _History((), (), ())


_ALL_CLAIMS = frozenset(Claim)


def _record(
    app: StoredApplication, lottery: int, verified: Collection[Claim] = _ALL_CLAIMS
) -> Application:
    """The domain's record: with every claim to check the rules, with the verified ones to
    allocate."""
    return Application(
        app.child_id,
        app.family_id,
        app.age_group,
        app.choices,
        app.sibling_kita if Claim.SIBLING in verified else None,
        app.hardship and Claim.HARDSHIP in verified,
        app.lat,
        app.lon,
        lottery,
        home_verified=Claim.HOME in verified,
    )


def _too_long(field: str, value: str | None, limit: int) -> list[FieldProblem]:
    if value is not None and len(value) > limit:
        return [FieldProblem(field, f"at most {limit} characters, got {len(value)}")]
    return []


def _kita_problems(kita: KitaPlaces) -> list[FieldProblem]:
    problems = [
        *_too_long("kita_id", kita.kita_id, store.ID_LENGTH),
        *_too_long("age_group", kita.age_group, store.AGE_GROUP_LENGTH),
        *_too_long("name", kita.name, store.NAME_LENGTH),
    ]
    problems.extend(FieldProblem(p.field, p.message) for p in find_problems([kita], []))
    return problems


def _birth_problems(born: date, today: date) -> list[FieldProblem]:
    if born > today:
        return [FieldProblem("date_of_birth", "must not be in the future")]
    if (today.year - born.year, today.month, today.day) >= (MAX_AGE_YEARS, born.month, born.day):
        return [FieldProblem("date_of_birth", f"a Kita child is younger than {MAX_AGE_YEARS}")]
    return []


def _text_problems(field_name: str, value: str, limit: int) -> list[FieldProblem]:
    if not value.strip():
        return [FieldProblem(field_name, "must not be empty")]
    return _too_long(field_name, value, limit)


def _application_problems(
    kitas: Sequence[KitaPlaces], record: Application, child_name: str
) -> list[FieldProblem]:
    problems = []
    if not child_name.strip():
        problems.append(FieldProblem("child_name", "must not be empty"))
    problems += _too_long("child_name", child_name, store.NAME_LENGTH)
    problems += _too_long("age_group", record.age_group, store.AGE_GROUP_LENGTH)
    problems += _too_long("sibling_kita", record.sibling_kita, store.ID_LENGTH)
    problems.extend(
        FieldProblem(p.field, p.message)
        for p in find_problems(kitas, [record])
        if p.kind == "application"
    )
    return problems


def _describe(problem: Problem, kitas: Sequence[KitaPlaces], records: Sequence[Application]) -> str:
    if problem.kind == "kita":
        kita = kitas[problem.index]
        where = f"Kita {kita.kita_id!r} ({kita.age_group})"
    else:
        where = f"application {records[problem.index].child_id}"
    return f"{where}: {problem.field}: {problem.message}"


class KitaService:
    """The Kita allocation of one hub: families, applications, Kitas, deadline and rounds.

    Build one per process in the app's lifespan (:meth:`from_settings`) and keep it on
    ``app.state.kita``; it creates its tables on construction. ``clock`` is injected so
    tests can put the deadline behind them without waiting.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _utc_now,
        limits: KitaLimits = KitaLimits(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        store.create_schema(engine)
        self._engine = engine
        self._clock = clock
        self.limits = limits
        self._registrations = RateLimiter(
            burst=limits.registration_burst,
            period_s=3600.0 / limits.registrations_per_hour,
            clock=monotonic,
        )
        self._lock = threading.Lock()
        self._history = _NO_HISTORY

    @classmethod
    def from_settings(
        cls,
        engine: Engine,
        settings: KitaSettings,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> KitaService:
        """A service with the limits of the hub's settings (``kita`` section)."""
        return cls(engine, clock=clock, limits=KitaLimits.from_settings(settings))

    # -- who is calling ------------------------------------------------------------------

    def family_of_token(self, token: str) -> str | None:
        """The family a bearer token belongs to, if any: the hub's identity resolver asks
        (:meth:`central_hub.core.resolver.IdentityResolver.add_family_lookup`)."""
        with self._engine.connect() as conn:
            return store.family_of(conn, token_digest(token))

    def register_family(self, client: str | None = None) -> Registration:
        """Create a family with a fresh random token; only the token's digest is stored.

        ``client`` is the caller's address: registrations are rate-limited per address
        (:class:`RateLimitedError`); ``None`` (in-process callers) is not limited.
        """
        if client is not None:
            wait = self._registrations.take(client)
            if wait > 0:
                raise RateLimitedError(retry_after(wait))
        token = secrets.token_urlsafe(32)
        family_id = "F-" + secrets.token_hex(8)
        with self._engine.begin() as conn:
            store.add_family(conn, family_id, token_digest(token), self._clock())
        log.info("kita: a family registered")
        return Registration(family_id, token)

    # -- Kitas and the application period (staff) ------------------------------------------

    def kitas(self) -> list[KitaPlaces]:
        """Every Kita's places per age group (public information)."""
        with self._engine.connect() as conn:
            return store.load_kitas(conn)

    def save_kita(self, kita: KitaPlaces) -> bool:
        """Create or change one Kita's places for an age group; ``True`` when created.

        Refused once the allocation has started: the rounds are replayed from these values.
        """
        problems = _kita_problems(kita)
        if problems:
            raise InvalidRequestError(problems)
        with self._engine.begin() as conn:
            store.lock_period(conn)
            self._require_no_rounds(conn, "Kitas and capacities are fixed")
            created = store.save_kita(conn, kita)
        log.info("kita: places of a Kita saved (%d places)", kita.capacity)
        return created

    def delete_kita(self, kita_id: str, age_group: str) -> None:
        """Remove one Kita's places for an age group, unless an application depends on them."""
        with self._engine.begin() as conn:
            store.lock_period(conn)
            self._require_no_rounds(conn, "Kitas and capacities are fixed")
            kitas = store.load_kitas(conn)
            remaining = [k for k in kitas if (k.kita_id, k.age_group) != (kita_id, age_group)]
            if len(remaining) == len(kitas):
                raise NotFoundError(f"no Kita {kita_id!r} with places for {age_group!r}")
            apps = store.load_applications(conn)
            records = [_record(app, number) for number, app in enumerate(apps)]
            broken = {p.index for p in find_problems(remaining, records) if p.kind != "kita"}
            if broken:
                raise ConflictError(
                    f"{len(broken)} applications choose Kita {kita_id!r} for {age_group!r} or "
                    "name it as a sibling's Kita; they must change before it can be removed"
                )
            store.delete_kita(conn, kita_id, age_group)
        log.info("kita: places of a Kita removed")

    def period(self) -> PeriodView:
        """The deadline and whether applications are open now."""
        with self._engine.connect() as conn:
            deadline = store.read_period(conn).deadline
            rounds = len(store.load_rounds(conn))
        is_open = deadline is not None and rounds == 0 and self._clock() < deadline
        return PeriodView(deadline, is_open, rounds)

    def set_deadline(self, deadline: datetime) -> PeriodView:
        """Open, extend or close the application period (before the first round only)."""
        if deadline.tzinfo is None:
            raise InvalidRequestError([FieldProblem("deadline", "must carry a time zone")])
        with self._engine.begin() as conn:
            store.lock_period(conn)
            self._require_no_rounds(conn, "the deadline is fixed")
            store.set_deadline(conn, deadline)
        log.info("kita: the application deadline was set")
        return self.period()

    # -- applications (families) -----------------------------------------------------------

    def submit(self, family: Family, data: ApplicationInput) -> StoredApplication:
        """Store a new application for one child of ``family`` while applications are open.

        One application per child (:func:`child_key`) and at most
        :attr:`KitaLimits.children_per_family` per family; every claim starts unverified.
        """
        child_id = "C-" + secrets.token_hex(8)
        try:
            with self._engine.begin() as conn:
                self._require_open(conn, store.lock_period(conn))
                cap = self.limits.children_per_family
                if store.count_applications(conn, family.family_id) >= cap:
                    raise ConflictError(f"a family applies for at most {cap} children")
                now = self._clock()
                app = self._checked(
                    conn,
                    data,
                    child_id=child_id,
                    family_id=family.family_id,
                    submitted_at=now,
                    updated_at=now,
                )
                self._require_new_child(conn, app)
                store.add_application(conn, app)
        except IntegrityError as exc:  # the same child submitted twice at the same moment
            raise ConflictError("this child already has an application") from exc
        log.info("kita: an application was submitted")
        return app

    def update(self, family: Family, child_id: str, data: ApplicationInput) -> StoredApplication:
        """Replace an application of ``family`` while applications are open."""
        try:
            with self._engine.begin() as conn:
                period = store.lock_period(conn)
                current = self._visible(conn, family, child_id)
                self._require_not_withdrawn(conn, child_id)
                self._require_open(conn, period)
                app = self._checked(
                    conn,
                    data,
                    child_id=child_id,
                    family_id=family.family_id,
                    submitted_at=current.submitted_at,
                    updated_at=self._clock(),
                )
                self._require_new_child(conn, app)
                store.replace_application(conn, app)
        except IntegrityError as exc:
            raise ConflictError("this child already has an application") from exc
        log.info("kita: an application was changed")
        return app

    def withdraw(self, family: Family, child_id: str) -> None:
        """Delete an application of ``family`` while applications are open; nothing is kept."""
        with self._engine.begin() as conn:
            period = store.lock_period(conn)
            self._visible(conn, family, child_id)
            self._require_not_withdrawn(conn, child_id)
            self._require_open(conn, period)
            store.delete_application(conn, child_id)
        log.info("kita: an application was withdrawn")

    def applications(self, viewer: Viewer) -> list[StoredApplication]:
        """A family's own applications, or every application for staff."""
        family_id = viewer.family_id if isinstance(viewer, Family) else None
        with self._engine.connect() as conn:
            return store.load_applications(conn, family_id)

    def application(self, viewer: Viewer, child_id: str) -> StoredApplication:
        """One application, if the viewer may see it (:class:`NotFoundError` otherwise)."""
        with self._engine.connect() as conn:
            return self._visible(conn, viewer, child_id)

    def views(self, viewer: Viewer) -> list[ApplicationView]:
        """:meth:`applications` with each one's claims and withdrawal."""
        family_id = viewer.family_id if isinstance(viewer, Family) else None
        with self._engine.connect() as conn:
            apps = store.load_applications(conn, family_id)
            checks = store.latest_claim_checks(conn)
            withdrawals = store.load_withdrawals(conn)
        return [
            ApplicationView(
                app,
                claim_statuses(app, checks.get(app.child_id, {})),
                withdrawals.get(app.child_id),
            )
            for app in apps
        ]

    def view(self, viewer: Viewer, child_id: str) -> ApplicationView:
        """:meth:`application` with its claims and withdrawal."""
        with self._engine.connect() as conn:
            return self._view(conn, viewer, child_id)

    # -- checks by staff -------------------------------------------------------------------

    def verify_claim(
        self, child_id: str, claim: Claim, verdict: Verdict, *, note: str, checked_by: str
    ) -> ApplicationView:
        """Record staff's check of a claim (staff only): what was checked, by whom, the verdict.

        The check applies to the value claimed now; if the family changes it, the claim is
        unverified again. Claims are fixed once round 1 ran (it was allocated on them).
        """
        problems = [
            *_text_problems("note", note, store.NOTE_LENGTH),
            *_text_problems("checked_by", checked_by, store.STAFF_NAME_LENGTH),
        ]
        if problems:
            raise InvalidRequestError(problems)
        with self._engine.begin() as conn:
            store.lock_period(conn)
            app = self._visible(conn, Staff(), child_id)
            self._require_no_rounds(conn, "claims are fixed")
            self._require_not_withdrawn(conn, child_id)
            value = claimed_value(app, claim)
            if value is None:
                raise ConflictError(f"the application claims no {claim}")
            store.add_claim_check(
                conn,
                ClaimCheck(child_id, claim.value, verdict.value, value, note.strip(),
                           checked_by.strip(), self._clock()),
            )
            view = self._view(conn, Staff(), child_id)
        log.info("kita: a %s claim was checked (%s)", claim, verdict)
        return view

    def withdraw_by_staff(
        self, child_id: str, *, reason: str, withdrawn_by: str
    ) -> ApplicationView:
        """Withdraw an application (staff only) until its offer is answered; the record stays.

        Before round 1 the child takes no part; later, an open offer is freed for the next
        round, a waiting child leaves. An answered offer (accepted or declined) is final.
        """
        problems = [
            *_text_problems("reason", reason, store.NOTE_LENGTH),
            *_text_problems("withdrawn_by", withdrawn_by, store.STAFF_NAME_LENGTH),
        ]
        if problems:
            raise InvalidRequestError(problems)
        with self._engine.begin() as conn:
            store.lock_period(conn)
            self._visible(conn, Staff(), child_id)
            self._require_not_withdrawn(conn, child_id)
            answered = store.decisions_of(conn, child_id)
            if answered:
                number, decision = max(answered.items())
                raise ConflictError(
                    f"the offer of round {number} was answered ({decision}); answers are final"
                )
            next_round_number = len(store.load_rounds(conn)) + 1
            store.add_withdrawal(
                conn,
                Withdrawal(child_id, reason.strip(), withdrawn_by.strip(), self._clock(),
                           next_round_number),
            )
            view = self._view(conn, Staff(), child_id)
        log.info("kita: an application was withdrawn by staff before round %d", next_round_number)
        return view

    def duplicates(self) -> list[list[str]]:
        """Child ids applied for by more than one family under the same name and date of birth.

        Staff decide (same child of separated parents, or an invented copy); nothing is
        refused automatically.
        """
        with self._engine.connect() as conn:
            return store.shared_child_keys(conn)

    # -- rounds, results, decisions ----------------------------------------------------------

    def run_round(self, seed: int | None = None) -> RoundRow:
        """Run the next round and store it.

        Round 1 needs the deadline passed; it draws the lottery from ``seed`` (a random one
        when ``None``), stores seed and numbers, and allocates everybody. Later rounds take
        no seed; they need an answer to every offer of the previous round and at least one
        child still waiting.
        """
        if seed is not None and not 0 <= seed <= MAX_SEED:
            raise InvalidRequestError([FieldProblem("seed", f"must be in 0..{MAX_SEED}")])
        try:
            with self._engine.begin() as conn:
                store.lock_period(conn)
                done = store.load_rounds(conn)
                now = self._clock()
                if done:
                    if seed is not None:
                        msg = "only the first round draws the lottery; later rounds reverse it"
                        raise InvalidRequestError([FieldProblem("seed", msg)])
                    history = self._replay(conn, done)
                    round_ = self._next_round(conn, history.rounds[-1])
                    used_seed = None
                else:
                    history = _NO_HISTORY
                    round_, used_seed = self._first_round(conn, seed, now)
                offers = len(round_.offers())
                row = RoundRow(
                    round_.number,
                    used_seed,
                    round_.lottery_descending,
                    now,
                    len(round_.placements),
                    offers,
                )
                store.add_round(conn, row, round_.placements)
        except IntegrityError as exc:
            raise ConflictError("another round was stored at the same moment") from exc
        self._remember(history, round_)
        log.info(
            "kita round %d: %d children took part, %d offers, %d without an offer",
            row.number,
            row.participants,
            row.offers,
            row.participants - row.offers,
        )
        return row

    def rounds(self) -> list[RoundRow]:
        """Every round run so far."""
        with self._engine.connect() as conn:
            return store.load_rounds(conn)

    def cutoffs(self, round_number: int) -> list[Cutoff]:
        """Every Kita's cutoff in one round (the priority of the last child it admitted)."""
        with self._engine.connect() as conn:
            history = self._replay(conn, store.load_rounds(conn))
        if not 1 <= round_number <= len(history.rounds):
            raise NotFoundError(f"no round {round_number}")
        return cutoffs(history.rounds[round_number - 1])

    def result(self, viewer: Viewer, child_id: str) -> ChildResult:
        """A child's standing, offers and explanations in every round it took part in."""
        with self._engine.connect() as conn:
            self._visible(conn, viewer, child_id)
            history = self._replay(conn, store.load_rounds(conn))
            decisions = store.decisions_of(conn, child_id)
            withdrawal = store.load_withdrawals(conn, child_id).get(child_id)
        return _child_result(child_id, history, decisions, withdrawal)

    def results(self) -> list[ChildResult]:
        """Every child's standing (staff), in order of submission."""
        with self._engine.connect() as conn:
            apps = store.load_applications(conn)
            rows = store.load_rounds(conn)
            history = self._replay(conn, rows)
            by_round = {row.number: store.load_decisions(conn, row.number) for row in rows}
            withdrawals = store.load_withdrawals(conn)
        return [
            _child_result(
                app.child_id,
                history,
                {
                    number: decisions[app.child_id]
                    for number, decisions in by_round.items()
                    if app.child_id in decisions
                },
                withdrawals.get(app.child_id),
            )
            for app in apps
        ]

    def decide(self, viewer: Viewer, child_id: str, decision: Decision) -> ChildResult:
        """Record the answer to the child's offer in the latest round; answers are final."""
        with self._engine.begin() as conn:
            store.lock_period(conn)
            self._visible(conn, viewer, child_id)
            self._require_not_withdrawn(conn, child_id)
            rows = store.load_rounds(conn)
            if not rows:
                raise ConflictError("no round has been run yet: there is no offer to answer")
            number = rows[-1].number
            if store.offer_of(conn, number, child_id) is None:
                raise ConflictError(f"no offer in round {number} to answer")
            earlier = store.decisions_of(conn, child_id).get(number)
            if earlier is None:
                store.add_decision(conn, number, child_id, decision, self._clock())
            elif earlier is not decision:
                raise ConflictError(
                    f"the offer was already answered ({earlier}); answers are final"
                )
        log.info("kita round %d: an offer was answered", number)
        return self.result(viewer, child_id)

    def results_csv(self, round_number: int) -> str:
        """A round's results in the ``R.csv`` format of :mod:`~central_hub.kita.csv_io`."""
        with self._engine.connect() as conn:
            if round_number not in {row.number for row in store.load_rounds(conn)}:
                raise NotFoundError(f"no round {round_number}")
            placements = store.load_placements(conn, round_number)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(RESULT_COLUMNS)
        writer.writerows(
            (
                p.child_id,
                p.kita_id or "",
                "" if p.choice_rank is None else p.choice_rank,
                p.lottery,
            )
            for p in placements
        )
        return out.getvalue()

    # -- internals ---------------------------------------------------------------------------

    def _visible(self, conn: Connection, viewer: Viewer, child_id: str) -> StoredApplication:
        app = store.load_application(conn, child_id)
        if app is None or (isinstance(viewer, Family) and app.family_id != viewer.family_id):
            raise NotFoundError("no such application")
        return app

    def _view(self, conn: Connection, viewer: Viewer, child_id: str) -> ApplicationView:
        app = self._visible(conn, viewer, child_id)
        checks = store.latest_claim_checks(conn, child_id).get(child_id, {})
        withdrawal = store.load_withdrawals(conn, child_id).get(child_id)
        return ApplicationView(app, claim_statuses(app, checks), withdrawal)

    def _require_not_withdrawn(self, conn: Connection, child_id: str) -> None:
        if store.load_withdrawals(conn, child_id):
            raise ConflictError("the application was withdrawn by the city")

    def _require_new_child(self, conn: Connection, app: StoredApplication) -> None:
        other = store.application_with_key(conn, app.family_id, app.child_key)
        if other is not None and other != app.child_id:
            raise ConflictError(
                f"this child (same name and date of birth) already has an application: {other}"
            )

    def _require_no_rounds(self, conn: Connection, what: str) -> None:
        if store.load_rounds(conn):
            raise ConflictError(f"the allocation has started: {what}")

    def _require_open(self, conn: Connection, period: store.Period) -> None:
        deadline = period.deadline
        if deadline is None:
            raise ConflictError("no application period is open")
        if self._clock() >= deadline or store.load_rounds(conn):
            raise ConflictError(
                f"the application deadline {deadline.isoformat()} has passed: "
                "applications can no longer be submitted, changed or withdrawn"
            )

    def _checked(
        self,
        conn: Connection,
        data: ApplicationInput,
        *,
        child_id: str,
        family_id: str,
        submitted_at: datetime,
        updated_at: datetime,
    ) -> StoredApplication:
        app = StoredApplication(
            child_id=child_id,
            family_id=family_id,
            child_name=data.child_name,
            date_of_birth=data.date_of_birth,
            child_key=child_key(data.child_name, data.date_of_birth),
            age_group=data.age_group,
            choices=data.choices,
            sibling_kita=data.sibling_kita,
            hardship=data.hardship,
            lat=data.lat,
            lon=data.lon,
            submitted_at=submitted_at,
            updated_at=updated_at,
        )
        problems = _application_problems(store.load_kitas(conn), _record(app, 0), data.child_name)
        problems += _birth_problems(data.date_of_birth, self._clock().date())
        if problems:
            raise InvalidRequestError(problems)
        return app

    def _first_round(self, conn: Connection, seed: int | None, now: datetime) -> tuple[Round, int]:
        deadline = store.read_period(conn).deadline
        if deadline is None:
            raise ConflictError("no application deadline is set: the first round runs after it")
        if now < deadline:
            raise ConflictError(
                f"applications are open until {deadline.isoformat()}: "
                "the first round runs after the deadline"
            )
        used_seed = secrets.randbelow(MAX_SEED + 1) if seed is None else seed
        withdrawn = store.load_withdrawals(conn)
        apps = [app for app in store.load_applications(conn) if app.child_id not in withdrawn]
        numbers = draw_lottery([app.child_id for app in apps], used_seed)
        checks = store.latest_claim_checks(conn)
        records = [
            _record(app, number, verified_claims(app, checks.get(app.child_id, {})))
            for app, number in zip(apps, numbers, strict=True)
        ]
        kitas = store.load_kitas(conn)
        problems = find_problems(kitas, records)
        if problems:
            shown = "; ".join(_describe(p, kitas, records) for p in problems[:25])
            raise ConflictError(f"the stored data break {len(problems)} rules: {shown}")
        round_ = _allocate(first_round, kitas, records)
        store.save_lottery(
            conn, ((app.child_id, number) for app, number in zip(apps, numbers, strict=True))
        )
        return round_, used_seed

    def _next_round(self, conn: Connection, last: Round) -> Round:
        decisions = store.load_decisions(conn, last.number)
        withdrawn = _withdrawn_before(store.load_withdrawals(conn), last.number + 1)
        offers = last.offers()
        missing = sum(1 for c in offers if c not in decisions and c not in withdrawn)
        if missing:
            raise ConflictError(
                f"{missing} of {len(offers)} offers of round {last.number} await an answer"
            )
        if all(p.kita_id is not None or p.child_id in withdrawn for p in last.placements):
            raise ConflictError(f"no child is waiting for a place after round {last.number}")
        return _allocate(next_round, last, decisions, withdrawn)

    def _replay(self, conn: Connection, rows: Sequence[RoundRow]) -> _History:
        with self._lock:
            cached = self._history
        if len(cached.rounds) == len(rows):
            return cached
        history = _NO_HISTORY
        if rows:
            kitas = store.load_kitas(conn)
            lottery = store.load_lottery(conn)
            checks = store.latest_claim_checks(conn)
            withdrawals = store.load_withdrawals(conn)
            records = [
                _record(
                    app, lottery[app.child_id], verified_claims(app, checks.get(app.child_id, {}))
                )
                for app in store.load_applications(conn)
                if app.child_id in lottery
            ]
            history = history.extend(_allocate(first_round, kitas, records))
            for row in rows[1:]:
                decisions = store.load_decisions(conn, row.number - 1)
                withdrawn = _withdrawn_before(withdrawals, row.number)
                history = history.extend(
                    _allocate(next_round, history.rounds[-1], decisions, withdrawn)
                )
            for row, round_ in zip(rows, history.rounds, strict=True):
                if store.load_placements(conn, row.number) != list(round_.placements):
                    log.error(
                        "kita round %d: the stored result differs from its replay", row.number
                    )
                    raise AllocationFailedError(
                        f"round {row.number} as stored differs from its replay"
                    )
        with self._lock:
            if len(history.rounds) > len(self._history.rounds):
                self._history = history
        return history

    def _remember(self, before: _History, round_: Round) -> None:
        with self._lock:
            if len(self._history.rounds) == len(before.rounds):
                self._history = before.extend(round_)


def _allocate(run: Callable[_P, Round], *args: _P.args, **kwargs: _P.kwargs) -> Round:
    """Run a domain allocation; its errors become :class:`AllocationFailedError`.

    The domain's messages name children, so they are neither logged nor chained: the log
    gets the kind of failure only.
    """
    try:
        return run(*args, **kwargs)
    except KitaError as exc:
        log.error("kita: allocation withheld (%s)", type(exc).__name__)
        raise AllocationFailedError(
            f"allocation withheld: {type(exc).__name__}; see the stability check"
        ) from None


def _withdrawn_before(withdrawals: Mapping[str, Withdrawal], number: int) -> frozenset[str]:
    """Children withdrawn after round ``number - 1`` ran and before round ``number``."""
    return frozenset(w.child_id for w in withdrawals.values() if w.before_round == number)


def _child_result(
    child_id: str,
    history: _History,
    decisions: Mapping[int, Decision],
    withdrawal: Withdrawal | None = None,
) -> ChildResult:
    outcomes = []
    for round_, placements, explanations in zip(
        history.rounds, history.placements, history.explanations, strict=True
    ):
        placement = placements.get(child_id)
        if placement is not None:
            outcomes.append(
                RoundOutcome(
                    round_.number,
                    placement.kita_id,
                    placement.choice_rank,
                    decisions.get(round_.number),
                    explanations.get(child_id, ()),
                )
            )
    lottery = history.placements[0][child_id].lottery if outcomes else None
    if withdrawal is not None:
        return ChildResult(child_id, Status.WITHDRAWN, None, None, lottery, tuple(outcomes))
    if not outcomes:
        return ChildResult(child_id, Status.PENDING, None, None, None, ())
    last = outcomes[-1]
    if last.kita_id is None:
        status = Status.WAITING
    elif last.decision is None:
        status = Status.OFFERED
    else:
        status = Status.ACCEPTED if last.decision is Decision.ACCEPT else Status.DECLINED
    return ChildResult(child_id, status, last.kita_id, last.choice_rank, lottery, tuple(outcomes))
