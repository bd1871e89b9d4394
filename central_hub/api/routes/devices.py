"""Device registry and remote commands.

``GET /api/v1/devices`` merges the registry with what the live feed knows (online,
health); registering, rotating credentials (by hand, or end to end with the device through
``rotate_credentials``) and removing need the admin role, and commands the engineer role.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated, Any, Literal, Union

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, create_model

from central_hub.api.deps import HubDep, body_limit
from central_hub.commands import CommandTimeoutError
from central_hub.registry import RegistryError
from edge_agent.contract.commands import COMMAND_BY_NAME, ROUTABLE, CommandSpec, parse_args
from edge_agent.contract.ids import ID_PATTERN, Id
from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES, CommandAck, Health

router = APIRouter(prefix="/api/v1/devices", tags=["operations"])
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="device id (broker login)")]


class DeviceOut(BaseModel):
    """A device: registry entry (if registered) and live state (if heard of)."""

    device_id: str
    kind: str | None
    entity_id: str | None
    registered: bool
    online: bool | None
    sw: str | None
    last_seen_ms: int | None
    health: Health | None


class DeviceIn(BaseModel):
    """A device to register; ``entity_id`` is the id in its topics (vehicle id of a bus)."""

    device_id: Id
    kind: Literal["bus", "intersection", "hub"]
    entity_id: Id | None = None
    label: Annotated[str, Field(max_length=200)] = ""


class CredentialsOut(BaseModel):
    """Broker credentials, shown once."""

    device_id: str
    kind: str
    entity_id: str
    username: str
    password: str


def _command_body(spec: CommandSpec) -> type[BaseModel]:
    """The request body of one command: ``{"name": "<its name>", "args": {...}}``."""
    required = any(f.is_required() for f in spec.args.model_fields.values())
    args_default: Any = ... if required else Field(default_factory=spec.args)
    return create_model(
        "".join(part.title() for part in spec.name.split("_")) + "Command",
        __doc__=f"`{spec.name}` (for a {' or '.join(sorted(spec.kinds))}): {spec.summary}.",
        name=(Literal[spec.name], ...),  # type: ignore[arg-type]
        args=(spec.args, args_default),
        timeout_s=(Annotated[float, Field(gt=0, le=60)] | None, None),
    )


#: one body model per command of the contract, told apart by ``name``: the OpenAPI document
#: lists every command with its arguments, and bad arguments are a 422 before anything is sent.
CommandIn = Annotated[  # type: ignore[valid-type]
    Union[tuple(_command_body(c) for c in ROUTABLE)],  # noqa: UP007 - built at run time
    Field(discriminator="name"),
]


class RotationIn(BaseModel):
    """How long to wait for the device's ack, and then for its login with the new password."""

    timeout_s: Annotated[float, Field(gt=0, le=60)] | None = None


class RotationOut(BaseModel):
    """The outcome of a rotation; never the password."""

    device_id: str
    command_id: str
    ack: CommandAck
    #: the broker's password file now holds only the new password (the old one is refused)
    switched: bool
    #: the device logged in again (a new birth) after the switch, within the timeout
    reconnected: bool


class CommandOut(BaseModel):
    """The command id and the device's ack."""

    id: str
    device_id: str
    ack: CommandAck


@router.get("", response_model=list[DeviceOut])
async def list_devices(hub: HubDep) -> list[DeviceOut]:
    """Registered devices and devices seen on the broker."""
    registered = {d.device_id: d for d in await run_in_threadpool(hub.registry.records)}
    live = hub.state.devices
    out = []
    for did in sorted(set(registered) | set(live)):
        r, d = registered.get(did), live.get(did)
        out.append(DeviceOut(
            device_id=did, kind=(r.kind if r else d.kind if d else None),
            entity_id=r.entity_id if r else None, registered=r is not None,
            online=d.online if d else None, sw=d.sw if d else None,
            last_seen_ms=(max(d.last_seen_ms, d.status_ms) or None) if d else None,
            health=d.health if d else None))
    return out


@router.post("", response_model=CredentialsOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "already registered"}})
async def register_device(body: DeviceIn, hub: HubDep) -> CredentialsOut:
    """Register a device, issue its password, regenerate the broker files, reload (admin)."""
    try:
        password = await run_in_threadpool(hub.registry.register, body.device_id, body.kind,
                                           body.entity_id, body.label)
    except RegistryError as exc:
        raise HTTPException(409, str(exc)) from exc
    entity = body.entity_id or body.device_id
    hub.state.entity_device[entity] = body.device_id
    return CredentialsOut(device_id=body.device_id, kind=body.kind, entity_id=entity,
                          username=body.device_id, password=password)


@router.post("/{device_id}/credentials", response_model=CredentialsOut,
             responses={404: {"description": "not registered"}})
async def rotate_credentials(device_id: DeviceId, hub: HubDep) -> CredentialsOut:
    """Issue a new password (the old one stops working at the broker reload) (admin)."""
    try:
        password = await run_in_threadpool(hub.registry.rotate, device_id)
    except RegistryError as exc:
        raise HTTPException(404, str(exc)) from exc
    rec = await run_in_threadpool(hub.registry.get, device_id)
    assert rec is not None
    return CredentialsOut(device_id=device_id, kind=rec.kind, entity_id=rec.entity_id,
                          username=device_id, password=password)


