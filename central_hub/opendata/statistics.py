"""The statistics roll-up as it runs: each hour's raw messages read from the hub's database,
folded (:mod:`.domain.rollup`) and written to the service's roll-up tables.

WHY its own use case: it is the one part of the service that reads the hub's raw telemetry.
It runs on the schedule (:mod:`.service`), hour by hour after a watermark, so a restarted hub
continues where it stopped; the current, unfinished hour is rolled up right before a dataset
is produced, so the dataset includes the last minutes. What only the live hub knows (minutes an
intersection was in a fail-safe state, its prediction scorer's last hour) is sampled here
from the live state and added to the hour it belongs to.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, select

from central_hub.domain.prediction import PredictionScorer
from central_hub.domain.rollups import HOUR_MS, MINUTE_MS
from central_hub.domain.schedule import Schedule, deviation
from central_hub.opendata import store
from central_hub.opendata.domain.rollup import (
    BusRollup,
    OccupancyRow,
    PositionRow,
    SignalChange,
    SignalDay,
    WlanRow,
    roll_bus,
    roll_signals,
)
from central_hub.storage.schema import samples, signal_changes

log = logging.getLogger(__name__)

#: messages read before an hour to know the state it starts in (ms)
LOOKBACK_MS = 5 * MINUTE_MS
#: signal history read before an hour for each group's state at its start (ms)
SIGNAL_LOOKBACK_MS = 10 * MINUTE_MS
#: controller statuses counted as fail-safe minutes
FAILSAFE = frozenset({"flashing", "dark", "fault"})
WATERMARK = "rollup"


def _payloads(engine: Engine, topics: tuple[str, ...], start: int, end: int
              ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    c = samples.c
    q = (select(c.device_id, c.topic, c.payload)
         .where(c.topic.in_(topics), c.ts >= start, c.ts < end).order_by(c.device_id, c.ts))
    with engine.connect() as conn:
        for device, topic, payload in conn.execute(q):
            try:
                data = json.loads(payload)
            except ValueError:
                continue
            if isinstance(data, dict):
                yield str(device), str(topic), data


def _int(v: object, default: int = 0) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


class StatisticsRollup:
    """Rolls the hub's raw messages up, hour by hour (see the module)."""

    def __init__(self, hub_engine: Engine, engine: Engine, schedule: Schedule | None) -> None:
        self._hub = hub_engine
        self._engine = engine
        self._schedule = schedule
        #: (hour start, intersection) -> fail-safe minutes sampled from the live state
        self._failsafe: dict[tuple[int, str], float] = defaultdict(float)
        #: (hour start, intersection) -> the prediction scorer's figures of that hour
        self._predictions: dict[tuple[int, str], tuple[list[int], list[float], int, int]] = {}

    def sample_live(self, statuses: Mapping[str, str | None], now_ms: int,
                    minutes: float = 1.0) -> None:
        """Count ``minutes`` of fail-safe state for each intersection whose status is one."""
        hour = now_ms // HOUR_MS * HOUR_MS
        for iid, status in statuses.items():
            if status in FAILSAFE:
                self._failsafe[(hour, iid)] += minutes

    def sample_predictions(self, scorers: Mapping[str, PredictionScorer], hour_ms: int) -> None:
        """Keep each scorer's last hour as the figures of the hour that ends at ``hour_ms +
        1 h``; call it right after that hour ended."""
        end = hour_ms + HOUR_MS
        for iid, scorer in scorers.items():
            w = scorer.window(end)
            self._predictions[(hour_ms, iid)] = (
                [b.rows for b in w.bands],
                [(b.mae_ms or 0.0) * b.rows for b in w.bands],
                w.bounded_switches, w.inside_bounds)

    def _delay(self, p: PositionRow) -> float | None:
        if self._schedule is None or p.trip_id is None:
            return None
        d = deviation(self._schedule, p.trip_id, lat=p.lat, lon=p.lon, stop_id=p.stop_id,
                      stop_status=p.stop_status, ts_ms=p.ts)
        return None if d is None else float(d.delay_s)

    def roll_hour(self, hour_ms: int) -> None:
        """Roll the hour starting at ``hour_ms`` up again, in place of what it had."""
        end = hour_ms + HOUR_MS
        buses = BusRollup()
        device: str | None = None
        pos: list[PositionRow] = []
        occ: list[OccupancyRow] = []
        wl: list[WlanRow] = []
        ssem: dict[tuple[str, str], set[str]] = defaultdict(set)

        def flush() -> None:
            if pos or occ or wl:
                roll_bus(pos, occ, wl, start_ms=hour_ms, end_ms=end, delay_of=self._delay,
                         into=buses)
            pos.clear()
            occ.clear()
            wl.clear()

        for dev, topic, p in _payloads(self._hub, ("position", "occupancy", "wlan", "ssem"),
                                       hour_ms - LOOKBACK_MS, end):
            if dev != device:
                flush()
                device = dev
            ts = _int(p.get("ts"))
            if topic == "position":
                pos.append(PositionRow(
                    ts, p.get("route_id") or None, p.get("trip_id") or None,
                    p.get("stop_id") or None, str(p.get("stop_status") or ""),
                    float(p.get("lat") or 0.0), float(p.get("lon") or 0.0)))
            elif topic == "occupancy":
                occ.append(OccupancyRow(ts, _int(p.get("passengers")),
                                        str(p.get("occupancy_status") or "")))
            elif topic == "wlan":
                wl.append(WlanRow(ts, _int(p.get("clients_authenticated")),
                                  _int(p.get("rx_bytes")) + _int(p.get("tx_bytes"))))
            elif ts >= hour_ms and isinstance(p.get("requests"), list):
                iid = str(p.get("intersection_id") or dev)
                for r in p["requests"]:
                    if isinstance(r, dict):
                        ssem[(iid, str(r.get("request_id")))].add(str(r.get("status")))
        flush()
        signals: dict[str, SignalDay] = defaultdict(SignalDay)
        changes: dict[str, list[SignalChange]] = defaultdict(list)
        c = signal_changes.c
        with self._hub.connect() as conn:
            for iid, sg, state, start in conn.execute(
                    select(c.intersection_id, c.sg, c.state, c.start_ms)
                    .where(c.start_ms >= hour_ms - SIGNAL_LOOKBACK_MS, c.start_ms < end)):
                changes[str(iid)].append(SignalChange(str(sg), str(state), int(start)))
        for iid, rows in changes.items():
            roll_signals(rows, start_ms=hour_ms, end_ms=end, day=signals[iid])
        for (iid, _), statuses in ssem.items():
            signals[iid].granted += "granted" in statuses
            signals[iid].rejected += "rejected" in statuses
        for (hour, iid), minutes in self._failsafe.items():
            if hour == hour_ms:
                signals[iid].failsafe_min += minutes
        for (hour, iid), (rows_, errs, bounded, inside) in self._predictions.items():
            if hour == hour_ms:
                s = signals[iid]
                s.band_rows, s.band_err_ms, s.bounded, s.inside = (
                    list(rows_), list(errs), bounded, inside)
        with self._engine.begin() as conn:
            store.replace_hour(conn, hour_ms, buses, dict(signals))

    def catch_up(self, now_ms: int, *, first_ms: int, max_hours: int = 48) -> int:
        """Roll up every complete hour after the watermark (at most ``max_hours``, from
        ``first_ms`` on a first run); the number of hours rolled. The current hour is rolled
        up only when a dataset is produced (:meth:`roll_current`): at Kassel scale an hour is
        a million messages, read once when it is complete, not on every run."""
        current = now_ms // HOUR_MS * HOUR_MS
        with self._engine.connect() as conn:
            mark = store.watermark(conn, WATERMARK)
        hour = first_ms // HOUR_MS * HOUR_MS if mark is None else mark + HOUR_MS
        hour = max(hour, current - max_hours * HOUR_MS)
        done = 0
        while hour < current:
            self.roll_hour(hour)
            with self._engine.begin() as conn:
                store.set_watermark(conn, WATERMARK, hour)
            self._forget(hour)
            hour += HOUR_MS
            done += 1
        return done

    def roll_current(self, now_ms: int) -> None:
        """Roll up the hour ``now_ms`` is in, so far (a dataset produced now includes the last
        minutes; the hour is rolled up again, whole, once it is complete)."""
        self.roll_hour(now_ms // HOUR_MS * HOUR_MS)

    def _forget(self, hour_ms: int) -> None:
        for d in (self._failsafe, self._predictions):
            for key in [k for k in d if k[0] <= hour_ms]:
                del d[key]

