"""Optional InfluxDB sink: validated samples mirrored as line protocol (InfluxDB v2 write API).

WHY this shape:

* the relational store is the source of truth; this sink is a best-effort copy for people who
  already run Grafana on InfluxDB (or anything speaking ``/api/v2/write``, e.g. VictoriaMetrics);
* it is fed *after* the ingest worker committed a batch, through :meth:`InfluxSink.submit_rows`,
  which only appends to a bounded deque: ingest is never blocked or slowed by the sink; when the
  deque is full the rows are dropped and counted (``dropped``);
* a thread of its own parses, converts (:func:`to_point_data`, pure) and writes batches of
  ``batch_size`` (5,000) gzip-compressed points with a *synchronous* ``WriteApi`` at most every
  ``flush_interval_ms``. influxdb-client's own batching mode buffers in an unbounded rx pipeline
  and retries with back-off, so a server that is down for an hour would grow the heap; here a
  failed batch is counted (``write_errors``, ``failed_points``) and dropped, the error logged at
  most once a minute, and the hub carries on;
* a repeated sample (a redelivery the database dropped) becomes the same series and timestamp,
  which InfluxDB overwrites: idempotent like the SQL store.

Timestamps come from the payload's ``ts`` at millisecond precision. Measurements, tags and
fields are documented in ``docs/hub.md`` ("InfluxDB sink").
"""

# ruff: noqa: PLC0415 - influxdb-client is an optional extra, imported only when the sink runs
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from central_hub.core.config import InfluxSettings
from central_hub.domain.intake import Row
from edge_agent.contract.payloads import GREEN_STATES
from edge_agent.errors import ConfigError

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import WriteApi

log = logging.getLogger(__name__)

Field = float | int

#: payload topics the sink converts (the ``samples`` table's topics plus SPaT summaries).
CONVERTED = frozenset({"position", "occupancy", "wlan", "health", "ssem", "spat"})

