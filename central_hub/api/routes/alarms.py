"""Alarms: list (open, unacknowledged or the whole history) and acknowledge.

WHY a fallback to memory: the alarm rows live in the hub's database, and the alarm operators
most need while it is down is ``hub_storage_down`` itself. When the table cannot be read the
list is the alarm engine's active alarms (``id`` 0: not yet stored, so not acknowledgeable),
marked by the header ``X-Alarms-Source: memory``; otherwise the header says ``database``.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import InterfaceError, OperationalError

from central_hub.alarms import AlarmRecord
from central_hub.api.deps import CallerDep, HubDep
from central_hub.hub import Hub
from edge_agent.contract.ids import ID_PATTERN

router = APIRouter(prefix="/api/v1/alarms", tags=["operations"])


SOURCE_HEADER = "X-Alarms-Source"


def _in_memory(hub: Hub, limit: int, device_id: str | None) -> list[AlarmRecord]:
    """The engine's active alarms as records (newest first), for when the table is unreadable."""
    if hub.alarms is None:  # not the primary: no engine here either
        raise HTTPException(503, "the alarm store is unreachable")
    active = sorted(hub.alarms.engine.active.values(), key=lambda c: c.at_ms, reverse=True)
    return [AlarmRecord(id=0, kind=c.kind, device_id=c.device_id, severity=c.severity,
                        message=c.message, raised_ms=c.at_ms, cleared_ms=None, acked_ms=None,
                        acked_by=None, active=True)
            for c in active if device_id is None or c.device_id == device_id][:limit]


@router.get("", response_model=list[AlarmRecord], responses={
    200: {"headers": {SOURCE_HEADER: {
        "description": "`database`, or `memory` when the database is unreachable: then the "
                       "list is the active alarms only (id 0, not acknowledgeable)",
        "schema": {"type": "string", "enum": ["database", "memory"]}}}},
    503: {"description": "the database is unreachable and this process runs no alarm engine"}})
async def list_alarms(
    hub: HubDep,
    response: Response,
    state: Literal["open", "unacked", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    device_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> list[AlarmRecord]:
    """Alarms newest first; ``state=all`` is the history (active alarms only while the
    database is down, see the ``X-Alarms-Source`` header)."""
    try:
        records = await run_in_threadpool(hub.alarm_store.list, state, limit, device_id)
    except (OperationalError, InterfaceError):
        response.headers[SOURCE_HEADER] = "memory"
        return _in_memory(hub, limit, device_id)
    response.headers[SOURCE_HEADER] = "database"
    return records


@router.post("/{alarm_id}/ack", response_model=AlarmRecord,
             responses={404: {"description": "no such alarm"}})
async def ack_alarm(alarm_id: Annotated[int, Path(ge=1, le=2**62)], hub: HubDep,
                    caller: CallerDep) -> AlarmRecord:
    """Acknowledge an alarm (engineer); ``acked_by`` is the caller's name."""
    rec = await run_in_threadpool(hub.alarm_store.ack, alarm_id, caller.name[:32],
                                  int(time.time() * 1000))
    if rec is None:
        raise HTTPException(404, f"no alarm {alarm_id}")
    return rec
