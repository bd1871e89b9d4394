"""Differential-privacy noise on the counts of people, with OpenDP's discrete Laplace.

WHY OpenDP and not our own sampler: a DP mechanism is easy to get subtly wrong (floating-point
sampling leaks, a scale that misses epsilon by a rounding error). OpenDP's measurement samples
the discrete Laplace (geometric) distribution exactly on integers from its own secure RNG,
and its privacy map, with conservative rounding, tells what a scale costs; the gate only
publishes with a scale whose map is within the budget.

One measurement covers every people cell of the table (the vector form, L1 distance): the
sensitivity is the number of people-count cells one person can change by one (a Kita child
counts in ``applications`` and in one rank column: 2), see :func:`derived_sensitivity`.

Pure: no I/O (the RNG is OpenDP's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opendp.mod import Measurement

#: what the report names the mechanism
MECHANISM = "discrete Laplace"
#: a noise source: (true counts, scale) -> noisy counts; the default is OpenDP's measurement
NoiseFn = Callable[[tuple[int, ...], float], tuple[int, ...]]
#: how many floating-point steps the scale may be raised to meet epsilon after rounding
_SCALE_STEPS = 1000


def derived_sensitivity(people: Sequence[str], row_sums: Sequence[tuple[str, Sequence[str]]],
                        rows_per_person: int) -> int:
    """The L1 sensitivity of the people counts, from the spec.

    In one row a person counts at most once in every people column that is no part of a row
    sum, and in at most one part of each row sum (the parts partition their total): so one per
    such column plus one per row sum, times the rows one person can appear in.
    """
    parts = {p for _, ps in row_sums for p in ps}
    per_row = sum(1 for c in people if c not in parts) + len(row_sums)
    return per_row * rows_per_person


@dataclass(frozen=True, slots=True)
class Calibration:
    """A discrete Laplace measurement whose privacy map for ``sensitivity`` is ``privacy_loss``
    (at most the ``epsilon`` asked for)."""

    epsilon: float
    sensitivity: int
    scale: float
    privacy_loss: float
    library: str
    measurement: Measurement


def laplace(scale: float) -> Measurement:
    """OpenDP's discrete Laplace over a vector of integer counts (L1 distance)."""
    # imported on use: OpenDP takes a quarter of a second to load, most tables need no noise
    import opendp.prelude as dp  # noqa: PLC0415

    dp.enable_features("contrib")
    return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int),
                             scale=scale)


def calibrate(epsilon: float, sensitivity: int) -> Calibration | None:
    """The smallest scale from ``sensitivity / epsilon`` up whose OpenDP privacy map for
    ``sensitivity`` is at most ``epsilon``; ``None`` if none is found (then publish nothing).

    WHY search: ``sensitivity / epsilon`` itself often misses by a rounding error (OpenDP
    rounds the map up: scale 10/7 for epsilon 0.7 costs 0.7000000000000001).
    """
    from opendp.mod import __version__  # noqa: PLC0415

    scale = sensitivity / epsilon
    for _ in range(_SCALE_STEPS):
        measurement = laplace(scale)
        # OpenDP's privacy map: the epsilon this scale costs for inputs `sensitivity` apart
        loss = float(measurement.map(sensitivity))  # type: ignore[no-untyped-call]
        if loss <= epsilon:
            return Calibration(epsilon, sensitivity, scale, loss, f"OpenDP {__version__}",
                               measurement)
        scale = math.nextafter(scale, math.inf)
    return None


def opendp_noise(calibration: Calibration) -> NoiseFn:
    """The calibration's measurement as a noise source (OpenDP's RNG)."""

    def sample(counts: tuple[int, ...], scale: float) -> tuple[int, ...]:
        if scale != calibration.scale:
            raise ValueError(f"the measurement is calibrated for scale {calibration.scale}")
        if not counts:
            return ()
        return tuple(int(v) for v in calibration.measurement(list(counts)))

    return sample


def noisy_counts(counts: tuple[int, ...], calibration: Calibration,
                 noise: NoiseFn | None) -> tuple[int, ...]:
    """``counts`` with noise, negative results clamped to 0 (post-processing: no cost)."""
    source = noise if noise is not None else opendp_noise(calibration)
    noisy = source(counts, calibration.scale)
    if len(noisy) != len(counts):
        raise ValueError(f"the noise function returned {len(noisy)} counts for {len(counts)}")
    return tuple(max(0, int(v)) for v in noisy)
