"""The hub's HTTP API for the Kita allocation: families apply, city staff allocate.

WHY a router factory reading a service from ``app.state``: the hub builds its services in
the lifespan (nothing at import time, docs/design.md), so the router holds no engine or token; each
request finds the :class:`~central_hub.kita.service.KitaService` on ``request.app.state.kita``.
Tests build an app with just this router and a service on SQLite or PostgreSQL.

Mounting in the hub (``central_hub/app.py``)::

    from central_hub.kita.api import RedactChildIds, create_kita_router
    from central_hub.kita.service import KitaService

    # in the lifespan, after ``hub = Hub(...)`` (creates the kita_* tables in the Kita
    # database; its families are resolved by the hub's one identity resolver):
    app.state.kita = KitaService.from_settings(kita_engine, runtime.settings.kita)
    hub.identity.add_family_lookup(app.state.kita.family_of_token)

    # in create_app, beside the other routers:
    app.include_router(create_kita_router(), prefix="/api/v1/kita")

    # once per process where uvicorn is started (child ids appear in request paths):
    logging.getLogger("uvicorn.access").addFilter(RedactChildIds())

Roles: *public* lists Kitas and the period and registers a family (rate-limited per client
address: 429 with ``Retry-After``); a *family* (bearer token from ``POST /families``) submits,
edits and withdraws its own applications until the deadline — one per child, a few per
family — reads their results and answers offers; another family's child is always 404, never
403, so nobody learns that it exists; *staff* (principals holding ``kita_staff``) manage Kitas
and the deadline, check the priority claims (only verified ones count), withdraw
applications with a reason, see children applied for by two families, run rounds, read every
application and result and export ``R.csv``. Who may call which route is decided by the hub's
authorisation matrix (:mod:`central_hub.core.authz`, an app-wide dependency), not here: no
token or an unknown one: 401; the wrong principal: 403. Bodies are validated strictly
(unknown fields, wrong types, broken allocation rules: 422 naming the field) and limited in
size by the hub (``edge_agent.http_limits``). Responses to authenticated requests carry
``Cache-Control: no-store``. Nothing personal is logged here or in the service — no client
address either; child ids do appear in request paths, hence :class:`RedactChildIds` on the
``uvicorn.access`` logger (or no access log at all).
Endpoints and policy: ``docs/kita.md``, *HTTP API*.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from central_hub.api.deps import PrincipalDep
from central_hub.kita.domain import (
    MAX_CHOICES,
    Cutoff,
    Decision,
    Explanation,
    KitaPlaces,
)
from central_hub.kita.service import (
    MAX_SEED,
    AllocationFailedError,
    ApplicationInput,
    ApplicationView,
    ChildResult,
    Claim,
    ClaimState,
    ClaimStatus,
    ConflictError,
    Family,
    InvalidRequestError,
    KitaService,
    NotFoundError,
    RateLimitedError,
    RoundOutcome,
    Status,
    Verdict,
    Viewer,
    viewer_of,
)
from central_hub.kita.store import (
    AGE_GROUP_LENGTH,
    ID_LENGTH,
    NAME_LENGTH,
    NOTE_LENGTH,
    STAFF_NAME_LENGTH,
)

_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

KitaId = Annotated[str, Field(min_length=1, max_length=ID_LENGTH)]
AgeGroup = Annotated[str, Field(min_length=1, max_length=AGE_GROUP_LENGTH)]
KitaIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
AgeGroupPath = Annotated[str, Path(min_length=1, max_length=AGE_GROUP_LENGTH)]
ChildIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
RoundPath = Annotated[int, Path(ge=1)]
ClaimPath = Annotated[Claim, Path(description="sibling, hardship or home")]
Note = Annotated[str, Field(min_length=1, max_length=NOTE_LENGTH)]
StaffName = Annotated[str, Field(min_length=1, max_length=STAFF_NAME_LENGTH)]


def _date_text(value: object) -> object:
    """Dates come as ``YYYY-MM-DD`` text: JSON has no date type, and a number is no date."""
    if not isinstance(value, str):
        raise ValueError("expected a date as text: YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text), Field(strict=False)]

_CHOICE_FIELD = re.compile(r"choice([0-9]+)")


# -- request and response bodies -----------------------------------------------------------


class _FromDomain(BaseModel):
    """A response model read field by field from a domain or stored record of the same shape."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: object) -> Self:
        """From the record (same field names)."""
        return cls.model_validate(record)


