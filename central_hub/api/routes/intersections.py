"""Intersections: list, latest SPaT as received, signal history; and their
health as the dashboard shows it (SPaT age, status, suspect detectors, prediction quality,
the controller's prediction status)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel

from central_hub.api.deps import HubDep
from central_hub.domain.dashboard import (
    DetectorView,
    EtsiState,
    detector_suspicions,
    etsi_check,
    mean_confidence,
    spat_prediction,
)
from central_hub.domain.etsi_feed import EtsiRow, jer_text
from central_hub.domain.prediction import (
    BIN_MS,
    WINDOW_BINS,
    Band,
    Drift,
    DriftRules,
    QualityWindow,
)
from central_hub.hub import Hub
from edge_agent.contract.ids import ID_PATTERN
from edge_agent.contract.payloads import Spat, SpatPrediction
from edge_agent.errors import PayloadError

router = APIRouter(prefix="/api/v1/intersections", tags=["feeds"])
IntersectionId = Annotated[str, Path(pattern=ID_PATTERN, description="intersection id")]


class IntersectionOut(BaseModel):
    """One intersection: name from its MAP, status from its latest SPaT."""

    intersection_id: str
    name: str
    status: str | None
    online: bool
    lat: float | None
    lon: float | None
    #: the latest sampled SPATEM said what the SPaT of its tick said (``null``: not checked
    #: yet, e.g. no C-ITS output); docs/c-its.md, "The hub"
    etsi_agrees: bool | None = None


class SignalChangeOut(BaseModel):
    """A signal group entered ``state`` at ``start_ms``."""

    sg: str
    state: str
    start_ms: int


@router.get("", response_model=list[IntersectionOut])
def list_intersections(hub: HubDep) -> list[IntersectionOut]:
    """Every intersection the hub has a MAP or SPaT of."""
    now = int(time.time() * 1000)
    st = hub.state
    out = []
    for iid in sorted(st.intersections):
        i = st.intersections[iid]
        out.append(IntersectionOut(
            intersection_id=iid, name=i.name, status=i.status, online=st.online(iid, now),
            lat=i.map.lat if i.map else None, lon=i.map.lon if i.map else None,
            etsi_agrees=st.etsi.agrees(iid)))
    return out


class DetectorSuspicionOut(BaseModel):
    """A detector that looks faulty: ``stuck_on`` (occupied without a break) or
    ``no_change`` (not a single change), since ``since_ms`` (hub time)."""

    detector: str
    fault: str
    since_ms: int


class PredictionBandOut(BaseModel):
    """The predictions of one band, by how far ahead of the switch they were made: ``le10s``
    (up to 10 s), ``10to30s``, ``gt30s``; their mean absolute error in seconds."""

    band: Band
    rows: int
    mae_s: float | None


class ReliabilityBucketOut(BaseModel):
    """Predictions whose claimed confidence was ``lo``..``hi`` %: their mean confidence and
    the share that was right within ±1 s (a point of the reliability diagram; a controller
    that means what it claims has ``observed_pct`` close to ``mean_confidence``)."""

    lo: int
    hi: int
    rows: int
    mean_confidence: float | None
    observed_pct: float | None


class PredictionOut(BaseModel):
    """How good the red and green predictions were over the last hour: each group's
    ``likely_end`` sampled about once a second and scored when the group switched
    (docs/hub.md, "Prediction quality")."""

    #: the window the figures cover (the last hour, whole minutes)
    window_s: int
    #: switches scored and predictions (samples) scored
    switches: int
    rows: int
    #: mean absolute error by how far ahead the prediction was made
    bands: list[PredictionBandOut]
    #: switches whose aspect published a bound, and the share that kept every one of them
    bounded_switches: int
    within_bounds_pct: float | None
    #: the reliability diagram: one row per confidence bucket 0-9, 10-19, ..., 90-100
    reliability: list[ReliabilityBucketOut]
    #: the median of the hourly ``le10s`` errors of the last 24 h and how many hours it has;
    #: the ``prediction_degraded`` alarm compares the ``le10s`` band with it
    baseline_mae_s: float | None
    baseline_hours: int


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)


def _pct(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def prediction_out(w: QualityWindow, drift: Drift) -> PredictionOut | None:
    """The health's ``prediction``; ``None`` while no switch was scored in the window."""
    if not w.switches:
        return None
    return PredictionOut(
        window_s=WINDOW_BINS * BIN_MS // 1000, switches=w.switches, rows=w.rows,
        bands=[PredictionBandOut(band=b.band, rows=b.rows, mae_s=_seconds(b.mae_ms))
               for b in w.bands],
        bounded_switches=w.bounded_switches, within_bounds_pct=_pct(w.inside_pct),
        reliability=[ReliabilityBucketOut(lo=b.lo, hi=b.hi, rows=b.rows,
                                          mean_confidence=_pct(b.mean_confidence),
                                          observed_pct=_pct(b.observed_pct))
                     for b in w.buckets],
        baseline_mae_s=_seconds(drift.baseline_ms), baseline_hours=drift.hours)


