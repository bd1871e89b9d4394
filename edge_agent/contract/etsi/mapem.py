"""MAPEM (ETSI TS 103 301, messageID 5): an intersection's lanes as the standard's UPER bytes.

Why: a vehicle applies a SPATEM's signal state only once it knows which signal group controls
its lane and movement; the MAPEM tells it: every lane's centre line, direction, users and
allowed maneuvers, and per movement out of it the egress lane and the signal group. One
config (its ``geometry``, ``its`` and ``its_sg``) becomes one MAPEM with one
IntersectionGeometry (docs/c-its.md, "MAPEM"). Its revision is the controller's map
revision, the one its JSON ``map`` carries and its SPATEMs refer to, so a receiver sees a
changed map as a new revision. :func:`decode_mapem` reads any MAPEM of protocol version 2 into
typed values (our dataclasses, not the toolkit's dicts).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.errors import ItsEncodeError
from edge_agent.contract.etsi.header import ItsHeader, MessageId, header_for
from edge_agent.contract.lane_geometry import (
    LaneConfig,
    approach_numbers,
    node_variant,
    offset_of,
    to_cm,
)

if TYPE_CHECKING:
    from edge_agent.contract.configs import IntersectionConfig

#: refuse larger input before decoding (and never write more). 255 lanes of 10 nodes and 4
#: connections each take about 14 KiB; a real intersection's MAPEM is 0.2-3 KiB.
MAX_MAPEM_BYTES = 16 * 1024
#: MsgCount ::= INTEGER (0..127): revisions wrap.
MSG_COUNT_MODULO = 128
#: Latitude/Longitude of the reference point: tenths of a microdegree.
DEG_UNITS = 10_000_000
#: DescriptiveName ::= IA5String (SIZE(1..63))
MAX_NAME = 63

# BIT STRING names, bit 0 first (ISO TS 19091 / SAE J2735 DSRC).
LANE_DIRECTION: Final = ("ingressPath", "egressPath")
LANE_SHARING: Final = (
    "overlappingLaneDescriptionProvided", "multipleLanesTreatedAsOneLane",
    "otherNonMotorizedTrafficTypes", "individualMotorizedVehicleTraffic", "busVehicleTraffic",
    "taxiVehicleTraffic", "pedestriansTraffic", "cyclistVehicleTraffic",
    "trackedVehicleTraffic", "pedestrianTraffic",
)
ALLOWED_MANEUVERS: Final = (
    "maneuverStraightAllowed", "maneuverLeftAllowed", "maneuverRightAllowed",
    "maneuverUTurnAllowed", "maneuverLeftTurnOnRedAllowed", "maneuverRightTurnOnRedAllowed",
    "maneuverLaneChangeAllowed", "maneuverNoStoppingAllowed", "yieldAllwaysRequired",
    "goWithHalt", "caution", "reserved1",
)
#: the named bits of each LaneTypeAttributes choice we know (others decode as ``bitN``)
LANE_TYPE_BITS: Final = MappingProxyType({
    "vehicle": ("isVehicleRevocableLane", "isVehicleFlyOverLane", "hovLaneUseOnly",
                "restrictedToBusUse", "restrictedToTaxiUse", "restrictedFromPublicUse",
                "hasIRbeaconCoverage", "permissionOnRequest"),
    "crosswalk": ("crosswalkRevocableLane", "bicyleUseAllowed", "isXwalkFlyOverLane",
                  "fixedCycleTime", "biDirectionalCycleTimes", "hasPushToWalkButton",
                  "audioSupport", "rfSignalRequestPresent", "unsignalizedSegmentsPresent"),
    "bikeLane": ("bikeRevocableLane", "pedestrianUseAllowed", "isBikeFlyOverLane",
                 "fixedCycleTime", "biDirectionalCycleTimes", "isolatedByBarrier",
                 "unsignalizedSegmentsPresent"),
    "sidewalk": ("sidewalk-RevocableLane", "bicyleUseAllowed", "isSidewalkFlyOverLane",
                 "walkBikes"),
    "trackedVehicle": ("spec-RevocableLane", "spec-commuterRailRoadTrack",
                       "spec-lightRailRoadTrack", "spec-heavyRailRoadTrack",
                       "spec-otherRailType"),
})
#: bits of each LaneTypeAttributes choice (vehicle: 8, extensible; the others 16).
_TYPE_SIZE: Final = MappingProxyType({"vehicle": 8})

#: our lane kind -> (laneType choice, its bits set, the LaneSharing bits always set)
LANE_TYPE_OF_KIND: Final = MappingProxyType({
    "vehicle": ("vehicle", (), ("individualMotorizedVehicleTraffic",)),
    "bus": ("vehicle", ("restrictedToBusUse",), ("busVehicleTraffic",)),
    "tram": ("trackedVehicle", ("spec-lightRailRoadTrack",), ("trackedVehicleTraffic",)),
    "bicycle": ("bikeLane", (), ("cyclistVehicleTraffic",)),
    "crosswalk": ("crosswalk", (), ("pedestriansTraffic",)),
})
#: ``shared_with`` of a lane -> LaneSharing bit
SHARING_OF_MODE: Final = MappingProxyType({
    "vehicle": "individualMotorizedVehicleTraffic", "bus": "busVehicleTraffic",
    "taxi": "taxiVehicleTraffic", "tram": "trackedVehicleTraffic",
    "bicycle": "cyclistVehicleTraffic", "pedestrian": "pedestriansTraffic",
})
#: our maneuver -> AllowedManeuvers bit
MANEUVER_BIT: Final = MappingProxyType({
    "straight": "maneuverStraightAllowed", "left": "maneuverLeftAllowed",
    "right": "maneuverRightAllowed", "u_turn": "maneuverUTurnAllowed",
    "left_on_red": "maneuverLeftTurnOnRedAllowed",
    "right_on_red": "maneuverRightTurnOnRedAllowed",
})
_DIRECTION_BITS: Final = MappingProxyType({
    "ingress": ("ingressPath",), "egress": ("egressPath",),
    "both": ("ingressPath", "egressPath"),
})


def bits_value(names: tuple[str, ...] | frozenset[str], table: tuple[str, ...],
               size: int) -> tuple[int, int]:
    """The BIT STRING value ``(integer, size)`` with the bits ``names`` of ``table`` set (bit
    0 is the most significant)."""
    value = 0
    for name in names:
        value |= 1 << (size - 1 - table.index(name))
    return value, size


def bit_names(value: int, size: int, table: tuple[str, ...]) -> frozenset[str]:
    """The names of the bits set in a decoded BIT STRING; a bit beyond ``table`` is ``bitN``."""
    return frozenset(
        table[i] if i < len(table) else f"bit{i}"
        for i in range(size) if value >> (size - 1 - i) & 1
    )


def ascii_name(name: str) -> str | None:
    """``name`` as a DescriptiveName (IA5String, 1..63): umlauts and ß spelt out, other
    letters without their accents, anything else not ASCII dropped."""
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"),
                 ("ß", "ss")):
        name = name.replace(a, b)
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = "".join(ch for ch in text if ch.isprintable())[:MAX_NAME].strip()
    return text or None


# --- encode ------------------------------------------------------------------------------


def _nodes(lane: LaneConfig, lane_width: float | None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    prev = (0, 0)
    for x, y in lane.offsets_cm():
        dx, dy = x - prev[0], y - prev[1]
        variant = node_variant(dx, dy)
        if variant is None:  # the config's validation refuses this
            raise ItsEncodeError(f"lane {lane.lane_id}: node offset {dx}, {dy} cm too large")
        nodes.append({"delta": (variant, {"x": dx, "y": dy})})
        prev = (x, y)
    if lane.width_m is not None and lane_width is not None:
        nodes[0]["attributes"] = {"dWidth": to_cm(lane.width_m - lane_width)}
    return nodes


def _lane(lane: LaneConfig, config: IntersectionConfig, lane_width: float | None,
          approaches: Mapping[str | int, int], buttons: frozenset[str]) -> dict[str, Any]:
    choice, type_bits, shared = LANE_TYPE_OF_KIND[lane.kind]
    if lane.kind == "crosswalk" and any(c.sg in buttons for c in lane.connections):
        type_bits = (*type_bits, "hasPushToWalkButton")
    sharing = frozenset(shared) | {SHARING_OF_MODE[m] for m in lane.shared_with}
    value: dict[str, Any] = {"laneID": lane.lane_id}
    approach = approaches[lane.approach]
    if lane.direction in ("ingress", "both"):
        value["ingressApproach"] = approach
    if lane.direction in ("egress", "both"):
        value["egressApproach"] = approach
    value["laneAttributes"] = {
        "directionalUse": bits_value(_DIRECTION_BITS[lane.direction], LANE_DIRECTION, 2),
        "sharedWith": bits_value(sharing, LANE_SHARING, 10),
        "laneType": (choice, bits_value(type_bits, LANE_TYPE_BITS[choice],
                                        _TYPE_SIZE.get(choice, 16))),
    }
    maneuvers = lane.allowed_maneuvers()
    if maneuvers:
        value["maneuvers"] = bits_value(frozenset(MANEUVER_BIT[m] for m in maneuvers),
                                        ALLOWED_MANEUVERS, 12)
    value["nodeList"] = ("nodes", _nodes(lane, lane_width))
    if lane.connections:
        value["connectsTo"] = [
            {"connectingLane": {"lane": c.lane, "maneuver": bits_value(
                (MANEUVER_BIT[c.maneuver],), ALLOWED_MANEUVERS, 12)},
             "signalGroup": _its_sg(config, c.sg)}
            for c in lane.connections
        ]
    return value


def _its_sg(config: IntersectionConfig, sg: str) -> int:
    its_sg = config.group(sg).its_sg
    if its_sg is None:  # the config refuses groups without its_sg once its is set
        raise ItsEncodeError(f"{config.device_id}: signal group {sg} has no its_sg")
    return its_sg


def mapem_value(config: IntersectionConfig, revision: int) -> dict[str, Any]:
    """The MAPEM of ``config`` in the toolkit's value notation; ``revision``: the
    controller's map revision (wraps at 128)."""
    its, geometry = config.its, config.geometry
    if its is None:
        raise ItsEncodeError(f"{config.device_id}: the config has no its section")
    if geometry is None:
        raise ItsEncodeError(f"{config.device_id}: the config has no geometry section "
                             "(lanes and connections), a MAPEM cannot be built")
    approaches = approach_numbers((g.approach for g in config.signal_groups), geometry.lanes)
    buttons = frozenset(d.sg for d in config.detectors if d.kind == "button")
    ref: dict[str, int] = {"id": its.intersection_id}
    if its.region is not None:
        ref["region"] = its.region
    point: dict[str, int] = {"lat": round(config.location.lat * DEG_UNITS),
                             "long": round(config.location.lon * DEG_UNITS)}
    if geometry.elevation_m is not None:
        point["elevation"] = round(geometry.elevation_m * 10)
    intersection: dict[str, Any] = {}
    name = ascii_name(config.name)
    if name is not None:
        intersection["name"] = name
    intersection |= {"id": ref, "revision": revision % MSG_COUNT_MODULO, "refPoint": point}
    if geometry.lane_width_m is not None:
        intersection["laneWidth"] = to_cm(geometry.lane_width_m)
    intersection["laneSet"] = [_lane(lane, config, geometry.lane_width_m, approaches, buttons)
                               for lane in geometry.lanes]
    return {"header": header_for(MessageId.MAPEM, its.station_id).as_value(),
            "map": {"msgIssueRevision": revision % MSG_COUNT_MODULO,
                    "layerType": "intersectionData", "intersections": [intersection]}}


