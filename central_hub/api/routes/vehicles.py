"""``GET /api/v1/vehicles``: latest position and occupancy as received; and
``GET /api/v1/vehicles/punctuality``: each bus's delay against its timetable trip."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from pydantic import BaseModel

from central_hub.api.deps import HubDep
from central_hub.domain.dashboard import bus_delay, punctuality_class
from central_hub.domain.gtfs_rt import MAX_AGE_MS
from edge_agent.contract.payloads import Occupancy, Position

router = APIRouter(prefix="/api/v1", tags=["feeds"])


class VehicleOut(BaseModel):
    """One vehicle: the latest payloads exactly as received, ``null`` when none yet."""

    vehicle_id: str
    position: Position | None
    occupancy: Occupancy | None
    online: bool


@router.get("/vehicles", response_model=list[VehicleOut])
def list_vehicles(hub: HubDep) -> Response:
    """Every vehicle the hub has heard of."""
    now = int(time.time() * 1000)
    st = hub.state
    items = []
    for vid in sorted(st.vehicles):
        v = st.vehicles[vid]
        pos = v.position_raw.decode() if v.position_raw else "null"
        occ = v.occupancy_raw.decode() if v.occupancy_raw else "null"
        online = "true" if st.online(vid, now) else "false"
        items.append(f'{{"vehicle_id":"{vid}","position":{pos},"occupancy":{occ},'
                     f'"online":{online}}}')
    return Response("[" + ",".join(items) + "]", media_type="application/json")


class PunctualityOut(BaseModel):
    """A bus's delay against the timetable (negative: early), as in the TripUpdates feed."""

    vehicle_id: str
    route_id: str | None
    trip_id: str | None
    stop_id: str | None
    #: when the position it is computed from was measured
    measured_ms: int
    delay_s: int
    #: ``early`` (over 1 min ahead), ``on_time``, ``late`` (over 3 min behind)
    punctuality: str


@router.get("/vehicles/punctuality", response_model=list[PunctualityOut])
def punctuality(hub: HubDep) -> list[PunctualityOut]:
    """Every bus with a fresh position on a trip of the timetable, most late first."""
    now = int(time.time() * 1000)
    out = []
    for v in list(hub.state.vehicles.values()):
        pos = v.position
        if pos is None or now - pos.ts > MAX_AGE_MS:
            continue
        delay = bus_delay(hub.schedule, pos)
        if delay is None:
            continue
        out.append(PunctualityOut(vehicle_id=v.vehicle_id, route_id=pos.route_id,
                                  trip_id=pos.trip_id, stop_id=pos.stop_id, measured_ms=pos.ts,
                                  delay_s=delay, punctuality=punctuality_class(delay)))
    out.sort(key=lambda p: (-p.delay_s, p.vehicle_id))
    return out
