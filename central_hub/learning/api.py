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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from central_hub.api.deps import CallerDep, MaybeCallerDep, body_limit
from central_hub.api.ratelimits import LearningAnswerDep, LearningJoinDep
from central_hub.core.identity import Kind
from central_hub.learning.bodies import (
    CheckIn,
    ClassIn,
    ClassOut,
    DraftOut,
    ImportOut,
    ItemOut,
    MembershipOut,
    OfflineOut,
    PageOut,
    QueueEntryOut,
    ReviewIn,
    ReviewOut,
    SkippedOut,
    SubjectOut,
    SummaryOut,
    VerdictOut,
)
from central_hub.learning.documents import MAX_DOCUMENT_BYTES
from central_hub.learning.domain.amb import DEFAULT_LICENSE
from central_hub.learning.domain.offline import offline_rules
from central_hub.learning.errors import (
    ConflictError,
    ForbiddenError,
    ImportSyntaxError,
    InvalidError,
    NotFoundError,
)
from central_hub.learning.service import MAX_PAGE, LearningService
from central_hub.learning.tables import ID_LENGTH

ItemPath = Annotated[str, Path(min_length=1, max_length=ID_LENGTH)]
ExercisePath = Annotated[str, Path(min_length=3, max_length=2 * ID_LENGTH + 1)]
#: a class code as typed (``k7qf 3mzp``); read by the service
CodePath = Annotated[str, Path(min_length=1, max_length=32)]

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
            except ImportSyntaxError as exc:
                return JSONResponse({"detail": [{
                    "type": "syntax_error", "loc": ["body"], "line": exc.line,
                    "question": exc.question, "msg": str(exc)}]},
                    status.HTTP_422_UNPROCESSABLE_CONTENT)
            except (NotFoundError, ForbiddenError, ConflictError, InvalidError) as exc:
                code = next(c for kind, c in _STATUS if isinstance(exc, kind))
                return JSONResponse({"detail": str(exc)}, code)

        return guarded


async def get_learning_service(request: Request) -> LearningService:
    """The :class:`LearningService` the hub's lifespan put on ``app.state.learning``."""
    service: LearningService = request.app.state.learning
    return service