class IntersectionHealthOut(BaseModel):
    """What the hub knows of an intersection's health."""

    intersection_id: str
    name: str
    #: the controller's status in its latest SPaT (``operational``, ``fixed_time``,
    #: ``flashing``, ``dark``, ``fault``), ``null`` before the first SPaT
    status: str | None
    online: bool
    #: hub time the latest SPaT arrived, and how long ago that was
    last_spat_ms: int | None
    spat_age_ms: int | None
    #: no SPaT for longer than the ``spat_stale`` alarm's limit
    stale: bool
    #: detectors the hub has heard on ``signal/{id}/detector`` and the suspect ones
    detectors: int
    detector_suspicions: list[DetectorSuspicionOut]
    #: the controller's own mean confidence (0-100) in its latest likely ends
    confidence: int | None
    #: how good its predictions were over the last hour (``null``: no switch scored in it)
    prediction: PredictionOut | None
    #: the controller's own word on its prediction in its latest SPaT: ``state`` ``ok``,
    #: ``degraded`` (learning, a detector faulty, stuck, silent or unheard) or ``stale`` (no
    #: usable prediction), with short reason ids; ``null`` before the first SPaT or from a
    #: controller that does not report it (docs/signal_controller.md, "Prediction status")
    spat_prediction: SpatPrediction | None = None
    #: the latest sampled SPATEM (decoded once a second) said what the SPaT of its tick said;
    #: ``null`` until one was checked (no C-ITS output, or none met its SPaT yet)
    etsi_agrees: bool | None = None
    #: the same check as the dashboard's C-ITS badge: ``agrees``, ``differs``, ``unchecked``
    #: (SPATEMs heard, none met its SPaT yet) or ``none`` (no SPATEM heard, or none for longer
    #: than the ``spat_stale`` alarm's limit)
    etsi: EtsiState = "none"
    #: what differed first, when ``etsi`` is ``differs``
    etsi_difference: str | None = None


@router.get("/health", response_model=list[IntersectionHealthOut])
def intersections_health(hub: HubDep) -> list[IntersectionHealthOut]:
    """Per intersection: SPaT age, controller status, suspect detectors, prediction quality
    over the last hour, and the prediction status the controller reports in its latest SPaT.

    The controller reports no detector faults; the hub judges the detectors it hears (stuck on
    for ``DASHBOARD__DETECTOR_STUCK_S``, unchanged for ``DASHBOARD__DETECTOR_NO_CHANGE_S``).
    """
    now = int(time.time() * 1000)
    st = hub.state
    ds = hub.runtime.settings.dashboard
    stale_ms = hub.runtime.settings.alarms.spat_stale_ms
    rules = hub.alarms.engine.thresholds.prediction if hub.alarms is not None else DriftRules()
    out = []
    for iid in sorted(st.intersections):
        i = st.intersections[iid]
        seen = i.spat_seen_ms or None
        age = None if seen is None else max(0, now - seen)
        sus = detector_suspicions(
            (DetectorView(d, s.occupied, s.since_ms) for d, s in list(i.detectors.items())),
            now, stuck_on_ms=ds.detector_stuck_s * 1000,
            no_change_ms=ds.detector_no_change_s * 1000)
        quality = prediction_out(i.quality.window(now), i.quality.drift(now, rules))
        etsi = etsi_check(st.etsi.intersections.get(iid), now, stale_ms)
        out.append(IntersectionHealthOut(
            intersection_id=iid, name=i.name, status=i.status, online=st.online(iid, now),
            last_spat_ms=seen, spat_age_ms=age, stale=age is not None and age > stale_ms,
            detectors=len(i.detectors),
            detector_suspicions=[DetectorSuspicionOut(detector=s.detector, fault=s.fault,
                                                      since_ms=s.since_ms) for s in sus],
            confidence=mean_confidence(i.spat),
            prediction=quality,
            spat_prediction=spat_prediction(i.spat),
            etsi_agrees=st.etsi.agrees(iid), etsi=etsi.state, etsi_difference=etsi.difference))
    return out


