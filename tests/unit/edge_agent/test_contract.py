"""The contract module: topics, payload decoding and its rejection reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.asyncapi import build_asyncapi, render
from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.payloads import (
    MAX_FUTURE_MS,
    MAX_PAYLOAD_BYTES,
    Detector,
    Position,
    Spat,
    Srem,
    decode,
    encode,
    occupancy_status_for,
)
from edge_agent.contract.topics import SPEC_BY_NAME, SPECS, Topics, TopicSpec
from edge_agent.errors import PayloadError

ROOT = Path(__file__).resolve().parents[3]


def test_every_topic_round_trips_through_parse() -> None:
    topics = Topics("city/x")
    for spec in SPECS:
        sender = "1234" if spec.has_sender else None
        topic = topics.topic(spec.name, "ks-0042", sender)
        ref = topics.parse(topic)
        assert ref is not None
        assert ref.spec is spec
        assert ref.entity_id == "ks-0042"
        assert ref.sender_id == sender


def test_topics_match_the_contract_table() -> None:
    t = Topics()
    assert t.topic("cmd_ack", "bus-1") == "kassel/v1/device/bus-1/cmd/ack"
    assert t.topic("spat", "ks-1") == "kassel/v1/signal/ks-1/spat"
    assert [s.name for s in SPECS if s.has_sender] == ["srem", "etsi_srem"]
    assert t.topic("srem", "ks-1", "1234") == "kassel/v1/signal/ks-1/srem/1234"
    assert t.filter("srem") == "kassel/v1/signal/+/srem/+"
    assert t.filter("srem", "ks-1") == "kassel/v1/signal/ks-1/srem/+"
    assert t.filter("srem", "+", "1234") == "kassel/v1/signal/+/srem/1234"
    assert t.shared("hub", "position") == "$share/hub/kassel/v1/bus/+/position"
    assert {(s.name, s.qos, s.retain) for s in SPECS if s.retain} == {
        ("status", 1, True),
        ("map", 1, True),
        ("etsi_mapem", 1, True),
    }


def test_the_etsi_rows_carry_bytes_of_their_message() -> None:
    """Issue 17: the product owner's table; the topics sit beside the JSON rows they mirror."""
    t = Topics()
    rows = {s.name: (t.topic(s.name, "ks-1", "1234" if s.has_sender else None), s.qos,
                     s.retain, s.etsi) for s in SPECS if s.binary}
    assert rows == {
        "etsi_spatem": ("kassel/v1/signal/ks-1/etsi/spatem", 0, False, MessageId.SPATEM),
        "etsi_mapem": ("kassel/v1/signal/ks-1/etsi/mapem", 1, True, MessageId.MAPEM),
        "etsi_ssem": ("kassel/v1/signal/ks-1/etsi/ssem", 1, False, MessageId.SSEM),
        "etsi_srem": ("kassel/v1/signal/ks-1/etsi/srem/1234", 1, False, MessageId.SREM),
    }
    assert all(s.content_type == "application/octet-stream" and not s.sequenced
               for s in SPECS if s.binary)
    assert t.filter("etsi_srem", "+", "1234") == "kassel/v1/signal/+/etsi/srem/1234"
    ref = t.parse("kassel/v1/signal/ks-1/etsi/srem/1234")
    assert ref is not None and ref.spec.name == "etsi_srem" and ref.sender_id == "1234"
    for bad in ("kassel/v1/signal/ks-1/etsi/srem", "kassel/v1/signal/ks-1/etsi",
                "kassel/v1/signal/ks-1/etsi/spatem/x"):
        assert t.parse(bad) is None, bad
    with pytest.raises(TypeError):
        SPEC_BY_NAME["etsi_spatem"].json_model()
    with pytest.raises(ValueError, match="model or an ETSI message"):
        TopicSpec("spat", "signal/{id}/x", None, 0, False, "a", "b", "c")


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 65, "bus 1", "+", "#"])
def test_topic_ids_are_checked(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid id"):
        Topics().topic("position", bad)


def test_the_sender_id_is_required_exactly_where_the_topic_names_one() -> None:
    t = Topics()
    with pytest.raises(ValueError, match="needs a sender id"):
        t.topic("srem", "ks-1")
    with pytest.raises(ValueError, match="takes no sender id"):
        t.topic("spat", "ks-1", "1234")
    with pytest.raises(ValueError, match="takes no sender id"):
        t.filter("spat", "ks-1", "1234")
    for bad in ("", "a/b", "+", "#", "x" * 65, "1234\n"):
        with pytest.raises(ValueError, match="invalid"):
            t.topic("srem", "ks-1", bad)


@pytest.mark.parametrize(
    "topic",
    ["other/v1/bus/1/position", "kassel/v1/bus/1/unknown", "kassel/v1/bus/a+b/position",
     "kassel/v1/bus/1", "kassel/v1/device/x/cmd/ack/extra", "kassel/v1/bus/1\n/position",
     # a priority request without its sender (the old topic), or with a bad or extra level
     "kassel/v1/signal/ks-1/srem", "kassel/v1/signal/ks-1/srem/", "kassel/v1/signal/ks-1/srem/+",
     "kassel/v1/signal/ks-1/srem/a b", "kassel/v1/signal/ks-1/srem/1234/x",
     "kassel/v1/signal/ks-1/srem/1234\n", "kassel/v1/signal/ks-1/spat/1234"],
)
def test_non_contract_topics_parse_to_none(topic: str) -> None:
    assert Topics().parse(topic) is None


def _detector(**over: object) -> bytes:
    body: dict[str, object] = {"v": 1, "ts": 1, "detector": "D1", "occupied": True}
    body.update(over)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (_detector(v=...), "missing_field"),
        (_detector(occupied=...), "missing_field"),
        (_detector(ts="5"), "wrong_type"),
        (_detector(occupied=1), "wrong_type"),
        (_detector(v=2), "invalid_value"),
        (_detector(detector="has space"), "invalid_value"),
        (_detector(ts=-1), "invalid_value"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "too_large"),
    ],
)
def test_decode_rejects_with_a_counted_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        decode(Detector, raw)
    assert info.value.reason == reason


