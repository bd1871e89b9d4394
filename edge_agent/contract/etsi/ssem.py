"""SSEM (ETSI TS 103 301, messageID 10): our JSON ``ssem`` as the standard's UPER bytes.

Why: a vehicle that asked in SREM reads the answer in SSEM. One JSON ``ssem`` (every listed
request's status) becomes one SignalStatusMessage with the intersection's SignalStatus and one
SignalStatusPackage per request: the requester (the vehicle's station id, the request's
RequestID and the sequence number of the SREM it came with), the lane the request named and
the status, whose PrioritizationResponseStatus names are our ``status`` values
(docs/c-its.md, "SSEM"). A list of more than 32 requests (the package list's bound) is
split over several SignalStatus entries of the same intersection. :func:`decode_ssem` reads
any SSEM of protocol version 2 into typed values.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, get_args

from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.errors import ItsEncodeError
from edge_agent.contract.etsi.header import ItsHeader, MessageId, header_for
from edge_agent.contract.etsi.srem import (
    AccessPoint,
    access_points,
    read_access,
    request_number,
    station_id_of,
)
from edge_agent.contract.etsi.timemark import minute_of_year
from edge_agent.contract.payloads import RequestStatus, SsemFields

if TYPE_CHECKING:
    from edge_agent.contract.configs import IntersectionConfig

#: refuse larger input before decoding: 32 x 32 packages take about 14 KiB.
MAX_SSEM_BYTES = 16 * 1024
MSG_COUNT_MODULO = 128
#: SignalStatusPackageList ::= SEQUENCE (SIZE(1..32))
MAX_PACKAGES = 32
#: SignalStatusList ::= SEQUENCE (SIZE(1..32))
MAX_STATUSES = 32
STATUSES: Final = frozenset(get_args(RequestStatus))
#: what the controller remembers of a request that came as SREM: (sequenceNumber, the lane
#: it named, the egress lane), keyed by (vehicle id, request id)
SeenRequests = Mapping[tuple[str, str], tuple[int, AccessPoint, AccessPoint | None]]


def request_id_number(request_id: str) -> int:
    """The RequestID of a listed request: its decimal value (every SREM request, and a JSON
    one numbered so), else the CRC-32 of the id modulo 256 (a JSON-only bus reads no SSEM)."""
    try:
        return request_number(request_id)
    except ItsEncodeError:
        return zlib.crc32(request_id.encode("utf-8")) % 256


def ssem_value(ssem: SsemFields, config: IntersectionConfig, *, now_ms: int, sequence: int,
               seen: SeenRequests | None = None) -> dict[str, Any]:
    """The SSEM of our JSON ``ssem`` in the toolkit's value notation, sent at ``now_ms`` (the
    JSON's ``ts``) as message ``sequence`` (wraps at 128; also the SignalStatus's). ``seen``:
    the SREM sequence number and lanes of requests that came as SREM (echoed back); other
    requests name their group's lanes (:func:`~edge_agent.contract.etsi.srem.access_points`)
    and sequence number 0. :class:`ItsEncodeError` for an empty list (the standard needs at
    least one package) or more than 1024 requests."""
    its = config.its
    if its is None:
        raise ItsEncodeError(f"{config.device_id}: the config has no its section")
    if not ssem.requests:
        raise ItsEncodeError(f"{config.device_id}: an SSEM needs at least one request")
    if len(ssem.requests) > MAX_PACKAGES * MAX_STATUSES:
        raise ItsEncodeError(f"{config.device_id}: {len(ssem.requests)} requests")
    seen = seen or {}
    packages = []
    for r in ssem.requests:
        known = seen.get((r.vehicle_id, r.request_id))
        if known is None:
            seq, (inbound, outbound) = 0, access_points(config, r.sg)
        else:
            seq, inbound, outbound = known
        package: dict[str, Any] = {
            "requester": {"id": ("stationID", station_id_of(r.vehicle_id)),
                          "request": request_id_number(r.request_id),
                          "sequenceNumber": seq % MSG_COUNT_MODULO},
            "inboundOn": inbound.as_value(),
        }
        if outbound is not None:
            package["outboundOn"] = outbound.as_value()
        package["status"] = r.status
        packages.append(package)
    ref: dict[str, int] = {"id": its.intersection_id}
    if its.region is not None:
        ref["region"] = its.region
    statuses = [{"sequenceNumber": sequence % MSG_COUNT_MODULO, "id": ref,
                 "sigStatus": packages[i:i + MAX_PACKAGES]}
                for i in range(0, len(packages), MAX_PACKAGES)]
    moy, dsecond = minute_of_year(now_ms)
    return {"header": header_for(MessageId.SSEM, its.station_id).as_value(),
            "ssm": {"timeStamp": moy, "second": dsecond,
                    "sequenceNumber": sequence % MSG_COUNT_MODULO, "status": statuses}}


def encode_ssem(ssem: SsemFields, config: IntersectionConfig, *, now_ms: int, sequence: int,
                seen: SeenRequests | None = None) -> bytes:
    """UPER bytes of the SSEM of ``ssem`` (see :func:`ssem_value`)."""
    return uper.encode(MessageId.SSEM, ssem_value(ssem, config, now_ms=now_ms,
                                                  sequence=sequence, seen=seen))


# --- decode ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One SignalStatusPackage (``station_id`` ``None`` without a requester or for an
    entityID; ``request_id``/``sequence`` ``None`` without a requester)."""

    station_id: int | None
    request_id: int | None
    sequence: int | None
    role: str | None
    inbound: AccessPoint
    outbound: AccessPoint | None
    status: str


@dataclass(frozen=True, slots=True)
class IntersectionStatus:
    """One SignalStatus: an intersection and its requests' statuses."""

    region: int | None
    intersection_id: int
    sequence: int
    entries: tuple[StatusEntry, ...]


@dataclass(frozen=True, slots=True)
class SsemMessage:
    """A decoded SSEM."""

    header: ItsHeader
    moy: int | None
    second: int
    sequence: int | None
    statuses: tuple[IntersectionStatus, ...]

    def entries(self) -> tuple[StatusEntry, ...]:
        """Every package of every SignalStatus, in order."""
        return tuple(e for s in self.statuses for e in s.entries)


def _entry(v: Mapping[str, Any]) -> StatusEntry:
    req = v.get("requester")
    station = request = seq = role = None
    if req is not None:
        kind, ident = req["id"]
        station = ident if kind == "stationID" else None
        request, seq, role = req["request"], req["sequenceNumber"], req.get("role")
    out = v.get("outboundOn")
    return StatusEntry(station, request, seq, role, read_access(v["inboundOn"]),
                       None if out is None else read_access(out), v["status"])


def _ssem(v: Mapping[str, Any]) -> SsemMessage:
    h, m = v["header"], v["ssm"]
    return SsemMessage(
        header=ItsHeader(h["protocolVersion"], h["messageID"], h["stationID"]),
        moy=m.get("timeStamp"), second=m["second"], sequence=m.get("sequenceNumber"),
        statuses=tuple(
            IntersectionStatus(s["id"].get("region"), s["id"]["id"], s["sequenceNumber"],
                               tuple(_entry(p) for p in s["sigStatus"]))
            for s in m["status"]
        ),
    )


def decode_ssem(data: bytes | bytearray | memoryview) -> SsemMessage:
    """Read SSEM bytes (protocol version 2) or raise :class:`ItsMessageError`."""
    return uper.decode(MessageId.SSEM, data, MAX_SSEM_BYTES, _ssem)
