"""The learning platform's HTTP API: the public catalogue, items, their metadata, answer checks.

WHY a router factory reading the service from ``app.state.learning``: as every hub service
(:mod:`central_hub.core.services`), nothing is built at import time. Who may call a route is
the hub's authorisation matrix (:mod:`central_hub.core.authz`); these routes are public.
Answer checks are limited per client (``LearningAnswerDep``: 429 with ``Retry-After``), their
bodies bounded by :class:`~.bodies.CheckIn`; an answer of the wrong shape for its exercise is
422, a wrong answer is 200 with ``correct: false``. No answer is ever logged. Drafts do not
exist for these routes (404). Endpoints: ``docs/learning.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from central_hub.api.ratelimits import LearningAnswerDep
from central_hub.learning.bodies import CheckIn, ItemOut, PageOut, SubjectOut, VerdictOut
from central_hub.learning.domain.amb import DEFAULT_LICENSE
from central_hub.learning.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from central_hub.learning.service import MAX_PAGE, LearningService
from central_hub.learning.tables import ID_LENGTH

ItemPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
ExercisePath = Annotated[str, Path(min_length=3, max_length=2 * ID_LENGTH + 1)]

_STATUS = ((NotFoundError, status.HTTP_404_NOT_FOUND),
           (ForbiddenError, status.HTTP_403_FORBIDDEN),
           (ConflictError, status.HTTP_409_CONFLICT),
           (InvalidError, status.HTTP_422_UNPROCESSABLE_CONTENT))


class _LearningRoute(APIRoute):
    """Maps the service's errors to their status codes (the message to the caller only)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (NotFoundError, ForbiddenError, ConflictError, InvalidError) as exc:
                code = next(c for kind, c in _STATUS if isinstance(exc, kind))
                return JSONResponse({"detail": str(exc)}, code)

        return guarded


def get_learning_service(request: Request) -> LearningService:
    """The :class:`LearningService` the hub's lifespan put on ``app.state.learning``."""
    service: LearningService = request.app.state.learning
    return service


ServiceDep = Annotated[LearningService, Depends(get_learning_service)]


def create_learning_router() -> APIRouter:
    """The learning API's routes; mount with ``prefix="/api/v1/learning"``."""
    router = APIRouter(tags=["learning"], route_class=_LearningRoute)

    @router.get("/subjects")
    def subjects(service: ServiceDep) -> list[SubjectOut]:
        """The subjects with published items, with their KIM school-subject concepts."""
        return [SubjectOut.of(s) for s in service.subjects()]

    @router.get("/items")
    def items(service: ServiceDep, *,
              grade: Annotated[int | None, Query(ge=1, le=13)] = None,
              subject: Annotated[str | None, Query(max_length=40)] = None,
              q: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> PageOut:
        """Published items for a Klassenstufe and subject, matching the words of ``q``
        (German stemming; best matches first)."""
        return PageOut.of(service.search(grade=grade, subject=subject, query=q, limit=limit,
                                         offset=offset))

    @router.get("/items/{item_id}")
    def item(service: ServiceDep, item_id: ItemPath) -> ItemOut:
        """A published item with its exercises (without answers or solutions)."""
        published = service.published(item_id)
        return ItemOut.of(published.item, published.revision, DEFAULT_LICENSE)

    @router.get("/items/{item_id}/amb", response_class=JSONResponse,
                responses={200: {"content": {"application/ld+json": {}}}})
    def amb(service: ServiceDep, item_id: ItemPath, request: Request) -> JSONResponse:
        """The item's AMB metadata as JSON-LD, for the OER search engines."""
        record = service.amb(item_id, str(request.base_url).rstrip("/"))
        return JSONResponse(record, media_type="application/ld+json")

    @router.post("/exercises/{exercise_id}/check")
    async def check(service: ServiceDep, exercise_id: ExercisePath, body: CheckIn,
                    _: LearningAnswerDep) -> VerdictOut:
        """Check an answer: a string for an input, a list of option ids for choices and
        orderings, of pair ids for a matching, of texts for a cloze's gaps."""
        answer = body.answer if isinstance(body.answer, str) else tuple(body.answer)
        return VerdictOut.of(await service.check(exercise_id, answer))

    return router
