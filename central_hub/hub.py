"""The hub's services wired together, started and stopped by the app's lifespan.

WHY one container object: ``create_app`` builds it, the lifespan starts and stops it, the API
dependencies read from it, and tests build it with fakes (a reload callable, a fixed engine);
nothing is created at import time (docs/design.md). Background loops are named tasks
(``_<verb>_loop``) that the container cancels on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections import Counter, deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from central_hub.alarms import AlarmService, AlarmStore
from central_hub.core.config import HubRuntime
from central_hub.core.oidc import OidcVerifier
from central_hub.core.resolver import IdentityResolver, static_tokens
from central_hub.core.tokens import StaticTokens, TokenStore
from central_hub.domain.alarms import AlarmChange, AlarmEngine, Thresholds
from central_hub.domain.live_state import LiveState, SignalChange
from central_hub.domain.rollups import RetentionPolicy
from central_hub.domain.schedule import Schedule
from central_hub.gtfs_static import load_schedule
from central_hub.ingest.influx import InfluxSink
from central_hub.ingest.worker import IngestWorker
from central_hub.live.broadcast import Broadcaster
from central_hub.live.dashboard_feed import DashboardFeed
from central_hub.live.feed import LiveFeed
from central_hub.registry import DeviceRegistry, Reload, pid_file_reload
from central_hub.storage.db import insert_ignore, make_engine
from central_hub.storage.health import StorageHealth
from central_hub.storage.maintenance import Maintenance
from central_hub.storage.schema import signal_changes

log = logging.getLogger(__name__)

#: what a write raises when the database cannot be reached (kept and retried, not dropped)
UNREACHABLE = (OperationalError, InterfaceError)
#: how often pending alarm rows are retried while the database is down
ALARM_RETRY_S = 1.0
#: how often each intersection's prediction quality is held against its baseline (the
#: figures cover an hour: a check every 10 s is prompt enough and costs ~5 ms at 300)
PREDICTION_CHECK_MS = 10_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _poison(counts: Counter[str]) -> list[dict[str, object]]:
    """Poison messages a session skipped, by reason, as the API lists them."""
    return [{"reason": r, "count": n} for r, n in sorted(counts.items())]


class Hub:
    """Every long-lived service of one hub process."""

    def __init__(self, runtime: HubRuntime, *, engine: Engine | None = None,
                 reload_broker: Reload | None = None) -> None:
        cfg, s = runtime.config, runtime.settings
        self.runtime = runtime
        self.engine = engine if engine is not None else make_engine(cfg.database)
        self.schedule: Schedule | None = load_schedule(cfg.gtfs.static) if cfg.gtfs.static \
            else None
        self.state = LiveState(history_ms=s.spat_history_s * 1000)
        self.spat = Broadcaster(s.ws_client_queue)
        self.dashboard = DashboardFeed(self.state, schedule=self.schedule,
                                       stale_ms=s.alarms.spat_stale_ms)
        a = s.alarms
        self.alarm_store = AlarmStore(self.engine)
        #: the outcome of the latest database write of any writer (``hub_storage_down``)
        self.storage = StorageHealth()
        self.alarms: AlarmService | None = AlarmService(
            AlarmEngine(Thresholds(cpu_pct=a.cpu_pct, mem_pct=a.mem_pct, disk_pct=a.disk_pct,
                                   queue_depth=a.queue_depth, spat_stale_ms=a.spat_stale_ms,
                                   broker_down_ms=a.broker_down_ms)),
            self.alarm_store) if s.primary else None
        self._signal_buffer: deque[SignalChange] = deque(maxlen=100_000)
        self.live = LiveFeed(runtime, self.state, self.spat, self.dashboard, alarms=self.alarms,
                             on_signal_changes=self._signal_buffer.extend if s.primary else None)
        self.ingest = IngestWorker(runtime, self.engine, health=self.storage,
                                   entity_device=self.state.entity_device) \
            if s.run_ingest else None
        self.influx = InfluxSink(s.influx) if s.influx.enabled else None
        if self.influx is not None and self.ingest is not None:
            self.ingest.on_committed = self.influx.submit_rows
        reg = s.registry
        if reload_broker is None and reg.broker_pid_file:
            reload_broker = pid_file_reload(reg.broker_pid_file)
        self.registry = DeviceRegistry(self.engine, self.live.topics, reg.password_file,
                                       reg.acl_file, reload_broker)
        self.maintenance = Maintenance(self.engine, RetentionPolicy(
            s.retention.raw_days, s.retention.minute_days, s.retention.hour_days))
        #: every HTTP caller is resolved here (static, issued, OIDC and family tokens)
        self.identity = IdentityResolver(
            self._static_tokens(), TokenStore(self.engine),
            OidcVerifier(s.oidc) if s.oidc.enabled else None)
        #: the citizen services the app opened, by name (one service may read another's
        #: public statistics through that service's mount, e.g. open data the Kita's)
        self.services: dict[str, object] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def _static_tokens(self) -> StaticTokens:
        s = self.runtime.settings
        if s.admin_token or s.engineer_token:
            return static_tokens(s)
        # generate an admin token so the hub is never open for writes by accident, and the
        # demo has its operator's key
        admin = secrets.token_urlsafe(24)
        path = Path(self.runtime.config.agent.state_dir) / "hub-admin-token"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(admin + "\n", encoding="utf-8")
            os.chmod(path, 0o600)
            log.warning("no KASSEL_HUB_ADMIN_TOKEN set: generated one in %s", path)
        except OSError:
            log.warning("no KASSEL_HUB_ADMIN_TOKEN set and %s is not writable: "
                        "state changes need an issued token (kassel hub token issue)", path)
            return static_tokens(s)
        return static_tokens(s.model_copy(update={"admin_token": admin}))

    # --- lifecycle ----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def start(self) -> None:
        """Start ingest, the live feed and (on the primary) alarms and maintenance."""
        self.state.entity_device.update(await asyncio.to_thread(self.registry.entity_map))
        if self.influx is not None:
            await asyncio.to_thread(self.influx.start)
        if self.ingest is not None:
            self.ingest.start()
        await self.live.start()
        self._spawn(self._dashboard_loop(), "dashboard_loop")
        if self.alarms is not None:
            await asyncio.to_thread(self.alarm_store.close_all_open, _now_ms())
            self._spawn(self._alarm_loop(), "alarm_loop")
            self._spawn(self._history_loop(), "history_loop")
            self._spawn(self._maintain_loop(), "maintain_loop")
            if self.influx is not None:
                self._spawn(self._influx_spat_loop(), "influx_spat_loop")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.live.stop()
        if self.ingest is not None:
            await asyncio.to_thread(self.ingest.stop)
        if self.influx is not None:
            await asyncio.to_thread(self.influx.stop)
        try:
            if self.alarms is not None:
                self.alarms.hold(self.alarms.take())
                await asyncio.to_thread(self.alarm_store.apply, self.alarms.take_unwritten())
            await asyncio.to_thread(self._write_history)
        except UNREACHABLE:
            log.exception("could not store the last alarm changes and signal history at stop")

    # --- loops --------------------------------------------------------------------------

    async def _dashboard_loop(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.dashboard.flush(_now_ms())

    async def _alarm_loop(self) -> None:
        assert self.alarms is not None
        period = self.runtime.settings.alarms.tick_ms / 1000
        engine = self.alarms.engine
        retry_at = 0.0
        predictions_at = 0
        while True:
            await asyncio.sleep(period)
            now = _now_ms()
            changes = engine.tick(now)
            if now >= predictions_at:
                predictions_at = now + PREDICTION_CHECK_MS
                changes += self._prediction_changes(engine, now)
            if self.ingest is not None:
                changes += engine.on_hub_queue("ingest", self.ingest.depth, self.ingest.capacity,
                                               self.ingest.stats.dropped, now=now)
            changes += engine.on_hub_queue("live", self.live.depth, self.live.capacity,
                                           self.live.dropped, now=now)
            if self.influx is not None:
                changes += engine.on_hub_queue("influx", self.influx.depth,
                                               self.influx.capacity, self.influx.stats.dropped,
                                               now=now)
            changes += engine.on_hub_session("live", self.live.session_connected,
                                             reason=self.live.last_error, now=now)
            changes += engine.on_hub_poison("live", self.live.poison.total(),
                                            self.live.last_poison, now=now)
            if self.ingest is not None:
                changes += engine.on_hub_poison("ingest", self.ingest.poison.total(),
                                                self.ingest.last_poison, now=now)
            if self.ingest is not None:
                changes += engine.on_hub_session("ingest", self.ingest.stats.connected,
                                                 reason=self.ingest.last_error, now=now)
            changes += engine.on_hub_storage(self.storage.error, now=now)
            self.alarms.submit(changes)
            pending = self.alarms.take()
            if pending:
                self.dashboard.alarms(pending)
                self.alarms.hold(pending)
            if self.alarms.unwritten and time.monotonic() >= retry_at:
                retry_at = await self._write_alarms()

    def _prediction_changes(self, engine: AlarmEngine, now: int) -> list[AlarmChange]:
        """``prediction_degraded`` of every intersection (domain/prediction.py)."""
        rules = engine.thresholds.prediction
        out: list[AlarmChange] = []
        for iid, ix in list(self.state.intersections.items()):
            out += engine.on_prediction(iid, ix.quality.drift(now, rules), now=now)
        return out

    async def _write_alarms(self) -> float:
        """Write the alarm backlog; on a database outage keep it and say when to retry."""
        assert self.alarms is not None
        batch = self.alarms.take_unwritten()
        try:
            await asyncio.to_thread(self.alarm_store.apply, batch)
        except UNREACHABLE as exc:
            self.alarms.hold(batch, first=True)
            if self.storage.failed("alarms", exc):
                log.warning("could not store %d alarm changes (kept, retrying): %s",
                            len(batch), exc)
            return time.monotonic() + ALARM_RETRY_S
        except Exception:
            log.exception("could not store %d alarm changes", len(batch))
        else:
            self.storage.succeeded()
        return 0.0

    def _write_history(self) -> None:
        buf = self._signal_buffer
        if not buf:
            return
        taken = [buf.popleft() for _ in range(len(buf))]
        rows = [{"intersection_id": c.intersection_id, "sg": c.sg, "state": c.state,
                 "start_ms": c.start_ms} for c in taken]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert_ignore(self.engine, signal_changes), rows)
        except UNREACHABLE:
            buf.extendleft(reversed(taken))  # kept (bounded by the deque) for the next try
            raise
        self.storage.succeeded()

    async def _history_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await asyncio.to_thread(self._write_history)
            except UNREACHABLE as exc:
                if self.storage.failed("history", exc):
                    log.warning("could not store signal history (kept, retrying): %s", exc)
            except Exception:
                log.exception("could not store signal history")

    async def _maintain_loop(self) -> None:
        period = self.runtime.settings.retention.interval_s
        while True:
            await asyncio.sleep(period)
            try:
                report = await asyncio.to_thread(self.maintenance.run, _now_ms())
                log.info("maintenance: %s", json.dumps(report.deleted))
                self.storage.succeeded()
            except UNREACHABLE as exc:
                if self.storage.failed("maintenance", exc):
                    log.warning("maintenance could not reach the database: %s", exc)
            except Exception:
                log.exception("maintenance failed")

    async def _influx_spat_loop(self) -> None:
        """SPaT (10 Hz, live path only) goes to InfluxDB as a summary: each intersection's
        latest message, sampled every ``influx.spat_interval_s`` when it changed."""
        assert self.influx is not None
        period = self.runtime.settings.influx.spat_interval_s
        last: dict[str, int] = {}
        while True:
            await asyncio.sleep(period)
            for iid, it in list(self.state.intersections.items()):
                if it.spat is None or it.spat_raw is None or last.get(iid) == it.spat.ts:
                    continue
                last[iid] = it.spat.ts
                self.influx.submit("spat", iid, it.spat_raw)

    # --- views used by the API ----------------------------------------------------------

    def ingest_stats(self) -> dict[str, Any]:
        """Counters of the ingest worker (if any) and the live path."""
        out: dict[str, Any] = {
            "live": {"connected": self.live.session_connected,
                     "subscribed": self.live.subscribed.is_set(),
                     "last_error": self.live.last_error,
                     "received": self.live.received, "dropped": self.live.dropped,
                     "depth": self.live.depth,
                     "rejected": [{"topic": t, "reason": r, "count": n}
                                  for (t, r), n in sorted(self.live.rejected.items())],
                     "poison": _poison(self.live.poison),
                     "last_poison": self.live.last_poison,
                     "gaps": self.state.gaps.gaps},
        }
        out["storage"] = {"ok": self.storage.ok, "last_error": self.storage.error,
                          "down_since_ms": self.storage.down_since_ms,
                          "failures": self.storage.failures}
        if self.alarms is not None:
            out["alarms"] = {"active": len(self.alarms.engine.active),
                             "unwritten": len(self.alarms.unwritten),
                             "dropped": self.alarms.dropped}
        if self.ingest is not None:
            st = self.ingest.stats
            out["ingest"] = {
                "connected": st.connected, "subscribed": self.ingest.subscribed.is_set(),
                "last_error": self.ingest.last_error,
                "received": st.received, "stored": st.stored,
                "duplicates": st.duplicates, "dropped": st.dropped, "batches": st.batches,
                "write_errors": st.write_errors, "depth": self.ingest.depth,
                "capacity": self.ingest.capacity,
                "rejected": [{"topic": t, "reason": r, "count": n}
                             for (t, r), n in sorted(st.rejected.items())],
                "poison": _poison(self.ingest.poison),
                "last_poison": self.ingest.last_poison}
        if self.influx is not None:
            i = self.influx.stats
            influx = {"queued": i.queued, "dropped": i.dropped, "written": i.written,
                      "batches": i.batches, "write_errors": i.write_errors,
                      "failed_points": i.failed_points, "skipped": i.skipped,
                      "depth": self.influx.depth, "capacity": self.influx.capacity}
            if "ingest" in out:
                out["ingest"]["influx"] = influx
            else:  # no ingest worker here: only the SPaT summaries feed the sink
                out["influx"] = influx
        return out
