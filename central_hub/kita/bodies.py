"""The JSON bodies of the Kita service's HTTP routes: what a request may hold, what a
response shows.

WHY apart from the routes: the bodies are the public shape of the service (clients read
them in the OpenAPI document), the routes only wire them to the use cases. Bounds come from
:mod:`central_hub.kita.domain.limits`, the same the use cases check and the tables are sized
by; the fields of an application are declared once here (:class:`ApplicationFields`), for
the body a family sends and the one it reads back, and a unit test keeps them equal to the
use cases' :class:`~central_hub.kita.model.ApplicationInput`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from central_hub.kita.domain import MAX_CHOICES, Cutoff, Decision, Explanation
from central_hub.kita.domain.limits import (
    AGE_GROUP_LENGTH,
    ID_LENGTH,
    MAX_SEED,
    NAME_LENGTH,
    NOTE_LENGTH,
    STAFF_NAME_LENGTH,
)
from central_hub.kita.model import (
    ApplicationInput,
    ApplicationView,
    ChildResult,
    Claim,
    ClaimState,
    ClaimStatus,
    RoundOutcome,
    Status,
)

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

KitaId = Annotated[str, Field(min_length=1, max_length=ID_LENGTH)]
AgeGroup = Annotated[str, Field(min_length=1, max_length=AGE_GROUP_LENGTH)]
Note = Annotated[str, Field(min_length=1, max_length=NOTE_LENGTH)]
StaffName = Annotated[str, Field(min_length=1, max_length=STAFF_NAME_LENGTH)]


def _date_text(value: object) -> object:
    """Dates come as ``YYYY-MM-DD`` text: JSON has no date type, and a number is no date.
    (A :class:`~datetime.date` passes: a response read from a stored record.)"""
    if not isinstance(value, str | date):
        raise ValueError("expected a date as text: YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text), Field(strict=False)]


class _FromDomain(BaseModel):
    """A response model read field by field from a domain or stored record of the same shape."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: object) -> Self:
        """From the record (same field names)."""
        return cls.model_validate(record)


class KitaFields(BaseModel):
    """A Kita's places for one age group: the fields of the body staff send and anybody reads."""

    name: Annotated[str, Field(max_length=NAME_LENGTH)] = ""
    capacity: int
    lat: float
    lon: float
    catchment_km: float


class KitaIn(KitaFields):
    """A Kita's places for one age group; id and age group come from the path."""

    model_config = _STRICT


class KitaOut(KitaFields, _FromDomain):
    """A Kita's public data: no personal data, anybody may list it."""

    kita_id: str
    age_group: str


class PeriodIn(BaseModel):
    """The application deadline, with a time zone (ISO 8601, e.g. ``2026-03-01T00:00:00+01:00``)."""

    model_config = _STRICT

    deadline: Annotated[AwareDatetime, Field(strict=False)]


class PeriodOut(BaseModel):
    """The deadline, whether applications are open, and how many rounds have run."""

    deadline: datetime | None
    open: bool
    rounds: int


class RegistrationOut(BaseModel):
    """A new family's id and bearer token; the token is shown only this once."""

    family_id: str
    token: str


class ApplicationFields(BaseModel):
    """What a family states for one child: the fields of the body it sends and reads back."""

    child_name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    date_of_birth: IsoDate
    age_group: AgeGroup
    choices: Annotated[list[KitaId], Field(min_length=1, max_length=MAX_CHOICES)]
    sibling_kita: KitaId | None = None
    hardship: bool = False
    lat: float
    lon: float


class ApplicationIn(ApplicationFields):
    """One child's application: ranked Kita ids (best first) and the priority claims.

    ``lat``/``lon`` are the child's home (WGS84); they decide the catchment criterion.
    ``sibling_kita``, ``hardship`` and the home are claims: they count once staff verified
    them. Name and date of birth identify the child within the family (one application each).
    """

    model_config = _STRICT

    def to_input(self) -> ApplicationInput:
        """As the service's input."""
        return ApplicationInput(**{**self.model_dump(), "choices": tuple(self.choices)})


class ClaimOut(BaseModel):
    """A claim's state, and staff's check of the value claimed now (who, when, what)."""

    state: ClaimState
    checked_by: str | None
    checked_at: datetime | None
    note: str | None

    @classmethod
    def of(cls, status: ClaimStatus) -> ClaimOut:
        """From the service's claim status."""
        check = status.check
        if check is None:
            return cls(state=status.state, checked_by=None, checked_at=None, note=None)
        return cls(state=status.state, checked_by=check.checked_by, checked_at=check.checked_at,
                   note=check.note)


class WithdrawalOut(_FromDomain):
    """Staff's withdrawal of an application: why, who, when."""

    reason: str
    withdrawn_by: str
    withdrawn_at: datetime


