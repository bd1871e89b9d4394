"""The hub's settings: the contract's :class:`HubConfig` file plus hub-only tunables.

WHY two layers: ``firmware_configs/hub.yaml`` is validated by the contract's model, which
refuses unknown keys, so hub-internal knobs (queue sizes, retention, tokens, registry paths)
come from ``KASSEL_HUB_*`` environment variables through pydantic-settings, with defaults
that suit the demo. Nothing is read at import time: :func:`load_settings` is called by the
CLI or a test, and the result is handed to :func:`central_hub.app.create_app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from central_hub.core.identity import Role
from central_hub.kita.settings import KitaSettings
from central_hub.learning.settings import LearningSettings
from central_hub.mobility.settings import MobilitySettings
from central_hub.opendata.settings import OpendataSettings
from edge_agent.contract.configs import HubConfig
from edge_agent.errors import ConfigError
from edge_agent.mqtt import BrokerAddress, check_transport
from edge_agent.ratelimit import RateLimiter


class IngestSettings(BaseModel):
    """Shared-subscription ingest: bounded queue, batching, in-flight window."""

    model_config = ConfigDict(frozen=True)

    #: subscribe through the shared subscription ``$share/<group>/...`` so that several
    #: workers split the stream. Off by default: Mosquitto 2.0 does not persist shared
    #: subscriptions, so after a broker restart the messages published before a worker has
    #: subscribed again find no subscriber and are lost (the device already had its PUBACK);
    #: a plain subscription of a persistent session is restored and queues them
    #: (docs/reliability.md). Turn on only to run more than one worker.
    shared: bool = False
    group: str = Field(default="hub", pattern=r"^[A-Za-z0-9_-]+$")
    #: MQTT client id of this worker's persistent session; defaults to ``<device_id>-ingest-0``.
    client_id: str | None = None
    queue_size: Annotated[int, Field(ge=10)] = 20_000
    #: keep well below the broker's in-flight window (Mosquitto: 1000) so that receiving the
    #: next batch overlaps with committing this one; 400 measured best (BENCHMARKS.md)
    batch_max: Annotated[int, Field(ge=1)] = 400
    batch_wait_ms: Annotated[int, Field(ge=1)] = 5
    #: MQTT 5 Receive Maximum: unacknowledged QoS 1 messages the broker may send us.
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 4_000
    window: Annotated[int, Field(ge=16)] = 4096


class RetentionSettings(BaseModel):
    """Tiered retention in days (``None`` keeps the tier for ever) and the job's period."""

    model_config = ConfigDict(frozen=True)

    raw_days: float | None = 14.0
    minute_days: float | None = 90.0
    hour_days: float | None = None
    interval_s: Annotated[float, Field(gt=0)] = 60.0


class AlarmSettings(BaseModel):
    """Alarm thresholds (see :class:`central_hub.domain.alarms.Thresholds`)."""

    model_config = ConfigDict(frozen=True)

    cpu_pct: float = 90.0
    mem_pct: float = 90.0
    disk_pct: float = 90.0
    queue_depth: int = 10_000
    spat_stale_ms: int = 1_000
    #: a hub broker session down this long raises ``hub_broker_down``
    broker_down_ms: Annotated[int, Field(ge=0)] = 1_000
    tick_ms: Annotated[int, Field(ge=10)] = 250


class RegistrySettings(BaseModel):
    """Where the generated Mosquitto files go and how the broker is told to re-read them."""

    model_config = ConfigDict(frozen=True)

    password_file: str | None = None
    acl_file: str | None = None
    #: a pid file of the broker: SIGHUP is sent to that pid after the files changed.
    broker_pid_file: str | None = None


