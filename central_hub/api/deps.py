"""FastAPI dependencies as ``Annotated`` aliases: the hub container, the caller, authorisation.

WHY aliases: a route says ``hub: HubDep, caller: CallerDep`` and gets the running services and
the principal calling; tests override nothing, they pass tokens like any client. Whether the
caller may call the route at all is decided once, for every route, by :func:`authorize` from
the matrix in :mod:`central_hub.core.authz`: no route checks a role of its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from central_hub.core.authz import Decision, decide, rule_for_request, websocket_rule
from central_hub.core.identity import Principal
from central_hub.core.resolver import IdentityResolver
from central_hub.hub import Hub

#: request bodies up to this size are read; larger ones are refused with 413 before they are
#: read (``edge_agent.http_limits``). Every body the hub takes is a small JSON document.
DEFAULT_BODY_LIMIT = 16 * 1024
#: the OpenAPI extension of an operation that takes larger bodies, with its limit in bytes.
BODY_LIMIT_EXTENSION = "x-max-body-bytes"


def body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` of a route whose bodies may be larger than :data:`DEFAULT_BODY_LIMIT`.

    The limit is declared at the route and published in the OpenAPI document;
    :func:`central_hub.app.create_app` collects the declarations for the body-limit middleware.
    """
    return {BODY_LIMIT_EXTENSION: max_bytes}


def get_hub(request: Request) -> Hub:
    """The :class:`Hub` the lifespan started."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def bearer_token(conn: HTTPConnection) -> str | None:
    """The credential of ``Authorization: Bearer <token>``; ``None`` without one."""
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def get_principal(conn: HTTPConnection) -> Principal | None:
    """Who is calling (``None``: anonymous, or a credential nobody accepts); resolved once per
    request by the :class:`~central_hub.core.resolver.IdentityResolver` the lifespan put on
    ``app.state.identity``."""
    if "principal" not in conn.scope:
        identity: IdentityResolver = conn.app.state.identity
        conn.scope["principal"] = identity.resolve(bearer_token(conn))
    principal: Principal | None = conn.scope["principal"]
    return principal


async def authorize(conn: HTTPConnection) -> None:
    """The one authorisation check of every route: the matrix's row for the route decides.

    An app-wide dependency (:func:`central_hub.app.create_app`), so no route can be added
    without it; a route without a row is refused to everybody. Asynchronous, so that public
    feeds cost no thread; a credential is looked up (database, JWKS) in the thread pool.
    """
    template = getattr(conn.scope.get("route"), "path_format", None)
    path = conn.scope["path"]
    if template is None:
        rule = None
    elif conn.scope["type"] == "websocket":
        rule = websocket_rule(template, path)
    else:
        rule = rule_for_request(conn.scope["method"], template, path)
    if rule is not None and rule.public:
        return  # no credential is looked up for public feeds (a route may still ask who)
    decision = decide(rule, await run_in_threadpool(get_principal, conn))
    if decision is Decision.UNAUTHENTICATED:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    if decision is Decision.FORBIDDEN:
        who = rule.describe() if rule is not None else "nobody"
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"allowed for: {who}")


#: the caller after :func:`authorize` let it through (``None`` on public routes).
PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


async def get_caller(conn: HTTPConnection) -> Principal | None:
    """:func:`get_principal` for a public route that asks who calls: no thread without a
    credential (most callers of a public route send none); a credential is looked up in the
    thread pool (database, JWKS)."""
    if "principal" in conn.scope or bearer_token(conn) is None:
        return get_principal(conn)
    return await run_in_threadpool(get_principal, conn)


#: the caller of a public route that serves the anonymous and, with more, a known caller.
MaybeCallerDep = Annotated[Principal | None, Depends(get_caller)]


def require_principal(principal: PrincipalDep) -> Principal:
    """The caller of a non-public route (the matrix admitted it, so it is known)."""
    if principal is None:  # only when a route's rule is public but its handler needs a caller
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


CallerDep = Annotated[Principal, Depends(require_principal)]