@router.get("/{intersection_id}/spat", response_model=Spat,
            responses={404: {"description": "no SPaT received from this intersection"}})
def latest_spat(intersection_id: IntersectionId, hub: HubDep) -> Response:
    """The latest SPaT payload exactly as received."""
    i = hub.state.intersections.get(intersection_id)
    if i is None or i.spat_raw is None:
        raise HTTPException(404, f"no SPaT from {intersection_id}")
    return Response(i.spat_raw, media_type="application/json")


_ETSI_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the raw UPER bytes as received, or with ``format=jer`` their JSON "
                         "encoding rules (X.697) text",
          "content": {"application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}},
                      "application/json": {"schema": {"type": "object"}}}},
    404: {"description": "no such message received from this intersection"},
    422: {"description": "format=jer, and the kept bytes do not decode"},
}
EtsiFormat = Annotated[Literal["uper", "jer"], Query(
    alias="format", description="``uper`` (default): the bytes; ``jer``: JSON, for debugging")]


def _etsi(hub: Hub, name: EtsiRow, intersection_id: str, fmt: str) -> Response:
    raw = hub.state.etsi.latest(name, intersection_id)
    what = name.removeprefix("etsi_").upper()
    if raw is None:
        raise HTTPException(404, f"no {what} from {intersection_id}")
    if fmt == "uper":
        return Response(raw, media_type="application/octet-stream")
    try:
        text = jer_text(name, raw)
    except PayloadError as exc:  # a MAPEM is kept after its header check only
        raise HTTPException(422, f"the latest {what} does not decode: {exc.reason}") from exc
    return Response(text, media_type="application/json")


@router.get("/{intersection_id}/spatem", response_class=Response, responses=_ETSI_RESPONSES)
def latest_spatem(intersection_id: IntersectionId, hub: HubDep,
                  fmt: EtsiFormat = "uper") -> Response:
    """The latest SPATEM (ETSI C-ITS SPaT, docs/c-its.md) exactly as received."""
    return _etsi(hub, "etsi_spatem", intersection_id, fmt)


@router.get("/{intersection_id}/mapem", response_class=Response, responses=_ETSI_RESPONSES)
def latest_mapem(intersection_id: IntersectionId, hub: HubDep,
                 fmt: EtsiFormat = "uper") -> Response:
    """The latest MAPEM (ETSI C-ITS MAP, docs/c-its.md) exactly as received."""
    return _etsi(hub, "etsi_mapem", intersection_id, fmt)


@router.get("/{intersection_id}/history", response_model=list[SignalChangeOut])
def signal_history(intersection_id: IntersectionId, hub: HubDep,
                   seconds: Annotated[int, Query(ge=1, le=3600)] = 300) -> list[SignalChangeOut]:
    """State changes of every signal group over the last ``seconds`` (the phase diagram)."""
    since = int(time.time() * 1000) - seconds * 1000
    return [SignalChangeOut(sg=sg, state=s, start_ms=t)
            for sg, s, t in hub.state.history(intersection_id, since)]
