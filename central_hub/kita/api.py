"""The hub's HTTP API for the Kita allocation: families apply, city staff allocate.

WHY a router factory reading a service from ``app.state``: the hub builds its services in
the lifespan (nothing at import time, docs/design.md), so the router holds no engine or token; each
request finds the :class:`~central_hub.kita.service.KitaService` on ``request.app.state.kita``.
Tests build an app with just this router and a service on SQLite or PostgreSQL.

The hub mounts it with the rest of the service (:mod:`central_hub.kita.mount`) at
``/api/v1/kita``; where uvicorn is started, :class:`RedactChildIds` goes on its access log
(child ids appear in request paths). The bodies: :mod:`central_hub.kita.bodies`.

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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from central_hub.api.deps import PrincipalDep
from central_hub.kita.bodies import (
    ApplicationIn,
    ApplicationOut,
    ClaimCheckIn,
    CutoffOut,
    DecisionIn,
    DuplicateOut,
    KitaIn,
    KitaOut,
    PeriodIn,
    PeriodOut,
    RegistrationOut,
    ResultOut,
    ResultSummaryOut,
    RoundIn,
    RoundOut,
    WithdrawalIn,
)
from central_hub.kita.csv_io import results_text
from central_hub.kita.domain import Decision, KitaPlaces
from central_hub.kita.domain.limits import AGE_GROUP_LENGTH, ID_LENGTH
from central_hub.kita.errors import (
    AllocationFailedError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
)
from central_hub.kita.model import Claim, Family, Verdict, Viewer, viewer_of
from central_hub.kita.service import KitaService

KitaIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
AgeGroupPath = Annotated[str, Path(min_length=1, max_length=AGE_GROUP_LENGTH)]
ChildIdPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
RoundPath = Annotated[int, Path(ge=1)]
ClaimPath = Annotated[Claim, Path(description="sibling, hardship or home")]

_CHOICE_FIELD = re.compile(r"choice([0-9]+)")


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
            results_text(service.placements(number)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="R-round{number}.csv"'},
        )

    return router
