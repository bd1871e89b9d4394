"""What the dashboard shows beyond the payloads as received: which SPaT changes are worth a
frame, bus punctuality, detector suspicion, the controller's own confidence, what it says of
its prediction and the C-ITS badge (how good the predictions were is
:mod:`central_hub.domain.prediction`).

WHY pure and separate: these are judgements (when is a countdown change visible, when is a
loop suspect, when do JSON and ETSI outputs agree) that unit tests pin down without a broker,
a browser or a clock; the feed (:mod:`central_hub.live.dashboard_feed`) and the routes only
apply them to :class:`~central_hub.domain.live_state.LiveState`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from central_hub.domain.etsi_feed import EtsiIntersection
from central_hub.domain.schedule import Schedule, deviation
from edge_agent.contract.payloads import Position, Spat, SpatPrediction

#: a countdown moved by less than this is not worth a frame (the page shows whole seconds).
LIKELY_END_TOLERANCE_MS = 1_000
#: a bus is "on time" within these bounds (VDV/German practice: up to 1 min early is early,
#: up to 3 min late still on time at the stop; the page shows the seconds either way).
EARLY_S = -60
LATE_S = 180

#: the signature of a SPaT as the page draws it: status, per group state and likely end, and
#: the prediction's state and reasons (``None`` when the controller does not report it).
SpatSignature = tuple[str, tuple[tuple[str, str, int | None], ...],
                      tuple[str, tuple[str, ...]] | None]


def spat_signature(spat: Spat) -> SpatSignature:
    """What of a SPaT the dashboard draws (timestamps and sequence numbers left out)."""
    p = spat.prediction
    return (spat.status, tuple((g.sg, g.state, g.likely_end) for g in spat.groups),
            None if p is None else (p.state, tuple(p.reasons)))


def spat_visibly_changed(before: SpatSignature | None, now: SpatSignature,
                         tolerance_ms: int = LIKELY_END_TOLERANCE_MS) -> bool:
    """Whether the page would draw ``now`` differently from ``before``: another status or
    prediction status, a group added, removed or in another state, or a likely end that moved
    by a second or more.

    At 10 Hz most SPaTs repeat the previous one but for ``ts`` and ``seq``; sending only the
    visible changes is what keeps a frame small at 300 intersections.
    """
    if (before is None or before[0] != now[0] or before[2] != now[2]
            or len(before[1]) != len(now[1])):
        return True
    for (sg0, st0, end0), (sg1, st1, end1) in zip(before[1], now[1], strict=True):
        if sg0 != sg1 or st0 != st1:
            return True
        if (end0 is None) != (end1 is None):
            return True
        if end0 is not None and end1 is not None and abs(end1 - end0) >= tolerance_ms:
            return True
    return False


Punctuality = Literal["early", "on_time", "late"]


def punctuality_class(delay_s: int) -> Punctuality:
    """``early`` (more than a minute ahead), ``late`` (more than 3 min behind), else on time."""
    if delay_s < EARLY_S:
        return "early"
    if delay_s > LATE_S:
        return "late"
    return "on_time"


def bus_delay(schedule: Schedule | None, pos: Position | None) -> int | None:
    """The delay in seconds (negative: early) of a bus against its timetable trip, as the
    TripUpdates feed computes it; ``None`` without a timetable, a trip or a matching day."""
    if schedule is None or pos is None or not pos.trip_id:
        return None
    dev = deviation(schedule, pos.trip_id, lat=pos.lat, lon=pos.lon, stop_id=pos.stop_id,
                    stop_status=pos.stop_status, ts_ms=pos.ts)
    return None if dev is None else dev.delay_s


# --- detectors --------------------------------------------------------------------------------

DetectorFault = Literal["stuck_on", "no_change"]


@dataclass(frozen=True, slots=True)
class DetectorView:
    """One detector as the hub heard it on ``signal/{id}/detector``."""

    detector: str
    occupied: bool
    #: hub receive time of its last change (or of the first message the hub heard)
    since_ms: int


@dataclass(frozen=True, slots=True)
class DetectorSuspicion:
    """A detector that looks faulty: occupied for too long, or unchanged for too long."""

    detector: str
    fault: DetectorFault
    since_ms: int


def detector_suspicions(detectors: Iterable[DetectorView], now_ms: int, *,
                        stuck_on_ms: int, no_change_ms: int) -> list[DetectorSuspicion]:
    """Suspect detectors, the classic plausibility checks of detector monitoring: a loop (or
    a push button) occupied without a break for ``stuck_on_ms`` is stuck on; one that has not
    changed at all for ``no_change_ms`` is stuck off or disconnected. Only detectors the hub
    has heard at least once can be judged (the controller does not report its configured
    detectors or their faults)."""
    out = []
    for d in sorted(detectors, key=lambda d: d.detector):
        age = now_ms - d.since_ms
        if d.occupied and age >= stuck_on_ms:
            out.append(DetectorSuspicion(d.detector, "stuck_on", d.since_ms))
        elif age >= no_change_ms:
            out.append(DetectorSuspicion(d.detector, "no_change", d.since_ms))
    return out


# --- the controller's own view (its predictions are scored in domain/prediction.py) -----------

def mean_confidence(spat: Spat | None) -> int | None:
    """The controller's own mean confidence over groups that announce a likely end."""
    if spat is None:
        return None
    conf = [g.confidence for g in spat.groups if g.likely_end is not None]
    return round(sum(conf) / len(conf)) if conf else None