class InfluxSettings(BaseModel):
    """Optional InfluxDB v2 sink (``central_hub/ingest/influx.py``); enabled when ``url`` is set,
    e.g. ``KASSEL_HUB_INFLUX__URL=http://influx:8086``."""

    model_config = ConfigDict(frozen=True)

    url: str | None = None
    org: str = "kassel"
    bucket: str = "kassel"
    token: str | None = None
    batch_size: Annotated[int, Field(ge=1)] = 5_000
    flush_interval_ms: Annotated[int, Field(ge=10)] = 1_000
    gzip: bool = True
    #: points waiting for the writer; beyond this they are dropped and counted.
    queue_size: Annotated[int, Field(ge=10)] = 50_000
    timeout_ms: Annotated[int, Field(ge=100)] = 10_000
    #: the primary samples each intersection's latest SPaT this often (SPaT is not ingested).
    spat_interval_s: Annotated[float, Field(gt=0)] = 1.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class OidcSettings(BaseModel):
    """The city's OpenID Connect provider (Keycloak, usually): its bearer JWTs are accepted.

    Enabled when ``issuer``, ``audience`` and ``jwks_url`` are all set, e.g.
    ``KASSEL_HUB_OIDC__ISSUER=https://login.kassel.example/realms/city``,
    ``KASSEL_HUB_OIDC__AUDIENCE=kassel-hub``, ``KASSEL_HUB_OIDC__JWKS_URL=https://login.kassel.
    example/realms/city/protocol/openid-connect/certs`` and ``KASSEL_HUB_OIDC__ROLE_MAP=
    '{"traffic-engineer": "engineer"}'``. WHY an explicit map: the provider's roles belong to
    the city's directory and are named for its people; only what the map names grants a role
    here (an unmapped value grants nothing, not even when it is spelt like a hub role).
    """

    model_config = ConfigDict(frozen=True)

    #: the ``iss`` every token must carry (the realm's URL)
    issuer: str | None = None
    #: the ``aud`` every token must carry (the hub's client id at the provider)
    audience: str | None = None
    #: where the provider publishes its signing keys (JWKS)
    jwks_url: Annotated[str | None, Field(pattern=r"^https?://\S+$")] = None
    #: the claim holding the caller's roles, dotted for nested objects (Keycloak's realm roles)
    roles_claim: Annotated[str, Field(min_length=1)] = "realm_access.roles"
    #: a value of ``roles_claim`` -> the hub role it grants
    role_map: dict[str, Role] = Field(default_factory=dict)
    #: clock skew tolerated on ``exp``, ``nbf`` and ``iat``
    leeway_s: Annotated[int, Field(ge=0, le=300)] = 30
    #: the provider's keys are fetched again at most this often when a token names an unknown
    #: key id, so that random key ids cannot make the hub hammer the provider
    jwks_refresh_s: Annotated[float, Field(ge=1)] = 60.0

    @model_validator(mode="after")
    def _all_or_nothing(self) -> OidcSettings:
        given = [self.issuer, self.audience, self.jwks_url]
        if any(given) and not all(given):
            raise ValueError("oidc: set issuer, audience and jwks_url together")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.audience and self.jwks_url)


#: an http(s) URL template holding {z}, {x} and {y}, no blanks
TILE_URL = r"^https?://\S*\{z\}\S*\{x\}\S*\{y\}\S*$"


class DashboardSettings(BaseModel):
    """The dashboard's base map and detector checks.

    WHY no tile server by default: the hub may run where the internet is not (and a page that
    fetches tiles from elsewhere tells that server who watches which junction). Without
    ``tile_url`` the base layer is the network the hub itself knows: the GTFS shapes and
    stops and the intersections, and the page makes no request beyond the hub. With it, e.g.
    the city's own tile server, ``KASSEL_HUB_DASHBOARD__TILE_URL=https://tiles.example/{z}/
    {x}/{y}.png``, the page draws those tiles under the same layers (the browser fetches them
    from that server directly).
    """

    model_config = ConfigDict(frozen=True)

    #: an XYZ tile URL template with ``{z}``, ``{x}`` and ``{y}`` (``{s}`` for subdomains)
    tile_url: Annotated[str | None, Field(pattern=TILE_URL)] = None
    #: the attribution the tile source's licence asks for (plain text, shown on the map)
    tile_attribution: Annotated[str, Field(max_length=300)] = ""
    tile_max_zoom: Annotated[int, Field(ge=1, le=22)] = 19
    #: a detector occupied without a break this long is suspect (stuck on)
    detector_stuck_s: Annotated[int, Field(ge=10)] = 300
    #: a detector unchanged this long is suspect (stuck off, cut cable, no power)
    detector_no_change_s: Annotated[int, Field(ge=10)] = 1_800


