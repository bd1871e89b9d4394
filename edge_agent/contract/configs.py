"""Config file models: intersection, bus and hub (docs/interfaces.md, "Config files").

Configs are YAML files in ``firmware_configs/``. :func:`load_config` reads one, picks the model
by its ``kind`` and raises :class:`ConfigError` naming the file, the field and the problem.
Unknown keys are refused (``extra="forbid"``): a typo in a safety-relevant setting must not be
silently ignored. Checks that need signal-engineering knowledge (intergreens against a plan)
live in :mod:`signal_controller.domain.plan_check`; these models check structure and references.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge_agent.contract.detector_config import DetectorConfig, detector_problems
from edge_agent.contract.etsi_route import EtsiPoint
from edge_agent.contract.ids import Id, Latitude, Longitude
from edge_agent.contract.its_config import ItsConfig
from edge_agent.contract.lane_geometry import GeometryConfig, geometry_problems
from edge_agent.contract.payloads import GroupKind
from edge_agent.contract.topics import DEFAULT_ROOT
from edge_agent.errors import ConfigError


def _relative_to_config(value: str, info: ValidationInfo) -> str:
    """A relative path in a config file means relative to that file's folder (not to wherever
    the command was started): :func:`load_config` passes the folder as validation context."""
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    if base is None or not value or Path(value).is_absolute():
        return value
    return str(Path(base) / value)


#: a file or folder named in a config; relative paths are resolved against the config's folder.
ConfigPath = Annotated[str, AfterValidator(_relative_to_config)]
SQLITE_PREFIX = "sqlite:///"

PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Port = Annotated[int, Field(ge=1, le=65535)]


class ConfigModel(BaseModel):
    """Base of config sections: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --- runtime sections shared by every device -------------------------------------------------


class TlsConfig(ConfigModel):
    """TLS material for an ``mqtts://`` broker connection (devices log in over TLS).

    WHY no switch to skip verification: a device that accepts any certificate gives its
    password to whoever answers on the broker's address (a passenger's laptop on the bus
    WLAN, a rogue LTE cell). The server certificate is always checked against ``ca_file``
    (the system CAs when absent) and the broker's host name; ``cert_file``/``key_file`` add a
    client certificate. TLS 1.2 is the oldest version spoken (:func:`edge_agent.mqtt.tls_context`).
    """

    ca_file: ConfigPath | None = None
    cert_file: ConfigPath | None = None
    key_file: ConfigPath | None = None

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file is set without cert_file")
        return self


#: the broker URL a device uses when its config names none: TLS on the standard port.
DEFAULT_BROKER = "mqtts://localhost:8883"


