"""The open-data HTTP API: CKAN's Action API, the DCAT-AP.de catalogue and the downloads for
everyone; the publisher's review, publication and withdrawal.

WHY two routers: the public routes live where harvesters and ``ckanapi`` look for them
(``/opendata/api/3/action/{name}``, ``/opendata/catalog.ttl``), outside the hub's
``/api/v1`` tree; the publisher's routes are an ordinary service API under
``/api/v1/opendata``. Who may call which is the hub's authorisation matrix
(:mod:`central_hub.core.authz`). CKAN's errors keep CKAN's envelope and statuses (404
``Not Found Error``, 409 ``Validation Error``, 400 for an unknown action) so CKAN clients
report them as they would against CKAN. Downloads are streamed with ``ETag`` (the file's
SHA-256) and ``Last-Modified``; a withdrawn version's files answer 410. Endpoints:
``docs/opendata.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from central_hub.api.deps import CallerDep
from central_hub.opendata import store
from central_hub.opendata.bodies import DatasetStatusOut, ReviewOut, VersionOut, WithdrawnOut
from central_hub.opendata.domain import ckan
from central_hub.opendata.domain.dcat import MEDIA_TYPES as RDF_TYPES
from central_hub.opendata.domain.records import VersionState
from central_hub.opendata.errors import ConflictError, NotFoundError, ProducerError
from central_hub.opendata.service import OpendataService
from central_hub.opendata.tables import ID

DatasetPath = Annotated[str, Path(min_length=1, max_length=ID.length or 100,
                                  pattern=r"^[a-z0-9][a-z0-9_-]*$")]
ActionPath = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z_]+$")]
VersionPath = Annotated[int, Path(ge=1, le=1_000_000)]
FilePath = Annotated[str, Path(min_length=1, max_length=100,
                               pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
#: the CKAN actions served, each a function of (service, parameters, base URL)
Action = Callable[[OpendataService, Mapping[str, Any], str], object]
#: a CKAN action's JSON body (POST) is bounded like every body of the hub (64 KiB)
MAX_PARAMETERS = 50

_STATUS = ((NotFoundError, status.HTTP_404_NOT_FOUND),
           (ConflictError, status.HTTP_409_CONFLICT),
           (ProducerError, status.HTTP_503_SERVICE_UNAVAILABLE))


class _OpendataRoute(APIRoute):
    """Maps the service's errors to their status codes (the message to the caller only)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (NotFoundError, ConflictError, ProducerError) as exc:
                code = next(c for kind, c in _STATUS if isinstance(exc, kind))
                return JSONResponse({"detail": str(exc)}, code)

        return guarded


async def get_opendata_service(request: Request) -> OpendataService:
    """The :class:`OpendataService` the hub's lifespan put on ``app.state.opendata``."""
    service: OpendataService = request.app.state.opendata
    return service


ServiceDep = Annotated[OpendataService, Depends(get_opendata_service)]


def base_url(service: OpendataService, request: Request) -> str:
    """The address the public reaches the hub at: the setting, else this request's."""
    return (service.settings.public_url or str(request.base_url)).rstrip("/")


# --- CKAN ------------------------------------------------------------------------------


def _flag(p: Mapping[str, Any], name: str) -> bool:
    """A CKAN boolean parameter (``true``/``1``/``yes``, or a JSON true)."""
    value = p.get(name, False)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def _wanted(p: Mapping[str, Any]) -> str:
    wanted = p.get("id") or p.get("name")
    if not isinstance(wanted, str) or not wanted:
        raise ckan.CkanValidationError({"id": ["Missing value"]})
    return wanted


