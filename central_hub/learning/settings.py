"""The learning platform's section of the hub's settings (``KASSEL_HUB_LEARNING__*``).

WHY here: every hub service owns the model of its own section (see
:mod:`central_hub.kita.settings`); the hub's settings hold it as the field ``learning``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class LearningSettings(BaseModel):
    """The learning platform (``KASSEL_HUB_LEARNING__*``).

    ``database``: where the items, revisions and reviews live. ``None`` (the default) is a
    SQLite file ``learning.db`` in the hub's state directory; ``"hub"`` the hub's database;
    else an SQLAlchemy URL (``postgresql://...`` for the German full-text search of
    PostgreSQL). ``check_workers`` processes check typed answers, each check stopped after
    ``check_deadline_s``; 0 workers means one per CPU.
    """

    model_config = ConfigDict(frozen=True)

    database: str | None = None
    check_workers: Annotated[int, Field(ge=0, le=64)] = 0
    check_deadline_s: Annotated[float, Field(gt=0, le=10)] = 1.0
    #: load the starter content into an empty catalogue when the hub starts
    seed_starter_content: bool = True
    #: the address the public reaches the hub at (``https://lernen.example.de``), for the
    #: items' addresses in their metadata; ``None``: the address each request came to
    public_url: str | None = None
