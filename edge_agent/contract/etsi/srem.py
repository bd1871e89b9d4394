"""SREM (ETSI TS 103 301, messageID 9): a vehicle's priority request as the standard's UPER.

Why: vehicles outside the platform ask for priority only in the standard's terms, and a bus of
ours may be asked to speak them too (``route.etsi_srem``). Our JSON ``srem`` stays the source
of truth for what a request means; this module says the same in a SignalRequestMessage with
one SignalRequestPackage per request (docs/c-its.md, "SREM"), and reads any SREM of protocol
version 2 back into typed values and, against an intersection's config, into the JSON
:class:`~edge_agent.contract.payloads.Srem` that a controller validates and acts on exactly
like one received as JSON.

What differs in form: the request id is a number 0..255 (our ``request_id`` in decimal), the
signal group is a lane (the ingress lane of the MAPEM whose connection the group controls,
and the egress lane of that connection), the intersection is its ITS reference id, times are
minute of the year and milliseconds, the schedule deviation is in 10 s steps. The vehicle is
named by its topic, never by the message: the header's station id is informational
(:func:`station_id_of`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import ValidationError

from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.errors import ItsEncodeError, ItsMessageError
from edge_agent.contract.etsi.header import ItsHeader, MessageId, header_for
from edge_agent.contract.etsi.timemark import epoch_ms, minute_of_year
from edge_agent.contract.lane_geometry import approach_numbers
from edge_agent.contract.payloads import Srem, SremFields, future_ts_problem

if TYPE_CHECKING:
    from edge_agent.contract.configs import IntersectionConfig

#: refuse larger input before decoding: 32 requests with a full requestor fit in ~1 KiB.
MAX_SREM_BYTES = 2 * 1024
MSG_COUNT_MODULO = 128
#: DeltaTime (transitSchedule): units of 10 s, -122..121 (we send -121..121).
SCHEDULE_STEP_S = 10
MAX_SCHEDULE = 121
#: DescriptiveName ::= IA5String (SIZE(1..63))
MAX_NAME = 63

RequestType = Literal["request", "update", "cancel"]
#: our ``type`` -> PriorityRequestType
REQUEST_TYPE: Final[Mapping[str, str]] = {
    "request": "priorityRequest", "update": "priorityRequestUpdate",
    "cancel": "priorityCancellation",
}
TYPE_OF_REQUEST: Final[Mapping[str, RequestType]] = {
    "priorityRequest": "request", "priorityRequestUpdate": "update",
    "priorityCancellation": "cancel",
}
#: our ``role`` -> BasicVehicleRole, and the roles read back (any other is refused)
ROLE: Final[Mapping[str, str]] = {"transit": "publicTransport", "emergency": "emergency"}
ROLE_OF: Final[Mapping[str, Literal["transit", "emergency"]]] = {
    "publicTransport": "transit", "transit": "transit",
    "emergency": "emergency", "police": "emergency", "fire": "emergency",
    "ambulance": "emergency",
}
AccessKind = Literal["lane", "approach", "connection"]


def station_id_of(vehicle_id: str) -> int:
    """The StationID a vehicle sends as: the CRC-32 of its id (UTF-8). The vehicle config
    names none, and the id is what the broker authenticates; receivers take the vehicle from
    the topic, so a collision costs nothing but a confusing trace."""
    return zlib.crc32(vehicle_id.encode("utf-8"))


def request_number(request_id: str) -> int:
    """The RequestID (0..255) of our ``request_id``: its decimal value. A request sent as
    SREM needs such an id (the bus gateway numbers them so when it sends SREM)."""
    if request_id.isascii() and request_id.isdigit() and int(request_id) <= 255 \
            and str(int(request_id)) == request_id:
        return int(request_id)
    raise ItsEncodeError(f"request_id {request_id!r} is not a RequestID 0..255 in decimal")


@dataclass(frozen=True, slots=True)
class AccessPoint:
    """An IntersectionAccessPoint: a lane id, an approach id or a connection id."""

    kind: AccessKind
    number: int

    def as_value(self) -> tuple[str, int]:
        return (self.kind, self.number)


@dataclass(frozen=True, slots=True)
class SremTarget:
    """Where a request goes in the standard's terms: the intersection's reference id and the
    lanes (or approach) of the movement our signal group controls."""

    region: int | None
    intersection_id: int
    inbound: AccessPoint
    outbound: AccessPoint | None = None


def srem_target(config: IntersectionConfig, sg: str) -> SremTarget:
    """The target of a request for signal group ``sg`` of ``config``: the first ingress lane
    (config order) with a connection under ``sg`` and that connection's egress lane; without a
    geometry the group's approach number. :class:`ItsEncodeError` when there is none."""
    its = config.its
    if its is None:
        raise ItsEncodeError(f"{config.device_id}: the config has no its section")
    inbound, outbound = access_points(config, sg)
    return SremTarget(its.region, its.intersection_id, inbound, outbound)


