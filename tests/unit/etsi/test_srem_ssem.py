"""SREM and SSEM (issue 17): our JSON srem/ssem and the standard's UPER say the same thing,
a second PER implementation (asn1tools) reads what we write, and received bytes that are not
ours to trust give only our own errors."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.configs import IntersectionConfig, parse_config
from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.errors import ItsEncodeError, ItsMessageError
from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.etsi.srem import (
    MAX_SREM_BYTES,
    AccessPoint,
    SremTarget,
    decode_srem,
    encode_srem,
    group_of,
    request_number,
    srem_payloads,
    srem_target,
    srem_value,
    station_id_of,
)
from edge_agent.contract.etsi.ssem import MAX_SSEM_BYTES, decode_ssem, encode_ssem
from edge_agent.contract.payloads import RequestStatus, SremFields, SsemFields, SsemRequest
from edge_agent.errors import PayloadError
from testbed import etsi_asn1

CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs" / "intersections"
T = 1_750_000_000_000
STATUSES: tuple[RequestStatus, ...] = (
    "requested", "processing", "watchOtherTraffic", "granted", "rejected", "maxPresence",
    "reserviceLocked")


def _config(name: str = "ks-0042.yaml") -> IntersectionConfig:
    cfg = parse_config(yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8")), name)
    assert isinstance(cfg, IntersectionConfig)
    return cfg


CFG = _config()
GROUPS = tuple(g.sg for g in CFG.signal_groups if g.kind != "pedestrian")
ids = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)


@st.composite
def srems(draw: st.DrawFn) -> tuple[SremFields, int]:
    now = draw(st.integers(T - 10**11, T + 10**11)) // 1000 * 1000 + draw(st.integers(0, 999))
    fields = SremFields(
        request_id=str(draw(st.integers(0, 255))), vehicle_id=draw(ids),
        intersection_id=CFG.device_id, type=draw(st.sampled_from(("request", "update", "cancel"))),
        sg=draw(st.sampled_from(GROUPS)), eta=now + draw(st.integers(0, 600_000)),
        role=draw(st.sampled_from(("transit", "emergency"))),
        route_id=draw(st.none() | st.from_regex(r"[A-Za-z0-9 ]{1,63}", fullmatch=True)),
        delay_s=draw(st.none() | st.integers(-1210, 1210).map(lambda d: d // 10 * 10)),
    )
    return fields, now


@settings(max_examples=120, deadline=None)
@given(case=srems(), sequence=st.integers(0, 10_000))
def test_a_srem_means_in_uper_what_it_means_in_json(case: tuple[SremFields, int],
                                                    sequence: int) -> None:
    fields, now = case
    data = encode_srem(fields, srem_target(CFG, fields.sg), now_ms=now, sequence=sequence)
    msg = decode_srem(data)
    assert msg.header.station_id == station_id_of(fields.vehicle_id)
    assert msg.sequence == sequence % 128
    (back,) = srem_payloads(msg, CFG, fields.vehicle_id, now + 300)
    assert back.ts == now
    assert back.model_dump(exclude={"v", "historical", "ts"}) == fields.model_dump()
    # the independent decoder reads the same fields
    other = etsi_asn1.decode(MessageId.SREM, data)
    assert other == srem_value(fields, srem_target(CFG, fields.sg), now_ms=now,
                               sequence=sequence)


def test_the_lane_a_group_is_sent_as_and_read_back() -> None:
    target = srem_target(CFG, "K1")
    assert target == SremTarget(None, 42, AccessPoint("lane", 2), AccessPoint("lane", 11))
    assert group_of(CFG, AccessPoint("lane", 3), None) == "K1"  # the other K1 lane
    for inbound, outbound, reason in (
        (AccessPoint("lane", 99), None, "unknown_lane"),
        (AccessPoint("lane", 4), None, "unknown_lane"),  # an egress lane
        (AccessPoint("lane", 2), AccessPoint("lane", 12), "unknown_lane"),  # no such movement
        (AccessPoint("connection", 1), None, "unknown_lane"),
    ):
        with pytest.raises(ItsMessageError) as info:
            group_of(CFG, inbound, outbound)
        assert info.value.reason == reason
    # an approach means its one priority group
    assert group_of(CFG, AccessPoint("approach", 1), None) == "K1"
    assert group_of(CFG, AccessPoint("approach", 2), None) == "K2"  # E: K2 (F2 walks)
    with pytest.raises(ItsMessageError) as info:
        group_of(CFG, AccessPoint("approach", 9), None)
    assert info.value.reason == "unknown_lane"


def test_what_a_srem_cannot_mean_here_is_refused_with_a_reason() -> None:
    fields = SremFields(request_id="7", vehicle_id="bus-1", intersection_id=CFG.device_id,
                        type="request", sg="K1", eta=T + 20_000, role="transit",
                        route_id=None, delay_s=None)
    other = SremTarget(None, 43, AccessPoint("lane", 2), AccessPoint("lane", 11))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"target": other}, "wrong_intersection"),
        ({"target": SremTarget(7, 42, AccessPoint("lane", 2), None)}, "wrong_intersection"),
        ({"target": SremTarget(None, 42, AccessPoint("lane", 77), None)}, "unknown_lane"),
    ]
    for change, reason in cases:
        data = encode_srem(fields, change["target"], now_ms=T, sequence=1)
        with pytest.raises(ItsMessageError) as info:
            srem_payloads(decode_srem(data), CFG, "bus-1", T)
        assert info.value.reason == reason
    value = srem_value(fields, srem_target(CFG, "K1"), now_ms=T, sequence=1)
    value["srm"]["requests"][0]["request"]["requestType"] = "priorityRequestTypeReserved"
    with pytest.raises(ItsMessageError) as info:
        srem_payloads(decode_srem(uper.encode(MessageId.SREM, value)), CFG, "bus-1", T)
    assert info.value.reason == "unknown_request"
    value = srem_value(fields, srem_target(CFG, "K1"), now_ms=T, sequence=1)
    value["srm"]["requestor"]["type"]["role"] = "truck"
    with pytest.raises(ItsMessageError) as info:
        srem_payloads(decode_srem(uper.encode(MessageId.SREM, value)), CFG, "bus-1", T)
    assert info.value.reason == "unknown_request"
    # sent ten minutes "ahead" of the controller's clock: refused like a JSON payload would be
    ahead = encode_srem(fields, srem_target(CFG, "K1"), now_ms=T + 600_000, sequence=1)
    with pytest.raises(ItsMessageError) as info:
        srem_payloads(decode_srem(ahead), CFG, "bus-1", T)
    assert info.value.reason == "future_ts"
    # a clock 2 minutes ahead is still taken (the JSON path's bound is 3 minutes)
    (taken,) = srem_payloads(decode_srem(encode_srem(fields, srem_target(CFG, "K1"),
                                                     now_ms=T + 120_000, sequence=1)),
                             CFG, "bus-1", T)
    assert taken.ts == T + 120_000


def test_only_decimal_request_ids_up_to_255_are_sent() -> None:
    assert request_number("0") == 0 and request_number("255") == 255
    for bad in ("256", "007", "-1", "bus-1-ks-0042-K1-1", "", "١"):
        with pytest.raises(ItsEncodeError):
            request_number(bad)


@st.composite
def ssems(draw: st.DrawFn) -> SsemFields:
    n = draw(st.integers(1, 70))
    reqs = [SsemRequest(request_id=draw(st.integers(0, 255).map(str) | ids),
                        vehicle_id=draw(ids), sg=draw(st.sampled_from(GROUPS)),
                        status=draw(st.sampled_from(STATUSES))) for _ in range(n)]
    return SsemFields(intersection_id=CFG.device_id, requests=reqs)


@settings(max_examples=60, deadline=None)
@given(ssem=ssems(), now=st.integers(T - 10**11, T + 10**11), sequence=st.integers(0, 999))
def test_every_status_of_a_json_ssem_is_in_its_uper_twin(ssem: SsemFields, now: int,
                                                         sequence: int) -> None:
    data = encode_ssem(ssem, CFG, now_ms=now, sequence=sequence)
    msg = decode_ssem(data)
    assert msg.header.station_id == 561000042 and msg.sequence == sequence % 128
    assert all(s.intersection_id == 42 and len(s.entries) <= 32 for s in msg.statuses)
    entries = msg.entries()
    assert [e.status for e in entries] == [r.status for r in ssem.requests]
    assert [e.station_id for e in entries] == [station_id_of(r.vehicle_id)
                                               for r in ssem.requests]
    for e, r in zip(entries, ssem.requests, strict=True):
        if r.request_id.isdigit() and str(int(r.request_id)) == r.request_id \
                and int(r.request_id) < 256:
            assert e.request_id == int(r.request_id)
        assert group_of(CFG, e.inbound, e.outbound) == r.sg
    other = etsi_asn1.decode(MessageId.SSEM, data)
    assert [p["status"] for s in other["ssm"]["status"] for p in s["sigStatus"]] == [
        r.status for r in ssem.requests]


def test_an_ssem_echoes_the_lane_and_sequence_of_the_srem_and_needs_a_request() -> None:
    ssem = SsemFields(intersection_id=CFG.device_id, requests=[
        SsemRequest(request_id="9", vehicle_id="bus-1", sg="K1", status="granted")])
    seen = {("bus-1", "9"): (77, AccessPoint("lane", 3), None)}
    (entry,) = decode_ssem(encode_ssem(ssem, CFG, now_ms=T, sequence=1, seen=seen)).entries()
    assert (entry.sequence, entry.inbound, entry.outbound) == (77, AccessPoint("lane", 3), None)
    with pytest.raises(ItsEncodeError):
        encode_ssem(SsemFields(intersection_id=CFG.device_id, requests=[]), CFG, now_ms=T,
                    sequence=1)


def _only_ours(decode: Any, data: bytes) -> None:
    with contextlib.suppress(ItsMessageError):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_give_only_our_error(data: bytes) -> None:
    for decode in (decode_srem, decode_ssem):
        _only_ours(decode, data)
        _only_ours(decode, b"\x02" + bytes([9 if decode is decode_srem else 10]) + data)


@settings(max_examples=40, deadline=None)
@given(case=srems())
def test_every_truncation_and_bit_flip_gives_only_our_error(case: tuple[SremFields, int]) -> None:
    fields, now = case
    data = encode_srem(fields, srem_target(CFG, fields.sg), now_ms=now, sequence=3)
    for cut in range(len(data)):
        with pytest.raises(ItsMessageError):
            decode_srem(data[:cut])
    for i in range(2, len(data)):
        flipped = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
        # ItsMessageError is a PayloadError: counted, never a crash
        with contextlib.suppress(PayloadError):
            srem_payloads(decode_srem(flipped), CFG, fields.vehicle_id, now)


def test_size_bounds_and_wrong_message_ids() -> None:
    for decode, bound, mid in ((decode_srem, MAX_SREM_BYTES, 9), (decode_ssem, MAX_SSEM_BYTES, 10)):
        with pytest.raises(ItsMessageError) as info:
            decode(bytes([2, mid]) + bytes(bound))
        assert info.value.reason == "too_large"
        with pytest.raises(ItsMessageError) as info:
            decode(bytes([2, 4, 0, 0]))
        assert info.value.reason == "wrong_message_id"
