"""The Kita allocation's use cases for families and city staff, free of HTTP and SQL.

WHY a service between the API and the domain: the rules about *when* something may happen
(applications only until the deadline, Kitas and deadline fixed once the allocation started,
a further round only when every offer is answered) and *who* may see what (a family only its
own children) must hold for any adapter, and tests check them without a web server. The
allocation itself stays in :mod:`central_hub.kita.domain`; this module only feeds it stored
records and stores what it returns.

Rounds are stored (seed, lottery, placements, decisions) and, when a family asks for its
explanation, replayed from the stored input (:mod:`central_hub.kita.allocation`); the
replay is cached per number of rounds.

Nothing is taken on trust that would move a child up (twenty anonymous families with invented
"hardship + sibling" children must not push one real applicant out):

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
counts. Errors and the status code each is answered with: :mod:`central_hub.kita.errors`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from central_hub.core.ratelimit import RateLimiter, retry_after
from central_hub.core.tokens import token_digest
from central_hub.kita import store
from central_hub.kita.allocation import (
    NO_HISTORY,
    History,
    allocation_record,
    child_result,
    first_round_of,
    next_round_of,
    replay,
)
from central_hub.kita.checks import (
    application_problems,
    birth_problems,
    child_key,
    kita_problems,
    text_problems,
)
from central_hub.kita.claims import claim_statuses, claimed_value
from central_hub.kita.domain import (
    Cutoff,
    Decision,
    KitaPlaces,
    Placement,
    Round,
    cutoffs,
    find_problems,
)
from central_hub.kita.domain.limits import MAX_SEED, NOTE_LENGTH, STAFF_NAME_LENGTH
from central_hub.kita.errors import (
    ConflictError,
    FieldProblem,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
)
from central_hub.kita.guards import (
    require_new_child,
    require_no_rounds,
    require_not_withdrawn,
    require_open,
    view_of,
    visible,
)
from central_hub.kita.model import (
    ApplicationInput,
    ApplicationView,
    ChildResult,
    Claim,
    ClaimCheck,
    Family,
    KitaLimits,
    PeriodView,
    Registration,
    RoundRow,
    Staff,
    Status,
    StoredApplication,
    Verdict,
    Viewer,
    Withdrawal,
)
from central_hub.kita.settings import KitaSettings

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_DEFAULT_LIMITS = KitaLimits()


class KitaService:
    """The Kita allocation of one hub: families, applications, Kitas, deadline and rounds.

    Build one per process when the hub mounts the service (:mod:`central_hub.kita.mount`,
    which first creates the tables) and keep it on ``app.state.kita``. ``clock`` is
    injected so tests can put the deadline behind them without waiting.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _utc_now,
        limits: KitaLimits = _DEFAULT_LIMITS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.limits = limits
        self._registrations = RateLimiter(
            burst=limits.registration_burst,
            period_s=3600.0 / limits.registrations_per_hour,
            clock=monotonic,
        )
        self._lock = threading.Lock()
        self._history = NO_HISTORY

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
        problems = kita_problems(kita)
        if problems:
            raise InvalidRequestError(problems)
        with self._engine.begin() as conn:
            store.lock_period(conn)
            require_no_rounds(conn, "Kitas and capacities are fixed")
            created = store.save_kita(conn, kita)
        log.info("kita: places of a Kita saved (%d places)", kita.capacity)
        return created

    def delete_kita(self, kita_id: str, age_group: str) -> None:
        """Remove one Kita's places for an age group, unless an application depends on them."""
        with self._engine.begin() as conn:
            store.lock_period(conn)
            require_no_rounds(conn, "Kitas and capacities are fixed")
            kitas = store.load_kitas(conn)
            remaining = [k for k in kitas if (k.kita_id, k.age_group) != (kita_id, age_group)]
            if len(remaining) == len(kitas):
                raise NotFoundError(f"no Kita {kita_id!r} with places for {age_group!r}")
            apps = store.load_applications(conn)
            records = [allocation_record(app, number) for number, app in enumerate(apps)]
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
            require_no_rounds(conn, "the deadline is fixed")
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
                require_open(conn, store.lock_period(conn), self._clock())
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
                require_new_child(conn, app)
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
                current = visible(conn, family, child_id)
                require_not_withdrawn(conn, child_id)
                require_open(conn, period, self._clock())
                app = self._checked(
                    conn,
                    data,
                    child_id=child_id,
                    family_id=family.family_id,
                    submitted_at=current.submitted_at,
                    updated_at=self._clock(),
                )
                require_new_child(conn, app)
                store.replace_application(conn, app)
        except IntegrityError as exc:
            raise ConflictError("this child already has an application") from exc
        log.info("kita: an application was changed")
        return app

    def withdraw(self, family: Family, child_id: str) -> None:
        """Delete an application of ``family`` while applications are open; nothing is kept."""
        with self._engine.begin() as conn:
            period = store.lock_period(conn)
            visible(conn, family, child_id)
            require_not_withdrawn(conn, child_id)
            require_open(conn, period, self._clock())
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
            return visible(conn, viewer, child_id)

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
            return view_of(conn, viewer, child_id)

    # -- checks by staff -------------------------------------------------------------------

    def verify_claim(
        self, child_id: str, claim: Claim, verdict: Verdict, *, note: str, checked_by: str
    ) -> ApplicationView:
        """Record staff's check of a claim (staff only): what was checked, by whom, the verdict.

        The check applies to the value claimed now; if the family changes it, the claim is
        unverified again. Claims are fixed once round 1 ran (it was allocated on them).
        """
        problems = [
            *text_problems("note", note, NOTE_LENGTH),
            *text_problems("checked_by", checked_by, STAFF_NAME_LENGTH),
        ]
        if problems:
            raise InvalidRequestError(problems)
        with self._engine.begin() as conn:
            store.lock_period(conn)
            app = visible(conn, Staff(), child_id)
            require_no_rounds(conn, "claims are fixed")
            require_not_withdrawn(conn, child_id)
            value = claimed_value(app, claim)
            if value is None:
                raise ConflictError(f"the application claims no {claim}")
            store.add_claim_check(
                conn,
                ClaimCheck(child_id, claim.value, verdict.value, value, note.strip(),
                           checked_by.strip(), self._clock()),
            )
            view = view_of(conn, Staff(), child_id)
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
            *text_problems("reason", reason, NOTE_LENGTH),
            *text_problems("withdrawn_by", withdrawn_by, STAFF_NAME_LENGTH),
        ]
        if problems:
            raise InvalidRequestError(problems)
        with self._engine.begin() as conn:
            store.lock_period(conn)
            visible(conn, Staff(), child_id)
            require_not_withdrawn(conn, child_id)
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
            view = view_of(conn, Staff(), child_id)
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
                    round_ = next_round_of(conn, history.rounds[-1])
                    used_seed = None
                else:
                    history = NO_HISTORY
                    round_, used_seed = first_round_of(conn, seed, now)
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
            visible(conn, viewer, child_id)
            history = self._replay(conn, store.load_rounds(conn))
            decisions = store.decisions_of(conn, child_id)
            withdrawal = store.load_withdrawals(conn, child_id).get(child_id)
        return child_result(child_id, history, decisions, withdrawal)

    def results(self) -> list[ChildResult]:
        """Every child's standing (staff), in order of submission."""
        with self._engine.connect() as conn:
            apps = store.load_applications(conn)
            rows = store.load_rounds(conn)
            history = self._replay(conn, rows)
            by_round = {row.number: store.load_decisions(conn, row.number) for row in rows}
            withdrawals = store.load_withdrawals(conn)
        return [
            child_result(
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

    def statistics(self) -> tuple[list[KitaPlaces], list[tuple[str, str, int | None]]]:
        """For the city's statistics (the open-data service): every Kita's places, and per
        application only its first choice, age group and the wish rank of its current offer
        or place (``None``: none). No child id, name, birth date or home leaves here."""
        standing = {r.child_id: r.choice_rank for r in self.results()
                    if r.status in (Status.OFFERED, Status.ACCEPTED)}
        with self._engine.connect() as conn:
            apps = store.load_applications(conn)
        return self.kitas(), [(a.choices[0], a.age_group, standing.get(a.child_id))
                              for a in apps if a.choices]

    def decide(self, viewer: Viewer, child_id: str, decision: Decision) -> ChildResult:
        """Record the answer to the child's offer in the latest round; answers are final."""
        with self._engine.begin() as conn:
            store.lock_period(conn)
            visible(conn, viewer, child_id)
            require_not_withdrawn(conn, child_id)
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

    def placements(self, round_number: int) -> list[Placement]:
        """A round's placements in order of submission (staff), e.g. for the ``R.csv`` export."""
        with self._engine.connect() as conn:
            if round_number not in {row.number for row in store.load_rounds(conn)}:
                raise NotFoundError(f"no round {round_number}")
            return store.load_placements(conn, round_number)

    # -- internals ---------------------------------------------------------------------------

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
        app = StoredApplication.of(
            data,
            child_id=child_id,
            family_id=family_id,
            child_key=child_key(data.child_name, data.date_of_birth),
            submitted_at=submitted_at,
            updated_at=updated_at,
        )
        kitas = store.load_kitas(conn)
        problems = application_problems(kitas, allocation_record(app, 0), data.child_name)
        problems += birth_problems(data.date_of_birth, self._clock().date())
        if problems:
            raise InvalidRequestError(problems)
        return app

    def _replay(self, conn: Connection, rows: list[RoundRow]) -> History:
        with self._lock:
            cached = self._history
        if len(cached.rounds) == len(rows):
            return cached
        history = replay(conn, rows)
        with self._lock:
            if len(history.rounds) > len(self._history.rounds):
                self._history = history
        return history

    def _remember(self, before: History, round_: Round) -> None:
        with self._lock:
            if len(self._history.rounds) == len(before.rounds):
                self._history = before.extend(round_)
