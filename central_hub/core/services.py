"""How the hub mounts a citizen service: one shape for every service it carries.

WHY one shape: the hub carries several services for citizens (the Kita allocation, the
learning platform and open data today; mobility next), each with its own data, rules and
users. A newcomer who knows one knows them all, and the hub mounts each the same way, so adding one
changes one line of :mod:`central_hub.app`. A service lives in ``central_hub/<name>/``:

===================  ==========================================================================
``domain/``          the rules, pure (no I/O; ruff and ``tests/unit/test_architecture.py``)
``model.py``         the records its use cases take and give
``service.py``       the use cases: transactions, who may see what, when what may happen
``tables.py``        its tables (own ``MetaData``, created when mounted, never by a constructor)
``store.py``         the queries, one function per question, on the caller's connection
``bodies.py``        the HTTP request and response bodies
``api.py``           the HTTP routes (``/api/v1/<name>/...``), mapping its errors to statuses
``cli.py``           ``kassel <name> ...`` (registered in :mod:`edge_agent.cli`)
``settings.py``      its section of :class:`~central_hub.core.config.HubSettings` (``<name>``)
``errors.py``        its error tree, under :class:`~edge_agent.errors.KasselError`
``mount.py``         the :class:`HubService` below
===================  ==========================================================================

A service imports the hub's identity (:mod:`central_hub.core.identity`), its settings and
the rest of ``central_hub.core``; the hub imports a service only through its ``mount``. Who
may call each route stays in the one authorisation matrix (:mod:`central_hub.core.authz`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter

if TYPE_CHECKING:
    from central_hub.hub import Hub


@dataclass(frozen=True, slots=True)
class HubService:
    """A citizen service as the hub mounts it.

    ``name`` is the service's settings section, its attribute on ``app.state`` and its URL
    segment (``/api/v1/<name>``). ``open(hub)`` runs in the hub's lifespan: it creates the
    service's tables, builds its use cases and yields the object the routes find on
    ``app.state.<name>``; leaving it releases what it opened. ``create_router()`` builds the
    routes (nothing is built at import time); ``create_public_router()``, if any, the
    routes it serves at paths of their own. ``log_filters`` build filters for the HTTP
    server's access log, for a service whose request paths carry personal data. ``pages``
    are its web pages (``/lernen`` and a folder), public like the hub's own static files.
    """

    name: str
    create_router: Callable[[], APIRouter]
    open: Callable[[Hub], AbstractAsyncContextManager[object]]
    log_filters: tuple[Callable[[], logging.Filter], ...] = ()
    #: static web pages of the service: (URL path, folder), served as they are
    pages: tuple[tuple[str, Path], ...] = ()
    #: routes a service serves outside ``/api/v1/<name>``, at the paths its outside clients
    #: expect (open data: CKAN's ``/opendata/api/3/action/...``), mounted at the root
    create_public_router: Callable[[], APIRouter] | None = None

    @property
    def prefix(self) -> str:
        """Where the hub mounts the routes."""
        return f"/api/v1/{self.name}"
