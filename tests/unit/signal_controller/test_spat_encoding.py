"""The SPaT fast path: bytes built from the domain's rows equal the contract model's encoding."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.configs import IntersectionConfig, parse_config
from edge_agent.contract.payloads import MovementPhaseState, Spat, decode, encode
from signal_controller.app import SpatEncoder, spat_fields
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.state import GroupTiming, Inputs, Outputs
from tests.unit.signal_controller.scenarios import EPOCH

KS_0042 = Path(__file__).resolve().parents[3] / "firmware_configs/intersections/ks-0042.yaml"
STATES: list[MovementPhaseState] = [
    "dark", "stop-And-Remain", "pre-Movement", "protected-Movement-Allowed",
    "permissive-Movement-Allowed", "protected-clearance", "permissive-clearance",
    "caution-Conflicting-Traffic",
]
ts = st.integers(0, 2**62)
maybe_ts = st.none() | ts
rows = st.builds(
    GroupTiming,
    sg=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
    lamp=st.just(Lamp.RED),
    state=st.sampled_from(STATES),
    min_end=maybe_ts, max_end=maybe_ts, likely_end=maybe_ts,
    confidence=st.integers(0, 100),
)


def _reference(out: Outputs, device: str, seq: int) -> bytes:
    return encode(Spat(seq=seq, **spat_fields(out, device)))  # type: ignore[arg-type]


@settings(max_examples=300)
@given(
    groups=st.lists(rows, max_size=12).map(tuple),
    now=ts,
    seq=st.integers(0, 2**63 - 2),  # the contract bounds seq below 2**63
    revision=st.integers(0, 2**40),
    status=st.sampled_from(["operational", "fixed_time", "flashing"]),
    device=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
)
def test_encoded_spat_is_byte_identical_to_the_contract_model(
    groups: tuple[GroupTiming, ...], now: int, seq: int, revision: int, status: str, device: str
) -> None:
    out = Outputs(now, status, revision, {}, groups, (), None, None)  # type: ignore[arg-type]
    enc = SpatEncoder(device)
    payload = enc.encode(out, seq)
    assert payload == _reference(out, device, seq)
    assert decode(Spat, payload).seq == seq
    assert enc.encode(out, seq + 1) == _reference(out, device, seq + 1)  # cached groups


def test_every_tick_of_a_controller_encodes_like_the_model() -> None:
    four_arm = parse_config(yaml.safe_load(KS_0042.read_text(encoding="utf-8")), str(KS_0042))
    assert isinstance(four_arm, IntersectionConfig)
    enc = SpatEncoder(four_arm.device_id)
    state = initial_state(four_arm, EPOCH)
    now = EPOCH
    for i in range(3000):  # 5 min: start-up, stages, gap-outs, fixed rows reused
        now += 100
        ev = (DetectorEvent(("D1", "D2", "D5", "P1")[i % 4], i % 7 < 3),) if i % 13 == 0 else ()
        state, out = step(state, Inputs(detectors=ev), now)
        assert enc.encode(out, i + 1) == _reference(out, four_arm.device_id, i + 1)