ServiceDep = Annotated[LearningService, Depends(get_learning_service)]
#: the largest file an import takes (the body limit declared at the route; 413 above)
MAX_IMPORT_BYTES = 2 * 1024 * 1024


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

    @router.get("/items/{item_id}/offline")
    def offline(service: ServiceDep, item_id: ItemPath) -> OfflineOut:
        """The rules that let the pupils' pages check the item's choices, orderings,
        matchings and word answers without the hub (numbers, terms and quantities are
        checked here only)."""
        published = service.published(item_id)
        return OfflineOut(item_id=item_id, revision=published.revision,
                          **offline_rules(published.item))

    @router.get("/items/{item_id}/amb", response_class=JSONResponse,
                responses={200: {"content": {"application/ld+json": {}}}})
    def amb(service: ServiceDep, item_id: ItemPath, request: Request) -> JSONResponse:
        """The item's AMB metadata as JSON-LD, for the OER search engines."""
        record = service.amb(item_id, str(request.base_url).rstrip("/"))
        return JSONResponse(record, media_type="application/ld+json")

    @router.post("/import", status_code=status.HTTP_201_CREATED,
                 openapi_extra={**body_limit(MAX_IMPORT_BYTES), "requestBody": {
                     "required": True, "content": {
                         "text/plain": {"schema": {"type": "string"}},
                         "application/xml": {"schema": {"type": "string"}}}}})
    async def import_questions(
            service: ServiceDep, caller: CallerDep, request: Request, *,
            fmt: Annotated[Literal["gift", "moodle-xml"], Query(alias="format")],
            subject: Annotated[str, Query(max_length=40)],
            grade: Annotated[int, Query(ge=1, le=13)],
            title: Annotated[str | None, Query(max_length=200)] = None) -> ImportOut:
        """A GIFT or Moodle XML file (the body) as one draft item of the caller's; questions
        the platform cannot check are listed in ``skipped``; a syntax error is 422 naming
        the line, and nothing is kept."""
        author = caller.name
        data = await request.body()
        result = await run_in_threadpool(
            service.import_questions, author=author, fmt=fmt, data=data, subject=subject,
            grade=grade, title=title)
        return ImportOut(item_id=result.item_id, imported=result.imported,
                         skipped=[SkippedOut(question=q, reason=r) for q, r in result.skipped])

    document_body = {**body_limit(MAX_DOCUMENT_BYTES), "requestBody": {
        "required": True, "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}}}}}

    @router.post("/drafts", status_code=status.HTTP_201_CREATED, openapi_extra=document_body)
    async def new_draft(service: ServiceDep, caller: CallerDep,
                        request: Request) -> DraftOut:
        """A new item from the caller's document (YAML or JSON, as the starter content is
        written), waiting for review; 409 when its id exists, 422 naming what is wrong."""
        author = caller.name
        saved = await run_in_threadpool(service.save_draft, author=author,
                                        raw=await request.body())
        return DraftOut.of(saved)

    @router.put("/drafts/{item_id}", openapi_extra=document_body)
    async def edit_draft(service: ServiceDep, caller: CallerDep, item_id: ItemPath,
                         request: Request) -> DraftOut:
        """The item's next revision from the caller's document; the public keeps seeing the
        published revision until a reviewer who wrote none of the new ones approves."""
        author = caller.name
        saved = await run_in_threadpool(service.save_draft, author=author,
                                        raw=await request.body(), item_id=item_id)
        return DraftOut.of(saved)

    @router.get("/review-queue")
    def review_queue(service: ServiceDep) -> list[QueueEntryOut]:
        """Items waiting for review, the longest waiting first."""
        return [QueueEntryOut(id=e.id, title=e.title, author=e.author, revision=e.revision,
                              waiting_since=e.updated_at.isoformat())
                for e in service.review_queue()]

    @router.get("/drafts/{item_id}")
    def draft(service: ServiceDep, item_id: ItemPath) -> dict[str, Any]:
        """An item as its authors and reviewers see it: the latest document with answers
        and samples, its revisions, the diff from the published revision, the reviews."""
        shown: dict[str, Any] = jsonable_encoder(service.draft(item_id))
        return shown

    @router.post("/items/{item_id}/review")
    def review(service: ServiceDep, caller: CallerDep, item_id: ItemPath,
               body: ReviewIn) -> ReviewOut:
        """Approve (publish) or reject the item's latest revision; 403 for its author."""
        state = service.review(reviewer=caller.name, item_id=item_id,
                               decision=body.decision, comment=body.comment)
        return ReviewOut(item_id=item_id, status=state)

    @router.get("/items/{item_id}/export", response_class=Response,
                responses={200: {"content": {"text/plain": {}, "application/xml": {}}}})
    def export(service: ServiceDep, item_id: ItemPath,
               fmt: Annotated[Literal["gift", "moodle-xml"], Query(alias="format")]) -> Response:
        """The item's latest revision as GIFT or Moodle XML; the exercises neither format can
        hold are named in the ``X-Skipped-Exercises`` header."""
        data, skipped = service.export(item_id, fmt)
        media = "text/plain; charset=utf-8" if fmt == "gift" else "application/xml"
        return Response(data, media_type=media,
                        headers={"X-Skipped-Exercises": ",".join(skipped)})

    @router.post("/exercises/{exercise_id}/check")
    async def check(service: ServiceDep, principal: MaybeCallerDep, exercise_id: ExercisePath,
                    body: CheckIn, _: LearningAnswerDep) -> VerdictOut:
        """Check an answer: a string for an input, a list of option ids for choices and
        orderings, of pair ids for a matching, of texts for a cloze's gaps. With a pupil's
        membership token the verdict also counts for the class (under the pseudonym)."""
        answer = body.answer if isinstance(body.answer, str) else tuple(body.answer)
        verdict = await service.check(exercise_id, answer)
        if principal is not None and principal.kind is Kind.PUPIL:
            await run_in_threadpool(service.record, principal.name, exercise_id,
                                    verdict.correct)
        return VerdictOut.of(verdict)

    # -- classes ------------------------------------------------------------------------

    @router.post("/classes", status_code=status.HTTP_201_CREATED)
    def create_class(service: ServiceDep, caller: CallerDep, body: ClassIn) -> ClassOut:
        """A new class of the calling teacher, with the code its pupils join with."""
        return ClassOut.of(service.create_class(teacher=caller.name, title=body.title))

    @router.get("/classes")
    def classes(service: ServiceDep, caller: CallerDep) -> list[ClassOut]:
        """The calling teacher's classes, newest first."""
        return [ClassOut.of(c) for c in service.classes(caller.name)]

    @router.get("/classes/{code}/summary")
    def class_summary(service: ServiceDep, caller: CallerDep,
                      code: CodePath) -> SummaryOut:
        """The class's aggregates per exercise and per pseudonym (404 for another
        teacher's class)."""
        return SummaryOut.of(service.class_summary(teacher=caller.name, code=code))

    @router.delete("/classes/{code}", status_code=status.HTTP_204_NO_CONTENT)
    def close_class(service: ServiceDep, caller: CallerDep, code: CodePath) -> None:
        """Close the class: its memberships and every attempt in it are deleted."""
        service.close_class(teacher=caller.name, code=code)

    @router.post("/classes/{code}/members", status_code=status.HTTP_201_CREATED)
    def join_class(service: ServiceDep, code: CodePath, _: LearningJoinDep) -> MembershipOut:
        """A pupil opts in: the answer holds the membership token (shown once) and the
        pseudonym the platform drew; 404 for a code that is no class."""
        return MembershipOut.of(service.join_class(code))

    @router.get("/membership")
    def membership(service: ServiceDep, caller: CallerDep) -> MembershipOut:
        """The calling pupil's class and pseudonym."""
        return MembershipOut.of(service.membership(caller.name))

    @router.delete("/membership", status_code=status.HTTP_204_NO_CONTENT)
    def leave_class(service: ServiceDep, caller: CallerDep) -> None:
        """The calling pupil leaves the class; its attempts are deleted."""
        service.leave_class(caller.name)

    return router
