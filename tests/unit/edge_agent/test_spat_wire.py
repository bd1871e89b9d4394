"""The contract's SPaT fast path: its bytes equal the pydantic model's encoding for any valid
tick, with the groups array reused while the rows object is the same, and the prediction
status (issue 18) while its object is the same; the status's round trip, also absent."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.payloads import (
    MAX_PREDICTION_REASONS,
    MovementPhaseState,
    SignalStatus,
    Spat,
    SpatPrediction,
    decode,
    encode,
)
from edge_agent.contract.spat_wire import SpatEncoder, spat_fields
from edge_agent.errors import PayloadError
from tests.support.spat_rows import Prediction, Row, Tick

STATES: list[MovementPhaseState] = [
    "dark", "stop-And-Remain", "pre-Movement", "protected-Movement-Allowed",
    "permissive-Movement-Allowed", "protected-clearance", "permissive-clearance",
    "caution-Conflicting-Traffic",
]


ts = st.integers(0, 2**62)
maybe_ts = st.none() | ts
ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
rows = st.builds(Row, sg=ids, state=st.sampled_from(STATES), min_end=maybe_ts,
                 max_end=maybe_ts, likely_end=maybe_ts, confidence=st.integers(0, 100),
                 next_green=maybe_ts, green_end=maybe_ts)
reasons = st.from_regex(r"\A[a-z_]{1,32}(:[A-Za-z0-9_-]{1,64})?\Z")
predictions = st.none() | st.builds(
    Prediction, state=st.sampled_from(["ok", "degraded", "stale"]),
    reasons=st.lists(reasons, max_size=MAX_PREDICTION_REASONS).map(tuple))


def _reference(tick: Tick, device: str, seq: int) -> bytes:
    return encode(Spat(seq=seq, **spat_fields(tick, device)))  # type: ignore[arg-type]


@settings(max_examples=300)
@given(
    groups=st.lists(rows, max_size=12).map(tuple),
    now=ts,
    seq=st.integers(0, 2**63 - 2),  # the contract bounds seq below 2**63
    revision=st.integers(0, 2**40),
    status=st.sampled_from(["operational", "fixed_time", "flashing", "dark", "fault"]),
    device=ids,
    prediction=predictions,
)
def test_encoded_spat_is_byte_identical_to_the_contract_model(
    groups: tuple[Row, ...], now: int, seq: int, revision: int, status: SignalStatus,
    device: str, prediction: Prediction | None,
) -> None:
    tick = Tick(now, revision, status, groups, prediction)
    enc = SpatEncoder(device)
    payload = enc.encode(tick, seq)
    assert payload == _reference(tick, device, seq)
    assert decode(Spat, payload).seq == seq
    assert enc.encode(tick, seq + 1) == _reference(tick, device, seq + 1)  # cached groups


def test_the_next_green_is_sent_only_when_known() -> None:
    enc = SpatEncoder("ks-1")
    rows = (Row("K1", "protected-Movement-Allowed", 1_000, 5_000, 3_000, 80, 40_000),
            Row("K2", "stop-And-Remain", 1_000, 5_000, 3_000, 80))
    payload = enc.encode(Tick(1, 1, "operational", rows), 1)
    raw = json.loads(payload)
    assert raw["groups"][0]["next_green"] == 40_000
    assert "next_green" not in raw["groups"][1]  # absent, not null: older receivers
    assert [g.next_green for g in decode(Spat, payload).groups] == [40_000, None]


def test_a_red_row_says_when_its_coming_green_ends_and_the_next_begins() -> None:
    enc = SpatEncoder("ks-1")
    rows = (Row("K1", "stop-And-Remain", 1_000, 5_000, 3_000, 80, 60_000, 14_000),
            Row("K2", "protected-Movement-Allowed", 1_000, 5_000, 3_000, 80))
    payload = enc.encode(Tick(1, 1, "operational", rows), 1)
    raw = json.loads(payload)
    assert (raw["groups"][0]["green_end"], raw["groups"][0]["next_green"]) == (14_000, 60_000)
    assert "green_end" not in raw["groups"][1]  # absent, not null: older receivers
    assert [(g.green_end, g.next_green) for g in decode(Spat, payload).groups] == [
        (14_000, 60_000), (None, None)]


def test_new_rows_are_encoded_again_and_a_missing_seq_is_refused() -> None:
    enc = SpatEncoder("ks-1")
    first = (Row("K1", "stop-And-Remain", None, None, None, 0),)
    second = (Row("K1", "protected-Movement-Allowed", 1_000, 5_000, 3_000, 80),)
    a = decode(Spat, enc.encode(Tick(1, 1, "operational", first), 1))
    b = decode(Spat, enc.encode(Tick(2, 1, "operational", second), 2))
    assert [g.state for g in a.groups] == ["stop-And-Remain"]
    assert [(g.state, g.likely_end) for g in b.groups] == [("protected-Movement-Allowed", 3_000)]
    with pytest.raises(ValueError, match="sequenced"):
        enc.encode(Tick(3, 1, "operational", second), None)


def test_the_prediction_fragment_is_reused_while_its_object_is_the_same() -> None:
    enc = SpatEncoder("ks-1")
    rows = (Row("K1", "stop-And-Remain", 1_000, None, 2_000, 40),)
    learning = Prediction("degraded", ("learning", "stuck:D1"))
    for seq, prediction in enumerate((None, learning, learning, Prediction("ok"),
                                      Prediction("ok"), None, Prediction("stale", ("fail_safe",))),
                                     start=1):
        tick = Tick(seq, 1, "operational", rows, prediction)
        assert enc.encode(tick, seq) == _reference(tick, "ks-1", seq)
    # a changed status is written again even when its rows are the same object
    assert decode(Spat, enc.encode(Tick(9, 1, "operational", rows, learning), 9)).prediction \
        == SpatPrediction(state="degraded", reasons=["learning", "stuck:D1"])


def test_the_prediction_round_trips_and_a_payload_without_it_stays_valid() -> None:
    fields = {"ts": 1, "seq": 1, "intersection_id": "ks-1", "revision": 1, "status": "flashing",
              "groups": []}
    stale = Spat(**fields, prediction=SpatPrediction(  # type: ignore[arg-type]
        state="stale", reasons=["fail_safe"]))
    raw = encode(stale)
    assert raw.endswith(b',"prediction":{"state":"stale","reasons":["fail_safe"]}}')
    assert decode(Spat, raw) == stale
    old = b'{"v":1,"ts":1,"seq":1,"intersection_id":"ks-1","revision":1,"status":"flashing",' \
          b'"groups":[]}'
    assert decode(Spat, old).prediction is None
    assert encode(decode(Spat, old)) == old  # absent stays absent, not null


@pytest.mark.parametrize("prediction", [
    {"state": "unknown", "reasons": []},
    {"state": "degraded"},
    {"state": "degraded", "reasons": ["Stuck D1"]},
    {"state": "degraded", "reasons": ["stuck:D1:x"]},
    {"state": "degraded", "reasons": ["learning"] * (MAX_PREDICTION_REASONS + 1)},
])
def test_a_malformed_prediction_is_refused(prediction: dict[str, object]) -> None:
    raw = json.dumps({"v": 1, "ts": 1, "seq": 1, "intersection_id": "ks-1", "revision": 1,
                      "status": "operational", "groups": [], "prediction": prediction})
    with pytest.raises(PayloadError) as info:
        decode(Spat, raw.encode())
    assert info.value.reason in {"invalid_value", "missing_field", "wrong_type"}