def _package_list(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    return ckan.package_list(s.datasets(base))


def _package_show(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    return ckan.package_dict(ckan.find_package(s.datasets(base), _wanted(p)), s.organisation)


def _package_search(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    return ckan.search(s.datasets(base), s.organisation, ckan.parse_search(p))


def _organization_list(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    if _flag(p, "all_fields"):
        return [ckan.organization_dict(s.organisation, len(s.listed(base)))]
    return [ckan.organization_name(s.organisation)]


def _organization_show(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    wanted = _wanted(p)
    org = s.organisation
    if wanted not in (org.id, ckan.organization_name(org), org.name):
        raise ckan.CkanNotFoundError
    listed = s.listed(base)
    return ckan.organization_dict(org, len(listed), _flag(p, "include_datasets"), listed)


def _group_list(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    datasets = s.datasets(base)
    return ckan.group_dicts(datasets) if _flag(p, "all_fields") else ckan.group_names(datasets)


def _tag_list(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    return ckan.tag_list(s.datasets(base))


def _status_show(s: OpendataService, p: Mapping[str, Any], base: str) -> object:
    return ckan.status_show(f"{base}/opendata", f"Open Data Rathaus – {s.organisation.name}",
                            "Offene Daten der Stadt Kassel, anonymisiert und geprüft.")


ACTIONS: dict[str, Action] = {
    "package_list": _package_list,
    "package_show": _package_show,
    "package_search": _package_search,
    "organization_list": _organization_list,
    "organization_show": _organization_show,
    "group_list": _group_list,
    "tag_list": _tag_list,
    "status_show": _status_show,
}


def _ckan_answer(service: OpendataService, name: str, params: Mapping[str, Any],
                 base: str) -> JSONResponse:
    site = f"{base}/opendata"
    action = ACTIONS.get(name)
    if action is None:
        return _bad_request(f"Bad request - Action name not known: {name}")
    try:
        result = action(service, params, base)
    except ckan.CkanError as exc:
        return JSONResponse(ckan.error_body(exc, name, site), exc.http_status)
    return JSONResponse(ckan.ok_body(name, result, site))


def _bad_request(message: str) -> JSONResponse:
    """CKAN's 400 for a request it cannot take (an unknown action, a body not JSON): as
    CKAN's ``_finish_bad_request``, the message alone as a JSON string, no envelope."""
    return JSONResponse(message, status.HTTP_400_BAD_REQUEST)


def _query_params(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        out[key] = values[0] if len(values) == 1 else values
    return out


def create_public_router() -> APIRouter:
    """The routes every harvester and ``ckanapi`` reach; mounted at the hub's root."""
    router = APIRouter(tags=["opendata"], route_class=_OpendataRoute)
    action_doc = ("CKAN's Action API (the subset harvesters and `ckanapi` use): "
                  f"{', '.join(ACTIONS)}. Parameters as query parameters (GET) or a JSON "
                  "object (POST). Answers CKAN's envelope `{help, success, result}`; errors "
                  "`{success: false, error: {__type, message}}` with 404 `Not Found Error`, "
                  "409 `Validation Error`, 400 for an unknown action.")
    responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "unknown action"}, 404: {"description": "Not Found Error"},
        409: {"description": "Validation Error"}}
    for prefix in ("/opendata/api/3/action", "/opendata/api/action"):
        @router.get(prefix + "/{name}", response_class=JSONResponse, responses=responses,
                    description=action_doc, operation_id=f"ckan_get_{prefix.count('/')}")
        def action_get(service: ServiceDep, name: ActionPath, request: Request) -> JSONResponse:
            return _ckan_answer(service, name, _query_params(request),
                                base_url(service, request))

        @router.post(prefix + "/{name}", response_class=JSONResponse, responses=responses,
                     description=action_doc, operation_id=f"ckan_post_{prefix.count('/')}")
        async def action_post(service: ServiceDep, name: ActionPath,
                              request: Request) -> JSONResponse:
            raw = await request.body()
            try:
                params = json.loads(raw) if raw.strip() else {}
            except ValueError:
                params = None
            if not isinstance(params, dict) or len(params) > MAX_PARAMETERS:
                return _bad_request("Bad request - JSON Error: the body must be a JSON object "
                                    f"of at most {MAX_PARAMETERS} parameters")
            return await run_in_threadpool(_ckan_answer, service, name, params,
                                           base_url(service, request))

    @router.get("/opendata/catalog.{fmt}", response_class=Response,
                responses={200: {"content": {t: {} for t in RDF_TYPES.values()}},
                           422: {"description": "an unknown format or page"}})
    def catalogue(service: ServiceDep, request: Request,
                  fmt: Annotated[str, Path(pattern=r"^(ttl|rdf|jsonld)$")],
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
        """The DCAT-AP.de 2.0 catalogue (Turtle, RDF/XML or JSON-LD), 100 datasets a page,
        paged with Hydra (`?page=N`)."""
        body = service.catalogue(base_url(service, request), page, fmt)
        tag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(body, media_type=RDF_TYPES[fmt], headers={"ETag": tag})

    @router.get("/opendata/datasets/{dataset_id}/versions/{version}/{name}",
                response_class=StreamingResponse,
                responses={200: {"content": {"text/csv": {}, "application/json": {},
                                             "application/zip": {}}},
                           304: {"description": "not modified"},
                           404: {"description": "no such file"},
                           410: {"description": "withdrawn"}})
    def download(service: ServiceDep, request: Request, dataset_id: DatasetPath,
                 version: VersionPath, name: FilePath) -> Response:
        """A file of a published version, streamed, with `ETag` and `Last-Modified`."""
        info, v, content = service.file(dataset_id, version, name)
        if v.state is VersionState.WITHDRAWN:
            return JSONResponse({"detail": f"{dataset_id} version {version} was withdrawn"},
                                status.HTTP_410_GONE)
        return _stream(request, info, v, content)

    return router


def _stream(request: Request, info: store.FileInfo, v: store.VersionRow,
            content: bytes) -> Response:
    tag = f'"{info.sha256}"'
    modified = datetime.fromtimestamp((v.published_ms or v.produced_ms) // 1000, UTC)
    headers = {"ETag": tag, "Last-Modified": format_datetime(modified, usegmt=True),
               "Cache-Control": "public, max-age=300"}
    match = request.headers.get("if-none-match")
    since = request.headers.get("if-modified-since")
    fresh = match is not None and tag in [m.strip() for m in match.split(",")]
    if match is None and since:
        try:
            fresh = parsedate_to_datetime(since) >= modified
        except (TypeError, ValueError):
            fresh = False
    if fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    media = info.media_type + ("; charset=utf-8" if info.media_type.startswith("text/") else "")
    headers["Content-Length"] = str(info.bytes)
    return StreamingResponse(store.chunks(content), media_type=media, headers=headers)


# --- the publisher ---------------------------------------------------------------------


def create_opendata_router() -> APIRouter:
    """The publisher's routes; mount with ``prefix="/api/v1/opendata"``."""
    router = APIRouter(tags=["opendata"], route_class=_OpendataRoute)

    @router.get("/datasets")
    def datasets(service: ServiceDep) -> list[DatasetStatusOut]:
        """Every dataset with its current public version and its newest one."""
        return [DatasetStatusOut.of(s) for s in service.statuses()]

    @router.get("/datasets/{dataset_id}/versions")
    def versions(service: ServiceDep, dataset_id: DatasetPath) -> list[VersionOut]:
        """Every version of a dataset, newest first (withdrawn and refused ones too)."""
        return [VersionOut.of(v) for v in service.versions(dataset_id)]

    @router.get("/datasets/{dataset_id}/versions/{version}")
    def version(service: ServiceDep, request: Request, dataset_id: DatasetPath,
                version: VersionPath) -> ReviewOut:
        """A version for review: the gate's report (raw and in plain words), its files and
        its first rows."""
        return ReviewOut.of_view(service.version(dataset_id, version,
                                                 base_url(service, request)))

    @router.post("/datasets/{dataset_id}/runs", status_code=status.HTTP_201_CREATED,
                 responses={503: {"description": "the producer failed (alarm raised)"}})
    def run(service: ServiceDep, caller: CallerDep, request: Request,
            dataset_id: DatasetPath) -> ReviewOut:
        """Run the dataset's producer now; the new version waits for review (`pending`), or
        is `rejected` with the gate's reason. 503 when the producer failed: nothing is
        stored, the previous version stays, the alarm `opendata_producer_failed` is raised."""
        base = base_url(service, request)
        row = service.run(dataset_id, by=caller.name, base_url=base)
        return ReviewOut.of_view(service.version(dataset_id, row.version, base))

    @router.post("/datasets/{dataset_id}/versions/{version}/publish")
    def publish(service: ServiceDep, request: Request, dataset_id: DatasetPath,
                version: VersionPath) -> ReviewOut:
        """Publish a reviewed (pending) or withdrawn version; 409 for a refused one."""
        service.publish(dataset_id, version)
        return ReviewOut.of_view(service.version(dataset_id, version,
                                                 base_url(service, request)))

    @router.post("/datasets/{dataset_id}/withdraw")
    def withdraw(service: ServiceDep, dataset_id: DatasetPath) -> WithdrawnOut:
        """Withdraw the dataset: every published version is marked withdrawn, it leaves the
        catalogue and CKAN's lists, its files answer 410; the record stays."""
        return WithdrawnOut(dataset_id=dataset_id, withdrawn=service.withdraw(dataset_id))

    return router