class RateLimitSettings(BaseModel):
    """One limit per client address: ``burst`` requests at once, then ``per_minute``.

    WHY per-kind subclasses with their own defaults: an environment variable may change one
    number (``KASSEL_HUB_RATE_LIMITS__KITA_WRITES__BURST=100``) and keep the other.
    """

    model_config = ConfigDict(frozen=True)

    burst: Annotated[int, Field(ge=1)] = 60
    per_minute: Annotated[float, Field(gt=0)] = 60.0

    def limiter(self, max_clients: int) -> RateLimiter:
        """A fresh limiter with these numbers, keeping at most ``max_clients`` addresses."""
        return RateLimiter(burst=self.burst, period_s=60.0 / self.per_minute,
                           max_clients=max_clients)


class AuthFailureLimit(RateLimitSettings):
    """Answers 401 (a missing, unknown or expired token, a failed login) per client: after
    ``burst`` of them every request of that client is refused until one more is allowed.
    Generous: a wrong token pasted into the dashboard costs a few; guessing costs all."""

    burst: Annotated[int, Field(ge=1)] = 60
    per_minute: Annotated[float, Field(gt=0)] = 12.0


class KitaWriteLimit(RateLimitSettings):
    """A family's application writes (submit, change, withdraw, answer an offer) per client:
    a family makes a handful; a citizens' office helping many still gets one every 6 s."""

    burst: Annotated[int, Field(ge=1)] = 30
    per_minute: Annotated[float, Field(gt=0)] = 10.0


class LearningAnswerLimit(RateLimitSettings):
    """Answer checks of the learning platform per client (a class behind one school router
    shares an address, hence generous)."""

    burst: Annotated[int, Field(ge=1)] = 300
    per_minute: Annotated[float, Field(gt=0)] = 300.0


class LearningJoinLimit(RateLimitSettings):
    """Pupils joining a class with its code, per client: a class behind one school router joins
    at once; guessing codes (31^8 of them) gets nowhere at this pace."""

    burst: Annotated[int, Field(ge=1)] = 60
    per_minute: Annotated[float, Field(gt=0)] = 30.0


class JourneyLimit(RateLimitSettings):
    """Journey queries per client: a passenger app asks a few per trip; a bus's WLAN or a
    school behind one address shares it, hence generous; each query costs a search."""

    burst: Annotated[int, Field(ge=1)] = 120
    per_minute: Annotated[float, Field(gt=0)] = 120.0


class BookingLimit(RateLimitSettings):
    """New ticket bookings per client: a passenger books a few a day; a bus's WLAN shares
    one address; each booking holds a checkout at the payment provider."""

    burst: Annotated[int, Field(ge=1)] = 20
    per_minute: Annotated[float, Field(gt=0)] = 10.0


class RateLimitsSettings(BaseModel):
    """The hub's per-client rate limits (``docs/security.md``, *Web surfaces*); Kita family
    registration has its own (``KASSEL_HUB_KITA_REGISTRATION_BURST``, ``docs/kita.md``)."""

    model_config = ConfigDict(frozen=True)

    auth_failures: AuthFailureLimit = AuthFailureLimit()
    kita_writes: KitaWriteLimit = KitaWriteLimit()
    learning_answers: LearningAnswerLimit = LearningAnswerLimit()
    learning_joins: LearningJoinLimit = LearningJoinLimit()
    journeys: JourneyLimit = JourneyLimit()
    bookings: BookingLimit = BookingLimit()
    #: addresses each limiter remembers (least recently seen forgotten first): bounds memory.
    max_clients: Annotated[int, Field(ge=1)] = 100_000


