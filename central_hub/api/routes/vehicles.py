"""``GET /api/v1/vehicles`` (CONTRACT §8): latest position and occupancy as received."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from pydantic import BaseModel

from central_hub.api.deps import HubDep
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
