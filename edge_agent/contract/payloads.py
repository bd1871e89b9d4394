"""Pydantic models of every MQTT payload (docs/interfaces.md, "Payloads").

Producers build these models and serialise them with :func:`encode`; consumers validate raw
bytes with :func:`decode`, which enforces the contract's rejection rules (not JSON, missing
field, wrong type, over 64 KiB) and ignores unknown fields. JSON is strict (RFC 8259): a
``NaN``, ``Infinity`` or ``-Infinity`` anywhere in the document, unknown fields included, is
``not_json`` — the hub echoes payloads as received, and one such token makes a browser's
``JSON.parse`` fail on the whole answer. With the receiver's clock, ``ts`` may not lie more
than :data:`MAX_FUTURE_MS` ahead (``future_ts``): "the newest ``ts`` wins" must not be
winnable for ever. Models are strict (no ``"5"`` for
``5``) and frozen, so a validated message cannot be changed on its way through a service.

Every row a device sends through :meth:`edge_agent.agent.EdgeAgent.publish` is split in two:
a *fields* model (:class:`PayloadFields`, e.g. :class:`PositionFields`) with only the
message's own fields, which the application builds, and the *wire* model
(``class Position(PositionFields, SequencedPayload)``) that adds what the agent owns: ``v``,
``ts`` (now, unless the caller passes another time) and ``seq`` (numbered per topic and
persisted). So the application cannot forget or forge them, and mypy checks the field names
it writes. The wire model is what is encoded and decoded; the split changes neither its
fields, their order (``v``, ``historical``, ``ts``, ``seq`` first, as pydantic collects fields
along the reversed MRO) nor its JSON Schema.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from edge_agent.contract.ids import (
    Id,
    Latitude,
    Longitude,
    NonNegFloat,
    NonNegInt,
    Seq,
    TimestampMs,
)
from edge_agent.errors import PayloadError

MAX_PAYLOAD_BYTES = 64 * 1024
#: how far a received ``ts`` may lie ahead of the receiver's clock (3 minutes): devices keep
#: time by NTP or GPS to well under a second; beyond this the clock (or the sender) is wrong.
MAX_FUTURE_MS = 180_000
#: bound of a bus's reported schedule deviation (``Srem.delay_s``), seconds either way.
MAX_DELAY_S = 86_400
#: validation context of payloads that arrive over the wire (``v`` must then be present).
WIRE: dict[str, bool] = {"wire": True}


class Payload(BaseModel):
    """Base of every payload: schema version 1, unknown fields ignored, strict types."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    v: Literal[1] = 1
    #: set on messages replayed from the store-and-forward queue.
    historical: bool = Field(default=False, exclude_if=lambda flag: not flag)

    @model_validator(mode="before")
    @classmethod
    def _version_required_on_wire(cls, data: object, info: ValidationInfo) -> object:
        # Producers may omit ``v`` (it defaults to 1); a received payload must carry it.
        if info.context is WIRE and isinstance(data, dict) and "v" not in data:
            raise PydanticCustomError("missing", "Field required: v")
        return data


class TimestampedPayload(Payload):
    """A payload dated by its sender (``ts``); the agent fills it in when it publishes."""

    ts: TimestampMs


class SequencedPayload(TimestampedPayload):
    """A payload that carries a ``seq`` the hub de-duplicates on."""

    seq: Seq


