"""Alarms: list (open, unacknowledged or the whole history) and acknowledge."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool

from central_hub.alarms import AlarmRecord
from central_hub.api.deps import EngineerDep, HubDep
from edge_agent.contract.ids import ID_PATTERN

router = APIRouter(prefix="/api/v1/alarms", tags=["operations"])


@router.get("", response_model=list[AlarmRecord])
async def list_alarms(
    hub: HubDep,
    state: Literal["open", "unacked", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    device_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> list[AlarmRecord]:
    """Alarms newest first; ``state=all`` is the history."""
    return await run_in_threadpool(hub.alarm_store.list, state, limit, device_id)


@router.post("/{alarm_id}/ack", response_model=AlarmRecord,
             responses={404: {"description": "no such alarm"}})
async def ack_alarm(alarm_id: Annotated[int, Path(ge=1, le=2**62)], hub: HubDep,
                    role: EngineerDep) -> AlarmRecord:
    """Acknowledge an alarm (engineer)."""
    rec = await run_in_threadpool(hub.alarm_store.ack, alarm_id, role.name.lower(),
                                  int(time.time() * 1000))
    if rec is None:
        raise HTTPException(404, f"no alarm {alarm_id}")
    return rec
