"""Plain stand-ins for the controller's SPaT rows and tick, for the tests of the encoders that
read them (the JSON ``SpatEncoder``, the SPATEM writer): the encoders take the read-only
shapes ``SpatRow``/``SpatTick``, so a test needs no running controller to feed them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_agent.contract.payloads import MovementPhaseState, PredictionState, SignalStatus
from edge_agent.contract.spat_wire import SpatPredictionRow, SpatRow


@dataclass(frozen=True)
class Row:
    """One signal group's row of a tick."""

    sg: str
    state: MovementPhaseState
    min_end: int | None
    max_end: int | None
    likely_end: int | None
    confidence: int
    next_green: int | None = None
    green_end: int | None = None


@dataclass(frozen=True)
class Prediction:
    """A tick's prediction status."""

    state: PredictionState
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tick:
    """A tick's time, revision, status, rows and (optional) prediction status."""

    now: int
    revision: int
    status: SignalStatus
    groups: Sequence[SpatRow]
    prediction: SpatPredictionRow | None = None
