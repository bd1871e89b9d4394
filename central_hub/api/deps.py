"""FastAPI dependencies as ``Annotated`` aliases: the hub container and role checks.

WHY aliases: a route says ``hub: HubDep, _: EngineerDep`` and gets the running services and
an enforced role; tests override nothing, they pass tokens like any client.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from central_hub.core.security import Role
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


_bearer = HTTPBearer(auto_error=False, description="role token (engineer or admin)")


def get_hub(request: Request) -> Hub:
    """The :class:`Hub` the lifespan started."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def get_role(hub: HubDep, cred: Annotated[HTTPAuthorizationCredentials | None,
                                          Depends(_bearer)]) -> Role:
    """The caller's role from ``Authorization: Bearer <token>`` (``PUBLIC`` without one)."""
    return hub.tokens.role_of(cred.credentials if cred is not None else None)


RoleDep = Annotated[Role, Depends(get_role)]


def _require(minimum: Role) -> object:
    def check(role: RoleDep) -> Role:
        if role is Role.PUBLIC:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a role token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        if role < minimum:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {minimum.name.lower()} is required")
        return role

    return Depends(check)


EngineerDep = Annotated[Role, _require(Role.ENGINEER)]
AdminDep = Annotated[Role, _require(Role.ADMIN)]
