"""The hub's C-ITS intake (issue 17): latest bytes per intersection, refusals with the codec's
reasons, one full SPATEM decode per intersection and interval, and the agreement with SPaT."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from central_hub.domain.etsi_feed import EtsiFeed, jer_text, spatem_difference
from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.errors import ItsMessageError
from edge_agent.contract.etsi.header import MessageId, header_for
from edge_agent.contract.etsi.spatem import ItsIntersection, decode_spatem, encode_spatem
from edge_agent.contract.payloads import Spat, SpatGroup
from tests.unit.etsi.strategies import spat_and_its

T = 1_750_000_000_000
ITS = ItsIntersection(561000042, 42, None, {"K1": 1, "K2": 2})


def _spat(ts: int = T, state: str = "protected-Movement-Allowed") -> Spat:
    return Spat(ts=ts, seq=1, intersection_id="ks-0042", revision=1, status="operational",
                groups=[SpatGroup(sg="K1", state=state, min_end=ts + 1000,  # type: ignore[arg-type]
                                  max_end=ts + 5000, likely_end=ts + 3000, confidence=80),
                        SpatGroup(sg="K2", state="stop-And-Remain", min_end=None, max_end=None,
                                  likely_end=None, confidence=0)])


def _mapem() -> bytes:
    return uper.encode(MessageId.MAPEM, {"header": header_for(MessageId.MAPEM, 1).as_value(),
                                         "map": {"msgIssueRevision": 3}})


def test_a_spatem_is_kept_decoded_once_per_interval_and_agrees_with_its_spat() -> None:
    feed = EtsiFeed(decode_interval_ms=1000)
    first = encode_spatem(_spat(), ITS, 2)
    feed.accept("etsi_spatem", "ks-0042", first, T, spat=_spat(), map_revision=2)
    assert feed.latest("etsi_spatem", "ks-0042") == first
    assert (feed.decoded, feed.compared, feed.agrees("ks-0042")) == (1, 1, True)
    # within the interval: kept after the header check, not decoded (the bytes are not read)
    unread = first[:2] + b"\xff" * 5
    feed.accept("etsi_spatem", "ks-0042", unread, T + 100, spat=_spat(T + 100))
    assert feed.latest("etsi_spatem", "ks-0042") == unread and feed.decoded == 1
    # the next sample is decoded, and refused with the codec's reason: nothing is kept
    with pytest.raises(ItsMessageError) as info:
        feed.accept("etsi_spatem", "ks-0042", unread, T + 1000)
    assert info.value.reason == "malformed"
    assert feed.latest("etsi_spatem", "ks-0042") == unread
    # a refused sample uses up its slot: a stream of bad bytes costs one decode a second
    feed.accept("etsi_spatem", "ks-0042", unread, T + 1100)
    assert feed.decoded == 2
    assert feed.latest("etsi_spatem", "ks-9999") is None and feed.agrees("ks-9999") is None


@pytest.mark.parametrize(("payload", "reason"), [
    (b"", "empty"),
    (b"\x01\x04abc", "wrong_protocol_version"),
    (b"\x02\x05abc", "wrong_message_id"),  # a MAPEM on the SPATEM topic
    (b"\x02\x04" + b"\x00" * 9000, "too_large"),
])
def test_what_the_header_or_size_refuses_is_refused_between_samples_too(payload: bytes,
                                                                        reason: str) -> None:
    feed = EtsiFeed()
    feed.accept("etsi_spatem", "ks-0042", encode_spatem(_spat(), ITS), T)
    with pytest.raises(ItsMessageError) as info:
        feed.accept("etsi_spatem", "ks-0042", payload, T + 100)  # not a sample
    assert info.value.reason == reason


def test_a_spatem_that_says_something_else_disagrees_and_says_what() -> None:
    feed = EtsiFeed()
    other = encode_spatem(_spat(state="stop-And-Remain"), ITS)
    feed.accept("etsi_spatem", "ks-0042", other, T, spat=_spat())
    assert feed.agrees("ks-0042") is False
    assert feed.intersections["ks-0042"].difference == (
        "K1: state stop-And-Remain is not protected-Movement-Allowed")
    assert feed.disagreements["ks-0042"] == 1
    # a sample that does not meet the SPaT of its tick (one of them lost) decides nothing
    feed.accept("etsi_spatem", "ks-0042", encode_spatem(_spat(T + 1000), ITS), T + 1000,
                spat=_spat(T + 900))
    assert feed.agrees("ks-0042") is False and feed.compared == 1


def test_the_differences_it_finds() -> None:
    (state,) = decode_spatem(encode_spatem(_spat(), ITS, 5)).intersections
    assert spatem_difference(_spat(), state, 5) is None
    assert spatem_difference(_spat(), state, None) is None  # no MAP known: revision unchecked
    assert spatem_difference(_spat(), state, 6) == "revision 5 is not the MAP's 6"
    assert spatem_difference(_spat(T + 100), state, 5).startswith("moy/timeStamp")  # type: ignore[union-attr]
    fixed = _spat().model_copy(update={"status": "fixed_time"})
    assert "status bits" in (spatem_difference(fixed, state, 5) or "")
    later = _spat().model_copy(update={"groups": [
        _spat().groups[0].model_copy(update={"likely_end": T + 3200}), _spat().groups[1]]})
    assert (spatem_difference(later, state, 5) or "").startswith("K1: timing")


@settings(max_examples=60, deadline=None)
@given(case=spat_and_its())
def test_every_spatem_of_a_spat_agrees_with_it(case: tuple[Spat, ItsIntersection]) -> None:
    spat, its = case
    (state,) = decode_spatem(encode_spatem(spat, its, 9)).intersections
    assert spatem_difference(spat, state, 9) is None


def test_a_mapem_is_kept_after_its_header_check_and_reads_as_jer() -> None:
    feed = EtsiFeed()
    mapem = _mapem()
    feed.accept("etsi_mapem", "ks-0042", mapem, T)
    assert feed.latest("etsi_mapem", "ks-0042") == mapem
    assert feed.latest("etsi_spatem", "ks-0042") is None
    with pytest.raises(ItsMessageError) as info:
        feed.accept("etsi_mapem", "ks-0042", encode_spatem(_spat(), ITS), T)
    assert info.value.reason == "wrong_message_id"
    doc = json.loads(jer_text("etsi_mapem", mapem))
    assert doc["header"] == {"protocolVersion": 2, "messageID": 5, "stationID": 1}
    assert doc["map"]["msgIssueRevision"] == 3
    spatem = json.loads(jer_text("etsi_spatem", encode_spatem(_spat(), ITS)))
    assert spatem["spat"]["intersections"][0]["id"] == {"id": 42}
    with pytest.raises(ItsMessageError):
        jer_text("etsi_mapem", mapem[:2] + b"\xff")


def test_a_new_mapem_is_decoded_once_and_a_bad_one_refused_and_not_kept() -> None:
    feed = EtsiFeed()
    mapem = _mapem()
    feed.accept("etsi_mapem", "ks-0042", mapem, T)
    feed.accept("etsi_mapem", "ks-0042", mapem, T + 1)  # the same map again: not decoded
    assert feed.mapem_decoded == 1
    assert feed.intersections["ks-0042"].mapem_revision == 3
    for bad, reason in ((mapem + b"\x00", "trailing_bytes"),
                        (mapem[:3], "malformed"),
                        (b"\x02\x05" + bytes(17 * 1024), "too_large")):
        with pytest.raises(ItsMessageError) as info:
            feed.accept("etsi_mapem", "ks-0042", bad, T + 2)
        assert info.value.reason == reason
    assert feed.latest("etsi_mapem", "ks-0042") == mapem