def access_points(config: IntersectionConfig, sg: str) -> tuple[AccessPoint,
                                                                AccessPoint | None]:
    """``(inbound, outbound)`` of signal group ``sg`` (see :func:`srem_target`)."""
    geometry = config.geometry
    if geometry is not None:
        for lane in geometry.lanes:
            for c in lane.connections:
                if c.sg == sg and lane.direction in ("ingress", "both"):
                    return AccessPoint("lane", lane.lane_id), AccessPoint("lane", c.lane)
    group = next((g for g in config.signal_groups if g.sg == sg), None)
    if group is None:
        raise ItsEncodeError(f"{config.device_id}: no signal group {sg}")
    lanes = geometry.lanes if geometry is not None else ()
    numbers = approach_numbers((g.approach for g in config.signal_groups), lanes)
    return AccessPoint("approach", numbers[group.approach]), None


def group_of(config: IntersectionConfig, inbound: AccessPoint,
             outbound: AccessPoint | None) -> str:
    """The signal group a request for ``inbound`` (and ``outbound``) means: the one group
    controlling the lane's connections (into ``outbound`` when given), priority groups first
    when several do; for an approach the one priority group of that approach. Raises
    :class:`ItsMessageError` ``unknown_lane`` or ``ambiguous_lane``."""
    geometry = config.geometry
    lanes = geometry.lanes if geometry is not None else ()
    if inbound.kind == "lane":
        lane = next((la for la in lanes if la.lane_id == inbound.number
                     and la.direction in ("ingress", "both")), None)
        if lane is None:
            raise ItsMessageError("unknown_lane", f"no ingress lane {inbound.number}")
        if outbound is not None and outbound.kind != "lane":
            raise ItsMessageError("unknown_lane", f"outBoundLane {outbound.kind} not read")
        groups = [c.sg for c in lane.connections
                  if outbound is None or c.lane == outbound.number]
        where = f"lane {inbound.number}" + ("" if outbound is None
                                            else f" into lane {outbound.number}")
    elif inbound.kind == "approach":
        numbers = approach_numbers((g.approach for g in config.signal_groups), lanes)
        groups = [g.sg for g in config.signal_groups
                  if numbers.get(g.approach) == inbound.number and g.kind != "pedestrian"]
        where = f"approach {inbound.number}"
    else:
        raise ItsMessageError("unknown_lane", "a connection id names no lane of ours")
    unique = sorted(set(groups))
    if len(unique) > 1:
        unique = [sg for sg in unique if sg in config.priority.groups] or unique
    if not unique:
        raise ItsMessageError("unknown_lane", f"no signal group controls {where}")
    if len(unique) > 1:
        raise ItsMessageError("ambiguous_lane",
                              f"{where} is controlled by {', '.join(unique)}")
    return unique[0]


# --- encode ------------------------------------------------------------------------------


def _ascii(text: str, what: str) -> str:
    if not (text.isascii() and text.isprintable() and 1 <= len(text) <= MAX_NAME):
        raise ItsEncodeError(f"{what} {text!r} is not a DescriptiveName (1..63 ASCII)")
    return text


