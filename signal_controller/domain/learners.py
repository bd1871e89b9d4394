"""Learning stage lengths per stage, time of day and queue, for SPaT ``likely_end``/``confidence``.

Why a learner and not a formula: under actuated control the end of a green depends on traffic
that has not arrived yet. The controller keeps the recent realised green lengths of every stage
in hour-of-day buckets, each with the *wait* observed when the stage was chosen: how long the
stage's longest-waiting loop had been occupied while red (the first vehicle's waiting time, a
queue proxy that every stop-line loop gives for free; 0 without a waiting vehicle). A
prediction is the empirical *conditional distribution* of the stage length given

* the hour of day (the bucket; the stage's all-day pool while the hour has < ``MIN_SAMPLES``),
* the wait: the ``NEIGHBOURS`` samples with the nearest wait (k-nearest neighbours, a
  non-parametric regression that needs no traffic model), and
* the green time already elapsed (only samples longer than it),

whose *median* is ``likely_end`` (the median minimises the mean absolute error) and whose share
of samples within ±1 s of it is ``confidence`` — an empirical estimate of what the contract
asks. State is immutable and bounded (``MAX_SAMPLES`` per key).

:class:`Flow` and the gap-out functions are the model side: what the stop-line loops say about
arrival rates, saturation headway, occupancy and uncleared queues, and when a Poisson stream
first leaves a gap. Once a green's queue is gone, that model beats the history (the gap timer
is visible; the history is not conditioned on it).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

MAX_SAMPLES = 96
MIN_SAMPLES = 5
#: samples with the nearest wait that form the conditional distribution.
NEIGHBOURS = 15
HOUR_MS = 3_600_000
DAY_HOURS = 24
WINDOW_MS = 1000  # the contract's ±1 s for confidence

#: one realised green: ``(duration ms, wait ms when the stage was chosen)``.
Sample = tuple[int, int]


#: scoring of the competing predictions: one a second, weight of a new error, and how many
#: scored predictions a band needs before the model may replace the history there.
OBSERVE_EVERY_MS = 1000
MAX_PENDING = 64
ERROR_ALPHA = 0.01
MIN_SCORED = 30
#: upper limits (ms) of the horizon bands: <= 10 s, 10-30 s, > 30 s.
BANDS = (10_000, 30_000)


def horizon_band(remaining_ms: int) -> int:
    """0, 1 or 2 for a predicted remaining time of <= 10 s, 10-30 s, > 30 s."""
    return 0 if remaining_ms <= BANDS[0] else 1 if remaining_ms <= BANDS[1] else 2


def hour_bucket(now_ms: int) -> int:
    """Hour of day (UTC) of ``now_ms``."""
    return (now_ms // HOUR_MS) % DAY_HOURS


@dataclass(frozen=True, slots=True)
class Estimate:
    """A predicted duration (ms) and the confidence (0-100) that it is right within ±1 s."""

    duration: int
    confidence: int


@dataclass(frozen=True, slots=True)
class History:
    """Recent realised greens per ``(stage id, hour)`` and per stage."""

    by_hour: Mapping[tuple[str, int], tuple[Sample, ...]] = field(default_factory=dict)
    by_stage: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)
    #: per stage: when its latest green ended, and how long after such an end calls arrived.
    last_end: Mapping[str, int] = field(default_factory=dict)
    call_delays: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    #: the running green's competing predictions, at most one a second:
    #: ``(made at, queue-model end, history end)``, scored when the green ends.
    pending: tuple[tuple[int, int, int], ...] = ()
    #: per ``(stage, band)``: exponentially weighted absolute error (ms) of the queue model
    #: and of the history, and the number of scored predictions (see :meth:`prefer_model`).
    errors: Mapping[tuple[str, int], tuple[float, float, int]] = field(default_factory=dict)

    def record(self, stage: str, started_ms: int, duration_ms: int, wait_ms: int = 0) -> History:
        """A history that also knows one realised green of ``stage``."""
        sample = (duration_ms, wait_ms)
        key = (stage, hour_bucket(started_ms))
        hours = dict(self.by_hour)
        hours[key] = (*hours.get(key, ())[-(MAX_SAMPLES - 1):], sample)
        stages = dict(self.by_stage)
        stages[stage] = (*stages.get(stage, ())[-(MAX_SAMPLES - 1):], sample)
        end = started_ms + duration_ms
        ends = {**self.last_end, stage: end}
        errors = self.errors
        if self.pending:
            errors = dict(errors)
            for made, modelled, learned in self.pending:
                if made < started_ms:
                    continue  # left over from an earlier program
                bkey = (stage, horizon_band(modelled - made))
                em, eh, n = errors.get(bkey, (0.0, 0.0, 0))
                a = max(ERROR_ALPHA, 1.0 / (n + 1))
                em += a * (abs(modelled - end) - em)
                eh += a * (abs(learned - end) - eh)
                errors[bkey] = (em, eh, n + 1)
        return History(hours, stages, ends, self.call_delays, (), errors)

    def observe(self, now_ms: int, modelled: int, learned: int) -> History:
        """Remember the two competing predictions of the running green made at ``now_ms``."""
        if self.pending and now_ms - self.pending[-1][0] < OBSERVE_EVERY_MS:
            return self
        pending = (*self.pending[-(MAX_PENDING - 1):], (now_ms, modelled, learned))
        return replace(self, pending=pending)

    def prefer_model(self, stage: str, remaining_ms: int) -> bool:
        """Whether the queue model has recently been closer than the history for greens of
        ``stage`` with ``remaining_ms`` (<= 30 s) left as the model sees it.

        Why track it: the model is far better close to the switch and worse for long queues
        (its point estimate misses the spread of queue lengths); which wins depends on the
        junction, the hour and the band, so the controller scores both on every green. Never
        beyond 30 s: there the end also feeds the walk of the later stages, where taking the
        model made the red groups' predictions worse (benchmarked).
        """
        if remaining_ms > BANDS[1]:
            return False
        e = self.errors.get((stage, horizon_band(remaining_ms)))
        return e is not None and e[2] >= MIN_SCORED and e[0] < e[1]

    def record_call(self, stage: str, now_ms: int) -> History:
        """A call on ``stage`` was latched at ``now_ms``: learn its delay after the last green."""
        end = self.last_end.get(stage)
        if end is None:
            return self
        delays = (*self.call_delays.get(stage, ())[-(MAX_SAMPLES - 1):], now_ms - end)
        return replace(self, call_delays={**self.call_delays, stage: delays})

    def likely_called(self, stage: str, at_ms: int) -> bool:
        """Whether ``stage``, not called now, more likely than not has a call by ``at_ms``:
        the time since its last green reaches the median learned call delay."""
        delays = self.call_delays.get(stage, ())
        end = self.last_end.get(stage)
        if end is None or len(delays) < MIN_SAMPLES:
            return False
        return at_ms - end >= sorted(delays)[len(delays) // 2]

    def samples(self, stage: str, now_ms: int) -> tuple[Sample, ...]:
        """The samples to predict from: the hour's bucket, or the all-day pool."""
        own = self.by_hour.get((stage, hour_bucket(now_ms)), ())
        if len(own) >= MIN_SAMPLES:
            return own
        return self.by_stage.get(stage, ())

    def estimate(
        self, stage: str, now_ms: int, elapsed_ms: int, wait_ms: int | None = None
    ) -> Estimate | None:
        """Conditional median of the stage length given the hour, ``elapsed_ms`` and (if
        given) the wait when the stage was chosen; ``None`` while too little is known."""
        pool = [s for s in self.samples(stage, now_ms) if s[0] > elapsed_ms]
        if len(pool) < MIN_SAMPLES // 2 + 1:
            return None
        if wait_ms is not None and len(pool) > NEIGHBOURS:
            pool.sort(key=lambda s: abs(s[1] - wait_ms))
            pool = pool[:NEIGHBOURS]
        durations = sorted(d for d, _ in pool)
        median = durations[len(durations) // 2]
        hits = sum(1 for d in durations if abs(d - median) <= WINDOW_MS)
        return Estimate(median, round(100 * hits / len(durations)))


# --- traffic flow seen by the stop-line loops ---------------------------------------------------

#: time constant of the per-loop arrival-rate estimate: long enough to average a few dozen
#: vehicles off-peak, short enough to follow the morning and evening ramps.
RATE_TAU_MS = 600_000
#: defaults before anything is learned: HBS saturation headway (≈ 1,800-2,000 veh/h per lane)
#: and the occupancy of a short loop at urban speed.
DEFAULT_HEADWAY_MS = 2000
DEFAULT_OCCUPANCY_MS = 500
#: on-to-on intervals up to this long are taken as queue discharge (saturation headway) samples.
MAX_HEADWAY_SAMPLE_MS = 3000
#: loop occupancies up to this long are taken as one moving vehicle's occupancy.
MAX_OCCUPANCY_SAMPLE_MS = 2000
#: ring size of the headway and occupancy samples (medians; bounded memory).
FLOW_SAMPLES = 31
TICK = 100


@dataclass(frozen=True, slots=True)
class LoopFlow:
    """What one stop-line loop has seen: a decaying vehicle count (the arrival rate), the
    number of vehicles, and when the latest vehicle came after a long empty spell."""

    weight: float = 0.0
    at: int = 0
    first: int | None = None
    count: int = 0
    #: the latest on-edge that followed an off spell longer than the saturation headway:
    #: a vehicle that was not part of a discharging queue.
    free_at: int | None = None
    #: the queue expected at the start of the loop's next green when its last green ended
    #: while the queue was still discharging (oversaturation), else 0.
    carry: float = 0.0
    #: with an upstream loop: vehicles between it and the stop line (counted in at the
    #: upstream loop, out when they leave the stop-line loop), and since when the upstream
    #: loop has been occupied (a queue standing over it), else ``None``.
    zone: int = 0
    upstream_on: int | None = None
    counted: bool = False

    def rate(self, now: int) -> float:
        """Arrivals per second (exponentially weighted, bias-corrected while young)."""
        if self.first is None or now <= self.first:
            return 0.0
        decay = math.exp(-(now - self.at) / RATE_TAU_MS)
        norm = 1.0 - math.exp(-(now - self.first) / RATE_TAU_MS)
        return self.weight * decay / norm * 1000.0 / RATE_TAU_MS


@dataclass(frozen=True, slots=True)
class Flow:
    """Per-loop arrival rates plus the junction's learned saturation headway and occupancy.

    Why from the loops and not from the config: every vehicle that crosses a stop-line loop
    makes one on-edge (the first vehicle of a red queue on arrival, every other one when it
    leaves in green), so counting on-edges measures the arrival rate, the on-to-on interval of
    a discharging queue measures the saturation headway, and the on-time measures how long a
    moving vehicle occupies the loop. All three are what the gap-out logic reacts to.
    """

    loops: Mapping[str, LoopFlow] = field(default_factory=dict)
    headways: tuple[int, ...] = ()
    occupancies: tuple[int, ...] = ()

    def on(self, det: str, now: int, last_on: int | None, last_off: int | None) -> Flow:
        """Loop ``det`` became occupied at ``now`` (``last_on``/``last_off``: its previous
        edges)."""
        lf = self.loops.get(det, LoopFlow())
        weight = lf.weight * math.exp(-(now - lf.at) / RATE_TAU_MS) + 1.0 if lf.first else 1.0
        headway = self.headway
        free = lf.free_at
        if last_off is None or now - last_off > headway:
            free = now
        loops = dict(self.loops)
        loops[det] = replace(lf, weight=weight, at=now, first=lf.first or now,
                             count=lf.count + 1, free_at=free)
        headways = self.headways
        if last_on is not None and now - last_on <= MAX_HEADWAY_SAMPLE_MS:
            headways = (*headways[-(FLOW_SAMPLES - 1):], now - last_on)
        return Flow(loops, headways, self.occupancies)

    def green_ended(self, det: str, carry: float) -> Flow:
        """The green of loop ``det``'s group ended leaving ``carry`` vehicles expected at its
        next start (0 when the queue cleared).

        Why: stop-line loops count departures, so in oversaturation they measure what the green
        served, not the demand; a queue that did not clear is the observable sign, and then at
        least as many vehicles as this green served will wait at the next one.
        """
        lf = self.loops.get(det, LoopFlow())
        if lf.carry == carry:
            return self
        loops = dict(self.loops)
        loops[det] = replace(lf, carry=carry)
        return Flow(loops, self.headways, self.occupancies)

    def off(self, on_since: int | None, now: int, det: str | None = None) -> Flow:
        """A loop occupied since ``on_since`` became free at ``now``: a vehicle left it (with
        an upstream loop, it left the counted zone)."""
        flow = self
        lf = self.loops.get(det) if det is not None else None
        if lf is not None and lf.counted and det is not None:
            loops = dict(self.loops)
            loops[det] = replace(lf, zone=max(0, lf.zone - 1))
            flow = Flow(loops, self.headways, self.occupancies)
        if on_since is None or now - on_since > MAX_OCCUPANCY_SAMPLE_MS:
            return flow
        occ = (*flow.occupancies[-(FLOW_SAMPLES - 1):], now - on_since)
        return Flow(flow.loops, flow.headways, occ)

    def upstream(self, det: str, occupied: bool, now: int) -> Flow:
        """The upstream loop of stop-line loop ``det`` changed: a vehicle entered the zone
        between the two (on-edge), or the loop went free."""
        lf = self.loops.get(det, LoopFlow())
        if occupied:
            if lf.upstream_on is not None:
                return self
            lf = replace(lf, zone=lf.zone + 1, upstream_on=now, counted=True)
        else:
            if lf.upstream_on is None:
                return self
            lf = replace(lf, upstream_on=None)
        loops = dict(self.loops)
        loops[det] = lf
        return Flow(loops, self.headways, self.occupancies)

    def zone(self, det: str) -> tuple[int, int | None] | None:
        """``(vehicles between the upstream loop and stop-line loop det, upstream occupied
        since)``, or ``None`` without an upstream loop."""
        lf = self.loops.get(det)
        if lf is None or not lf.counted:
            return None
        return lf.zone, lf.upstream_on

    @property
    def headway(self) -> int:
        """Saturation headway (ms): median on-to-on interval of closely following vehicles."""
        if len(self.headways) < MIN_SAMPLES:
            return DEFAULT_HEADWAY_MS
        return sorted(self.headways)[len(self.headways) // 2]

    @property
    def occupancy(self) -> int:
        """Occupancy (ms) of one moving vehicle: the median short on-time."""
        if len(self.occupancies) < MIN_SAMPLES:
            return DEFAULT_OCCUPANCY_MS
        return sorted(self.occupancies)[len(self.occupancies) // 2]

    def rate(self, det: str, now: int) -> float:
        """Arrivals per second at loop ``det``."""
        lf = self.loops.get(det)
        return lf.rate(now) if lf is not None else 0.0

    def count(self, det: str) -> int:
        """Vehicles seen by loop ``det`` so far."""
        lf = self.loops.get(det)
        return lf.count if lf is not None else 0


# --- gap-out: when does a Poisson stream first leave a gap? -----------------------------------

#: longest horizon of the gap-out distribution (beyond it every stage has maxed out).
GAP_HORIZON_MS = 120_000


@functools.lru_cache(maxsize=128)
def gap_out_cdf(rate_q: int, gap_ms: int, occ_ms: int) -> tuple[float, ...]:
    """CDF, on the 100 ms grid, of the time from a loop going free until gap-out.

    Why a closed recursion and not history: with Poisson arrivals of rate λ (``rate_q`` in
    1/1000 veh/s, quantised so that the table is shared by all controllers) the green ends at
    the first moment no vehicle has arrived for ``gap_ms`` after the last one left; a vehicle
    arriving after ``u`` restarts the wait ``occ_ms`` later. So ``T = gap`` with probability
    ``exp(-λ·gap)``, else ``T = u + occ + T'`` (a renewal equation, solved on the tick grid;
    its mean is the classic ``(exp(λ·gap) - 1)/λ`` plus the occupancies). The table ends
    where the CDF reaches 0.9995 (beyond it, 1); callers quantise the rate to 0.005 veh/s and
    the occupancy to the tick, so one process holds at most ``maxsize`` small tables whatever
    the number of controllers.
    """
    lam = rate_q / 1000.0 * TICK / 1000.0  # arrivals per tick
    g = max(1, gap_ms // TICK)
    o = occ_ms // TICK
    n = GAP_HORIZON_MS // TICK
    # pmf[t] = sum over k = 1..g of a·r^(k-1)·pmf[t-k-o] (first arrival in tick k, weights
    # geometric in k), kept as a running sum: O(n) instead of O(n·g).
    r = math.exp(-lam)
    a = 1.0 - r
    rg = a * r**g
    pmf = [0.0] * (n + 1)
    cdf = []
    total = 0.0
    running = 0.0  # the sum for pmf[t]
    for t in range(n + 1):
        if t > 0:
            j = t - 1 - o
            running = r * running + (a * pmf[j] if j >= 0 else 0.0)
            if j - g >= 0:
                running -= rg * pmf[j - g]
        pmf[t] = running + (math.exp(-lam * g) if t == g else 0.0)
        total += pmf[t]
        cdf.append(total)
        if total >= CDF_END:
            break
    return tuple(cdf)


CDF_END = 0.9995


def quantise_rate(rate: float) -> int:
    """``rate`` (veh/s) in 1/1000 veh/s, rounded to 0.005 veh/s (shared tables)."""
    return min(3000, max(5, round(rate * 200) * 5))


def gap_out_median(rate: float, gap_ms: int, occ_ms: int) -> int:
    """Median time (ms) from a loop going free until gap-out, for ``rate`` arrivals/s."""
    cdf = gap_out_cdf(quantise_rate(rate), gap_ms, occ_ms - occ_ms % TICK)
    return bisect.bisect_left(cdf, 0.5) * TICK


def gap_out_median_from(rate: float, gap_ms: int, occ_ms: int, elapsed_ms: int) -> int:
    """Median remaining time (ms) until gap-out when the gap timer has run ``elapsed_ms``.

    The timer completes after ``c = gap - elapsed`` with probability ``exp(-λ·c)``; otherwise
    the first arrival at ``u < c`` restarts it (``u + occ + T``). The median solves
    ``P(T <= t) = 1/2`` by bisection over the shared table.
    """
    c = max(0, gap_ms - elapsed_ms) // TICK
    lam = quantise_rate(rate) / 1000.0 * TICK / 1000.0
    stay = math.exp(-lam * c)
    if stay >= 0.5:
        return c * TICK
    cdf = gap_out_cdf(quantise_rate(rate), gap_ms, occ_ms - occ_ms % TICK)
    o = occ_ms // TICK
    first = [math.exp(-lam * (k - 1)) - math.exp(-lam * k) for k in range(1, c + 1)]
    last = len(cdf) - 1

    def at(t: int) -> float:
        acc = stay
        for k in range(1, c + 1):
            j = t - k - o
            if j < 0:
                break
            acc += first[k - 1] * (cdf[j] if j <= last else 1.0)
        return acc

    lo, hi = c, c + last + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if at(mid) >= 0.5:
            hi = mid
        else:
            lo = mid + 1
    return lo * TICK
