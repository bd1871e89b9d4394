"""Validation, rejection reasons and in-memory de-duplication of ingest."""

from __future__ import annotations

from central_hub.domain.intake import Intake, Rejected, Row
from edge_agent.contract.payloads import Position, Srem, Status, encode
from edge_agent.contract.topics import Topics

T = Topics()


def _pos(vid: str = "1234", seq: int = 1) -> bytes:
    return encode(Position(ts=5, seq=seq, vehicle_id=vid, lat=1.0, lon=2.0, bearing=0.0,
                           speed_mps=0.0, route_id=None, trip_id=None, stop_id=None,
                           stop_status="IN_TRANSIT_TO"))


def test_valid_position_becomes_a_sample_row() -> None:
    row = Intake(T).accept(T.topic("position", "1234"), _pos(), 99)
    assert isinstance(row, Row) and row.table == "samples"
    assert (row.values["device_id"], row.values["seq"], row.values["received_ms"]) == (
        "1234", 1, 99)


def test_status_becomes_an_event_keyed_by_bdseq() -> None:
    msg = encode(Status(ts=1, device_id="ks-1", kind="intersection", state="offline", bdseq=4,
                        sw="1"))
    row = Intake(T).accept(T.topic("status", "ks-1"), msg, 0)
    assert isinstance(row, Row) and row.table == "events" and row.values["key"] == "4:offline:1"


def test_rejections_are_counted_per_topic_and_reason() -> None:
    it = Intake(T)
    cases = {
        (T.topic("position", "1234"), b"\xff\x00"): "not_json",
        (T.topic("position", "1234"), b"[1]"): "not_object",
        (T.topic("position", "1234"), b'{"v":1}'): "missing_field",
        (T.topic("position", "1234"), _pos().replace(b'"lat":1.0', b'"lat":"1"')): "wrong_type",
        (T.topic("position", "1234"), b" " * 70_000): "too_large",
        (T.topic("position", "9999"), _pos("1234")): "id_mismatch",
        ("kassel/v1/bus/1234/teleport", _pos()): "unknown_topic",
        (T.topic("spat", "ks-1"), b"{}"): "unknown_topic",  # the live path handles SPaT
    }
    for (topic, payload), reason in cases.items():
        out = it.accept(topic, payload, 0)
        assert isinstance(out, Rejected) and out.reason == reason, (topic, out)
    assert it.rejected[("position", "missing_field")] == 1
    assert sum(it.rejected.values()) == len(cases)


def _srem(vid: str, rid: str = "r1", iid: str = "ks-1") -> bytes:
    return encode(Srem(ts=5, request_id=rid, vehicle_id=vid, intersection_id=iid,
                       type="request", sg="K1", eta=9, role="transit", route_id=None))


def test_srem_must_come_from_the_vehicle_it_names() -> None:
    it = Intake(T)
    row = it.accept(T.topic("srem", "ks-1", "1234"), _srem("1234"), 0)
    assert isinstance(row, Row) and row.values["device_id"] == "ks-1"
    assert row.values["key"] == "5:request:1234:r1"
    # another vehicle's request with the same id is its own event, not a duplicate
    assert isinstance(it.accept(T.topic("srem", "ks-1", "77"), _srem("77"), 0), Row)
    for topic, payload in ((T.topic("srem", "ks-1", "666"), _srem("1234")),
                           (T.topic("srem", "ks-2", "1234"), _srem("1234"))):
        out = it.accept(topic, payload, 0)
        assert isinstance(out, Rejected) and out.reason == "id_mismatch", out
    out = it.accept("kassel/v1/signal/ks-1/srem", _srem("1234"), 0)  # no sender: not ours
    assert isinstance(out, Rejected) and out.reason == "unknown_topic"


def test_redelivery_is_dropped_in_memory() -> None:
    it = Intake(T)
    assert isinstance(it.accept(T.topic("position", "1234"), _pos(seq=7), 0), Row)
    assert it.accept(T.topic("position", "1234"), _pos(seq=7), 0) is None
    assert it.duplicates == 1 and it.accepted == 1


def _status(device: str, bdseq: int, ts: int, state: str = "online") -> bytes:
    return encode(Status(ts=ts, device_id=device, kind="bus", state=state,  # type: ignore[arg-type]
                         bdseq=bdseq, sw="1"))


def _dated(seq: int, ts: int, historical: bool = False) -> bytes:
    return encode(Position(ts=ts, seq=seq, vehicle_id="1234", lat=1.0, lon=2.0, bearing=0.0,
                           speed_mps=0.0, route_id=None, trip_id=None, stop_id=None,
                           stop_status="IN_TRANSIT_TO", historical=historical))


def test_live_messages_before_the_birth_are_refused_replays_are_taken() -> None:
    """Issue 13, the birth rule: ts >= the birth of the device's connection unless historical."""
    it = Intake(T, entity_device={"1234": "bus-1234"})
    pos = T.topic("position", "1234")
    assert isinstance(it.accept(pos, _dated(1, 100), 1_000), Row)  # no birth seen yet
    assert isinstance(it.accept(T.topic("status", "bus-1234"), _status("bus-1234", 2, 500),
                                1_000), Row)
    out = it.accept(pos, _dated(2, 499), 1_000)
    assert isinstance(out, Rejected) and out.reason == "before_birth"
    assert isinstance(it.accept(pos, _dated(3, 499, historical=True), 1_000), Row)
    assert isinstance(it.accept(pos, _dated(4, 500), 1_000), Row)
    # the Last Will (same bdseq) and an older birth do not move the birth
    it.accept(T.topic("status", "bus-1234"), _status("bus-1234", 2, 600, "offline"), 1_000)
    it.accept(T.topic("status", "bus-1234"), _status("bus-1234", 1, 900), 1_000)
    assert it.births["bus-1234"] == (2, 500)
    assert it.rejected[("position", "before_birth")] == 1


def test_future_ts_and_nan_are_counted() -> None:
    it = Intake(T)
    pos = T.topic("position", "1234")
    out = it.accept(pos, _dated(1, 10**12), 10**12 - 200_000)
    assert isinstance(out, Rejected) and out.reason == "future_ts"
    out = it.accept(pos, _dated(2, 5)[:-1] + b',"x":NaN}', 10)
    assert isinstance(out, Rejected) and out.reason == "not_json"
