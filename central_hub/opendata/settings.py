"""The open-data service's section of the hub's settings (``KASSEL_HUB_OPENDATA__*``).

WHY here: every hub service owns the model of its own section (see
:mod:`central_hub.kita.settings`); the hub's settings hold it as the field ``opendata``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class OpendataSettings(BaseModel):
    """The Open Data Rathaus (``KASSEL_HUB_OPENDATA__*``).

    ``database``: where versions, files and the statistics roll-up live (``None``: a SQLite
    file ``opendata.db`` in the hub's state directory; ``"hub"``: the hub's database; else an
    SQLAlchemy URL). The schedule runs only on the primary hub. ``period_days``: the days
    each version of a daily dataset covers, up to today. ``run_every_s``: how often the
    schedule looks for work (roll up completed hours, produce what is due).
    ``auto_publish``: scheduled versions that pass the gate are published without review (a
    publisher can still withdraw them); a version a publisher runs by hand always waits for
    review.
    """

    model_config = ConfigDict(frozen=True)

    database: str | None = None
    period_days: Annotated[int, Field(ge=1, le=366)] = 28
    run_every_s: Annotated[float, Field(gt=0)] = 300.0
    #: how old a dataset's newest version may get before the schedule produces the next
    produce_every_s: Annotated[float, Field(gt=0)] = 86_400.0
    #: the wait after the hub starts before the schedule's first run
    first_run_s: Annotated[float, Field(ge=0)] = 60.0
    #: how far back a first roll-up reaches into the raw messages (days)
    backfill_days: Annotated[float, Field(ge=0, le=366)] = 2.0
    auto_publish: bool = True
    #: the address the public reaches the hub at (``https://daten.kassel.example``) for the
    #: catalogue's and CKAN's URLs; ``None``: the address each request came to
    public_url: str | None = None
    #: the publisher as DCAT and CKAN name it
    publisher_name: str = "Stadt Kassel"
    publisher_email: str = "opendata@kassel.example"
    publisher_homepage: str = "https://www.kassel.de"
    #: GovData's contributor ID of this portal (``http://dcat-ap.de/def/contributors/...``),
    #: which GovData assigns on request; without one the catalogue carries none and a portal
    #: that harvests it adds its own (DCAT-AP.de conventions 12 and 13)
    contributor_id: str | None = None
