"""The SPaT payload's bytes, written straight from a controller's rows, 10 times a second.

Why here: the contract owns every payload's wire format, and SPaT is the one payload whose
encoding is on a hot path (every intersection, every 100 ms). Building the pydantic model and
serialising it costs several times the controller's own step, so :class:`SpatEncoder` writes
the same bytes directly; ``tests/unit/edge_agent/test_spat_wire.py`` proves them
byte-identical to ``encode(Spat(...))`` for any valid input, and the signal controller's tests
do so for every tick of a running controller. The rows it takes are plain read-only shapes
(:class:`SpatRow`, :class:`SpatTick`, :class:`SpatPredictionRow`), so the contract does not
depend on the controller.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from edge_agent.contract.payloads import MovementPhaseState, PredictionState, SignalStatus


class SpatRow(Protocol):
    """One signal group's row of a tick: what a ``SpatGroup`` holds."""

    @property
    def sg(self) -> str: ...
    @property
    def state(self) -> MovementPhaseState: ...
    @property
    def min_end(self) -> int | None: ...
    @property
    def max_end(self) -> int | None: ...
    @property
    def likely_end(self) -> int | None: ...
    @property
    def confidence(self) -> int: ...
    @property
    def next_green(self) -> int | None: ...
    @property
    def green_end(self) -> int | None: ...


def phase_next_green(g: SpatRow) -> int | None:
    """When the group is green again after the phase its row shows: a green or amber row's
    ``next_green``. A red row sends ``next_green`` with ``green_end``: then it is the green
    after the coming one, which is no "next" of the red itself (J2735's ``nextTime`` of a red
    would be the next red), so such a row has none."""
    return g.next_green if g.green_end is None else None


class SpatPredictionRow(Protocol):
    """What a ``SpatPrediction`` holds: the state and its (already bounded, valid) reasons."""

    @property
    def state(self) -> PredictionState: ...
    @property
    def reasons(self) -> Sequence[str]: ...


class SpatTick(Protocol):
    """What one tick contributes to SPaT besides the intersection and the sequence number."""

    @property
    def now(self) -> int: ...
    @property
    def revision(self) -> int: ...
    @property
    def status(self) -> SignalStatus: ...
    @property
    def groups(self) -> Sequence[SpatRow]: ...
    @property
    def prediction(self) -> SpatPredictionRow | None: ...


def spat_fields(tick: SpatTick, intersection_id: str) -> dict[str, object]:
    """The ``Spat`` model's fields (without ``v``/``seq``) for ``tick``: the reference the
    encoder is tested against, and what a caller that wants the model passes to it."""
    fields: dict[str, object] = {
        "ts": tick.now,
        "intersection_id": intersection_id,
        "revision": tick.revision,
        "status": tick.status,
        "groups": [_group_fields(g) for g in tick.groups],
    }
    p = tick.prediction
    if p is not None:
        fields["prediction"] = {"state": p.state, "reasons": list(p.reasons)}
    return fields


def _group_fields(g: SpatRow) -> dict[str, object]:
    out: dict[str, object] = {
        "sg": g.sg, "state": g.state, "min_end": g.min_end, "max_end": g.max_end,
        "likely_end": g.likely_end, "confidence": g.confidence}
    if g.next_green is not None:
        out["next_green"] = g.next_green
    if g.green_end is not None:
        out["green_end"] = g.green_end
    return out


class SpatEncoder:
    """SPaT payload bytes for one intersection, byte-identical to
    ``encode(Spat(seq=..., **spat_fields(...)))``, without building a model.

    The rows must already be valid (ids from a validated config, literal states, confidence
    0-100, at most ``MAX_PREDICTION_REASONS`` reasons of the reason pattern: a controller's
    are); only ``ts``, ``seq``, ``revision`` and ``status`` vary per tick, and the encoded
    ``groups`` array is reused while the caller hands out the same rows object (a
    controller's prediction cache), which is most ticks. So is the ``prediction`` object
    (with the comma before it), which changes more rarely still: a status that changes once
    in minutes costs one ``is`` per tick.
    """

    def __init__(self, intersection_id: str) -> None:
        self._mid = (',"intersection_id":' + json.dumps(intersection_id) + ',"revision":').encode()
        self._rows: Sequence[SpatRow] | None = None
        self._groups = b"[]"
        self._prediction: SpatPredictionRow | None = None
        self._tail = b"}"

    def encode(self, tick: SpatTick, seq: int | None) -> bytes:
        """The payload of ``tick`` with ``seq``."""
        if seq is None:
            raise ValueError("SPaT is a sequenced payload")
        if tick.groups is not self._rows:
            self._rows = tick.groups
            self._groups = _groups_json(tick.groups)
        if tick.prediction is not self._prediction:
            self._prediction = tick.prediction
            self._tail = _prediction_json(tick.prediction)
        return b"".join((
            b'{"v":1,"ts":%d,"seq":%d' % (tick.now, seq), self._mid,
            b'%d,"status":"%s","groups":' % (tick.revision, tick.status.encode()),
            self._groups, self._tail,
        ))


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(value)


def _groups_json(rows: Sequence[SpatRow]) -> bytes:
    return ("[" + ",".join(
        f'{{"sg":{json.dumps(g.sg)},"state":"{g.state}","min_end":{_json_int(g.min_end)},'
        f'"max_end":{_json_int(g.max_end)},"likely_end":{_json_int(g.likely_end)},'
        f'"confidence":{g.confidence}'
        + ("" if g.next_green is None else f',"next_green":{g.next_green}')
        + ("}" if g.green_end is None else f',"green_end":{g.green_end}}}')
        for g in rows
    ) + "]").encode()


def _prediction_json(p: SpatPredictionRow | None) -> bytes:
    """The end of the payload: ``,"prediction":{...}}``, or ``}`` without one (absent)."""
    if p is None:
        return b"}"
    reasons = ",".join(json.dumps(r) for r in p.reasons)
    return f',"prediction":{{"state":"{p.state}","reasons":[{reasons}]}}}}'.encode()