def test_unknown_fields_are_ignored_and_historical_only_when_set() -> None:
    d = decode(Detector, _detector(extra={"x": 1}))
    assert d.detector == "D1"
    assert b"historical" not in encode(d)
    assert b'"historical":true' in encode(d.model_copy(update={"historical": True}))


def _srem(**delay: object) -> bytes:
    """A srem as a bus sends it; ``delay`` adds ``delay_s`` (the contract addition)."""
    doc = {"v": 1, "ts": 1_750_000_000_000, "request_id": "r1", "vehicle_id": "1234",
           "intersection_id": "ks-0042", "type": "request", "sg": "K1",
           "eta": 1_750_000_020_000, "role": "transit", "route_id": "4", **delay}
    return json.dumps(doc).encode()


def test_srem_delay_is_optional_and_an_integer() -> None:
    assert decode(Srem, _srem()).delay_s is None  # payloads without the field stay valid
    assert decode(Srem, _srem(delay_s=None)).delay_s is None
    assert decode(Srem, _srem(delay_s=95)).delay_s == 95
    assert decode(Srem, _srem(delay_s=-40)).delay_s == -40  # early
    for bad, reason in ((12.5, "wrong_type"), ("95", "wrong_type"), (True, "wrong_type"),
                        (10**9, "invalid_value")):
        with pytest.raises(PayloadError) as info:
            decode(Srem, _srem(delay_s=bad))
        assert info.value.reason == reason, bad
    assert b"delay_s" in encode(decode(Srem, _srem(delay_s=3)))


def test_encode_decode_round_trip_of_a_spat() -> None:
    spat = Spat(
        ts=1, seq=2, intersection_id="ks-1", revision=3, status="operational",
        groups=[{"sg": "K1", "state": "protected-Movement-Allowed", "min_end": 10,
                 "max_end": 20, "likely_end": 15, "confidence": 80}],
    )
    assert decode(Spat, encode(spat)) == spat