def encode_mapem(config: IntersectionConfig, revision: int) -> bytes:
    """UPER bytes of the MAPEM of ``config`` at map revision ``revision``
    (see :func:`mapem_value`); :class:`ItsEncodeError` when the config lacks ``its`` or
    ``geometry``."""
    data = uper.encode(MessageId.MAPEM, mapem_value(config, revision))
    if len(data) > MAX_MAPEM_BYTES:
        raise ItsEncodeError(f"{config.device_id}: the MAPEM takes {len(data)} bytes, "
                             f"receivers refuse more than {MAX_MAPEM_BYTES}")
    return data


# --- decode ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One NodeXY as sent: ``variant`` (``node-XY1`` .. ``node-XY6``: ``x``, ``y`` the delta
    from the previous node in cm; ``node-LatLon``: ``x`` longitude, ``y`` latitude in
    tenths of a microdegree; ``regional``: 0, 0) and the attributes we read."""

    variant: str
    x: int
    y: int
    d_width: int | None
    d_elevation: int | None


@dataclass(frozen=True, slots=True)
class Connection:
    """A movement out of a lane: the lane it leads into, its maneuver bits, its signal group."""

    lane: int
    maneuver: frozenset[str] | None
    signal_group: int | None
    remote_intersection: tuple[int | None, int] | None
    user_class: int | None
    connection_id: int | None


@dataclass(frozen=True, slots=True)
class Lane:
    """A GenericLane. ``nodes`` is empty for a computed lane (``computed_from`` names the
    reference lane)."""

    lane_id: int
    name: str | None
    ingress_approach: int | None
    egress_approach: int | None
    directional_use: frozenset[str]
    shared_with: frozenset[str]
    lane_type: str
    lane_type_bits: frozenset[str]
    maneuvers: frozenset[str] | None
    nodes: tuple[Node, ...]
    computed_from: int | None
    connections: tuple[Connection, ...]


@dataclass(frozen=True, slots=True)
class IntersectionGeometry:
    """One intersection of a MAPEM: reference point in tenths of a microdegree, elevation in
    decimetres, lane width in centimetres."""

    region: int | None
    intersection_id: int
    revision: int
    name: str | None
    lat: int
    lon: int
    elevation: int | None
    lane_width: int | None
    lanes: tuple[Lane, ...]

    def lane(self, lane_id: int) -> Lane:
        """The lane numbered ``lane_id``."""
        for lane in self.lanes:
            if lane.lane_id == lane_id:
                return lane
        raise KeyError(lane_id)

    def offsets_cm(self, lane: Lane) -> tuple[tuple[int, int], ...]:
        """The lane's nodes as cm offsets (east, north) from the reference point: node-XY
        deltas summed, a node-LatLon placed on the tangent plane of the reference point
        (regional nodes are skipped)."""
        out = []
        x = y = 0
        ref_lat, ref_lon = self.lat / DEG_UNITS, self.lon / DEG_UNITS
        for node in lane.nodes:
            if node.variant == "node-LatLon":
                ex, ny = offset_of(node.y / DEG_UNITS, node.x / DEG_UNITS, ref_lat, ref_lon)
                x, y = to_cm(ex), to_cm(ny)
            elif node.variant.startswith("node-XY"):
                x, y = x + node.x, y + node.y
            else:
                continue
            out.append((x, y))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Mapem:
    """A decoded MAPEM (its intersections; road segments and restriction lists not read)."""

    header: ItsHeader
    revision: int
    layer_type: str | None
    intersections: tuple[IntersectionGeometry, ...]


def _bits(v: Any, table: tuple[str, ...]) -> frozenset[str]:
    value, size = v
    return bit_names(value, size, table)


def _node(v: Mapping[str, Any]) -> Node:
    variant, delta = v["delta"]
    attributes = v.get("attributes") or {}
    if variant == "node-LatLon":
        x, y = delta["lon"], delta["lat"]
    elif variant.startswith("node-XY"):
        x, y = delta["x"], delta["y"]
    else:
        x = y = 0
    return Node(variant, x, y, attributes.get("dWidth"), attributes.get("dElevation"))


def _connection(v: Mapping[str, Any]) -> Connection:
    target = v["connectingLane"]
    maneuver = target.get("maneuver")
    remote = v.get("remoteIntersection")
    return Connection(
        lane=target["lane"],
        maneuver=None if maneuver is None else _bits(maneuver, ALLOWED_MANEUVERS),
        signal_group=v.get("signalGroup"),
        remote_intersection=None if remote is None else (remote.get("region"), remote["id"]),
        user_class=v.get("userClass"), connection_id=v.get("connectionID"),
    )


def _lane_of(v: Mapping[str, Any]) -> Lane:
    attrs = v["laneAttributes"]
    choice, type_bits = attrs["laneType"]
    # an alternative added in a later edition arrives as its undecoded octets
    named = (_bits(type_bits, LANE_TYPE_BITS.get(choice, ()))
             if isinstance(type_bits, tuple) else frozenset[str]())
    kind, nodes = v["nodeList"]
    maneuvers = v.get("maneuvers")
    return Lane(
        lane_id=v["laneID"], name=v.get("name"), ingress_approach=v.get("ingressApproach"),
        egress_approach=v.get("egressApproach"),
        directional_use=_bits(attrs["directionalUse"], LANE_DIRECTION),
        shared_with=_bits(attrs["sharedWith"], LANE_SHARING),
        lane_type=choice,
        lane_type_bits=named,
        maneuvers=None if maneuvers is None else _bits(maneuvers, ALLOWED_MANEUVERS),
        nodes=tuple(_node(n) for n in nodes) if kind == "nodes" else (),
        computed_from=nodes["referenceLaneId"] if kind == "computed" else None,
        connections=tuple(_connection(c) for c in v.get("connectsTo", ())),
    )


def _intersection(v: Mapping[str, Any]) -> IntersectionGeometry:
    point = v["refPoint"]
    return IntersectionGeometry(
        region=v["id"].get("region"), intersection_id=v["id"]["id"], revision=v["revision"],
        name=v.get("name"), lat=point["lat"], lon=point["long"],
        elevation=point.get("elevation"), lane_width=v.get("laneWidth"),
        lanes=tuple(_lane_of(lane) for lane in v["laneSet"]),
    )


def _mapem(v: Mapping[str, Any]) -> Mapem:
    h, data = v["header"], v["map"]
    return Mapem(
        header=ItsHeader(h["protocolVersion"], h["messageID"], h["stationID"]),
        revision=data["msgIssueRevision"], layer_type=data.get("layerType"),
        intersections=tuple(_intersection(i) for i in data.get("intersections", ())),
    )


def decode_mapem(data: bytes | bytearray | memoryview) -> Mapem:
    """Read MAPEM bytes (protocol version 2) or raise
    :class:`~edge_agent.contract.etsi.errors.ItsMessageError`."""
    return uper.decode(MessageId.MAPEM, data, MAX_MAPEM_BYTES, _mapem)
