"""Dashboard judgements and frames: visible SPaT changes only, numbered frames after a
snapshot, staleness, bus delay, detector suspicion, the C-ITS badge, the controller's
prediction status in the health JSON, and the frame size at Kassel scale (300 intersections at
10 Hz, 300 buses at 1 Hz). Prediction quality: test_prediction_quality.py."""

from __future__ import annotations

import json
import random
import time
from datetime import date
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from central_hub.api.routes import intersections
from central_hub.core.config import HubSettings
from central_hub.domain.dashboard import (
    DetectorView,
    EtsiCheck,
    bus_delay,
    detector_suspicions,
    etsi_check,
    punctuality_class,
    spat_prediction,
    spat_signature,
    spat_visibly_changed,
)
from central_hub.domain.etsi_feed import EtsiFeed
from central_hub.domain.live_state import LiveState
from central_hub.domain.schedule import Schedule, Stop, StopTime, Trip, reference_ms
from central_hub.live.dashboard_feed import DashboardFeed
from edge_agent.contract.etsi.spatem import ItsIntersection, encode_spatem
from edge_agent.contract.payloads import (
    Detector,
    Position,
    Spat,
    SpatGroup,
    SpatPrediction,
    encode,
)

STATES = ("stop-And-Remain", "pre-Movement", "protected-Movement-Allowed", "protected-clearance")


def _spat(ix: str, ts: int, states: list[str], ends: list[int | None], seq: int = 1,
          status: str = "operational") -> Spat:
    return Spat(ts=ts, seq=seq, intersection_id=ix, revision=1, status=status,  # type: ignore[arg-type]
                groups=[SpatGroup(sg=f"K{k + 1}", state=s, min_end=None, max_end=None,  # type: ignore[arg-type]
                                  likely_end=e, confidence=80)
                        for k, (s, e) in enumerate(zip(states, ends, strict=True))])


def test_only_visible_spat_changes_count() -> None:
    a = spat_signature(_spat("i", 0, ["stop-And-Remain"], [10_000]))
    assert not spat_visibly_changed(a, spat_signature(_spat("i", 100, ["stop-And-Remain"],
                                                            [10_400])))
    assert spat_visibly_changed(a, spat_signature(_spat("i", 100, ["stop-And-Remain"], [11_000])))
    assert spat_visibly_changed(a, spat_signature(_spat("i", 100, ["pre-Movement"], [10_000])))
    assert spat_visibly_changed(a, spat_signature(_spat("i", 100, ["stop-And-Remain"], [None])))
    assert spat_visibly_changed(a, spat_signature(_spat("i", 100, ["stop-And-Remain"], [10_000],
                                                        status="flashing")))
    assert spat_visibly_changed(None, a)


def test_frames_are_numbered_after_a_snapshot_and_skip_repeated_spat() -> None:
    st = LiveState()
    feed = DashboardFeed(st, stale_ms=1_000)
    m = _spat("ks-1", 1_000, ["stop-And-Remain"], [5_000])
    st.apply_spat(m, encode(m), 1_000)
    feed.spat("ks-1")
    first = json.loads(feed.render(1_000) or "")
    assert first["n"] == 1 and first["spat"]["ks-1"]["groups"][0]["likely_end"] == 5_000
    again = _spat("ks-1", 1_100, ["stop-And-Remain"], [5_200], seq=2)
    st.apply_spat(again, encode(again), 1_100)
    feed.spat("ks-1")
    assert feed.render(1_100) is None  # same state, countdown moved by 0.2 s: nothing to send
    snap = json.loads(feed.snapshot(1_200))
    assert snap["snapshot"] and snap["n"] == 1 and snap["spat"]["ks-1"]["seq"] == 2
    # silent for longer than the alarm's limit: a frame says so, once
    stale = json.loads(feed.render(2_300) or "")
    assert stale == {"n": 2, "t": 2_300, "stale": {"ks-1": 1_100}}
    assert feed.render(2_600) is None
    back = _spat("ks-1", 2_700, ["pre-Movement"], [4_000], seq=3)
    st.apply_spat(back, encode(back), 2_700)
    feed.spat("ks-1")
    frame = json.loads(feed.render(2_700) or "")
    assert frame["n"] == 3 and frame["stale"] == {} and "ks-1" in frame["spat"]


