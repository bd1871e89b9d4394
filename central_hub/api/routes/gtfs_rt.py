"""GTFS-Realtime feeds (docs/interfaces.md: HTTP): protobuf by default, ``?format=json`` for JSON.

WHY built per request: building 300 vehicles takes about a millisecond, so every fetch gets
data as fresh as the last message (gtfs.org: refresh at least every 30 s) without a cache.
"""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Response
from google.protobuf import json_format

from central_hub.api.deps import HubDep
from central_hub.domain.gtfs_rt import VehicleSnapshot, trip_updates, vehicle_positions

router = APIRouter(prefix="/gtfs-rt", tags=["feeds"])
PROTOBUF = "application/x-protobuf"
_RESPONSES: dict[int | str, dict[str, object]] = {200: {"content": {
    PROTOBUF: {}, "application/json": {}}, "description": "a GTFS-Realtime FeedMessage"}}


def _snapshots(hub: HubDep) -> list[VehicleSnapshot]:
    return [VehicleSnapshot(v.vehicle_id, v.position, v.occupancy)
            for v in list(hub.state.vehicles.values())]


def _respond(feed: object, fmt: str | None) -> Response:
    if fmt == "json":
        return Response(json_format.MessageToJson(feed, preserving_proto_field_name=True),  # type: ignore[arg-type]
                        media_type="application/json")
    return Response(feed.SerializeToString(), media_type=PROTOBUF)  # type: ignore[attr-defined]


@router.get("/vehicle-positions", response_class=Response, responses=_RESPONSES)
def vehicle_positions_feed(hub: HubDep, format: Literal["json", "pb"] | None = None) -> Response:
    """VehiclePositions with occupancy_status and occupancy_percentage."""
    now = int(time.time() * 1000)
    return _respond(vehicle_positions(_snapshots(hub), now, hub.schedule), format)


@router.get("/trip-updates", response_class=Response, responses=_RESPONSES)
def trip_updates_feed(hub: HubDep, format: Literal["json", "pb"] | None = None) -> Response:
    """TripUpdates: delays predicted from positions against the static timetable."""
    now = int(time.time() * 1000)
    if hub.schedule is None:
        return _respond(vehicle_positions([], now), format)  # header only: no timetable
    return _respond(trip_updates(_snapshots(hub), now, hub.schedule), format)
