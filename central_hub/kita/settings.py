"""The Kita service's section of the hub's settings (``KASSEL_HUB_KITA__*``).

WHY here and not in the hub's settings module: every hub service owns the model of its own
section, and the hub's :class:`~central_hub.core.config.HubSettings` holds it as one field
(``kita``), so operators set everything in one place and a service's knobs change with the
service. Nothing else of the service is imported by the hub's settings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class KitaSettings(BaseModel):
    """The Kita allocation service (``KASSEL_HUB_KITA__*``).

    ``database``: where the Kita tables (children's personal data) live. ``None`` (the
    default) is a separate SQLite file ``kita.db`` in the hub's state directory, not the
    telemetry database: see ``docs/kita.md`` ("Where the data lives") for why.
    """

    model_config = ConfigDict(frozen=True)

    #: an SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``); ``"hub"``: the hub's database
    database: str | None = None
    #: applications per family (withdrawn ones count)
    max_children_per_family: Annotated[int, Field(ge=1)] = 5
    #: registrations at once per client address, then ``registrations_per_hour``
    registration_burst: Annotated[int, Field(ge=1)] = 5
    registrations_per_hour: Annotated[float, Field(gt=0)] = 10.0
