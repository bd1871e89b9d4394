"""The bus's uplink capacity, measured: a delay-based rate controller after cake-autorate.

Why: an LTE link's capacity changes by the minute (cell load, signal, handovers). If the
gateway shapes passengers to more than the link can carry, the excess queues in the modem
and the operator's network (bufferbloat): everyone's round-trip time grows by hundreds of
milliseconds and the fair shares stop meaning anything, because the real bottleneck is no
longer the gateway's HTB tree. If it shapes to less, capacity is wasted. cake-autorate
(lynxthecat/cake-autorate) solves this for home LTE routers by watching two things at once,
and this is the same idea:

* **achieved throughput** of the uplink interface (its byte counters) relative to the rate the
  shaper allows now — the *load*;
* **round-trip time** to a reflector relative to a slowly tracked *baseline* — the *delay*.

Each sample is classified and the rate moved:

1. **bufferbloat** — the RTT exceeded the baseline by ``delay_threshold_ms`` in at least
  ``detection_count`` of the last ``detection_window`` samples, the latest among them:
  capacity was exceeded.
  The rate drops to ``achieved × down_factor`` when that is between the minimum and
  ``rate × down_factor``, else to ``rate × down_factor`` — what actually got through is the
  best estimate of the capacity. Then no further drop for ``bufferbloat_refractory_ms``
  (the queue needs that long to drain; dropping again before would overshoot); while the
  delay stays high the rate is held in between, never raised.
2. **high load, no delay** — achieved ≥ ``high_load`` × rate and the RTT is flat: the link
  carries more than we allow without queueing, so probe upward by ``up_factor`` per sample
  (not within the refractory period of a drop).
3. **low load** — decay towards the base rate (``uplink_kbps``) by ``decay_factor`` every
  ``decay_refractory_ms``: an idle link tells nothing about its capacity, and the base is the
  configured expectation.

The rate always stays within ``[min_kbps, ceiling]``. The ceiling is ``max_kbps`` until the
operator sends a figure (``set_uplink_kbps``, :meth:`CapacityEstimator.set_cap`): that figure
is a cap, not a starting point the controller may probe away from. The estimate starts there,
may go lower when the delay says the link carries less, and never goes above it; idle decay
aims at ``min(base, cap)``. A later command replaces the cap, upwards or downwards, and the
estimate starts again from it. A cap below ``min_kbps`` is obeyed too (the operator knows the
contract's rate; the floor then equals the cap). The baseline follows decreases of the RTT
quickly (``baseline_alpha_down``) and increases slowly (``baseline_alpha_up``, and only while
no bufferbloat is seen), so a standing queue is never mistaken for the path's delay.

One figure for both directions: the gateway shapes download and upload with the same fair
share (:mod:`bus_gateway.domain.shaping`), so the load is the busier direction's; an RTT probe
cannot tell which direction queues anyway.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

LoadState = Literal["bufferbloat", "high_load", "low_load", "start"]


@dataclass(frozen=True, slots=True)
class AutorateSettings:
    """Bounds and controller constants (defaults: cake-autorate's, scaled to 2–5 Hz samples)."""

    base_kbps: int
    min_kbps: int
    max_kbps: int
    delay_threshold_ms: float = 30.0
    detection_window: int = 4
    detection_count: int = 2
    high_load: float = 0.75
    down_factor: float = 0.9
    up_factor: float = 1.03
    decay_factor: float = 0.97
    bufferbloat_refractory_ms: int = 1000
    decay_refractory_ms: int = 1000
    baseline_alpha_up: float = 0.01
    baseline_alpha_down: float = 0.5

    def __post_init__(self) -> None:
        if not 8 <= self.min_kbps <= self.base_kbps <= self.max_kbps:
            raise ValueError(
                f"need 8 <= min_kbps <= base_kbps <= max_kbps, got {self.min_kbps}, "
                f"{self.base_kbps}, {self.max_kbps}"
            )
        if not 1 <= self.detection_count <= self.detection_window:
            raise ValueError("need 1 <= detection_count <= detection_window")
        if not (0 < self.down_factor < 1 and self.up_factor > 1 and 0 < self.decay_factor < 1):
            raise ValueError("need down_factor and decay_factor in (0, 1), up_factor > 1")


@dataclass(frozen=True, slots=True)
class LinkSample:
    """One measurement: the uplink interface's byte counters and one RTT (or none).

    ``rtt_ms`` is ``None`` when no probe answered in a way that says anything about delay
    (refused at once, no route); a probe that timed out is reported as its timeout.
    """

    ts_ms: int
    rx_bytes: int
    tx_bytes: int
    rtt_ms: float | None


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one sample (for logs and tests)."""

    rate_kbps: int
    state: LoadState
    achieved_kbps: int
    rtt_delta_ms: float | None


class CapacityEstimator:
    """Feed :class:`LinkSample` s in time order; :attr:`rate_kbps` is the capacity to shape to."""

    def __init__(self, settings: AutorateSettings) -> None:
        self.settings = settings
        self._rate = float(settings.base_kbps)
        self._baseline_ms: float | None = None
        self._bloat: deque[bool] = deque(maxlen=settings.detection_window)
        self._last: LinkSample | None = None
        self._last_drop_ms: int | None = None
        self._last_decay_ms: int | None = None
        self._cap: int | None = None
        self.state: LoadState = "start"

    @property
    def rate_kbps(self) -> int:
        """The capacity estimate now."""
        return round(self._rate)

    @property
    def baseline_ms(self) -> float | None:
        """The tracked no-load RTT."""
        return self._baseline_ms

    @property
    def cap_kbps(self) -> int | None:
        """The operator's figure in force (``None``: none given, ``max_kbps`` bounds)."""
        return self._cap

    @property
    def ceiling_kbps(self) -> int:
        """The highest rate allowed now: the operator's cap, else ``max_kbps``."""
        return self.settings.max_kbps if self._cap is None else self._cap

    @property
    def floor_kbps(self) -> int:
        """The lowest rate allowed now: ``min_kbps``, or a lower cap."""
        return min(self.settings.min_kbps, self.ceiling_kbps)

    def set_cap(self, kbps: int) -> int:
        """An operator's figure (``set_uplink_kbps``): the ceiling from now on, and the start.

        Replaces an earlier figure (raising or lowering it); at least 8 kbit/s, and at most
        ``max_kbps`` — the configured bound stays the bound.
        """
        if kbps < 8:
            raise ValueError(f"uplink_kbps must be at least 8, got {kbps}")
        self._cap = min(self.settings.max_kbps, kbps)
        self._rate = float(self._cap)
        return self.rate_kbps

    def observe(self, sample: LinkSample) -> RateDecision:
        """Account one sample; return the (possibly changed) rate and why."""
        s = self.settings
        previous, self._last = self._last, sample
        delta = self._track_delay(sample.rtt_ms)
        if previous is None or sample.ts_ms <= previous.ts_ms:
            return RateDecision(self.rate_kbps, self.state, 0, delta)
        rx = sample.rx_bytes - previous.rx_bytes
        tx = sample.tx_bytes - previous.tx_bytes
        if rx < 0 or tx < 0:  # counters reset (interface re-created): no rate this time
            return RateDecision(self.rate_kbps, self.state, 0, delta)
        achieved = max(rx, tx) * 8 / (sample.ts_ms - previous.ts_ms)  # bytes/ms → kbit/s
        now = sample.ts_ms
        # the latest probe must still see the delay: once the RTT is back at the baseline the
        # queue has drained, and a cut on older evidence would take the rate down again on an
        # achieved rate that only shows TCP backing off from the previous cut
        bloated = bool(self._bloat) and self._bloat[-1] and sum(self._bloat) >= s.detection_count
        if bloated:
            self.state = "bufferbloat"
            if self._last_drop_ms is None or now - self._last_drop_ms >= (
                s.bufferbloat_refractory_ms
            ):
                from_achieved = achieved * s.down_factor
                from_rate = self._rate * s.down_factor
                self._rate = (
                    from_achieved if self.floor_kbps < from_achieved < from_rate else from_rate
                )
                self._last_drop_ms = now
        elif achieved >= s.high_load * self._rate:
            self.state = "high_load"
            if self._last_drop_ms is None or now - self._last_drop_ms >= (
                s.bufferbloat_refractory_ms
            ):
                self._rate *= s.up_factor
        else:
            self.state = "low_load"
            if self._last_decay_ms is None or now - self._last_decay_ms >= s.decay_refractory_ms:
                self._last_decay_ms = now
                base = min(s.base_kbps, self.ceiling_kbps)
                if self._rate > base:
                    self._rate = max(float(base), self._rate * s.decay_factor)
                elif self._rate < base:
                    self._rate = min(float(base), self._rate / s.decay_factor)
        self._rate = min(float(self.ceiling_kbps), max(float(self.floor_kbps), self._rate))
        return RateDecision(self.rate_kbps, self.state, round(achieved), delta)

    def _track_delay(self, rtt_ms: float | None) -> float | None:
        s = self.settings
        if rtt_ms is None:
            return None
        if self._baseline_ms is None:
            self._baseline_ms = rtt_ms
        delta = rtt_ms - self._baseline_ms
        if delta < 0:
            self._baseline_ms += s.baseline_alpha_down * delta
        elif delta < s.delay_threshold_ms and not any(self._bloat):
            self._baseline_ms += s.baseline_alpha_up * delta
        self._bloat.append(delta > s.delay_threshold_ms)
        return delta


def should_apply(current_kbps: int, estimate_kbps: int, hysteresis: float) -> bool:
    """Whether ``estimate`` differs from the applied rate by more than ``hysteresis`` (a share).

    Re-rating every client's classes costs CPU and netlink messages; small wobbles of the
    estimate are not worth it. Decreases and increases are treated alike.
    """
    if current_kbps <= 0:
        return True
    return abs(estimate_kbps - current_kbps) > hysteresis * current_kbps
