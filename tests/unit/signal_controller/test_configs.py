"""The shipped configs agree with their geometry (RiLSA-style intergreens) and validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from signal_controller import configgen
from signal_controller.domain.rilsa import Movement, intergreen

CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs" / "intersections"


def test_files_agree_with_the_generator() -> None:
    assert configgen.main(["--out", str(CONFIGS)]) == 0


def test_generator_writes_what_it_checks(tmp_path: Path) -> None:
    assert configgen.main(["--write", "--out", str(tmp_path)]) == 0
    assert configgen.main(["--out", str(tmp_path)]) == 0
    (tmp_path / "ks-0042.yaml").write_text("tampered", encoding="utf-8")
    assert configgen.main(["--out", str(tmp_path)]) == 1


@pytest.mark.parametrize(
    ("clearing", "entering", "seconds"),
    [
        # car straight: 3 s + (14 + 6) m / 10 m/s - 12 m / 11.1 m/s = 3.92 -> 4 s
        (Movement("vehicle", 14, amber_s=3), Movement("vehicle", 12), 4),
        # turning car clears slower: 3 + (17 + 6)/7 - 10/11.1 = 5.39 -> 6
        (Movement("vehicle", 17, turning=True, amber_s=3), Movement("vehicle", 10), 6),
        # pedestrian: 0 + 10 / 1.2 - 2 / 11.1 = 8.15 -> 9
        (Movement("pedestrian", 10), Movement("vehicle", 2), 9),
        # tram: 3 + (24 + 15) / 7 - 12 / 1.5 = 0.57 -> 1
        (Movement("tram", 24, amber_s=3), Movement("pedestrian", 12), 1),
        # never negative
        (Movement("vehicle", 2, amber_s=3), Movement("pedestrian", 20), 0),
    ],
)
def test_rilsa_formula(clearing: Movement, entering: Movement, seconds: int) -> None:
    assert intergreen(clearing, entering).seconds == seconds


def test_every_conflict_is_listed_both_ways_with_computed_values() -> None:
    for spec in configgen.SPECS:
        data = configgen.build(spec)
        ig = data["intergreen_s"]
        assert isinstance(ig, dict)
        for c in spec.conflicts:
            assert c.b in ig[c.a] and c.a in ig[c.b]
        kinds = {g.kind for g in spec.groups}
        assert "vehicle" in kinds
    four_arm, tee, ped = configgen.SPECS
    assert sum(g.kind == "pedestrian" for g in four_arm.groups) == 4
    assert any(g.turning for g in four_arm.groups)
    assert any(g.kind == "tram" for g in tee.groups)
    assert [g.kind for g in ped.groups].count("pedestrian") == 1
