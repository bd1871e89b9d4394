"""MAPEM: an intersection config's lane geometry to UPER bytes and back with the production
codec, the independent decoder on every message, the shipped configs, and bad input
(docs/c-its.md, "MAPEM")."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.configs import IntersectionConfig, load_config
from edge_agent.contract.etsi.errors import ItsEncodeError, ItsMessageError
from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.etsi.mapem import (
    LANE_TYPE_OF_KIND,
    MANEUVER_BIT,
    MAX_MAPEM_BYTES,
    SHARING_OF_MODE,
    Mapem,
    ascii_name,
    decode_mapem,
    encode_mapem,
    mapem_value,
)
from edge_agent.contract.lane_geometry import approach_numbers, position_of, to_cm
from signal_controller.app import map_fields
from testbed import etsi_asn1
from tests.unit.etsi.mapem_strategies import mapem_configs

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "firmware_configs" / "intersections").glob("*.yaml"))
_DIRECTION = {"ingress": {"ingressPath"}, "egress": {"egressPath"},
              "both": {"ingressPath", "egressPath"}}


def check_round_trip(config: IntersectionConfig, revision: int, msg: Mapem) -> None:
    """The decoded MAPEM says what the config says (positions to the centimetre)."""
    its, geometry = config.its, config.geometry
    assert its is not None and geometry is not None
    assert (msg.header.protocol_version, msg.header.message_id) == (2, 5)
    assert msg.header.station_id == its.station_id
    assert msg.revision == revision % 128 and msg.layer_type == "intersectionData"
    (ix,) = msg.intersections
    assert (ix.region, ix.intersection_id, ix.revision) == (its.region, its.intersection_id,
                                                             revision % 128)
    assert ix.name == ascii_name(config.name)
    assert abs(ix.lat / 1e7 - config.location.lat) <= 0.5e-7
    assert abs(ix.lon / 1e7 - config.location.lon) <= 0.5e-7
    elevation = None if geometry.elevation_m is None else round(geometry.elevation_m * 10)
    assert ix.elevation == elevation
    width = None if geometry.lane_width_m is None else to_cm(geometry.lane_width_m)
    assert ix.lane_width == width
    approaches = approach_numbers((g.approach for g in config.signal_groups), geometry.lanes)
    buttons = {d.sg for d in config.detectors if d.kind == "button"}
    assert [lane.lane_id for lane in ix.lanes] == [lane.lane_id for lane in geometry.lanes]
    for lane, got in zip(geometry.lanes, ix.lanes, strict=True):
        number = approaches[lane.approach]
        assert got.ingress_approach == (None if lane.direction == "egress" else number)
        assert got.egress_approach == (None if lane.direction == "ingress" else number)
        assert got.directional_use == _DIRECTION[lane.direction]
        choice, bits, shared = LANE_TYPE_OF_KIND[lane.kind]
        assert got.shared_with == {*shared, *(SHARING_OF_MODE[m] for m in lane.shared_with)}
        push = lane.kind == "crosswalk" and any(c.sg in buttons for c in lane.connections)
        assert (got.lane_type, got.lane_type_bits) == (
            choice, {*bits, *(("hasPushToWalkButton",) if push else ())})
        allowed = {MANEUVER_BIT[m] for m in lane.allowed_maneuvers()}
        assert got.maneuvers == (allowed or None)
        assert ix.offsets_cm(got) == lane.offsets_cm()
        assert got.computed_from is None
        d_width = (None if lane.width_m is None or width is None
                   else to_cm(lane.width_m) - width)
        assert abs((got.nodes[0].d_width or 0) - (d_width or 0)) <= 1
        assert all(n.d_width is None for n in got.nodes[1:])
        assert [(c.lane, c.maneuver, c.signal_group) for c in got.connections] == [
            (c.lane, {MANEUVER_BIT[c.maneuver]}, config.group(c.sg).its_sg)
            for c in lane.connections]


@settings(max_examples=120, deadline=None)
@given(config=mapem_configs(), revision=st.integers(0, 10**6))
def test_encode_then_decode_gives_the_configs_lanes(config: IntersectionConfig,
                                                     revision: int) -> None:
    data = encode_mapem(config, revision)
    msg = decode_mapem(data)
    check_round_trip(config, revision, msg)
    # and every node lies where the config put it, to the centimetre on the ground
    (ix,) = msg.intersections
    ref = (ix.lat / 1e7, ix.lon / 1e7)
    assert config.geometry is not None
    for lane, got in zip(config.geometry.lanes, ix.lanes, strict=True):
        for (x, y), (gx, gy) in zip(lane.offsets_cm(), ix.offsets_cm(got), strict=True):
            here = position_of(x / 100, y / 100, config.location.lat, config.location.lon)
            there = position_of(gx / 100, gy / 100, *ref)
            assert abs(here[0] - there[0]) < 1e-6 and abs(here[1] - there[1]) < 1e-6


def _asn1tools_form(value: Any) -> Any:
    """Our value notation as asn1tools writes it: BIT STRINGs as left-aligned bytes."""
    if isinstance(value, dict):
        return {k: _asn1tools_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_asn1tools_form(v) for v in value]
    if isinstance(value, tuple) and isinstance(value[0], int):
        bits, size = value
        octets = (size + 7) // 8
        return ((bits << (octets * 8 - size)).to_bytes(octets, "big"), size)
    if isinstance(value, tuple):
        return (value[0], _asn1tools_form(value[1]))
    return value


@settings(max_examples=80, deadline=None)
@given(config=mapem_configs(), revision=st.integers(0, 127))
def test_asn1tools_reads_every_field_we_write(config: IntersectionConfig,
                                              revision: int) -> None:
    data = encode_mapem(config, revision)
    other = etsi_asn1.decode(MessageId.MAPEM, data)
    assert other == _asn1tools_form(mapem_value(config, revision))
    # field by field where it matters to a vehicle
    assert config.its is not None and config.geometry is not None
    assert other["header"] == {"protocolVersion": 2, "messageID": 5,
                               "stationID": config.its.station_id}
    (ix,) = other["map"]["intersections"]
    for lane, got in zip(config.geometry.lanes, ix["laneSet"], strict=True):
        assert got["laneID"] == lane.lane_id
        assert [c["signalGroup"] for c in got.get("connectsTo", [])] == [
            config.group(c.sg).its_sg for c in lane.connections]
        assert len(got["nodeList"][1]) == len(lane.nodes)
    # UPER has one encoding of a value: asn1tools writes the same bytes
    assert etsi_asn1.encode(MessageId.MAPEM, other) == data


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_config_gives_a_mapem_that_agrees_with_its_json_map(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config, IntersectionConfig) and config.geometry is not None
    revision = 130  # the controller's map revision: the JSON map carries it, the MAPEM mod 128
    json_map = map_fields(config, revision)
    data = encode_mapem(config, json_map.revision)
    assert len(data) < 1024  # fits one ITS-G5 frame with room for the security envelope
    msg = decode_mapem(data)
    check_round_trip(config, revision, msg)
    other = etsi_asn1.decode(MessageId.MAPEM, data)
    assert other["map"]["msgIssueRevision"] == json_map.revision % 128 == 2
    (ix,) = other["map"]["intersections"]
    its_sg = {g.sg: config.group(g.sg).its_sg for g in json_map.groups}
    sent = {c["signalGroup"] for lane in ix["laneSet"] for c in lane.get("connectsTo", [])}
    assert sent == set(its_sg.values())  # every group of the JSON map, and no other
    # each group's connections leave lanes of its approach, of a lane kind fit for it
    number = approach_numbers((g.approach for g in config.signal_groups),
                              config.geometry.lanes)
    by_its = {v: k for k, v in its_sg.items()}
    kinds = {g.sg: g for g in json_map.groups}
    for lane in ix["laneSet"]:
        for c in lane.get("connectsTo", []):
            group = kinds[by_its[c["signalGroup"]]]
            assert lane["ingressApproach"] == number[group.approach]
            lane_type = lane["laneAttributes"]["laneType"][0]
            assert (lane_type == "crosswalk") == (group.kind == "pedestrian")
            assert (lane_type == "trackedVehicle") == (group.kind == "tram")


def test_the_shipped_tram_junction_in_detail() -> None:
    config = load_config(ROOT / "firmware_configs" / "intersections" / "ks-0107.yaml")
    assert isinstance(config, IntersectionConfig)
    (ix,) = decode_mapem(encode_mapem(config, 1)).intersections
    assert ix.name == "Wilhelmshoeher Allee / Kunoldstrasse"
    assert (ix.lat, ix.lon, ix.elevation, ix.lane_width) == (513147000, 94621000, 1960, 325)
    tracks = [lane for lane in ix.lanes if lane.lane_type == "trackedVehicle"]
    assert len(tracks) == 4
    assert all(t.lane_type_bits == {"spec-lightRailRoadTrack"} for t in tracks)
    t1 = next(t for t in tracks if t.connections and t.connections[0].signal_group == 5)
    (into,) = t1.connections
    assert ix.lane(into.lane).lane_type == "trackedVehicle"
    assert ix.lane(into.lane).egress_approach == 2  # T1 eastbound leaves by the E arm
    crosswalks = [lane for lane in ix.lanes if lane.lane_type == "crosswalk"]
    assert {c.connections[0].signal_group for c in crosswalks} == {7, 8}
    # F2 has a push button (detector P2), F1 none
    f2 = next(c for c in crosswalks if c.connections[0].signal_group == 8)
    assert "hasPushToWalkButton" in f2.lane_type_bits
    assert f2.nodes[0].d_width == 75  # 4 m against the 3.25 m default


def _config(**changes: object) -> IntersectionConfig:
    config = load_config(ROOT / "firmware_configs" / "intersections" / "ks-0210.yaml")
    assert isinstance(config, IntersectionConfig)
    return config.model_copy(update=changes)


def test_without_geometry_or_identity_no_mapem() -> None:
    with pytest.raises(ItsEncodeError, match="no geometry section"):
        encode_mapem(_config(geometry=None), 1)
    with pytest.raises(ItsEncodeError, match="no its section"):
        encode_mapem(_config(its=None), 1)


def test_names_become_ascii() -> None:
    assert ascii_name("Holländischer Platz") == "Hollaendischer Platz"
    assert ascii_name("Straße ÄÖÜ é") == "Strasse AeOeUe e"
    assert ascii_name("—") is None
    assert ascii_name("x" * 80) == "x" * 63


# --- bad input ---------------------------------------------------------------------------


def _reason(data: bytes) -> str:
    with pytest.raises(ItsMessageError) as info:
        decode_mapem(data)
    return info.value.reason


def test_header_size_and_trailing_bytes_are_refused_with_a_reason() -> None:
    good = encode_mapem(_config(), 1)
    assert decode_mapem(good).intersections[0].intersection_id == 210
    assert _reason(b"") == "empty"
    assert _reason(good + b"\x00") == "trailing_bytes"
    assert _reason(b"\x02\x04" + good[2:]) == "wrong_message_id"
    assert _reason(b"\x01" + good[1:]) == "wrong_protocol_version"
    assert _reason(good[:20]) == "malformed"
    assert _reason(b"\x02\x05" + bytes(MAX_MAPEM_BYTES)) == "too_large"


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | st.binary(max_size=400).map(lambda b: b"\x02\x05" + b))
def test_random_bytes_raise_only_our_error(data: bytes) -> None:
    with contextlib.suppress(ItsMessageError):
        decode_mapem(data)


@settings(max_examples=60, deadline=None)
@given(config=mapem_configs(), cut=st.integers(0, 10**6), flip=st.integers(0, 10**6))
def test_truncated_and_damaged_messages_raise_only_our_error(
        config: IntersectionConfig, cut: int, flip: int) -> None:
    data = encode_mapem(config, 1)
    with pytest.raises(ItsMessageError):
        decode_mapem(data[:cut % len(data)])
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 1 << (flip % 8)
    with contextlib.suppress(ItsMessageError):
        decode_mapem(bytes(damaged))