class PayloadFields(BaseModel):
    """Base of the fields models: what an application publishes, without ``ts`` and ``seq``.

    Why the split (module docstring): ``ts`` and ``seq`` belong to the agent, which dates and
    numbers every message it sends; the application only states the message's own fields, typed,
    and :meth:`edge_agent.agent.EdgeAgent.publish` finds the topic row from the fields model's
    class (:data:`edge_agent.contract.topics.SPEC_BY_FIELDS`). Same config as :class:`Payload`,
    so a fields model validates exactly as the wire model does.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)


# --- device ---------------------------------------------------------------------------------

DeviceKind = Literal["bus", "intersection", "hub"]


class Status(Payload):
    """Birth (``online``) and death (``offline``, also the Last Will) of a device."""

    ts: TimestampMs
    device_id: Id
    kind: DeviceKind
    state: Literal["online", "offline"]
    bdseq: NonNegInt
    sw: str


class QueueStats(BaseModel):
    """State of the store-and-forward queue as reported in health."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    depth: NonNegInt
    dropped: NonNegInt
    oldest_age_s: NonNegFloat
    #: ``false`` while the state disk cannot be written (new messages are being dropped).
    writable: bool | None = None
    #: QoS 1 messages the broker refused since start (PUBACK reason code >= 0x80).
    refused: NonNegInt | None = None
    #: QoS 1 messages the broker accepted with "no matching subscribers" since start: nobody,
    #: not even the hub's persistent session, was subscribed, so they reached no one.
    unrouted: NonNegInt | None = None


class StoreResetInfo(BaseModel):
    """The device found its state file unusable, moved it aside and started afresh."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    at_ms: NonNegInt
    moved_to: Annotated[str, Field(max_length=1024)]
    reason: Annotated[str, Field(max_length=1024)]


class UplinkStats(BaseModel):
    """The uplink interface (LTE modem, Ethernet) as reported in health."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    iface: str
    up: bool
    rx_bps: NonNegFloat
    tx_bps: NonNegFloat


class HealthFields(PayloadFields):
    """The ``health`` fields an agent publishes (``ts`` and ``seq`` are the agent's)."""

    cpu_pct: Annotated[float, Field(ge=0.0, le=100.0)]
    mem_pct: Annotated[float, Field(ge=0.0, le=100.0)]
    rss_mb: NonNegFloat
    disk_pct: Annotated[float, Field(ge=0.0, le=100.0)]
    uptime_s: NonNegFloat
    queue: QueueStats
    uplink: UplinkStats
    temp_c: float | None = None
    agent_uptime_s: NonNegFloat | None = None
    #: inbound payloads rejected since start, by ``topic:reason``.
    rejected: dict[str, int] | None = None
    #: the newest reset of the device's state file, if it ever had one.
    store_reset: StoreResetInfo | None = None
    #: contract addition (controllers): detectors whose card reports a fault now.
    detector_faults: list[Id] | None = Field(
        default=None,
        description="Optional (contract addition, controllers): detectors whose card reports "
                    "a fault now; the hub raises detector_fault while the list is not empty.",
    )


class Health(HealthFields, SequencedPayload):
    """Health telemetry every 30 s (QoS 0)."""


