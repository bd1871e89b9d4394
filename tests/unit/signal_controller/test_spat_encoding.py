"""The SPaT fast path on a running controller: every tick's bytes equal the contract model's
encoding (any valid input: tests/unit/edge_agent/test_spat_wire.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from edge_agent.contract.configs import IntersectionConfig, parse_config
from edge_agent.contract.etsi.spatem import ItsIntersection, encode_spatem, encode_tick_spatem
from edge_agent.contract.etsi.spatem_writer import SpatemWriter
from edge_agent.contract.payloads import Spat, encode
from edge_agent.contract.spat_wire import SpatEncoder, spat_fields
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.state import Inputs, Outputs
from tests.unit.signal_controller.scenarios import EPOCH

KS_0042 = Path(__file__).resolve().parents[3] / "firmware_configs/intersections/ks-0042.yaml"


def _ks_0042() -> IntersectionConfig:
    config = parse_config(yaml.safe_load(KS_0042.read_text(encoding="utf-8")), str(KS_0042))
    assert isinstance(config, IntersectionConfig)
    return config


def _run(config: IntersectionConfig, ticks: int, loops: tuple[str, ...], every: int,
         on_if: int) -> Iterator[tuple[int, Outputs]]:
    """``ticks`` ticks of a controller, a detector of ``loops`` changing every ``every``-th."""
    state = initial_state(config, EPOCH)
    now = EPOCH
    for i in range(ticks):
        now += 100
        ev = ((DetectorEvent(loops[i % len(loops)], i % (on_if * 2 + 1) < on_if),)
              if i % every == 0 else ())
        state, out = step(state, Inputs(detectors=ev), now)
        yield i, out


def _reference(out: Outputs, device: str, seq: int) -> bytes:
    return encode(Spat(seq=seq, **spat_fields(out, device)))  # type: ignore[arg-type]




def test_every_tick_of_a_controller_encodes_like_the_model() -> None:
    four_arm = _ks_0042()
    enc = SpatEncoder(four_arm.device_id)
    # 5 min: start-up, stages, gap-outs, fixed rows reused
    for i, out in _run(four_arm, 3000, ("D1", "D2", "D5", "P1"), 13, 3):
        assert enc.encode(out, i + 1) == _reference(out, four_arm.device_id, i + 1)


def test_the_spatem_of_a_tick_is_the_spatem_of_its_spat() -> None:
    """Issue 17: the controller encodes SPATEM straight from the tick's rows; the bytes equal
    those of the ``Spat`` the same tick publishes (its values: tests/unit/etsi)."""
    four_arm = _ks_0042()
    its = ItsIntersection.from_config(four_arm)
    writer = SpatemWriter(its)
    for i, out in _run(four_arm, 1500, ("D1", "D2", "D5", "P1"), 13, 3):
        fast = writer.encode(out, four_arm.device_id, 3)  # every tick: its caches in use
        if i % 10 == 0:
            spat = Spat(seq=i + 1, **spat_fields(out, four_arm.device_id))  # type: ignore[arg-type]
            tick = encode_tick_spatem(out, four_arm.device_id, its, 3)
            assert tick == encode_spatem(spat, its, 3)
            assert fast == tick, f"the fast writer differs at tick {i}"


def test_the_fast_writer_is_the_toolkit_on_every_tick_of_a_controller() -> None:
    """Issue 17: the controller sends the fast writer's bytes (spatem_writer.py); they equal
    the toolkit's on every tick of 2 min of ks-0042 (its caches, any input:
    tests/unit/etsi/test_spatem_writer.py)."""
    four_arm = _ks_0042()
    its = ItsIntersection.from_config(four_arm)
    writer = SpatemWriter(its)
    for i, out in _run(four_arm, 1200, ("D5", "D1", "P1", "D2"), 11, 2):
        assert writer.encode(out, four_arm.device_id, i // 300) == encode_tick_spatem(
            out, four_arm.device_id, its, i // 300), f"tick {i}"
