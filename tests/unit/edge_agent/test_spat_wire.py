"""The contract's SPaT fast path: its bytes equal the pydantic model's encoding for any valid
tick, with the groups array reused while the rows object is the same."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.payloads import MovementPhaseState, SignalStatus, Spat, decode, encode
from edge_agent.contract.spat_wire import SpatEncoder, spat_fields
from tests.support.spat_rows import Row, Tick

STATES: list[MovementPhaseState] = [
    "dark", "stop-And-Remain", "pre-Movement", "protected-Movement-Allowed",
    "permissive-Movement-Allowed", "protected-clearance", "permissive-clearance",
    "caution-Conflicting-Traffic",
]


ts = st.integers(0, 2**62)
maybe_ts = st.none() | ts
ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
rows = st.builds(Row, sg=ids, state=st.sampled_from(STATES), min_end=maybe_ts,
                 max_end=maybe_ts, likely_end=maybe_ts, confidence=st.integers(0, 100))


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
)
def test_encoded_spat_is_byte_identical_to_the_contract_model(
    groups: tuple[Row, ...], now: int, seq: int, revision: int, status: SignalStatus,
    device: str,
) -> None:
    tick = Tick(now, revision, status, groups)
    enc = SpatEncoder(device)
    payload = enc.encode(tick, seq)
    assert payload == _reference(tick, device, seq)
    assert decode(Spat, payload).seq == seq
    assert enc.encode(tick, seq + 1) == _reference(tick, device, seq + 1)  # cached groups


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
