"""A bus's priority points in the standard's terms, for the SREM it sends when its route asks
(``route.etsi_srem``; docs/c-its.md, "SREM from the bus").

Why config and not discovery: a SREM names the intersection by its ITS reference id and the
movement by the MAPEM's lane ids, while the bus's JSON names an intersection id and a signal
group; the MAPEM gives lanes and ITS signal group numbers but not our group names, so the
translation is part of the route, written once per priority point like its position. Why a
module of its own: ``configs.py`` stays small.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class EtsiPoint(BaseModel):
    """Where a priority point's requests go in a SREM: the intersection's reference id (its
    ``its.region`` and ``its.intersection_id``) and the MAPEM lanes of the movement (the
    ingress lane at the stop line, optionally the egress lane the bus leaves by)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    intersection: Annotated[int, Field(ge=0, le=65535)]
    region: Annotated[int, Field(ge=0, le=65535)] | None = None
    lane: Annotated[int, Field(ge=0, le=255)]
    out_lane: Annotated[int, Field(ge=0, le=255)] | None = None