def test_a_changed_prediction_status_is_a_visible_change_and_reaches_the_health() -> None:
    """Issue 18: the page shows the controller's prediction status, so a change of it is
    worth a frame; the health route reports it as received (``null`` when not reported)."""
    plain = _spat("ks-1", 0, ["stop-And-Remain"], [10_000])
    ok = plain.model_copy(update={"prediction": SpatPrediction(state="ok", reasons=[])})
    degraded = plain.model_copy(update={"prediction": SpatPrediction(
        state="degraded", reasons=["stuck:D1"])})
    assert spat_visibly_changed(spat_signature(plain), spat_signature(ok))
    assert spat_visibly_changed(spat_signature(ok), spat_signature(degraded))
    assert not spat_visibly_changed(spat_signature(degraded), spat_signature(
        degraded.model_copy(update={"ts": 100})))
    assert spat_prediction(None) is None and spat_prediction(plain) is None
    assert spat_prediction(degraded) == SpatPrediction(state="degraded", reasons=["stuck:D1"])


def test_the_health_json_carries_the_prediction_status_as_received() -> None:
    state = LiveState()
    stale = Spat(ts=1, seq=1, intersection_id="ks-1", revision=2, status="flashing",
                 groups=[], prediction=SpatPrediction(state="stale", reasons=["fail_safe"]))
    old = _spat("ks-2", 1, ["stop-And-Remain"], [None])  # a controller that does not report it
    for m in (stale, old):
        state.apply_spat(m, encode(m), int(time.time() * 1000))
    app = FastAPI()
    app.include_router(intersections.router)
    app.state.hub = SimpleNamespace(state=state, runtime=SimpleNamespace(settings=HubSettings()),
                                    alarms=None)
    health = {h["intersection_id"]: h
              for h in TestClient(app).get("/api/v1/intersections/health").json()}
    assert health["ks-1"]["spat_prediction"] == {"state": "stale", "reasons": ["fail_safe"]}
    assert health["ks-1"]["status"] == "flashing" and health["ks-1"]["stale"] is False
    assert health["ks-2"]["spat_prediction"] is None


def test_bus_delay_from_the_timetable() -> None:
    day = date(2025, 3, 4)
    ref = reference_ms(day, "Europe/Berlin")
    stops = {"a": Stop("a", "A", 51.30, 9.48), "b": Stop("b", "B", 51.31, 9.49)}
    trip = Trip("t1", "1", "daily", None, 0, (StopTime("a", 1, 36_000, 36_000),
                                               StopTime("b", 2, 36_300, 36_320)))
    sch = Schedule("Europe/Berlin", stops, {}, {"t1": trip}, {})
    at_b = Position(ts=ref + 36_700 * 1000, seq=1, vehicle_id="v", lat=51.31, lon=9.49,
                    bearing=0.0, speed_mps=0.0, route_id="1", trip_id="t1", stop_id="b",
                    stop_status="STOPPED_AT")
    assert bus_delay(sch, at_b) == 380
    assert punctuality_class(380) == "late"
    assert punctuality_class(-30) == "on_time" and punctuality_class(-90) == "early"
    assert bus_delay(None, at_b) is None
    assert bus_delay(sch, at_b.model_copy(update={"trip_id": None})) is None


def test_detector_suspicions_and_the_live_state_that_feeds_them() -> None:
    st = LiveState()
    for t, occ in ((0, False), (1_000, True), (2_000, False), (3_000, True)):
        st.apply_detector("ks-1", Detector(ts=t, detector="D1", occupied=occ), t)
    st.apply_detector("ks-1", Detector(ts=0, detector="D2", occupied=False), 0)
    st.apply_detector("ks-1", Detector(ts=9, detector="D2", occupied=False), 9)  # no change
    dets = st.intersections["ks-1"].detectors
    views = [DetectorView(d, s.occupied, s.since_ms) for d, s in dets.items()]
    assert detector_suspicions(views, 10_000, stuck_on_ms=60_000, no_change_ms=600_000) == []
    sus = detector_suspicions(views, 700_000, stuck_on_ms=60_000, no_change_ms=600_000)
    assert [(s.detector, s.fault, s.since_ms) for s in sus] == [("D1", "stuck_on", 3_000),
                                                                ("D2", "no_change", 0)]


