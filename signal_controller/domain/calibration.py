"""Calibrated confidence: the published ``confidence`` is the share of switches that really
came within ±1 s of ``likely_end`` when the controller said the same before.

Why a calibration step: ``confidence`` claims a probability, and GLOSA and cyclists' apps
decide by it. The sampled walk (:mod:`.sampled_walk`) gives a raw share of futures within
±1 s of its median, but its futures are drawn from a simplified model (mean discharge, a
single gap-out law per stage), so its spread is too narrow and the raw share overstates the
chance. Instead of trusting the model, the controller scores its own predictions: once a
second it remembers each red or green group's ``(made at, likely_end, raw confidence)``;
when the group switches it counts, per cell of raw confidence (10-point buckets) and horizon
band (<= 10 s, 10-30 s, > 30 s ahead), how many were within ±1 s. The published confidence
is that cell's observed share, shrunk towards the raw value while the cell has few scores,
and forgetting slowly (weights decay) so that it follows the hours of the day. Only the
controller's own switches are used: nothing is fitted offline.

The same scores correct the walk's lean far ahead. Its futures end a gap-out phase with the
Poisson law of the learned rate, but real platoons keep a headway, so a green's gap-out runs
longer than drawn and every switch more than 30 s ahead comes late against the median of the
futures (benchmark: +1.4 to +2.5 s). For predictions made more than ``BIAS_FROM_MS`` ahead the
controller tracks, per horizon bucket, the median of ``switch - walk's likely end`` by
stochastic approximation (each score moves it ``BIAS_STEP_MS`` towards its side) and adds
it to the published ``likely_end``, within the bounds. Nearer than that the walk starts from
the detectors' queues and is not shifted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: sampling of the predictions to score (not a divisor of the once-a-second refresh, so the
#: samples fall at every phase of it, like the rows a receiver reads), and how many a group
#: keeps (its longest red).
OBSERVE_EVERY_MS = 1100
MAX_PENDING = 180
WINDOW_MS = 1000
#: pseudo-scores of the raw confidence in a cell (the prior), and the weight kept per score
#: (a memory of about 2,000 scores per cell: a few hours at a busy junction).
PRIOR = 20.0
DECAY = 0.9995
BANDS = (10_000, 30_000)
#: the horizons whose likely end is corrected for the walk's lean: from 30 s ahead, in buckets
#: 30-45 s, 45-60 s and beyond; the step of the running median per score, and its limit.
BIAS_FROM_MS = 30_000
BIAS_BUCKETS = (45_000, 60_000)
BIAS_STEP_MS = 10
BIAS_LIMIT_MS = 10_000

#: ``(made at, likely_end, raw confidence, shift)`` of one remembered prediction: the shift is
#: what was added to the walk's likely end (:meth:`Calibration.shift`).
Pending = tuple[int, int, int, int]
#: per ``(bucket, band)``: weighted hits and weighted scores.
Cells = Mapping[tuple[int, int], tuple[float, float]]


def _bias_bucket(remaining_ms: int) -> int | None:
    if remaining_ms <= BIAS_FROM_MS:
        return None
    return sum(remaining_ms > b for b in BIAS_BUCKETS)


def _cell(raw: int, remaining_ms: int) -> tuple[int, int]:
    band = 0 if remaining_ms <= BANDS[0] else 1 if remaining_ms <= BANDS[1] else 2
    return min(9, max(0, raw) // 10), band


@dataclass(frozen=True, slots=True)
class Calibration:
    """The remembered predictions per group and the scored cells (immutable, bounded:
    ``MAX_PENDING`` per group, 30 cells)."""

    pending: Mapping[str, tuple[Pending, ...]] = field(default_factory=dict)
    cells: Cells = field(default_factory=dict)
    last_observed: int = -(2**62)
    #: the walk's lean per horizon bucket (ms, ``switch - likely end`` at the median).
    bias: tuple[int, ...] = (0,) * (len(BIAS_BUCKETS) + 1)

    def observe(
        self, rows: Iterable[tuple[str, int | None, int, int]], now: int,
    ) -> Calibration:
        """Remember ``(sg, likely_end, raw confidence, shift)`` of the red and green groups, at
        most once per ``OBSERVE_EVERY_MS``."""
        if now - self.last_observed < OBSERVE_EVERY_MS:
            return self
        pending = dict(self.pending)
        for sg, likely, raw, shift in rows:
            if likely is None:
                continue
            pending[sg] = (*pending.get(sg, ())[-(MAX_PENDING - 1):], (now, likely, raw, shift))
        return Calibration(pending, self.cells, now, self.bias)

    def shift(self, remaining_ms: int) -> int:
        """What to add to a walk's likely end ``remaining_ms`` ahead: the lean learned for
        its horizon, none nearer than ``BIAS_FROM_MS``."""
        bucket = _bias_bucket(remaining_ms)
        return 0 if bucket is None else self.bias[bucket]

    def switched(self, sgs: Iterable[str], now: int) -> Calibration:
        """Groups ``sgs`` changed aspect at ``now``: score what was said about it."""
        pending = self.pending
        cells = self.cells
        bias = list(self.bias)
        for sg in sgs:
            rows = pending.get(sg)
            if rows is None:
                continue
            if pending is self.pending:
                pending = dict(pending)
                cells = dict(cells)
            del pending[sg]  # type: ignore[attr-defined]  # copied just above
            for made, likely, raw, shift in rows:
                key = _cell(raw, likely - made)
                hits, n = cells.get(key, (0.0, 0.0))
                hit = 1.0 if abs(likely - now) <= WINDOW_MS else 0.0
                cells[key] = (hits * DECAY + hit, n * DECAY + 1.0)  # type: ignore[index]
                walked = likely - shift
                if (bucket := _bias_bucket(walked - made)) is not None:
                    lean = now - walked
                    step = BIAS_STEP_MS * ((lean > bias[bucket]) - (lean < bias[bucket]))
                    bias[bucket] = max(-BIAS_LIMIT_MS, min(BIAS_LIMIT_MS, bias[bucket] + step))
        if pending is self.pending:
            return self
        return Calibration(pending, cells, self.last_observed, tuple(bias))

    def drop(self, sgs: Iterable[str]) -> Calibration:
        """Forget the remembered predictions of ``sgs`` (their aspect did not end normally)."""
        if not any(sg in self.pending for sg in sgs):
            return self
        pending = {sg: v for sg, v in self.pending.items() if sg not in set(sgs)}
        return Calibration(pending, self.cells, self.last_observed, self.bias)

    def confidence(self, raw: int, remaining_ms: int) -> int:
        """The published confidence for a raw one ``remaining_ms`` before the predicted end."""
        hits, n = self.cells.get(_cell(raw, remaining_ms), (0.0, 0.0))
        return round(100 * (hits + PRIOR * raw / 100) / (n + PRIOR))


NO_CALIBRATION = Calibration()
