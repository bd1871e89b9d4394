"""The learning platform as the hub mounts it: its database, tables, checkers and routes.

WHY a mount: the hub knows a service only through one :class:`~central_hub.core.services.
HubService`. Opening the learning platform picks its database (by default a file of its own,
``learning.db`` in the hub's state directory), creates its tables, loads the starter content
into an empty catalogue, and starts the processes that check typed answers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from central_hub.core.config import HubRuntime
from central_hub.core.services import HubService
from central_hub.hub import Hub
from central_hub.learning.api import create_learning_router
from central_hub.learning.checker_pool import CheckerPool
from central_hub.learning.service import LearningService
from central_hub.learning.tables import create_schema
from central_hub.storage.db import make_engine


def database_url(runtime: HubRuntime) -> str | None:
    """``learning.database``; ``None`` for the hub's own (``"hub"``); by default
    ``learning.db`` in the hub's state directory."""
    url = runtime.settings.learning.database
    if url == "hub":
        return None
    if url:
        return url
    return f"sqlite:///{Path(runtime.config.agent.state_dir) / 'learning.db'}"


@asynccontextmanager
async def open_learning(hub: Hub) -> AsyncIterator[LearningService]:
    """Open the database, seed it if empty, start the checkers; stop them on the way out."""
    settings = hub.runtime.settings.learning
    url = database_url(hub.runtime)
    engine = hub.engine if url is None else await asyncio.to_thread(
        make_engine, url, hub_schema=False)
    pool = CheckerPool(settings.check_workers or os.cpu_count() or 1, settings.check_deadline_s)
    try:
        await asyncio.to_thread(create_schema, engine)
        service = LearningService(engine, pool, public_url=settings.public_url)
        hub.identity.add_pupil_lookup(service.member_of_token)
        if settings.seed_starter_content:
            await asyncio.to_thread(service.seed)
        await pool.start()
        yield service
    finally:
        await pool.close()
        if engine is not hub.engine:
            engine.dispose()


#: the pupils' web app
WEB = Path(__file__).resolve().parent / "web"

LEARNING = HubService(name="learning", create_router=create_learning_router,
                      open=open_learning, pages=(("/lernen", WEB),))