def test_the_c_its_badge_agrees_differs_with_the_field_named_or_has_no_etsi_output() -> None:
    """The badge is the C-ITS feed's own comparison (one source), read per intersection."""
    its = ItsIntersection(561000001, 1, None, {"K1": 1, "K2": 2})
    t = 1_750_000_000_000
    spat = _spat("ks-1", t, ["protected-Movement-Allowed", "stop-And-Remain"], [t + 3_000, None])
    feed = EtsiFeed()
    assert etsi_check(feed.intersections.get("ks-1"), t + 1_000, 1_000) == EtsiCheck("none")
    feed.accept("etsi_spatem", "ks-1", encode_spatem(spat, its, 1), t, spat=spat, map_revision=1)
    assert etsi_check(feed.intersections.get("ks-1"), t + 1_000, 1_000) == EtsiCheck("agrees")
    later = spat.model_copy(update={"ts": t + 1_000})
    other = later.model_copy(update={"groups": [
        spat.groups[0], spat.groups[1].model_copy(update={"state": "pre-Movement"})]})
    feed.accept("etsi_spatem", "ks-1", encode_spatem(other, its, 1), t + 1_000, spat=later,
                map_revision=1)
    assert etsi_check(feed.intersections.get("ks-1"), t + 1_000, 1_000) == EtsiCheck(
        "differs", "K2: state pre-Movement is not stop-And-Remain")
    # the SPATEMs stop (the SPaT goes on): no ETSI output, not the last comparison forever
    assert etsi_check(feed.intersections.get("ks-1"), t + 2_001, 1_000) == EtsiCheck("none")
    # SPATEMs heard, but none met the SPaT of its tick yet (no JSON SPaT): not "no output"
    feed.accept("etsi_spatem", "ks-2", encode_spatem(spat, its), t)
    assert etsi_check(feed.intersections.get("ks-2"), t, 1_000) == EtsiCheck("unchecked")


def test_frame_size_at_kassel_scale() -> None:
    """300 intersections x 8 groups at 10 Hz (fixed 60-90 s cycles, likely ends steady within
    a state), 300 buses at 1 Hz: mean and largest frame over 30 s, and the snapshot."""
    rng = random.Random(14)
    st = LiveState()
    feed = DashboardFeed(st)
    feed.clients.subscribe()
    cycles = {f"ks-{i:04d}": (rng.randrange(60_000, 90_001, 1_000), rng.randrange(90_000))
              for i in range(300)}
    t0 = 1_700_000_000_000
    sizes: list[int] = []
    seq = 0
    for step in range(600):  # 30 s in 50 ms steps: SPaT every 100 ms, a frame every 250 ms
        now = t0 + step * 50
        if step % 2 == 0:
            seq += 1
            for ix, (cycle, offset) in cycles.items():
                states, ends = [], []
                for g in range(8):
                    phase = (now + offset + g * cycle // 8) % cycle
                    part = cycle // 4
                    k = phase // part
                    states.append(STATES[k])
                    ends.append(now - phase + (k + 1) * part)
                m = _spat(ix, now, states, ends, seq=seq)
                st.apply_spat(m, encode(m), now)
                feed.spat(ix)
        if step % 20 == 0:
            for b in range(300):
                p = Position(ts=now, seq=seq, vehicle_id=f"{1000 + b}", lat=51.3, lon=9.48,
                             bearing=90.0, speed_mps=8.0, route_id="1", trip_id=f"t{b}",
                             stop_id=None, stop_status="IN_TRANSIT_TO")
                st.apply_position(p, encode(p), now)
                feed.vehicle(p.vehicle_id)
        if step % 5 == 0:
            frame = feed.render(now)
            if frame is not None:
                sizes.append(len(frame.encode()))
    steady = sizes[1:]  # the first frame carries every intersection once
    snapshot = len(feed.snapshot(t0 + 30_000).encode())
    full = sum(len(i.spat_raw or b"") for i in st.intersections.values())
    print(f"\nframes: mean {sum(steady) / len(steady) / 1000:.1f} kB, largest "
          f"{max(steady) / 1000:.1f} kB; snapshot {snapshot / 1000:.0f} kB; every SPaT in "
          f"full {full / 1000:.0f} kB")
    assert max(steady) < 120_000  # the second in which all 300 buses report
    assert sum(steady) / len(steady) < full / 4
    assert snapshot < 600_000