class ApplicationOut(ApplicationFields):
    """A stored application as its family submitted it, with the state of its claims
    (``sibling``, ``hardship``, ``home``) and staff's withdrawal, if any."""

    child_id: str
    family_id: str
    submitted_at: datetime
    updated_at: datetime
    claims: dict[Claim, ClaimOut]
    withdrawal: WithdrawalOut | None

    @classmethod
    def of(cls, view: ApplicationView) -> ApplicationOut:
        """From the service's view of an application."""
        app = view.application
        return cls(
            **{name: getattr(app, name) for name in ApplicationFields.model_fields},
            child_id=app.child_id,
            family_id=app.family_id,
            submitted_at=app.submitted_at,
            updated_at=app.updated_at,
            claims={status.claim: ClaimOut.of(status) for status in view.claims},
            withdrawal=None if view.withdrawal is None else WithdrawalOut.of(view.withdrawal),
        )


class ClaimCheckIn(BaseModel):
    """Staff's check of one claim: the verdict, what was checked (e.g. "Jugendamt letter of
    12 Feb seen"), and who checked it."""

    model_config = _STRICT

    verdict: Literal["verified", "rejected"]
    note: Note
    checked_by: StaffName


class WithdrawalIn(BaseModel):
    """Why staff withdraw an application, and who does."""

    model_config = _STRICT

    reason: Note
    withdrawn_by: StaffName


class DuplicateOut(BaseModel):
    """Applications of different families for a child of the same name and date of birth."""

    child_ids: list[str]



class PriorityOut(_FromDomain):
    """A standing in the published criteria: sibling, hardship, catchment, lottery number."""

    sibling: bool
    hardship: bool
    in_catchment: bool
    lottery: int



class ExplanationOut(BaseModel):
    """Why a choice was not obtained: the child's own priority there and the Kita's cutoff.

    ``cutoff`` is the priority of the last child admitted, ``null`` when places stayed free.
    """

    choice_rank: int
    kita_id: str
    reason: str
    priority: PriorityOut
    cutoff: PriorityOut | None

    @classmethod
    def of(cls, row: Explanation) -> ExplanationOut:
        """From the domain's explanation row."""
        return cls(
            choice_rank=row.choice_rank,
            kita_id=row.kita_id,
            reason=row.reason.value,
            priority=PriorityOut.of(row.priority),
            cutoff=None if row.cutoff is None else PriorityOut.of(row.cutoff),
        )


class RoundOutcomeOut(BaseModel):
    """One round a child took part in: the offer (or none), the answer, the explanations."""

    round: int
    kita_id: str | None
    choice_rank: int | None
    decision: Decision | None
    explanations: list[ExplanationOut]

    @classmethod
    def of(cls, outcome: RoundOutcome) -> RoundOutcomeOut:
        """From the service's outcome."""
        return cls(
            round=outcome.number,
            kita_id=outcome.kita_id,
            choice_rank=outcome.choice_rank,
            decision=outcome.decision,
            explanations=[ExplanationOut.of(row) for row in outcome.explanations],
        )


class ResultSummaryOut(_FromDomain):
    """A child's standing: status, current offer or accepted place, lottery number."""

    child_id: str
    status: Status
    kita_id: str | None
    choice_rank: int | None
    lottery: int | None


class ResultOut(ResultSummaryOut):
    """A child's standing with every round it took part in and its explanations."""

    rounds: list[RoundOutcomeOut]

    @classmethod
    def with_rounds(cls, result: ChildResult) -> Self:
        """From the service's result."""
        return cls(
            **ResultSummaryOut.of(result).model_dump(),
            rounds=[RoundOutcomeOut.of(outcome) for outcome in result.rounds],
        )


class DecisionIn(BaseModel):
    """A family's answer to its offer in the latest round; final once given."""

    model_config = _STRICT

    decision: Literal["accept", "decline"]


class RoundIn(BaseModel):
    """Options of a round: the lottery seed, for round 1 only (random when omitted)."""

    model_config = _STRICT

    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None


class RoundOut(_FromDomain):
    """A round's summary; ``seed`` is the published seed of round 1's lottery."""

    number: int
    seed: int | None
    lottery_descending: bool
    run_at: datetime
    participants: int
    offers: int



class CutoffOut(BaseModel):
    """A Kita's outcome in one round: places, children admitted, the last one's priority."""

    kita_id: str
    age_group: str
    places: int
    admitted: int
    last_admitted: PriorityOut | None

    @classmethod
    def of(cls, cutoff: Cutoff) -> CutoffOut:
        """From the domain's cutoff."""
        return cls(
            kita_id=cutoff.kita_id,
            age_group=cutoff.age_group,
            places=cutoff.places,
            admitted=cutoff.admitted,
            last_admitted=(
                None if cutoff.last_admitted is None else PriorityOut.of(cutoff.last_admitted)
            ),
        )