def plain_mqtt_refusal(url: str, insecure: bool) -> str | None:
    """The one rule for the broker transport: why ``url`` may not be used, or ``None``.

    WHY one function: the rule must hold wherever a broker URL enters (a config file, the
    ``--broker`` option, ``KASSEL_BROKER``, the hub's settings); each of those calls this.
    ``mqtts://`` is always acceptable; plain ``mqtt://`` (no TLS: passwords and commands in
    clear on the LTE link and the bus WLAN) only with an explicit ``insecure: true``, which the
    demo and the tests set for their local broker. The message never repeats a password that
    the URL may carry.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "mqtt" or insecure:
        return None
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0]
    return (f"mqtt://{host} is plain MQTT without TLS: use mqtts://, or set "
            "mqtt.insecure: true (local test brokers only)")


class MqttConfig(ConfigModel):
    """Broker connection; ``--broker``/``KASSEL_BROKER`` override ``broker``.

    Production defaults to TLS: ``broker`` is ``mqtts://`` unless ``insecure: true`` says
    plain MQTT is meant (:func:`plain_mqtt_refusal`). ``insecure`` comes first so that the
    check of ``broker`` sees it.
    """

    #: allow a plain ``mqtt://`` broker (no TLS); for the demo's and the tests' local broker
    insecure: bool = False
    broker: str = Field(default=DEFAULT_BROKER, pattern=r"^mqtts?://")
    topic_root: str = Field(default=DEFAULT_ROOT, pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    keepalive_s: Annotated[int, Field(ge=2, le=3600)] = 30
    session_expiry_s: Annotated[int, Field(ge=0, le=2**32 - 1)] = 3600
    username: str | None = None
    password_file: ConfigPath | None = None
    tls: TlsConfig | None = None
    reconnect_min_s: PositiveFloat = 1.0
    #: cap of the jittered exponential backoff: after the broker or the link returns, a
    #: device is back within this (a bus: 5 s; 300 buses then try ~60 connects/s at most).
    reconnect_max_s: PositiveFloat = 5.0

    @field_validator("broker")
    @classmethod
    def _tls_unless_insecure(cls, value: str, info: ValidationInfo) -> str:
        refusal = plain_mqtt_refusal(value, bool(info.data.get("insecure", False)))
        if refusal is not None:
            raise ValueError(refusal)
        return value

    @model_validator(mode="after")
    def _tls_settings_need_mqtts(self) -> MqttConfig:
        if self.tls is not None and not self.broker.lower().startswith("mqtts://"):
            raise ValueError("tls: TLS settings need an mqtts:// broker URL")
        return self


class IntersectionMqttConfig(MqttConfig):
    """A controller's broker connection: it reconnects within a second, because vehicles
    read its SPaT live (300 controllers retrying then cost the broker ~400 refused SYNs/s)."""

    reconnect_min_s: PositiveFloat = 0.5
    reconnect_max_s: PositiveFloat = 1.0


class QueueConfig(ConfigModel):
    """Bounds and durability of the store-and-forward queue."""

    max_messages: Annotated[int, Field(ge=1)] = 200_000
    max_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024
    #: ``full`` fsyncs every commit (survives power loss), ``normal`` survives a crash.
    synchronous: Literal["full", "normal"] = "full"
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = 100


class AgentConfig(ConfigModel):
    """Where the agent keeps its state and how often it reports health."""

    state_dir: ConfigPath = "/var/lib/kassel"
    health_interval_s: PositiveFloat = 30.0
    uplink_iface: str | None = None
    queue: QueueConfig = QueueConfig()


class Location(ConfigModel):
    """A WGS-84 position."""

    lat: Latitude
    lon: Longitude


class DeviceConfig(ConfigModel):
    """Fields every device config has."""

    device_id: Id
    mqtt: MqttConfig = MqttConfig()
    agent: AgentConfig = AgentConfig()


# --- intersection --------------------------------------------------------------


class SignalGroupConfig(ConfigModel):
    """One signal group with its own minimum green, amber and red-amber times."""

    sg: Id
    kind: GroupKind
    approach: str
    min_green_s: PositiveFloat
    amber_s: NonNegFloat
    red_amber_s: NonNegFloat
    lanes: Annotated[int, Field(ge=0)] = 1
    protected: bool = True
    #: SignalGroupID in the C-ITS messages (SPATEM, MAPEM); unique within the intersection.
    its_sg: Annotated[int, Field(ge=1, le=255)] | None = None


class StageConfig(ConfigModel):
    """Compatible groups served together under actuated control."""

    id: Id
    groups: Annotated[list[Id], Field(min_length=1)]
    min_green_s: PositiveFloat
    max_green_s: PositiveFloat
    gap_s: PositiveFloat = 3.0

    @model_validator(mode="after")
    def _min_not_above_max(self) -> StageConfig:
        if self.min_green_s > self.max_green_s:
            raise ValueError(
                f"stage {self.id}: min_green_s {self.min_green_s} > max_green_s {self.max_green_s}"
            )
        return self


GreenWindow = tuple[NonNegFloat, NonNegFloat]


class ControlConfig(ConfigModel):
    """Fixed-time windows and/or actuated stages, and the active mode."""

    mode: Literal["fixed_time", "actuated"]
    cycle_s: PositiveFloat | None = None
    greens: dict[Id, list[GreenWindow]] | None = None
    stages: list[StageConfig] | None = None

    @model_validator(mode="after")
    def _mode_has_its_plan(self) -> ControlConfig:
        if self.mode == "fixed_time" and (self.cycle_s is None or not self.greens):
            raise ValueError("mode fixed_time needs cycle_s and greens")
        if self.mode == "actuated" and not self.stages:
            raise ValueError("mode actuated needs stages")
        if self.greens is not None and self.cycle_s is not None:
            for sg, windows in self.greens.items():
                for start, end in windows:
                    if not (0 <= start < self.cycle_s and 0 <= end <= self.cycle_s):
                        raise ValueError(
                            f"greens.{sg}: window [{start}, {end}] is outside the cycle "
                            f"[0, {self.cycle_s}]"
                        )
        return self


class PriorityConfig(ConfigModel):
    """Transit signal priority limits, and who may rank as an emergency vehicle.

    ``emergency_vehicles``: the vehicle ids (as in their ``srem`` topics, which the broker
    binds to their logins) whose ``role: emergency`` is honoured; any other vehicle claiming
    it is served as transit. Without the list nobody ranks as an emergency vehicle.
    """

    enabled: bool = False
    max_extension_s: NonNegFloat = 0.0
    max_early_s: NonNegFloat = 0.0
    groups: list[Id] = Field(default_factory=list)
    emergency_vehicles: list[Id] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_duplicate_vehicles(self) -> PriorityConfig:
        ids = self.emergency_vehicles
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"priority.emergency_vehicles: duplicate {', '.join(dupes)}")
        return self


class IntersectionConfig(DeviceConfig):
    """A signalised intersection: groups, intergreen matrix, control plan, detectors."""

    kind: Literal["intersection"]
    mqtt: IntersectionMqttConfig = IntersectionMqttConfig()
    name: str
    location: Location
    signal_groups: Annotated[list[SignalGroupConfig], Field(min_length=1)]
    #: clearing -> entering -> seconds; a listed pair conflicts, both directions are listed.
    intergreen_s: dict[Id, dict[Id, NonNegFloat]]
    control: ControlConfig
    detectors: list[DetectorConfig] = Field(default_factory=list)
    priority: PriorityConfig = PriorityConfig()
    #: C-ITS identity; optional for now, needed to publish SPATEM (then every group has
    #: ``its_sg``).
    its: ItsConfig | None = None
    #: lanes, their connections and the signal groups controlling them (docs/c-its.md,
    #: "MAPEM"); optional, needed for the MAPEM.
    geometry: GeometryConfig | None = None

    @field_validator("geometry")
    @classmethod
    def _nodes_as_offsets(cls, value: GeometryConfig | None, info: ValidationInfo
                          ) -> GeometryConfig | None:
        location = info.data.get("location")
        if value is None or not isinstance(location, Location):
            return value
        return value.resolved(location.lat, location.lon)

    @model_validator(mode="after")
    def _references_are_known(self) -> IntersectionConfig:
        problems: list[str] = []
        names = [g.sg for g in self.signal_groups]
        known = set(names)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"signal_groups: duplicate sg {', '.join(dupes)}")
        its_sgs = [g.its_sg for g in self.signal_groups if g.its_sg is not None]
        for n in sorted({n for n in its_sgs if its_sgs.count(n) > 1}):
            users = ", ".join(g.sg for g in self.signal_groups if g.its_sg == n)
            problems.append(f"signal_groups: its_sg {n} is used by {users}")
        if self.its is not None:
            missing = [g.sg for g in self.signal_groups if g.its_sg is None]
            if missing:
                problems.append(f"signal_groups: {', '.join(missing)} have no its_sg "
                                "(its is set: every group needs one)")
        for a, row in self.intergreen_s.items():
            for b in row:
                if a not in known or b not in known:
                    problems.append(f"intergreen_s.{a}.{b}: unknown signal group")
                elif a == b:
                    problems.append(f"intergreen_s.{a}.{b}: a group cannot conflict with itself")
                elif a not in self.intergreen_s.get(b, {}):
                    problems.append(
                        f"intergreen_s.{b}.{a}: missing; {a} and {b} conflict "
                        f"({a}->{b} = {row[b]} s), so both directions must be listed"
                    )
        for sg in self.control.greens or {}:
            if sg not in known:
                problems.append(f"control.greens.{sg}: unknown signal group")
        stage_ids = [s.id for s in self.control.stages or []]
        for stage in self.control.stages or []:
            problems.extend(
                f"control.stages.{stage.id}.groups: unknown signal group {sg}"
                for sg in stage.groups
                if sg not in known
            )
            if stage_ids.count(stage.id) > 1:
                problems.append(f"control.stages.{stage.id}: duplicate stage id")
        problems.extend(detector_problems(self.detectors, set(known)))
        problems.extend(
            f"priority.groups: unknown signal group {sg}"
            for sg in self.priority.groups
            if sg not in known
        )
        if self.geometry is not None:
            problems.extend(geometry_problems(
                self.geometry, {g.sg: (g.kind, g.approach) for g in self.signal_groups}))
        if problems:
            raise ValueError("; ".join(dict.fromkeys(problems)))
        return self

    def group(self, sg: str) -> SignalGroupConfig:
        """The group named ``sg``."""
        for g in self.signal_groups:
            if g.sg == sg:
                return g
        raise KeyError(sg)


# --- bus -----------------------------------------------------------------------


class VehicleConfig(ConfigModel):
    """The vehicle's public id and capacities."""

    id: Id
    capacity_seated: Annotated[int, Field(ge=0)]
    capacity_total: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _total_covers_seats(self) -> VehicleConfig:
        if self.capacity_total < self.capacity_seated:
            raise ValueError(
                f"capacity_total {self.capacity_total} < capacity_seated {self.capacity_seated}"
            )
        return self