@router.post("/{device_id}/credentials/rotate", response_model=RotationOut,
             responses={404: {"description": "not registered"},
                        409: {"description": "offline, or the device refused (nothing changed)"},
                        422: {"description": "the device's kind has no broker password to rotate"},
                        503: {"description": "the hub is not connected to the broker"},
                        504: {"description": "no ack before the timeout (nothing changed)"}})
async def rotate_device_credentials(device_id: DeviceId, hub: HubDep,
                                    body: RotationIn | None = None) -> RotationOut:
    """Rotate a device's broker password end to end (admin), without anyone seeing it.

    The hub makes a random password and sends it in ``rotate_credentials`` on the device's
    own command topic; the device stores it (0600, atomically) and acks. Only after that ack
    does the hub replace the old password's hash with the new one in the broker's password
    file and reload the broker, which disconnects the device's old login; the device logs in
    with the new password. Without an ``ok`` ack nothing changes at the broker (the old
    password stays valid, the device falls back to it). The password is held only in this
    request's memory: the database gets its hash, the response and the logs never see it.
    """
    record = await run_in_threadpool(hub.registry.get, device_id)
    if record is None:
        raise HTTPException(404, f"device {device_id} is not registered")
    spec = COMMAND_BY_NAME["rotate_credentials"]
    if record.kind not in spec.kinds:
        raise HTTPException(422, f"{device_id} is a {record.kind}; rotate_credentials is for "
                                 f"a {' or '.join(sorted(spec.kinds))}")
    live = hub.state.devices.get(device_id)
    if live is None or not live.online:
        raise HTTPException(409, f"{device_id} is not online; a rotation needs it connected")
    before = live.bdseq or 0
    timeout = (body.timeout_s if body is not None else None) or \
        hub.runtime.settings.command_timeout_s
    password = secrets.token_urlsafe(32)
    args = parse_args("rotate_credentials", {"password": password}).model_dump(mode="json")
    try:
        cmd_id, ack = await hub.live.commands.send(device_id, "rotate_credentials", args,
                                                   timeout)
    except CommandTimeoutError as exc:
        raise HTTPException(504, f"no ack from {device_id} within {timeout} s (command "
                                 f"{exc.args[0]}); the old password stays valid") from exc
    except ConnectionError as exc:
        raise HTTPException(503, str(exc)) from exc
    if not ack.ok:
        raise HTTPException(409, f"{device_id} refused the rotation: {ack.error}; the old "
                                 "password stays valid")
    # phase two: the broker takes the new password and forgets the old one (reload)
    await run_in_threadpool(hub.registry.rotate, device_id, password)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reconnected = False
    while loop.time() < deadline:
        state = hub.state.devices.get(device_id)
        if state is not None and state.online and (state.bdseq or 0) > before:
            reconnected = True
            break
        await asyncio.sleep(0.05)
    return RotationOut(device_id=device_id, command_id=cmd_id, ack=ack, switched=True,
                       reconnected=reconnected)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "not registered"}})
async def remove_device(device_id: DeviceId, hub: HubDep) -> None:
    """Remove a device; it can no longer log in after the reload (admin). A removed
    intersection's SPaT is no longer watched, so its staleness alarm clears."""
    record = await run_in_threadpool(hub.registry.get, device_id)
    if not await run_in_threadpool(hub.registry.remove, device_id):
        raise HTTPException(404, f"device {device_id} is not registered")
    if record is not None and record.kind == "intersection" and hub.alarms is not None:
        hub.alarms.forget_intersection(record.entity_id, int(time.time() * 1000))


@router.post("/{device_id}/commands", response_model=CommandOut,
             # the arguments travel in one MQTT payload: as large as the contract allows
             openapi_extra=body_limit(MAX_PAYLOAD_BYTES),
             responses={404: {"description": "unknown device"},
                        503: {"description": "the hub is not connected to the broker"},
                        504: {"description": "no ack before the timeout"}})
async def send_command(device_id: DeviceId, body: CommandIn,  # type: ignore[valid-type]
                       hub: HubDep) -> CommandOut:
    """Send ``cmd`` to a device and wait for its ``cmd/ack`` (engineer). The commands and
    their arguments are listed in the request body's schema; a command the device's kind does
    not take is refused (422)."""
    command: Any = body  # one of the generated body models (see CommandIn)
    live = hub.state.devices.get(device_id)
    record = await run_in_threadpool(hub.registry.get, device_id)
    if live is None and record is None:
        raise HTTPException(404, f"unknown device {device_id}")
    spec = COMMAND_BY_NAME[command.name]
    kind = record.kind if record is not None else live.kind if live is not None else None
    if kind is not None and kind not in spec.kinds:
        raise HTTPException(422, f"{device_id} is a {kind}; {command.name} is for a "
                                 f"{' or '.join(sorted(spec.kinds))}")
    timeout = command.timeout_s or hub.runtime.settings.command_timeout_s
    args = command.args.model_dump(mode="json")
    try:
        cmd_id, ack = await hub.live.commands.send(device_id, command.name, args, timeout)
    except CommandTimeoutError as exc:
        raise HTTPException(504, f"no ack from {device_id} within {timeout} s "
                            f"(command {exc.args[0]})") from exc
    except ConnectionError as exc:
        raise HTTPException(503, str(exc)) from exc
    return CommandOut(id=cmd_id, device_id=device_id, ack=ack)
