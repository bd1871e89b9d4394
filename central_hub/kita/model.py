"""The records the Kita service's use cases take and give.

What a family states, what is stored, what a caller sees.

WHY apart from the use cases: the store reads and writes these records, the HTTP routes
turn them into bodies and the CLI and tests build them, so they sit where every adapter can
import them without importing the service (or the service's database). The fields of an
application are written once, in :class:`ApplicationInput`; the stored record extends it.
The allocation's own records (:class:`~central_hub.kita.domain.Application`) are the
domain's: they hold only what the rules read.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum

from central_hub.core.identity import Kind, Principal, Role
from central_hub.kita.domain import Decision, Explanation
from central_hub.kita.settings import KitaSettings


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
class StoredApplication(ApplicationInput):
    """One child's application as stored: what the family stated, plus its id, family, the
    child key (:func:`~central_hub.kita.checks.child_key`) and the timestamps.

    The lottery is not part of it: it does not exist before round 1 and lives in its own
    table.
    """

    child_id: str
    family_id: str
    child_key: str
    submitted_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls,
        data: ApplicationInput,
        *,
        child_id: str,
        family_id: str,
        child_key: str,
        submitted_at: datetime,
        updated_at: datetime,
    ) -> StoredApplication:
        """What ``data`` states, with the fields the service sets."""
        stated = {f.name: getattr(data, f.name) for f in fields(ApplicationInput)}
        return cls(**stated, child_id=child_id, family_id=family_id, child_key=child_key,
                   submitted_at=submitted_at, updated_at=updated_at)


@dataclass(frozen=True, slots=True)
class Period:
    """The application deadline (``None`` until staff set one)."""

    deadline: datetime | None


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



@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """One check of a priority claim by staff: the verdict on ``value`` and what was checked."""

    child_id: str
    claim: str
    verdict: str
    value: str
    note: str
    checked_by: str
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An application staff withdrew: why, who, when, and the round it no longer takes part in.

    ``before_round`` is the number of the round run next when it was withdrawn: 1 keeps it out
    of the allocation altogether; ``n`` > 1 frees its offer of round ``n - 1`` or keeps it out
    of round ``n``.
    """

    child_id: str
    reason: str
    withdrawn_by: str
    withdrawn_at: datetime
    before_round: int


@dataclass(frozen=True, slots=True)
class RoundRow:
    """A round's summary: the seed (round 1 only), lottery direction and counts."""

    number: int
    seed: int | None
    lottery_descending: bool
    run_at: datetime
    participants: int
    offers: int