def test_position_checks_ranges() -> None:
    base = {"v": 1, "ts": 1, "seq": 1, "vehicle_id": "1", "lat": 51.0, "lon": 9.0,
            "bearing": 90.0, "speed_mps": 3.0, "route_id": "4", "trip_id": None,
            "stop_id": None, "stop_status": "IN_TRANSIT_TO"}
    assert decode(Position, json.dumps(base).encode()).lat == 51.0
    for field, value in [("lat", 91), ("bearing", 361), ("speed_mps", -1),
                         ("stop_status", "PARKED")]:
        with pytest.raises(PayloadError):
            decode(Position, json.dumps({**base, field: value}).encode())


@pytest.mark.parametrize(
    ("passengers", "status"),
    [(0, "MANY_SEATS_AVAILABLE"), (28, "MANY_SEATS_AVAILABLE"), (29, "FEW_SEATS_AVAILABLE"),
     (39, "FEW_SEATS_AVAILABLE"), (40, "STANDING_ROOM_ONLY"), (45, "STANDING_ROOM_ONLY"),
     (46, "CRUSHED_STANDING_ROOM_ONLY"), (52, "CRUSHED_STANDING_ROOM_ONLY"), (53, "FULL")],
)
def test_occupancy_status_thresholds_relative_to_seats(passengers: int, status: str) -> None:
    assert occupancy_status_for(passengers, 40) == status


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=512))
def test_random_bytes_only_ever_raise_payload_error(raw: bytes) -> None:
    for spec in SPECS:
        if spec.model is None:  # ETSI bytes: fuzzed in tests/unit/edge_agent/etsi
            continue
        try:
            decode(spec.model, raw)
        except PayloadError as exc:
            assert exc.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["v", "ts", "seq", "sg", "groups", "id", "name",
                                            "args", "detector", "occupied", "x"]),
                           json_values, max_size=8))
def test_random_json_only_ever_raises_payload_error(doc: dict[str, object]) -> None:
    raw = json.dumps(doc, allow_nan=True).encode()
    for spec in SPECS:
        if spec.model is None:
            continue
        try:
            decode(spec.model, raw)
        except PayloadError as exc:
            assert exc.reason in {"not_json", "not_object", "missing_field", "wrong_type",
                                  "invalid_value", "too_large"}


def test_asyncapi_document_agrees_with_the_models() -> None:
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(committed) == build_asyncapi()
    assert committed == render()
    doc = build_asyncapi()
    assert set(doc["channels"]) == {s.name for s in SPECS}
    for spec in SPECS:
        message = doc["components"]["messages"][spec.name]
        if spec.model is None:  # ETSI: binary bytes, named after their message
            assert spec.etsi is not None and message["name"] == spec.etsi.name
            assert message["contentType"] == "application/octet-stream"
            assert doc["components"]["schemas"][spec.etsi.name]["format"] == "binary"
            continue
        assert message["contentType"] == "application/json"
        schema = doc["components"]["schemas"][spec.model.__name__]
        assert "v" in schema["required"]
        assert set(spec.model.model_fields) <= set(schema["properties"])


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("where", ["extra", "nested", "known"])
def test_nan_and_infinity_are_not_json_anywhere(token: bytes, where: str) -> None:
    """Issue 13: one such token in an echoed payload breaks a browser's JSON.parse."""
    base = _detector()[:-1]
    raw = {"extra": base + b',"x":' + token + b"}",
           "nested": base + b',"x":{"y":[1,' + token + b"]}}",
           "known": _detector().replace(b'"ts": 1', b'"ts": ' + token)}[where]
    with pytest.raises(PayloadError) as info:
        decode(Detector, raw)
    assert info.value.reason == "not_json"


def test_the_words_nan_and_infinity_in_strings_are_fine() -> None:
    d = decode(Detector, _detector(extra="NaN and Infinity"))
    assert d.detector == "D1"


def test_ts_far_ahead_of_the_receiver_is_refused() -> None:
    now = 1_800_000_000_000
    ok = decode(Detector, _detector(ts=now + MAX_FUTURE_MS), now_ms=now)
    assert ok.ts == now + MAX_FUTURE_MS
    for ts in (now + MAX_FUTURE_MS + 1, 2**63 - 1):
        with pytest.raises(PayloadError) as info:
            decode(Detector, _detector(ts=ts), now_ms=now)
        assert info.value.reason == "future_ts"
    assert decode(Detector, _detector(ts=2**63 - 1)).ts == 2**63 - 1  # no clock: no bound
