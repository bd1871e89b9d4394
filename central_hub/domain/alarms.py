"""Alarm rules as a pure state machine: events in, raised/cleared transitions out.

WHY a transducer: the same rules run in the hub, in unit tests with a fake clock and in the
benchmark, and an alarm is emitted only on a transition, so a 10 Hz SPaT stream does not write
10 rows a second. The adapter (:mod:`central_hub.alarms`) persists and broadcasts what comes out.
Times are the hub's own receive clock in ms (device clocks may be off; staleness is about when
the hub last heard something).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from central_hub.domain.prediction import Drift, DriftRules
from edge_agent.contract.payloads import Health

Severity = Literal["critical", "warning"]

DEGRADED_SIGNAL = {"flashing": "critical", "fault": "critical", "dark": "critical"}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Health limits; a report above a limit raises, one at or below clears."""

    cpu_pct: float = 90.0
    mem_pct: float = 90.0
    disk_pct: float = 90.0
    queue_depth: int = 10_000
    spat_stale_ms: int = 1_000
    hub_queue_fill: float = 0.8
    dropped_clear_ms: int = 60_000
    #: a hub broker session down this long raises ``hub_broker_down`` (a reconnect, or the
    #: first connect at start, takes well under a second when the broker is up)
    broker_down_ms: int = 1_000
    #: how long a device's state-file reset stays an active alarm.
    store_reset_ms: int = 24 * 3600 * 1000
    #: when an intersection's predictions count as worse than usual (``prediction_degraded``)
    prediction: DriftRules = field(default_factory=DriftRules)


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm became active (``active``) or cleared."""

    kind: str
    device_id: str
    active: bool
    severity: Severity
    message: str
    at_ms: int


@dataclass(slots=True)
class AlarmEngine:
    """Holds which alarms are active and when each device and intersection was last heard."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    active: dict[tuple[str, str], AlarmChange] = field(default_factory=dict)
    _last_spat: dict[str, int] = field(default_factory=dict)
    _device_dropped: dict[str, int] = field(default_factory=dict)
    _hub_dropped: dict[str, tuple[int, int]] = field(default_factory=dict)
    _session_down_since: dict[str, int] = field(default_factory=dict)
    _hub_poison: dict[str, tuple[int, int]] = field(default_factory=dict)

    def _set(self, kind: str, device: str, on: bool, severity: Severity, message: str, *,
             now: int) -> list[AlarmChange]:
        key = (kind, device)
        if on == (key in self.active):
            return []
        change = AlarmChange(kind, device, on, severity, message, now)
        if on:
            self.active[key] = change
        else:
            del self.active[key]
        return [change]

    def on_status(self, device_id: str, state: str, now: int) -> list[AlarmChange]:
        """Birth and death (Last Will) messages."""
        offline = state == "offline"
        return self._set("device_offline", device_id, offline, "critical",
                         f"{device_id} is offline (Last Will)" if offline
                         else f"{device_id} is back online", now=now)

    def on_spat(self, intersection_id: str, status: str, now: int) -> list[AlarmChange]:
        """Every SPaT: refreshes staleness and checks the controller's status."""
        self._last_spat[intersection_id] = now
        if status not in DEGRADED_SIGNAL and not self.active:  # the 10 Hz common case
            return []
        out = self._set("spat_stale", intersection_id, False, "critical",
                        f"SPaT of {intersection_id} flows again", now=now)
        bad = status in DEGRADED_SIGNAL
        out += self._set("signal_degraded", intersection_id, bad, "critical",
                         f"controller {intersection_id} reports {status}" if bad
                         else f"controller {intersection_id} is {status} again", now=now)
        return out

    def forget_intersection(self, intersection_id: str, now: int) -> list[AlarmChange]:
        """An intersection's controller was removed from the registry: stop watching its SPaT
        and clear its SPaT alarms, or ``tick`` would raise (and keep) ``spat_stale`` for an
        intersection that is gone on purpose."""
        self._last_spat.pop(intersection_id, None)
        out = self._set("spat_stale", intersection_id, False, "critical",
                        f"{intersection_id} was removed; its SPaT is no longer watched", now=now)
        out += self._set("signal_degraded", intersection_id, False, "critical",
                         f"{intersection_id} was removed", now=now)
        out += self._set("prediction_degraded", intersection_id, False, "warning",
                         f"{intersection_id} was removed", now=now)
        return out

    def on_prediction(self, intersection_id: str, drift: Drift, *,
                      now: int) -> list[AlarmChange]:
        """An intersection's prediction quality (:meth:`PredictionScorer.drift
        <central_hub.domain.prediction.PredictionScorer.drift>` under
        :attr:`Thresholds.prediction`), checked every few seconds: ``prediction_degraded``
        while the last hour's error of predictions made up to 10 s ahead is at least twice
        its median hourly value of the last day. Clears when it is back under, or when the
        last hour has too few predictions to judge; an intersection whose SPaT is not watched
        (never heard, or removed) raises nothing."""
        bad = drift.degraded and intersection_id in self._last_spat
        if bad == (("prediction_degraded", intersection_id) in self.active):
            return []
        mae = (drift.mae_ms or 0) / 1000
        base = (drift.baseline_ms or 0) / 1000
        if bad:
            ratio = f"{mae / base:.1f}x" if base else "far above"
            message = (f"{intersection_id}: switches are {mae:.1f} s off the likely end "
                       f"predicted up to 10 s ahead (last hour, {drift.rows} predictions), "
                       f"{ratio} the usual {base:.1f} s (median of {drift.hours} hours)")
        elif drift.judged:
            message = f"{intersection_id}: predictions back to {mae:.1f} s (usual {base:.1f} s)"
        else:
            message = f"{intersection_id}: too few predictions in the last hour to judge"
        return self._set("prediction_degraded", intersection_id, bad, "warning", message,
                         now=now)

    def on_health(self, device_id: str, health: Health, now: int) -> list[AlarmChange]:
        """A device's health report against the thresholds."""
        t = self.thresholds
        cpu_pct, mem_pct, disk_pct = health.cpu_pct, health.mem_pct, health.disk_pct
        queue_depth, queue_dropped = health.queue.depth, health.queue.dropped
        out: list[AlarmChange] = []
        for kind, value, limit in (("health_cpu", cpu_pct, t.cpu_pct),
                                   ("health_mem", mem_pct, t.mem_pct),
                                   ("health_disk", disk_pct, t.disk_pct)):
            over = value > limit
            out += self._set(kind, device_id, over, "warning",
                             f"{device_id}: {kind[7:]} {value:.0f} % > {limit:.0f} %" if over
                             else f"{device_id}: {kind[7:]} {value:.0f} % back to normal", now=now)
        backlog = queue_depth > t.queue_depth
        out += self._set("device_queue_backlog", device_id, backlog, "warning",
                         f"{device_id}: {queue_depth} messages queued on the device" if backlog
                         else f"{device_id}: queue drained", now=now)
        unwritable = health.queue.writable is False
        out += self._set("device_store_unwritable", device_id, unwritable, "warning",
                         f"{device_id}: its state disk is full; new messages are dropped"
                         if unwritable else f"{device_id}: state disk writable again", now=now)
        reset = health.store_reset
        recent = reset is not None and health.ts - reset.at_ms < t.store_reset_ms
        out += self._set("device_store_reset", device_id, recent, "warning",
                         f"{device_id}: unusable state file moved to {reset.moved_to} "
                         f"({reset.reason}); queued messages in it were not sent"
                         if recent and reset is not None
                         else f"{device_id}: state file reset is a day old", now=now)
        faults = health.detector_faults or []
        out += self._set("detector_fault", device_id, bool(faults), "warning",
                         f"{device_id}: detector {', '.join(faults)} reports a fault"
                         if faults else f"{device_id}: detectors work again", now=now)
        before = self._device_dropped.get(device_id)
        self._device_dropped[device_id] = queue_dropped
        grew = before is not None and queue_dropped > before
        out += self._set("device_queue_dropped", device_id, grew, "warning",
                         f"{device_id}: dropped {queue_dropped - (before or 0)} queued messages"
                         if grew else f"{device_id}: no more drops", now=now)
        return out

    def on_hub_queue(self, name: str, depth: int, capacity: int, dropped: int, *,
                     now: int) -> list[AlarmChange]:
        """The hub's own bounded queues: backlog (fill ratio) and drops (a growing counter)."""
        t = self.thresholds
        full = capacity > 0 and depth >= t.hub_queue_fill * capacity
        out = self._set("hub_queue_backlog", name, full, "warning",
                        f"hub queue {name}: {depth}/{capacity}" if full
                        else f"hub queue {name}: drained", now=now)
        last_count, last_grew_at = self._hub_dropped.get(name, (dropped, -(10**18)))
        if dropped > last_count:
            last_grew_at = now
        self._hub_dropped[name] = (dropped, last_grew_at)
        recent = now - last_grew_at < t.dropped_clear_ms
        out += self._set("hub_queue_dropped", name, recent, "warning",
                         f"hub queue {name}: {dropped} messages dropped so far" if recent
                         else f"hub queue {name}: no drops for a minute", now=now)
        return out

    def on_hub_poison(self, name: str, count: int, last: str | None, *,
                      now: int) -> list[AlarmChange]:
        """Poison messages one of the hub's sessions skipped (a growing counter): a message
        that could not even be parsed as MQTT, or was larger than the hub takes, came from a
        broken or hostile sender. ``hub_poison_message`` while the count grew within
        ``dropped_clear_ms``; the session itself kept running."""
        last_count, last_grew_at = self._hub_poison.get(name, (0, -(10**18)))
        if count > last_count:
            last_grew_at = now
        self._hub_poison[name] = (count, last_grew_at)
        recent = now - last_grew_at < self.thresholds.dropped_clear_ms
        return self._set("hub_poison_message", name, recent, "warning",
                         f"hub {name} session skipped {count} poison messages so far "
                         f"(newest: {last})" if recent
                         else f"hub {name} session: no poison messages for a minute", now=now)

    def on_hub_session(self, name: str, connected: bool, *, reason: str | None = None,
                       now: int) -> list[AlarmChange]:
        """One of the hub's own broker sessions (``live``, ``ingest``), sampled every tick:
        ``hub_broker_down`` once it has been disconnected for ``broker_down_ms``, cleared when
        it is connected again. While it is down the hub hears nothing from any device, so
        every device alarm would be blind: this is the alarm that says so."""
        if connected:
            self._session_down_since.pop(name, None)
            return self._set("hub_broker_down", name, False, "critical",
                             f"hub {name} session connected to the broker again", now=now)
        since = self._session_down_since.setdefault(name, now)
        if now - since < self.thresholds.broker_down_ms:
            return []
        why = f" ({reason})" if reason else ""
        return self._set("hub_broker_down", name, True, "critical",
                         f"hub {name} session has no broker for {(now - since) / 1000:.1f} s"
                         f"{why}", now=now)

    def on_hub_storage(self, error: str | None, *, now: int) -> list[AlarmChange]:
        """The hub's database, after each write attempt's outcome (``error`` of the last
        failed write, ``None`` once a write succeeded): ``hub_storage_down`` at the first
        failure, cleared by the first success. Ingest stops acknowledging meanwhile, so the
        broker keeps the messages; the alarm says that storage, not the devices, is late."""
        down = error is not None
        return self._set("hub_storage_down", "database", down, "critical",
                         f"hub database unreachable: {error}" if down
                         else "hub database writable again", now=now)

    def on_opendata_producer(self, dataset_id: str, error: str | None, *,
                             now: int) -> list[AlarmChange]:
        """An open-data producer's run (``error`` when it failed, ``None`` when it produced):
        ``opendata_producer_failed`` (device ``opendata:<dataset>``) at a failure, cleared by
        the next run that produces. The dataset keeps its previous version meanwhile."""
        failed = error is not None
        return self._set("opendata_producer_failed", f"opendata:{dataset_id}", failed,
                         "warning", f"open-data producer {dataset_id} failed: {error}" if failed
                         else f"open-data producer {dataset_id} produced again", now=now)

    def on_sharing_feed(self, operator: str, error: str | None, *,
                        now: int) -> list[AlarmChange]:
        """A sharing operator's GBFS feed (``error`` when a file was refused, ``None`` when a
        poll read every file due): ``sharing_feed_refused`` (device ``sharing:<operator>``)
        at a refusal, cleared by the next good poll. The planner keeps the last good data."""
        failed = error is not None
        return self._set("sharing_feed_refused", f"sharing:{operator}", failed, "warning",
                         f"sharing feed {operator} refused: {error}" if failed
                         else f"sharing feed {operator} read again", now=now)

    def on_realtime_feed(self, name: str, error: str | None, *,
                         now: int) -> list[AlarmChange]:
        """Another operator's GTFS-Realtime feed (``error`` when a fetch was refused, ``None``
        when one was taken): ``realtime_feed_refused`` (device ``realtime:<name>``) at a
        refusal, cleared by the next good fetch. The planner keeps the last good message
        until it is too old."""
        failed = error is not None
        return self._set("realtime_feed_refused", f"realtime:{name}", failed, "warning",
                         f"GTFS-Realtime feed {name} refused: {error}" if failed
                         else f"GTFS-Realtime feed {name} read again", now=now)

    def tick(self, now: int) -> list[AlarmChange]:
        """Periodic check: SPaT that has not arrived for ``spat_stale_ms``."""
        out: list[AlarmChange] = []
        limit = self.thresholds.spat_stale_ms
        for ix, last in self._last_spat.items():
            if now - last > limit and ("spat_stale", ix) not in self.active:
                out += self._set("spat_stale", ix, True, "critical",
                                 f"no SPaT from {ix} for {(now - last) / 1000:.1f} s", now=now)
        return out