class KitaIn(BaseModel):
    """A Kita's places for one age group; id and age group come from the path."""

    model_config = _STRICT

    name: Annotated[str, Field(max_length=NAME_LENGTH)] = ""
    capacity: int
    lat: float
    lon: float
    catchment_km: float


class KitaOut(_FromDomain):
    """A Kita's public data: no personal data, anybody may list it."""

    kita_id: str
    name: str
    age_group: str
    capacity: int
    lat: float
    lon: float
    catchment_km: float



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


class ApplicationIn(BaseModel):
    """One child's application: ranked Kita ids (best first) and the priority claims.

    ``lat``/``lon`` are the child's home (WGS84); they decide the catchment criterion.
    ``sibling_kita``, ``hardship`` and the home are claims: they count once staff verified
    them. Name and date of birth identify the child within the family (one application each).
    """

    model_config = _STRICT

    child_name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    date_of_birth: IsoDate
    age_group: AgeGroup
    choices: Annotated[list[KitaId], Field(min_length=1, max_length=MAX_CHOICES)]
    sibling_kita: KitaId | None = None
    hardship: bool = False
    lat: float
    lon: float

    def to_input(self) -> ApplicationInput:
        """As the service's input."""
        return ApplicationInput(
            child_name=self.child_name,
            age_group=self.age_group,
            choices=tuple(self.choices),
            sibling_kita=self.sibling_kita,
            hardship=self.hardship,
            lat=self.lat,
            lon=self.lon,
            date_of_birth=self.date_of_birth,
        )


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