@dataclass(frozen=True, slots=True)
class PointData:
    """One point before it becomes line protocol: measurement, tags, numeric fields, ts in ms."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, Field]
    ts_ms: int


def _floats(src: Mapping[str, Any], names: Iterable[str], out: dict[str, Field],
            prefix: str = "") -> None:
    # always float: InfluxDB refuses a field whose type changes (JSON 90 vs 90.5)
    for name in names:
        value = src.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[prefix + name] = float(value)


def _ints(src: Mapping[str, Any], names: Iterable[str], out: dict[str, Field],
          prefix: str = "") -> None:
    for name in names:
        value = src.get(name)
        if isinstance(value, bool):
            out[prefix + name] = int(value)
        elif isinstance(value, int):
            out[prefix + name] = value


def _tag(tags: dict[str, str], name: str, value: object) -> None:
    if isinstance(value, str) and value:
        tags[name] = value


def to_point_data(topic: str, entity_id: str, payload: Mapping[str, Any]) -> PointData | None:
    """Convert one validated contract payload (decoded JSON) to a point, or ``None``.

    ``entity_id`` is the id from the topic (a health payload carries no id of its own). Tags are
    ids and the route (low cardinality, indexed); fields are numbers only.
    """
    ts = payload.get("ts")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return None
    tags: dict[str, str] = {}
    fields: dict[str, Field] = {}
    if topic == "position":
        tags["vehicle_id"] = entity_id
        _tag(tags, "route_id", payload.get("route_id"))
        _floats(payload, ("lat", "lon", "bearing", "speed_mps"), fields)
    elif topic == "occupancy":
        tags["vehicle_id"] = entity_id
        _ints(payload, ("passengers", "capacity_seated", "capacity_total",
                        "occupancy_percentage"), fields)
        sources = payload.get("sources")
        if isinstance(sources, Mapping):
            _ints(sources, ("door_in", "door_out", "wlan_clients", "probe_devices"), fields)
    elif topic == "wlan":
        tags["vehicle_id"] = entity_id
        _ints(payload, ("clients_associated", "clients_authenticated", "rx_bytes", "tx_bytes",
                        "uplink_kbps", "per_client_kbps"), fields)
    elif topic == "health":
        tags["device_id"] = entity_id
        _floats(payload, ("cpu_pct", "mem_pct", "rss_mb", "disk_pct", "uptime_s", "temp_c",
                          "agent_uptime_s"), fields)
        queue = payload.get("queue")
        if isinstance(queue, Mapping):
            _ints(queue, ("depth", "dropped"), fields, "queue_")
            _floats(queue, ("oldest_age_s",), fields, "queue_")
        uplink = payload.get("uplink")
        if isinstance(uplink, Mapping):
            _tag(tags, "iface", uplink.get("iface"))
            _ints(uplink, ("up",), fields, "uplink_")
            _floats(uplink, ("rx_bps", "tx_bps"), fields, "uplink_")
    elif topic == "spat":
        tags["intersection_id"] = entity_id
        _tag(tags, "status", payload.get("status"))
        groups = [g for g in payload.get("groups") or () if isinstance(g, Mapping)]
        fields["groups"] = len(groups)
        fields["green"] = sum(1 for g in groups if g.get("state") in GREEN_STATES)
        ends = [g["likely_end"] for g in groups if isinstance(g.get("likely_end"), int)]
        if ends:
            fields["next_change_s"] = max(0, min(ends) - ts) / 1000.0
        _ints(payload, ("revision",), fields)
    elif topic == "ssem":
        tags["intersection_id"] = entity_id
        requests = [r for r in payload.get("requests") or () if isinstance(r, Mapping)]
        fields["requests"] = len(requests)
    else:
        return None
    if not fields:
        return None
    return PointData(topic, tags, fields, ts)


def point_data_of_row(row: Row) -> PointData | None:
    """The point of a stored ``samples`` row (``payload`` is the validated JSON text)."""
    v = row.values
    try:
        payload = json.loads(v["payload"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    return to_point_data(v["topic"], v["device_id"], payload)


@dataclass(slots=True)
class InfluxStats:
    """Counters of the sink (exposed under ``ingest.influx`` in ``GET /api/v1/ingest``)."""

    queued: int = 0
    dropped: int = 0
    written: int = 0
    batches: int = 0
    write_errors: int = 0
    failed_points: int = 0
    skipped: int = 0


_Item = tuple[str, str, str | bytes]  # (topic, entity_id, payload JSON)


class InfluxSink:
    """Bounded queue -> own thread -> batched, gzipped writes; :meth:`start`/:meth:`stop`."""

    def __init__(self, settings: InfluxSettings,
                 client_factory: Callable[[InfluxSettings], InfluxDBClient] | None = None) -> None:
        if not settings.url:
            raise ConfigError("KASSEL_HUB_INFLUX__URL", [("influx.url", "not set")])
        try:
            import influxdb_client  # noqa: F401
        except ImportError as exc:
            raise ConfigError("KASSEL_HUB_INFLUX__URL", [(
                "influx", "influxdb-client is not installed: pip install 'kassel[influx]'")]) \
                from exc
        self.settings = settings
        self.capacity = settings.queue_size
        self.stats = InfluxStats()
        self._client_factory = client_factory or _make_client
        self._queue: deque[_Item] = deque()
        self._wake = threading.Event()
        self._running = False
        self._thread: threading.Thread | None = None
        self._client: InfluxDBClient | None = None
        self._write_api: WriteApi | None = None
        self._last_error_log = -1e18

    # --- producers (any thread; never block) ----------------------------------------------

    def submit(self, topic: str, entity_id: str, payload: str | bytes) -> bool:
        """Queue one validated payload; ``False`` (and counted) when the queue is full."""
        if topic not in CONVERTED:
            return False
        if len(self._queue) >= self.capacity:
            self.stats.dropped += 1
            return False
        self._queue.append((topic, entity_id, payload))
        self.stats.queued += 1
        if len(self._queue) >= self.settings.batch_size:
            self._wake.set()
        return True

    def submit_rows(self, rows: Iterable[Row]) -> None:
        """The ingest worker's hook: rows of a committed batch (``events`` rows are ignored)."""
        for row in rows:
            if row.table == "samples":
                v = row.values
                self.submit(v["topic"], v["device_id"], v["payload"])

    @property
    def depth(self) -> int:
        return len(self._queue)

    # --- writer thread -------------------------------------------------------------------

    def _take(self) -> list[_Item]:
        q = self._queue
        n = min(len(q), self.settings.batch_size)
        return [q.popleft() for _ in range(n)]

    def convert(self, items: Iterable[_Item]) -> list[dict[str, Any]]:
        """Parse and convert queued payloads to influxdb-client point records (dicts, which
        the client turns into ``Point`` line protocol)."""
        points: list[dict[str, Any]] = []
        for topic, entity_id, raw in items:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
            data = to_point_data(topic, entity_id, payload) if isinstance(payload, dict) \
                else None
            if data is None:
                self.stats.skipped += 1
                continue
            points.append({"measurement": data.measurement, "tags": data.tags,
                           "fields": data.fields, "time": data.ts_ms})
        return points

    def flush(self) -> None:
        """Write everything queued now, in batches (the writer thread; tests)."""
        while self._queue:
            self._write(self.convert(self._take()))

    def _write(self, points: list[dict[str, Any]]) -> None:
        if not points:
            return
        from influxdb_client.domain.write_precision import WritePrecision

        assert self._write_api is not None
        s = self.settings
        try:
            self._write_api.write(bucket=s.bucket, org=s.org, record=points,
                                  write_precision=cast(Any, WritePrecision.MS))
        except Exception as exc:  # the server is down or refuses: count, log once a minute
            self.stats.write_errors += 1
            self.stats.failed_points += len(points)
            now = time.monotonic()
            if now - self._last_error_log >= 60.0:
                self._last_error_log = now
                log.warning("influx sink: write of %d points to %s failed (%d errors so far): "
                            "%s", len(points), s.url, self.stats.write_errors,
                            str(exc)[:300])
            return
        self.stats.written += len(points)
        self.stats.batches += 1

    def _run(self) -> None:
        period = self.settings.flush_interval_ms / 1000
        while self._running:
            self._wake.wait(period)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # never let the thread die: a bug here must not stop ingest
                log.exception("influx sink: unexpected error")
                time.sleep(1.0)
        try:
            self.flush()  # what was queued before stop
        except Exception:
            log.exception("influx sink: final flush failed")

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = self._client_factory(self.settings)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="influx-sink", daemon=True)
        self._thread.start()
        log.info("influx sink: writing to %s (org %s, bucket %s)", self.settings.url,
                 self.settings.org, self.settings.bucket)

    def stop(self, timeout: float = 10.0) -> None:
        """Flush what is queued (bounded by ``timeout``), then close the client."""
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None


def _make_client(s: InfluxSettings) -> InfluxDBClient:
    from influxdb_client.client.influxdb_client import InfluxDBClient

    assert s.url is not None
    return InfluxDBClient(url=s.url, token=s.token or "", org=s.org, timeout=s.timeout_ms,
                          enable_gzip=s.gzip)
