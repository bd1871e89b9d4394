"""Intersections (CONTRACT §8): list, latest SPaT as received, signal history."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from central_hub.api.deps import HubDep
from edge_agent.contract.ids import ID_PATTERN
from edge_agent.contract.payloads import Spat

router = APIRouter(prefix="/api/v1/intersections", tags=["feeds"])
IntersectionId = Annotated[str, Path(pattern=ID_PATTERN, description="intersection id")]


class IntersectionOut(BaseModel):
    """One intersection: name from its MAP, status from its latest SPaT."""

    intersection_id: str
    name: str
    status: str | None
    online: bool
    lat: float | None
    lon: float | None


class SignalChangeOut(BaseModel):
    """A signal group entered ``state`` at ``start_ms``."""

    sg: str
    state: str
    start_ms: int


@router.get("", response_model=list[IntersectionOut])
def list_intersections(hub: HubDep) -> list[IntersectionOut]:
    """Every intersection the hub has a MAP or SPaT of."""
    now = int(time.time() * 1000)
    st = hub.state
    out = []
    for iid in sorted(st.intersections):
        i = st.intersections[iid]
        out.append(IntersectionOut(
            intersection_id=iid, name=i.name, status=i.status, online=st.online(iid, now),
            lat=i.map.lat if i.map else None, lon=i.map.lon if i.map else None))
    return out


@router.get("/{intersection_id}/spat", response_model=Spat,
            responses={404: {"description": "no SPaT received from this intersection"}})
def latest_spat(intersection_id: IntersectionId, hub: HubDep) -> Response:
    """The latest SPaT payload exactly as received."""
    i = hub.state.intersections.get(intersection_id)
    if i is None or i.spat_raw is None:
        raise HTTPException(404, f"no SPaT from {intersection_id}")
    return Response(i.spat_raw, media_type="application/json")


@router.get("/{intersection_id}/history", response_model=list[SignalChangeOut])
def signal_history(intersection_id: IntersectionId, hub: HubDep,
                   seconds: Annotated[int, Query(ge=1, le=3600)] = 300) -> list[SignalChangeOut]:
    """State changes of every signal group over the last ``seconds`` (the phase diagram)."""
    since = int(time.time() * 1000) - seconds * 1000
    return [SignalChangeOut(sg=sg, state=s, start_ms=t)
            for sg, s, t in hub.state.history(intersection_id, since)]