class HubSettings(BaseSettings):
    """Hub-only tunables from ``KASSEL_HUB_*`` (nested with ``__``, e.g.
    ``KASSEL_HUB_INGEST__QUEUE_SIZE=50000``)."""

    model_config = SettingsConfigDict(env_prefix="KASSEL_HUB_", env_nested_delimiter="__",
                                      frozen=True, extra="ignore")

    ingest: IngestSettings = IngestSettings()
    retention: RetentionSettings = RetentionSettings()
    alarms: AlarmSettings = AlarmSettings()
    registry: RegistrySettings = RegistrySettings()
    influx: InfluxSettings = InfluxSettings()
    dashboard: DashboardSettings = DashboardSettings()
    rate_limits: RateLimitsSettings = RateLimitsSettings()
    #: run the MQTT ingest worker in this process.
    run_ingest: bool = True
    #: run alarms, retention and roll-ups here (one primary per deployment).
    primary: bool = True
    oidc: OidcSettings = OidcSettings()
    kita: KitaSettings = KitaSettings()
    learning: LearningSettings = LearningSettings()
    opendata: OpendataSettings = OpendataSettings()
    mobility: MobilitySettings = MobilitySettings()
    #: static tokens for machines and the demo (central_hub/core/identity.py says which roles
    #: each grants); people get issued tokens (``kassel hub token issue``) or log in by OIDC
    admin_token: str | None = None
    engineer_token: str | None = None
    #: ``KASSEL_HUB_KITA_STAFF_TOKEN`` (:data:`KITA_STAFF_TOKEN_ENV`): a static token holding
    #: ``kita_staff``
    kita_staff_token: str | None = None
    command_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    spat_history_s: Annotated[int, Field(ge=10, le=3600)] = 300
    live_queue_size: Annotated[int, Field(ge=100)] = 50_000
    ws_client_queue: Annotated[int, Field(ge=10)] = 2_000
    #: reconnect backoff of the hub's own broker sessions (ingest, live), jittered and doubling
    #: from min to max: a few sessions, so the hub is back within a second of a broker restart
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.1
    reconnect_max_s: Annotated[float, Field(gt=0)] = 1.0


#: the environment variable of :attr:`HubSettings.kita_staff_token` (the demo sets it).
KITA_STAFF_TOKEN_ENV = "KASSEL_HUB_KITA_STAFF_TOKEN"


@dataclass(frozen=True, slots=True)
class HubRuntime:
    """Everything :func:`central_hub.app.create_app` needs, resolved once."""

    config: HubConfig
    settings: HubSettings
    broker: BrokerAddress

    @property
    def topic_root(self) -> str:
        return self.config.mqtt.topic_root


def resolve(config: HubConfig, settings: HubSettings | None = None,
            broker_url: str | None = None) -> HubRuntime:
    """Combine the config file, the settings and a ``--broker`` override.

    The hub's own broker password may come from ``mqtt.password_file`` when the URL has none.
    """
    settings = settings if settings is not None else HubSettings()
    url = broker_url or config.mqtt.broker
    try:
        address = BrokerAddress.parse(url)
    except ValueError as exc:
        raise ConfigError("--broker" if broker_url else "mqtt.broker", [("", str(exc))]) from exc
    # TLS unless the config says insecure: the same rule as every device's
    check_transport(url, config.mqtt, "--broker" if broker_url else "mqtt.broker")
    username = address.username or config.mqtt.username
    password = address.password
    if password is None and config.mqtt.password_file:
        try:
            password = Path(config.mqtt.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(config.mqtt.password_file,
                              [("mqtt.password_file", f"cannot read: {exc}")]) from exc
    address = BrokerAddress(address.host, address.port, address.tls, username, password)
    return HubRuntime(config, settings, address)