class UplinkAutorateConfig(ConfigModel):
    """Measured uplink capacity (bus gateway, cake-autorate style); absent: fixed ``uplink_kbps``.

    ``uplink_kbps`` is the base rate the estimate starts from and decays back to when idle.
    ``reflector`` (``host:port``) answers the RTT probes (TCP connects); default: the broker.
    """

    min_kbps: Annotated[int, Field(ge=8)] = 1000
    max_kbps: Annotated[int, Field(ge=8)] = 100_000
    interval_s: Annotated[float, Field(ge=0.05, le=60.0)] = 0.5
    reflector: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]+:[0-9]{1,5}$")
    delay_threshold_ms: PositiveFloat = 30.0
    hysteresis_pct: Annotated[float, Field(ge=0.0, le=50.0)] = 10.0


class WlanConfig(ConfigModel):
    """Free passenger WLAN: interfaces, portal and fair-share shaping."""

    backend: Literal["nftables", "simulated"]
    interface: str
    uplink: str
    gateway: IPv4Interface = IPv4Interface("10.77.0.1/24")
    portal_port: Port = 8080
    per_client_kbps: Annotated[int, Field(ge=8)]
    uplink_kbps: Annotated[int, Field(ge=8)]
    session_timeout_min: PositiveFloat = 240
    idle_timeout_min: PositiveFloat = 30
    walled_garden: list[IPv4Address] = Field(default_factory=list)
    #: the learning platform (``http(s)://host[:port]/lernen/``), linked from the portal so a
    #: passenger can practise before accepting the terms; its host must be in the walled
    #: garden (checked here for an address, at deployment for a name)
    learning_url: str | None = Field(default=None, max_length=200,
                                     pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[^\s\"'<>]*$")
    #: the passenger app (``http(s)://host[:port]/app/``), linked from the portal so a
    #: passenger plans, follows the bus and shows a bought ticket without accepting the terms;
    #: its host must be in the walled garden too
    app_url: str | None = Field(default=None, max_length=200,
                                pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[^\s\"'<>]*$")
    #: ``POST /accept`` per passenger address: this many at once, then ``accept_per_minute``
    #: (429 with ``Retry-After`` beyond); a passenger needs one, a confused phone a few.
    accept_burst: Annotated[int, Field(ge=1)] = 10
    accept_per_minute: PositiveFloat = 6.0
    uplink_autorate: UplinkAutorateConfig | None = None
    #: hostapd's control sockets (one per access-point radio); neighbour table when none
    hostapd_ctrl_dir: ConfigPath = "/var/run/hostapd"

    @model_validator(mode="after")
    def _base_within_autorate_bounds(self) -> WlanConfig:
        a = self.uplink_autorate
        if a is not None and not a.min_kbps <= self.uplink_kbps <= a.max_kbps:
            raise ValueError(
                f"uplink_kbps {self.uplink_kbps} must lie within uplink_autorate's "
                f"[{a.min_kbps}, {a.max_kbps}]"
            )
        return self

    @model_validator(mode="after")
    def _learning_in_the_garden(self) -> WlanConfig:
        for name, url in (("learning_url", self.learning_url), ("app_url", self.app_url)):
            host = learning_host(url)
            if host is not None and host not in self.walled_garden:
                raise ValueError(f"{name}'s address {host} is not in the walled_garden: "
                                 "passengers could not reach it before accepting the terms")
        return self


def learning_host(url: str | None) -> IPv4Address | None:
    """The IPv4 address a ``learning_url`` names, ``None`` for none or a host name."""
    if url is None:
        return None
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    try:
        return IPv4Address(host)
    except ValueError:
        return None


SourceSpec = Annotated[str, Field(pattern=r"^(iface|pcap|sim|serial|file):.+$|^sim$")]


class OccupancyConfig(ConfigModel):
    """Where probe requests and door counts come from (``None``: not fitted)."""

    probe_source: SourceSpec | None = None
    door_counters: SourceSpec | None = None


class GpsConfig(ConfigModel):
    """GPS source: ``nmea:/dev/ttyUSB0`` (serial), ``nmea:file.nmea`` (replay) or ``sim``."""

    source: Annotated[str, Field(pattern=r"^(nmea:.+|sim)$")]


class PriorityPoint(ConfigModel):
    """A stop line where the bus asks the controller for priority."""

    intersection_id: Id
    sg: Id
    lat: Latitude
    lon: Longitude
    etsi: EtsiPoint | None = None  # the SREM's intersection and lanes (etsi_route.py)


class RouteConfig(ConfigModel):
    """The route the vehicle serves and its priority points."""

    route_id: str
    trip_id: str | None = None
    priority_points: list[PriorityPoint] = Field(default_factory=list)
    request_eta_s: PositiveFloat = 30.0
    #: also send each srem as a UPER SREM (docs/c-its.md); every point then needs ``etsi``
    etsi_srem: bool = False

    @model_validator(mode="after")
    def _etsi_points(self) -> RouteConfig:
        if self.etsi_srem and (bad := [p.sg for p in self.priority_points if p.etsi is None]):
            raise ValueError(f"etsi_srem: priority points of {', '.join(bad)} have no etsi")
        return self


class BusConfig(DeviceConfig):
    """The router of a bus or tram."""

    kind: Literal["bus"]
    vehicle: VehicleConfig
    wlan: WlanConfig
    occupancy: OccupancyConfig = OccupancyConfig()
    gps: GpsConfig
    route: RouteConfig


# --- hub -----------------------------------------------------------------------


class HttpConfig(ConfigModel):
    """Where the hub's HTTP API and dashboard listen."""

    host: str = "127.0.0.1"
    port: Port = 8000


class GtfsConfig(ConfigModel):
    """The static GTFS feed the realtime feeds refer to."""

    static: ConfigPath | None = None


class HubConfig(DeviceConfig):
    """The central hub."""

    kind: Literal["hub"]
    http: HttpConfig = HttpConfig()
    #: ``sqlite:////abs/path.db``, ``sqlite:///relative/to/the/config.db`` or ``postgresql://…``
    database: str = "sqlite:////var/lib/kassel/hub.db"
    gtfs: GtfsConfig = GtfsConfig()

    @model_validator(mode="before")
    @classmethod
    def _sqlite_path_relative_to_config(cls, data: object, info: ValidationInfo) -> object:
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if base is None or not isinstance(data, dict):
            return data
        db = data.get("database")
        if isinstance(db, str) and db.startswith(SQLITE_PREFIX):
            rest = db[len(SQLITE_PREFIX):]
            if rest and not rest.startswith("/") and rest != ":memory:":
                data = {**data, "database": SQLITE_PREFIX + str(Path(base) / rest)}
        return data


CONFIG_KINDS: dict[str, type[DeviceConfig]] = {
    "bus": BusConfig,
    "intersection": IntersectionConfig,
    "hub": HubConfig,
}


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('signal_groups', 0, 'min_green_s')`` -> ``signal_groups[0].min_green_s``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in CONFIG_KINDS:  # the discriminator's branch name adds nothing
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(
    data: object, path: str, base_dir: Path | None = None
) -> BusConfig | IntersectionConfig | HubConfig:
    """Validate already-parsed YAML ``data`` read from ``path``; relative paths in it are
    resolved against ``base_dir`` when given (the config file's folder)."""
    if not isinstance(data, dict):
        raise ConfigError(path, [("", "the file must hold a YAML mapping")])
    kind = data.get("kind")
    if kind not in CONFIG_KINDS:
        raise ConfigError(
            path, [("kind", f"must be one of {', '.join(CONFIG_KINDS)}, got {kind!r}")]
        )
    try:
        context = {"base_dir": base_dir} if base_dir is not None else None
        return CONFIG_KINDS[kind].model_validate(  # type: ignore[return-value]
            data, context=context)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append((field_path(tuple(err["loc"])), msg))
        raise ConfigError(path, problems) from exc


def load_config(path: str | Path) -> BusConfig | IntersectionConfig | HubConfig:
    """Read and validate one config file; :class:`ConfigError` names file, field and problem.
    Relative paths in it are taken relative to the file's folder."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, [("", f"cannot read: {exc.strerror or exc}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(name, [("", f"not valid YAML: {where}{problem}")]) from exc
    return parse_config(data, name, Path(path).resolve().parent)


def config_schemas() -> dict[str, dict[str, object]]:
    """JSON Schema of every config kind (``kassel config schema``)."""
    return {kind: model.model_json_schema() for kind, model in CONFIG_KINDS.items()}