def spat_prediction(spat: Spat | None) -> SpatPrediction | None:
    """The controller's own word on its prediction in its latest SPaT (``ok``, ``degraded``,
    ``stale`` and why), ``None`` before the first SPaT or from a controller that does not
    report it. As received: whether the SPaT itself is still current is the health's
    ``stale``, a judgement of the hub's."""
    return None if spat is None else spat.prediction


def stale_map(seen: Iterable[tuple[str, int]], now_ms: int, stale_ms: int) -> dict[str, int]:
    """``{intersection: hub time of its last SPaT}`` of those silent for over ``stale_ms``
    (``seen``: intersection and hub time of its last SPaT, 0 for none yet)."""
    return {iid: t for iid, t in seen if t and now_ms - t > stale_ms}


# --- C-ITS ------------------------------------------------------------------------------------

#: ``agrees``/``differs``: the latest sampled SPATEM said / did not say what the JSON SPaT of
#: its tick said; ``unchecked``: SPATEMs arrive but none has met its SPaT yet; ``none``: no
#: SPATEM heard from the intersection, or none for longer than the SPaT's stale limit.
EtsiState = Literal["agrees", "differs", "unchecked", "none"]


@dataclass(frozen=True, slots=True)
class EtsiCheck:
    """Whether an intersection's JSON and ETSI outputs agree, as the dashboard shows it."""

    state: EtsiState
    #: the first value that differed (:func:`~central_hub.domain.etsi_feed.spatem_difference`)
    difference: str | None = None


def etsi_check(entry: EtsiIntersection | None, now_ms: int, stale_ms: int) -> EtsiCheck:
    """The dashboard's C-ITS badge of one intersection from the hub's C-ITS feed entry (the
    one result the feed keeps: the latest sampled comparison, see
    :mod:`central_hub.domain.etsi_feed`). A SPATEM silent for over ``stale_ms`` (hub time) is
    no output any more: the last comparison would otherwise say "agrees" forever."""
    if entry is None or entry.spatem is None or now_ms - entry.spatem_ms > stale_ms:
        return EtsiCheck("none")
    if entry.agrees is None:
        return EtsiCheck("unchecked")
    return EtsiCheck("agrees") if entry.agrees else EtsiCheck("differs", entry.difference)