def srem_value(srem: SremFields, target: SremTarget, *, now_ms: int, sequence: int,
               station_id: int | None = None) -> dict[str, Any]:
    """The SREM of our JSON ``srem`` in the toolkit's value notation: sent at ``now_ms`` (the
    JSON's ``ts``), message ``sequence`` (wraps at 128), by ``station_id`` (default: the
    vehicle's, :func:`station_id_of`)."""
    station = station_id_of(srem.vehicle_id) if station_id is None else station_id
    ref: dict[str, int] = {"id": target.intersection_id}
    if target.region is not None:
        ref["region"] = target.region
    request: dict[str, Any] = {
        "id": ref, "requestID": request_number(srem.request_id),
        "requestType": REQUEST_TYPE[srem.type], "inBoundLane": target.inbound.as_value(),
    }
    if target.outbound is not None:
        request["outBoundLane"] = target.outbound.as_value()
    eta_minute, eta_ms = minute_of_year(srem.eta)
    moy, dsecond = minute_of_year(now_ms)
    requestor: dict[str, Any] = {"id": ("stationID", station),
                                 "type": {"role": ROLE[srem.role]}}
    if srem.route_id is not None:
        requestor["routeName"] = _ascii(srem.route_id, "route_id")
    if srem.delay_s is not None:
        steps = round(srem.delay_s / SCHEDULE_STEP_S)
        requestor["transitSchedule"] = max(-MAX_SCHEDULE, min(MAX_SCHEDULE, steps))
    return {
        "header": header_for(MessageId.SREM, station).as_value(),
        "srm": {"timeStamp": moy, "second": dsecond, "sequenceNumber": sequence % MSG_COUNT_MODULO,
                "requests": [{"request": request, "minute": eta_minute, "second": eta_ms}],
                "requestor": requestor},
    }


def encode_srem(srem: SremFields, target: SremTarget, *, now_ms: int, sequence: int,
                station_id: int | None = None) -> bytes:
    """UPER bytes of the SREM of ``srem`` (see :func:`srem_value`)."""
    return uper.encode(MessageId.SREM, srem_value(srem, target, now_ms=now_ms,
                                                  sequence=sequence, station_id=station_id))


# --- decode ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalRequest:
    """One SignalRequestPackage: which intersection, which request, where, and the ETA as
    minute of the year and ms within it (``None`` when absent)."""

    region: int | None
    intersection_id: int
    request_id: int
    request_type: str
    inbound: AccessPoint
    outbound: AccessPoint | None
    minute: int | None
    second: int | None
    duration: int | None


@dataclass(frozen=True, slots=True)
class Requestor:
    """The RequestorDescription fields we read (``station_id`` ``None`` for an entityID)."""

    station_id: int | None
    role: str | None
    subrole: str | None
    name: str | None
    route: str | None
    schedule: int | None


@dataclass(frozen=True, slots=True)
class SremMessage:
    """A decoded SREM."""

    header: ItsHeader
    moy: int | None
    second: int
    sequence: int | None
    requests: tuple[SignalRequest, ...]
    requestor: Requestor


def read_access(v: tuple[str, int]) -> AccessPoint:
    """An IntersectionAccessPoint as the toolkit decodes it."""
    kind, number = v
    if kind not in ("lane", "approach", "connection"):
        raise ItsMessageError("malformed", f"unknown IntersectionAccessPoint {kind!r}")
    return AccessPoint(kind, number)  # type: ignore[arg-type]  # checked above


def _package(v: Mapping[str, Any]) -> SignalRequest:
    r = v["request"]
    out = r.get("outBoundLane")
    return SignalRequest(
        region=r["id"].get("region"), intersection_id=r["id"]["id"], request_id=r["requestID"],
        request_type=r["requestType"], inbound=read_access(r["inBoundLane"]),
        outbound=None if out is None else read_access(out), minute=v.get("minute"),
        second=v.get("second"), duration=v.get("duration"),
    )


