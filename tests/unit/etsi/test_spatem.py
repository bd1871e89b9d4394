"""SPATEM: our SPaT payload to UPER bytes and back with the production codec (docs/c-its.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.configs import IntersectionConfig, load_config
from edge_agent.contract.etsi.errors import ItsEncodeError
from edge_agent.contract.etsi.intersection_status import (
    BITS_OF_STATUS,
    STATUS_BIT_NAMES,
    status_names,
    status_value,
)
from edge_agent.contract.etsi.spatem import (
    ItsIntersection,
    Spatem,
    decode_spatem,
    encode_spatem,
)
from edge_agent.contract.etsi.timemark import FAR, UNKNOWN, interval_confidence, mark_to_ms
from edge_agent.contract.payloads import Spat
from tests.unit.etsi.strategies import HOUR_MS, spat_and_its

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]


def check_time(mark: int, at_ms: int | None, ts: int) -> None:
    """``mark`` says ``at_ms`` within the 100 ms resolution (a past time counts as now)."""
    if at_ms is None:
        assert mark == UNKNOWN
        return
    ahead = at_ms - ts
    if ahead >= HOUR_MS + 100:
        assert mark == FAR
        return
    if ahead > HOUR_MS - 200 and mark == FAR:
        return  # the hour's edge is only known to the tenth
    back = mark_to_ms(mark, ts)
    assert back is not None and abs(back - max(at_ms, ts)) <= 100, (mark, at_ms, ts)


def check_round_trip(spat: Spat, its: ItsIntersection, msg: Spatem,
                     map_revision: int | None) -> None:
    assert (msg.header.protocol_version, msg.header.message_id) == (2, 4)
    assert msg.header.station_id == its.station_id
    (state,) = msg.intersections
    assert (state.region, state.intersection_id) == (its.region, its.intersection_id)
    revision = spat.revision if map_revision is None else map_revision
    assert state.revision == revision % 128
    assert state.status == frozenset(BITS_OF_STATUS[spat.status])
    year = datetime.fromtimestamp(spat.ts // 1000, tz=UTC).year
    assert state.sent_at_ms(year) == spat.ts
    assert len(state.movements) == len(spat.groups)
    for group, movement in zip(spat.groups, state.movements, strict=True):
        assert movement.signal_group == its.signal_groups[group.sg]
        (event,) = movement.events
        assert event.state == group.state
        timing = event.timing
        assert timing is not None
        check_time(timing.min_end, group.min_end, spat.ts)
        assert timing.likely is not None and timing.max_end is not None
        check_time(timing.likely, group.likely_end, spat.ts)
        check_time(timing.max_end, group.max_end, spat.ts)
        expected = None if group.likely_end is None else interval_confidence(group.confidence)
        assert timing.confidence == expected
        assert timing.start is None
        if group.next_green is None or group.green_end is not None:
            assert timing.next is None  # a red row's next_green is no nextTime of its red
        else:
            assert timing.next is not None
            check_time(timing.next, group.next_green, spat.ts)


@settings(max_examples=150, deadline=None)
@given(case=spat_and_its(), map_revision=st.none() | st.integers(0, 10**6))
def test_encode_then_decode_gives_the_payloads_values(
        case: tuple[Spat, ItsIntersection], map_revision: int | None) -> None:
    spat, its = case
    data = encode_spatem(spat, its, map_revision)
    check_round_trip(spat, its, decode_spatem(data), map_revision)


def test_status_table() -> None:
    assert {s: status_names(*status_value(s)) for s in BITS_OF_STATUS} == {
        "operational": {"trafficDependentOperation"},
        "fixed_time": {"fixedTimeOperation"},
        "flashing": {"failureFlash"},
        "dark": {"off"},
        "fault": {"failureMode"},
    }
    # bit 0 is the first (most significant) bit of the 16
    assert status_value("flashing") == (1 << 13, 16)
    assert status_names(0xFFFF) == frozenset(STATUS_BIT_NAMES)


def _spat(**changes: object) -> Spat:
    fields: dict[str, object] = {
        "ts": 1_750_000_000_000, "seq": 1, "intersection_id": "ks-0210", "revision": 1,
        "status": "operational",
        "groups": [{"sg": "K1", "state": "stop-And-Remain", "min_end": None, "max_end": None,
                    "likely_end": None, "confidence": 0}]}
    fields.update(changes)
    return Spat.model_validate(fields)


def test_a_shipped_config_gives_the_identity() -> None:
    cfg = load_config(ROOT / "firmware_configs" / "intersections" / "ks-0210.yaml")
    assert isinstance(cfg, IntersectionConfig)
    its = ItsIntersection.from_config(cfg)
    assert (its.station_id, its.intersection_id, its.region) == (561000210, 210, None)
    assert dict(its.signal_groups) == {"K1": 1, "K2": 2, "F1": 3}
    msg = decode_spatem(encode_spatem(_spat(), its, map_revision=129))
    assert msg.intersections[0].revision == 1
    assert msg.intersections[0].movements[0].events[0].timing is not None


def test_what_the_standard_cannot_say_is_an_encode_error() -> None:
    its = ItsIntersection(1, 2, None, {"K1": 1})
    with pytest.raises(ItsEncodeError, match="needs a signal group"):
        encode_spatem(_spat(groups=[]), its)
    with pytest.raises(ItsEncodeError, match="K9 has no its_sg"):
        encode_spatem(_spat(groups=[{"sg": "K9", "state": "dark", "min_end": None,
                                     "max_end": None, "likely_end": None,
                                     "confidence": 0}]), its)
    with pytest.raises(ItsEncodeError, match="cannot encode"):
        encode_spatem(_spat(), ItsIntersection(2**32, 2, None, {"K1": 1}))
    cfg = load_config(ROOT / "firmware_configs" / "intersections" / "ks-0210.yaml")
    assert isinstance(cfg, IntersectionConfig)
    with pytest.raises(ItsEncodeError, match="no its section"):
        ItsIntersection.from_config(cfg.model_copy(update={"its": None}))
