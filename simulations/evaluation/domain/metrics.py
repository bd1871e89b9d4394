"""Bus and cyclist delay and stops at signals, SPaT prediction error and the per-run summary.

Why pure accumulators: the definitions are what the evaluation's figures mean, so they must be
readable and unit-tested without SUMO. The adapter feeds one observation per bus or cyclist and
step; both are held to the same definitions, so a stop means the same for either.

Definitions (also in ``docs/simulations.md``):

* *signal zone*: from :data:`ZONE_UPSTREAM_M` before a signal's stop line to
  :data:`ZONE_DOWNSTREAM_M` after it (the acceleration after a red is signal delay too);
* *bus signal delay*: time lost in signal zones against driving at the free speed,
  ``sum(dt * (1 - v / v_free))``, not counted while the bus serves a bus stop;
* *bus stop at a signal*: the speed falls below :data:`STOP_SPEED_MPS` in a signal zone while
  not at a bus stop; it counts again only after the bus moved faster than
  :data:`RESTART_SPEED_MPS` (a queue's creeping is one stop, not many); a cyclist's stop at a
  signal likewise;
* *cyclist time loss*: SUMO's ``timeLoss`` of the whole trip, against the rider's own cruising
  speed. Not the zone delay: speed advice slows a rider down *before* the zone, and that time
  must count against the advice;
* *SPaT error*: for every group and every sample, the absolute difference between the
  published ``likely_end`` and the instant the aspect actually changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ZONE_UPSTREAM_M = 100.0
ZONE_DOWNSTREAM_M = 20.0
STOP_SPEED_MPS = 0.1
RESTART_SPEED_MPS = 1.0
#: SUMMARY keys of one run, in their documented order.
RUN_KEYS = (
    "bus_signal_delay_s",
    "bus_signal_stops",
    "bus_travel_time_s",
    "car_delay_s",
    "bus_co2_g",
    "safety_violations",
    "spat_mae_s",
    "cyclist_signal_stops",
    "cyclist_time_loss_s",
)
#: SUMO vType ids of the scenario's road users.
BUS_TYPE = "bus"
CAR_TYPE = "car"
BIKE_TYPE = "bike"


@dataclass(slots=True)
class ZoneAccount:
    """Signal delay and stops of one bus or cyclist trip so far."""

    delay_s: float = 0.0
    stops: int = 0
    stopped: bool = False


@dataclass(slots=True)
class SignalZoneTracker:
    """Accumulates signal delay and stops per vehicle (see the module docstring)."""

    accounts: dict[str, ZoneAccount] = field(default_factory=dict)

    def observe(
        self,
        vehicle: str,
        dt_s: float,
        speed_mps: float,
        free_speed_mps: float,
        *,
        in_zone: bool,
        at_bus_stop: bool,
    ) -> None:
        """One step of ``dt_s`` seconds of ``vehicle``."""
        acc = self.accounts.setdefault(vehicle, ZoneAccount())
        if speed_mps > RESTART_SPEED_MPS:
            acc.stopped = False
        if not in_zone or at_bus_stop:
            return
        if free_speed_mps > 0:
            acc.delay_s += dt_s * max(0.0, 1.0 - speed_mps / free_speed_mps)
        if speed_mps < STOP_SPEED_MPS and not acc.stopped:
            acc.stops += 1
            acc.stopped = True


def in_signal_zone(next_signal_m: float | None, since_signal_m: float | None) -> bool:
    """Whether a vehicle ``next_signal_m`` before the next stop line and ``since_signal_m``
    after the last one it passed is inside a signal zone."""
    if next_signal_m is not None and next_signal_m <= ZONE_UPSTREAM_M:
        return True
    return since_signal_m is not None and since_signal_m <= ZONE_DOWNSTREAM_M


@dataclass(slots=True)
class _Aspect:
    lamp: str
    pending: list[int] = field(default_factory=list)


@dataclass(slots=True)
class SpatErrorTracker:
    """Absolute errors (ms) of ``likely_end`` predictions against the actual switch."""

    aspects: dict[tuple[str, str], _Aspect] = field(default_factory=dict)
    errors_ms: list[int] = field(default_factory=list)

    def observe(self, key: tuple[str, str], now: int, lamp: str, likely_end: int | None,
                *, sample: bool) -> None:
        """The group ``key`` shows ``lamp`` at ``now``; ``sample`` records the prediction."""
        cur = self.aspects.get(key)
        if cur is None or cur.lamp != lamp:
            if cur is not None:
                self.errors_ms.extend(abs(p - now) for p in cur.pending)
            cur = _Aspect(lamp)
            self.aspects[key] = cur
        if sample and likely_end is not None:
            cur.pending.append(likely_end)

    def mae_s(self) -> float | None:
        """Mean absolute error in seconds (``None`` without a completed aspect)."""
        if not self.errors_ms:
            return None
        return sum(self.errors_ms) / len(self.errors_ms) / 1000.0


@dataclass(frozen=True, slots=True)
class TripRecord:
    """What SUMO's tripinfo says about one finished vehicle trip."""

    id: str
    vtype: str
    duration_s: float
    time_loss_s: float
    co2_g: float | None


def _mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def run_summary(
    trips: Iterable[TripRecord],
    zones: Mapping[str, ZoneAccount],
    *,
    safety_violations: int,
    spat_mae_s: float | None,
) -> dict[str, float | int | None]:
    """One run's ``R`` of ``summary.json``: means over the *finished* bus, car and cyclist
    trips; ``zones`` holds the signal-zone accounts of the buses and cyclists by vehicle id."""
    done = list(trips)
    bus_trips = [t for t in done if t.vtype == BUS_TYPE]
    car_trips = [t for t in done if t.vtype == CAR_TYPE]
    bike_trips = [t for t in done if t.vtype == BIKE_TYPE]
    accounts = [zones.get(t.id, ZoneAccount()) for t in bus_trips]
    riders = [zones.get(t.id, ZoneAccount()) for t in bike_trips]
    co2 = [t.co2_g for t in bus_trips if t.co2_g is not None]
    return {
        "bus_signal_delay_s": _round(_mean(a.delay_s for a in accounts)),
        "bus_signal_stops": _round(_mean(float(a.stops) for a in accounts)),
        "bus_travel_time_s": _round(_mean(t.duration_s for t in bus_trips)),
        "car_delay_s": _round(_mean(t.time_loss_s for t in car_trips)),
        "bus_co2_g": _round(_mean(co2)),
        "safety_violations": int(safety_violations),
        "spat_mae_s": _round(spat_mae_s),
        "cyclist_signal_stops": _round(_mean(float(a.stops) for a in riders)),
        "cyclist_time_loss_s": _round(_mean(t.time_loss_s for t in bike_trips)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def change_pct(before: float | None, after: float | None) -> float | None:
    """Relative change ``after`` against ``before`` in percent (``None`` if undefined)."""
    if before is None or after is None or before == 0:
        return None
    return 100.0 * (after - before) / before