class ApplicationOut(BaseModel):
    """A stored application as its family submitted it, with the state of its claims
    (``sibling``, ``hardship``, ``home``) and staff's withdrawal, if any."""

    child_id: str
    family_id: str
    child_name: str
    date_of_birth: date
    age_group: str
    choices: list[str]
    sibling_kita: str | None
    hardship: bool
    lat: float
    lon: float
    submitted_at: datetime
    updated_at: datetime
    claims: dict[Claim, ClaimOut]
    withdrawal: WithdrawalOut | None

    @classmethod
    def of(cls, view: ApplicationView) -> ApplicationOut:
        """From the service's view of an application."""
        app = view.application
        return cls(
            child_id=app.child_id,
            family_id=app.family_id,
            child_name=app.child_name,
            date_of_birth=app.date_of_birth,
            age_group=app.age_group,
            choices=list(app.choices),
            sibling_kita=app.sibling_kita,
            hardship=app.hardship,
            lat=app.lat,
            lon=app.lon,
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


# -- errors, logging ------------------------------------------------------------------------


def _location(field: str, request: Request) -> list[str | int]:
    if field in request.path_params:
        return ["path", field]
    choice = _CHOICE_FIELD.fullmatch(field)
    if choice is not None:
        return ["body", "choices", int(choice.group(1)) - 1]
    return ["body", field]


class _KitaRoute(APIRoute):
    """Maps the service's errors to status codes, shaped like FastAPI's own 422s.

    A route class rather than app-wide exception handlers, so the router brings its error
    mapping along wherever it is mounted. Messages go to the caller only, never to the log.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except InvalidRequestError as exc:
                detail = [
                    {"type": "value_error", "loc": _location(p.field, request), "msg": p.message}
                    for p in exc.problems
                ]
                response = JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)
            except NotFoundError as exc:
                response = JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)
            except ConflictError as exc:
                response = JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)
            except RateLimitedError as exc:
                response = JSONResponse(
                    {"detail": str(exc)},
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(exc.retry_after)},
                )
            except AllocationFailedError as exc:
                response = JSONResponse({"detail": str(exc)}, status.HTTP_500_INTERNAL_SERVER_ERROR)
            if "authorization" in request.headers:
                response.headers["Cache-Control"] = "no-store"
            return response

        return guarded


class RedactChildIds(logging.Filter):
    """Replaces child ids in logged Kita request paths by ``{child_id}``.

    Attach it to ``uvicorn.access``: the access log prints every path, and a child id is
    personal data.
    """

    _PATH = re.compile(r"(/applications/)[^/?#\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message arguments; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._PATH.sub(r"\1{child_id}", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = self._PATH.sub(r"\1{child_id}", record.msg)
        return True


# -- dependencies ---------------------------------------------------------------------------

def get_kita_service(request: Request) -> KitaService:
    """The :class:`KitaService` the hub's lifespan put on ``app.state.kita``."""
    service: KitaService = request.app.state.kita
    return service


ServiceDep = Annotated[KitaService, Depends(get_kita_service)]


def require_viewer(principal: PrincipalDep) -> Viewer:
    """The caller's view of the applications: a family's own, or staff's.

    Whether the caller may call the route at all was decided by the hub's authorisation
    matrix (:mod:`central_hub.core.authz`); this only narrows the principal to the service's
    view, and refuses (403) what the matrix should never have let through.
    """
    viewer = viewer_of(principal)
    if viewer is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a family or Kita staff token is required")
    return viewer


ViewerDep = Annotated[Viewer, Depends(require_viewer)]


def require_family(viewer: ViewerDep) -> Family:
    """A family (the matrix lets only families call these routes)."""
    if not isinstance(viewer, Family):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a family token is required")
    return viewer


FamilyDep = Annotated[Family, Depends(require_family)]


# -- the router -----------------------------------------------------------------------------


def create_kita_router() -> APIRouter:
    """The Kita API's routes; mount with ``prefix="/api/v1/kita"`` (see the module docstring)."""
    router = APIRouter(tags=["kita"], route_class=_KitaRoute)

    @router.get("/kitas")
    def list_kitas(service: ServiceDep) -> list[KitaOut]:
        """Every Kita's places per age group (public: no personal data)."""
        return [KitaOut.of(kita) for kita in service.kitas()]

    @router.put("/kitas/{kita_id}/{age_group}", responses={201: {"model": KitaOut}})
    def put_kita(
        kita_id: KitaIdPath,
        age_group: AgeGroupPath,
        body: KitaIn,
        service: ServiceDep,
        response: Response,
    ) -> KitaOut:
        """Create (201) or change (200) a Kita's places for an age group; before round 1."""
        kita = KitaPlaces(
            kita_id, body.name, age_group, body.capacity, body.lat, body.lon, body.catchment_km
        )
        if service.save_kita(kita):
            response.status_code = status.HTTP_201_CREATED
        return KitaOut.of(kita)

    @router.delete("/kitas/{kita_id}/{age_group}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_kita(
        kita_id: KitaIdPath, age_group: AgeGroupPath, service: ServiceDep
    ) -> None:
        """Remove a Kita's places for an age group, unless an application names them."""
        service.delete_kita(kita_id, age_group)

    @router.get("/period")
    def get_period(service: ServiceDep) -> PeriodOut:
        """The application deadline and whether applications are open (public)."""
        view = service.period()
        return PeriodOut(deadline=view.deadline, open=view.open, rounds=view.rounds)

    @router.put("/period")
    def put_period(body: PeriodIn, service: ServiceDep) -> PeriodOut:
        """Open, extend or close the application period (a past deadline closes it)."""
        view = service.set_deadline(body.deadline)
        return PeriodOut(deadline=view.deadline, open=view.open, rounds=view.rounds)

    @router.post(
        "/families",
        status_code=status.HTTP_201_CREATED,
        responses={429: {"description": "too many registrations from this address; see "
                                        "the Retry-After header"}},
    )
    def register_family(service: ServiceDep, request: Request) -> RegistrationOut:
        """Register a family; the returned token is its only key and is not shown again.

        Rate-limited per client address (429 with ``Retry-After``).
        """
        client = request.client.host if request.client is not None else "unknown"
        registration = service.register_family(client)
        return RegistrationOut(family_id=registration.family_id, token=registration.token)

    @router.get("/applications")
    def list_applications(service: ServiceDep, caller: ViewerDep) -> list[ApplicationOut]:
        """A family's own applications; staff get every application."""
        return [ApplicationOut.of(view) for view in service.views(caller)]

    @router.post("/applications", status_code=status.HTTP_201_CREATED)
    def submit_application(
        body: ApplicationIn, service: ServiceDep, family: FamilyDep
    ) -> ApplicationOut:
        """Submit an application for one child until the deadline (409 after it, for a child
        already applied for, or beyond the family's limit); its claims start unverified."""
        app = service.submit(family, body.to_input())
        return ApplicationOut.of(service.view(family, app.child_id))

    @router.get("/duplicates")
    def list_duplicates(service: ServiceDep) -> list[DuplicateOut]:
        """Children applied for by more than one family (same name and date of birth)."""
        return [DuplicateOut(child_ids=group) for group in service.duplicates()]

    @router.get("/applications/{child_id}")
    def get_application(
        child_id: ChildIdPath, service: ServiceDep, caller: ViewerDep
    ) -> ApplicationOut:
        """One application: a family's own, or any for staff (404 otherwise)."""
        return ApplicationOut.of(service.view(caller, child_id))

    @router.put("/applications/{child_id}")
    def update_application(
        child_id: ChildIdPath, body: ApplicationIn, service: ServiceDep, family: FamilyDep
    ) -> ApplicationOut:
        """Replace the family's application until the deadline (409 after it); a changed
        claim is unverified again."""
        service.update(family, child_id, body.to_input())
        return ApplicationOut.of(service.view(family, child_id))

    @router.delete("/applications/{child_id}", status_code=status.HTTP_204_NO_CONTENT)
    def withdraw_application(child_id: ChildIdPath, service: ServiceDep, family: FamilyDep) -> None:
        """Withdraw and delete the family's application until the deadline (409 after it)."""
        service.withdraw(family, child_id)

    @router.put("/applications/{child_id}/claims/{claim}")
    def check_claim(
        child_id: ChildIdPath, claim: ClaimPath, body: ClaimCheckIn, service: ServiceDep,
    ) -> ApplicationOut:
        """Record staff's check of a claim (409 once round 1 ran, or if it is not claimed)."""
        return ApplicationOut.of(service.verify_claim(
            child_id, claim, Verdict(body.verdict), note=body.note, checked_by=body.checked_by))

    @router.put("/applications/{child_id}/withdrawal")
    def withdraw_by_staff(
        child_id: ChildIdPath, body: WithdrawalIn, service: ServiceDep
    ) -> ApplicationOut:
        """Withdraw an application with a reason (staff), until its offer is answered."""
        return ApplicationOut.of(service.withdraw_by_staff(
            child_id, reason=body.reason, withdrawn_by=body.withdrawn_by))

    @router.get("/applications/{child_id}/result")
    def get_result(child_id: ChildIdPath, service: ServiceDep, caller: ViewerDep) -> ResultOut:
        """The child's status, offers and, per round, why better choices were missed."""
        return ResultOut.with_rounds(service.result(caller, child_id))

    @router.put("/applications/{child_id}/decision")
    def decide(
        child_id: ChildIdPath, body: DecisionIn, service: ServiceDep, caller: ViewerDep
    ) -> ResultOut:
        """Accept or decline the offer of the latest round (final; staff may record it)."""
        return ResultOut.with_rounds(service.decide(caller, child_id, Decision(body.decision)))

    @router.get("/results")
    def list_results(service: ServiceDep) -> list[ResultSummaryOut]:
        """Every child's status and current offer or place (staff)."""
        return [ResultSummaryOut.of(result) for result in service.results()]

    @router.get("/rounds")
    def list_rounds(service: ServiceDep) -> list[RoundOut]:
        """Every round run so far (staff)."""
        return [RoundOut.of(row) for row in service.rounds()]

    @router.post("/rounds", status_code=status.HTTP_201_CREATED)
    def run_round(service: ServiceDep, body: RoundIn | None = None) -> RoundOut:
        """Run the next round: round 1 after the deadline, later ones once offers are answered."""
        seed = body.seed if body is not None else None
        return RoundOut.of(service.run_round(seed))

    @router.get("/rounds/{number}/cutoffs")
    def get_cutoffs(number: RoundPath, service: ServiceDep) -> list[CutoffOut]:
        """Every Kita's cutoff in a round (staff)."""
        return [CutoffOut.of(cutoff) for cutoff in service.cutoffs(number)]

    @router.get(
        "/rounds/{number}/results.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    def export_results(number: RoundPath, service: ServiceDep) -> Response:
        """A round's results as ``R.csv`` (``child_id,kita_id,choice_rank,lottery``)."""
        return Response(
            service.results_csv(number),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="R-round{number}.csv"'},
        )

    return router