class Command(Payload):
    """A remote command from the hub; ``name`` selects a registered handler."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    args: dict[str, object] = Field(default_factory=dict)


class CommandAckFields(PayloadFields):
    """The ``cmd_ack`` fields (``ts`` is the agent's)."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    ok: bool
    error: str | None
    result: dict[str, object] | None = None


class CommandAck(CommandAckFields, TimestampedPayload):
    """Exactly one acknowledgement per command id."""


# --- bus ------------------------------------------------------------------------------------

StopStatus = Literal["INCOMING_AT", "STOPPED_AT", "IN_TRANSIT_TO"]
OccupancyStatus = Literal[
    "EMPTY",
    "MANY_SEATS_AVAILABLE",
    "FEW_SEATS_AVAILABLE",
    "STANDING_ROOM_ONLY",
    "CRUSHED_STANDING_ROOM_ONLY",
    "FULL",
    "NOT_ACCEPTING_PASSENGERS",
]
Quality = Literal["HIGH", "MODERATE", "LOW", "ERROR"]


class PositionFields(PayloadFields):
    """The ``position`` fields a bus publishes (``ts`` and ``seq`` are the agent's)."""

    vehicle_id: Id
    lat: Latitude
    lon: Longitude
    bearing: Annotated[float, Field(ge=0.0, le=360.0)]
    speed_mps: NonNegFloat
    route_id: str | None
    trip_id: str | None
    stop_id: str | None
    stop_status: StopStatus


class Position(PositionFields, SequencedPayload):
    """GPS position of a vehicle at 1 Hz with its stop state."""


class OccupancySources(BaseModel):
    """The raw counts occupancy was fused from (no MAC or hash ever)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    door_in: NonNegInt
    door_out: NonNegInt
    wlan_clients: NonNegInt
    probe_devices: NonNegInt


class OccupancyFields(PayloadFields):
    """The ``occupancy`` fields a bus publishes (``ts`` and ``seq`` are the agent's)."""

    vehicle_id: Id
    passengers: NonNegInt
    capacity_seated: NonNegInt
    capacity_total: Annotated[int, Field(ge=1)]
    occupancy_percentage: NonNegInt
    occupancy_status: OccupancyStatus
    quality: Quality
    sources: OccupancySources


class Occupancy(OccupancyFields, SequencedPayload):
    """Passenger load of a vehicle, on change and at least every 30 s."""


def occupancy_status_for(passengers: int, capacity_seated: int) -> OccupancyStatus:
    """GTFS-Realtime occupancy status from the load relative to seats."""
    if capacity_seated <= 0:
        return "STANDING_ROOM_ONLY" if passengers > 0 else "MANY_SEATS_AVAILABLE"
    load = 100 * passengers / capacity_seated
    if load <= 70:
        return "MANY_SEATS_AVAILABLE"
    if load <= 99:
        return "FEW_SEATS_AVAILABLE"
    if load <= 114:
        return "STANDING_ROOM_ONLY"
    if load <= 130:
        return "CRUSHED_STANDING_ROOM_ONLY"
    return "FULL"


class WlanFields(PayloadFields):
    """The ``wlan`` fields a bus publishes (``ts`` and ``seq`` are the agent's)."""

    vehicle_id: Id
    clients_associated: NonNegInt
    clients_authenticated: NonNegInt
    rx_bytes: NonNegInt
    tx_bytes: NonNegInt
    uplink_kbps: NonNegInt
    per_client_kbps: NonNegInt


class Wlan(WlanFields, SequencedPayload):
    """Passenger WLAN statistics every 60 s."""


# --- signal ---------------------------------------------------------------------------------

MovementPhaseState = Literal[
    "unavailable",
    "dark",
    "stop-Then-Proceed",
    "stop-And-Remain",
    "pre-Movement",
    "permissive-Movement-Allowed",
    "protected-Movement-Allowed",
    "permissive-clearance",
    "protected-clearance",
    "caution-Conflicting-Traffic",
]
GREEN_STATES: frozenset[str] = frozenset(
    {"permissive-Movement-Allowed", "protected-Movement-Allowed"}
)
SignalStatus = Literal["operational", "fixed_time", "flashing", "dark", "fault"]


def contract_addition(description: str) -> Any:
    """An optional field added to the contract: ``None`` by default and then absent from the
    payload (not ``null``), so that a receiver of the original contract sees what it knew."""
    return Field(default=None, exclude_if=lambda v: v is None, description=description)


class SpatGroup(BaseModel):
    """State and timing of one signal group."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    sg: Id
    state: MovementPhaseState
    min_end: TimestampMs | None
    max_end: TimestampMs | None
    likely_end: TimestampMs | None
    confidence: Annotated[int, Field(ge=0, le=100)]
    #: contract addition (optional, absent when not reported): when a group green or amber
    #: now is likely green again; for a red group, when the green after its coming one begins.
    next_green: TimestampMs | None = contract_addition(
        "Optional (contract addition, absent when the controller does not predict it): the "
        "most likely start of this group's next green after the one showing (a group green "
        "or amber now) or coming (a red group, sent with green_end), for a rider who cannot "
        "make that green (ms since the epoch).")
    #: contract addition: for a red group, when its coming green likely ends.
    green_end: TimestampMs | None = contract_addition(
        "Optional (contract addition, only on a red group, absent when the controller does "
        "not predict it): the most likely end of the green that follows this red, so that a "
        "rider who would arrive after it can ride for the green after (next_green) instead "
        "(ms since the epoch).")


#: ``ok``: the timings are the controller's full prediction; ``degraded``: still published
#: and bounded, but built on less than the controller normally knows (learners still learning,
#: a detector faulty or silent); ``stale``: no usable prediction (fail-safe, flashing, the
#: all-red of a start-up or program change).
PredictionState = Literal["ok", "degraded", "stale"]
#: most reasons one SPaT carries (the controller keeps the first ones and ends with ``more``).
MAX_PREDICTION_REASONS = 16
#: a reason: a short id (``learning``, ``fail_safe``), for a detector ``kind:detector id``
#: (``stuck:D1``); signal_controller.md, "Prediction status", lists them.
PredictionReason = Annotated[str, StringConstraints(
    pattern=r"^[a-z_]{1,32}(:[A-Za-z0-9_-]{1,64})?$")]


class SpatPrediction(BaseModel):
    """The controller's own word on how far a SPaT's timings can be trusted.

    Why in the payload: ``min_end``/``max_end`` stay honest in any state, but ``likely_end``
    and ``confidence`` rest on learners and detectors a receiver cannot see. A controller that
    has just started, lost a loop or stopped predicting says so here, so that a speed advisory
    can decline (``stale``) or go on with care (``degraded``).
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    state: PredictionState
    reasons: Annotated[list[PredictionReason], Field(max_length=MAX_PREDICTION_REASONS)]


class SpatFields(PayloadFields):
    """The ``spat`` fields a controller publishes (``ts`` and ``seq`` are the agent's)."""

    intersection_id: Id
    revision: NonNegInt
    status: SignalStatus
    groups: list[SpatGroup]
    #: contract addition (optional, absent when not reported): the prediction's state.
    prediction: SpatPrediction | None = contract_addition(
        "Optional (contract addition, absent from controllers that do not report it): "
        "whether the timings are the controller's full prediction (ok), built on less "
        "than it normally knows (degraded), or not usable (stale), with short reason ids.")


class Spat(SpatFields, SequencedPayload):
    """Signal phase and timing, 10 Hz per intersection (QoS 0)."""


GroupKind = Literal["vehicle", "bus", "tram", "bicycle", "pedestrian"]


class MapGroup(BaseModel):
    """Topology of one signal group in the MAP message."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    sg: Id
    kind: GroupKind
    approach: str
    lanes: NonNegInt


class MapFields(PayloadFields):
    """The ``map`` fields a controller publishes (``ts`` is the agent's)."""

    intersection_id: Id
    revision: NonNegInt
    name: str
    lat: Latitude
    lon: Longitude
    groups: list[MapGroup]
    conflicts: dict[str, dict[str, NonNegFloat]]


class Map(MapFields, TimestampedPayload):
    """Intersection topology, retained, on start and on change."""


class SremFields(PayloadFields):
    """The ``srem`` fields a bus publishes (``ts`` is the agent's)."""

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    vehicle_id: Id
    intersection_id: Id
    type: Literal["request", "update", "cancel"]
    sg: Id
    eta: TimestampMs
    role: Literal["transit", "emergency"]
    route_id: str | None
    #: contract addition (optional, default null): seconds behind schedule, negative when
    #: early. The controller ranks transit requests with equal ETAs by it (later bus first).
    delay_s: Annotated[int, Field(ge=-MAX_DELAY_S, le=MAX_DELAY_S)] | None = Field(
        default=None,
        description=(
            "Optional (contract addition): seconds behind schedule, negative when early; "
            "breaks ties of equal ETA in the controller's priority policy (later bus first)."
        ),
    )


# Sent on ``signal/{intersection_id}/srem/{vehicle_id}``: receivers refuse a payload whose
# ``vehicle_id`` or ``intersection_id`` differs from its topic's, because the topic's sender id
# is the one the broker's ACL enforces (the docstring is the schema's description).
class Srem(SremFields, TimestampedPayload):
    """Signal request (priority) from a bus: request, update or cancel."""


RequestStatus = Literal[
    "requested",
    "processing",
    "watchOtherTraffic",
    "granted",
    "rejected",
    "maxPresence",
    "reserviceLocked",
]


class SsemRequest(BaseModel):
    """Status of one priority request."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    vehicle_id: Id
    sg: Id
    status: RequestStatus


class SsemFields(PayloadFields):
    """The ``ssem`` fields a controller publishes (``ts`` and ``seq`` are the agent's)."""

    intersection_id: Id
    requests: list[SsemRequest]


class Ssem(SsemFields, SequencedPayload):
    """Signal status message: every request's status, on any change."""


class DetectorFields(PayloadFields):
    """The ``detector`` fields a field bus publishes (``ts`` is the agent's)."""

    detector: Id
    occupied: bool
    #: contract addition (optional, default null): the detector card reports a fault of its
    #: loop (open or short circuit). The controller then counts it as occupied (a permanent
    #: call) until a message without the fault, and reports it in ``health.detector_faults``.
    fault: bool | None = Field(
        default=None,
        description=(
            "Optional (contract addition): the detector card reports a fault of its loop; "
            "the controller treats the detector as occupied until a message without it."
        ),
    )


class Detector(DetectorFields, TimestampedPayload):
    """A loop or push-button state change from the field bus or a simulation."""


P = TypeVar("P", bound=BaseModel)


def encode(payload: BaseModel) -> bytes:
    """Serialise a payload to compact UTF-8 JSON."""
    return payload.__pydantic_serializer__.to_json(payload)


def decode(model: type[P], data: bytes | bytearray | memoryview, *,
           now_ms: int | None = None) -> P:
    """Validate raw bytes against ``model`` or raise :class:`PayloadError` with a reason.

    Reasons are counted by consumers: ``too_large``, ``not_json`` (also ``NaN`` and
    ``Infinity``, which are not JSON), ``missing_field``, ``wrong_type``, ``invalid_value``,
    and with ``now_ms`` (the receiver's clock) ``future_ts``.
    """
    raw = bytes(data)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"{len(raw)} bytes > {MAX_PAYLOAD_BYTES}")
    # pydantic's parser takes NaN/Infinity anywhere; two substring scans keep the common
    # case at full speed, and only a document that contains the letters is parsed again
    if (b"NaN" in raw or b"Infinity" in raw) and not _strict_json(raw):
        raise PayloadError("not_json", "NaN or Infinity is not JSON (RFC 8259)")
    try:
        msg = model.model_validate_json(raw, context=WIRE)
    except ValidationError as exc:
        raise PayloadError(_reason(exc), _describe(exc)) from exc
    if now_ms is not None:
        ts = getattr(msg, "ts", None)
        problem = future_ts_problem(ts, now_ms) if type(ts) is int else None
        if problem is not None:
            raise PayloadError("future_ts", problem)
    return msg


def future_ts_problem(ts: int, now_ms: int) -> str | None:
    """Why ``ts`` is refused as too far ahead of the receiver's clock, or ``None``: the one
    rule for every message that carries a time (JSON payloads, UPER SREMs)."""
    if ts > now_ms + MAX_FUTURE_MS:
        return (f"ts {ts} is {ts - now_ms} ms ahead of the receiver's clock "
                f"(at most {MAX_FUTURE_MS})")
    return None


def _refuse_constant(token: str) -> object:
    raise ValueError(token)


def _strict_json(raw: bytes) -> bool:
    """Whether ``raw`` parses without a ``NaN``/``Infinity`` token (in strings they are fine)."""
    try:
        json.loads(raw, parse_constant=_refuse_constant)
    except ValueError:
        return False
    return True


def _reason(exc: ValidationError) -> str:
    kinds = {str(err["type"]) for err in exc.errors()}
    if "json_invalid" in kinds or "model_type" in kinds:
        return "not_json" if "json_invalid" in kinds else "not_object"
    if "missing" in kinds:
        return "missing_field"
    if any(k.endswith(("_type", "_parsing")) for k in kinds):
        return "wrong_type"
    return "invalid_value"


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