def _requestor(v: Mapping[str, Any]) -> Requestor:
    kind, ident = v["id"]
    rtype = v.get("type") or {}
    return Requestor(
        station_id=ident if kind == "stationID" else None, role=rtype.get("role"),
        subrole=rtype.get("subrole"), name=v.get("name"), route=v.get("routeName"),
        schedule=v.get("transitSchedule"),
    )


def _srem(v: Mapping[str, Any]) -> SremMessage:
    h, m = v["header"], v["srm"]
    return SremMessage(
        header=ItsHeader(h["protocolVersion"], h["messageID"], h["stationID"]),
        moy=m.get("timeStamp"), second=m["second"], sequence=m.get("sequenceNumber"),
        requests=tuple(_package(p) for p in m.get("requests", ())),
        requestor=_requestor(m["requestor"]),
    )


def decode_srem(data: bytes | bytearray | memoryview) -> SremMessage:
    """Read SREM bytes (protocol version 2) or raise :class:`ItsMessageError`."""
    return uper.decode(MessageId.SREM, data, MAX_SREM_BYTES, _srem)


# --- the JSON meaning --------------------------------------------------------------------


def near_epoch_ms(moy: int, dsecond: int, now_ms: int) -> int:
    """The epoch ms of minute ``moy`` and ms ``dsecond`` of the UTC year nearest ``now_ms``
    (a message sent on New Year's Eve and read just after midnight)."""
    year = datetime.fromtimestamp(now_ms // 1000, tz=UTC).year
    options = [epoch_ms(y, moy, dsecond) for y in (year - 1, year, year + 1)]
    return min(options, key=lambda t: abs(t - now_ms))


def srem_payloads(msg: SremMessage, config: IntersectionConfig, vehicle_id: str,
                  now_ms: int) -> list[Srem]:
    """The JSON ``srem`` each request of ``msg`` means for the intersection of ``config``,
    sent by ``vehicle_id`` (the topic's). A message is taken whole or refused whole:
    :class:`ItsMessageError` ``wrong_intersection`` (a request for another intersection),
    ``unknown_lane``/``ambiguous_lane`` (no single signal group of ours), ``unknown_request``
    (reserved request type, no ETA, a role we do not serve, no request), ``future_ts`` (sent
    further ahead of our clock than a JSON payload may be)."""
    its = config.its
    if its is None:
        raise ItsMessageError("wrong_intersection", f"{config.device_id} has no its identity")
    if not msg.requests:
        raise ItsMessageError("unknown_request", "a SREM without requests")
    r = msg.requestor
    role = ROLE_OF.get(r.role or "publicTransport")
    if role is None:
        raise ItsMessageError("unknown_request", f"role {r.role} asks for no priority of ours")
    ts = now_ms if msg.moy is None else near_epoch_ms(msg.moy, msg.second, now_ms)
    problem = future_ts_problem(ts, now_ms)
    if problem is not None:
        raise ItsMessageError("future_ts", problem)
    delay = None if r.schedule is None or r.schedule < -MAX_SCHEDULE \
        else r.schedule * SCHEDULE_STEP_S
    out = []
    for p in msg.requests:
        if p.intersection_id != its.intersection_id or p.region not in (None, its.region):
            raise ItsMessageError(
                "wrong_intersection",
                f"request for intersection {p.region}/{p.intersection_id}, this is "
                f"{its.region}/{its.intersection_id}")
        kind = TYPE_OF_REQUEST.get(p.request_type)
        if kind is None:
            raise ItsMessageError("unknown_request", f"requestType {p.request_type}")
        if p.minute is None:
            if kind != "cancel":
                raise ItsMessageError("unknown_request", "a request without an ETA")
            eta = ts
        else:
            eta = near_epoch_ms(p.minute, p.second or 0, now_ms)
        sg = group_of(config, p.inbound, p.outbound)
        try:
            out.append(Srem(
                ts=ts, request_id=str(p.request_id), vehicle_id=vehicle_id,
                intersection_id=config.device_id, type=kind, sg=sg, eta=eta, role=role,
                route_id=r.route, delay_s=delay,
            ))
        except ValidationError as exc:
            raise ItsMessageError("malformed", f"not a valid srem: {exc}") from exc
    return out
