"""``kassel kita allocate`` on real files: results, explanations, the lottery, bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from central_hub.kita.csv_io import write_applications, write_kitas
from central_hub.kita.domain import first_round
from central_hub.kita.synthetic import kassel_instance
from edge_agent.cli import main

KASSEL = Path(sys.executable).parent / "kassel"

K_CSV = """kita_id,name,age_group,capacity,lat,lon,catchment_km
K1,Kita Sonnenschein,U3,1,51.3155,9.4975,1.0
K1,Kita Sonnenschein,Ü3,2,51.3155,9.4975,1.0
K2,Kita Regenbogen,Ü3,1,51.3300,9.5200,0.5
"""
A_HEADER = (
    "child_id,family_id,age_group,choice1,choice2,choice3,choice4,choice5,"
    "sibling_kita,hardship,lat,lon,lottery"
)
A_CSV = f"""{A_HEADER}
anna,f1,Ü3,K1,K2,,,,,false,51.3300,9.5200,1
ben,f2,Ü3,K1,,,,,K1,false,51.3300,9.5200,4
cem,f3,Ü3,K1,K2,,,,,true,51.3300,9.5200,3
dora,f4,Ü3,K2,K1,,,,,false,51.3300,9.5200,2
emil,f5,U3,K1,,,,,,false,51.3155,9.4975,5
"""


def write_inputs(folder: Path, kitas: str = K_CSV, apps: str = A_CSV) -> tuple[Path, Path]:
    k_path, a_path = folder / "K.csv", folder / "A.csv"
    k_path.write_text(kitas, encoding="utf-8")
    a_path.write_text(apps, encoding="utf-8")
    return k_path, a_path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def allocate(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(KASSEL),
            "kita",
            "allocate",
            "--kitas",
            str(folder / "K.csv"),
            "--applications",
            str(folder / "A.csv"),
            "--out",
            str(folder / "R.csv"),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_allocates_and_explains(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    done = allocate(tmp_path, "--explain", str(tmp_path / "E.csv"))
    assert done.returncode == 0, done.stderr
    assert "5 children, 4 placed" in done.stdout
    # K1 Ü3 (2 places): ben (sibling) and cem (hardship) beat anna; anna takes K2 from dora
    assert read_rows(tmp_path / "R.csv") == [
        {"child_id": "anna", "kita_id": "K2", "choice_rank": "2", "lottery": "1"},
        {"child_id": "ben", "kita_id": "K1", "choice_rank": "1", "lottery": "4"},
        {"child_id": "cem", "kita_id": "K1", "choice_rank": "1", "lottery": "3"},
        {"child_id": "dora", "kita_id": "", "choice_rank": "", "lottery": "2"},
        {"child_id": "emil", "kita_id": "K1", "choice_rank": "1", "lottery": "5"},
    ]
    explanations = read_rows(tmp_path / "E.csv")
    assert [(e["child_id"], e["choice_rank"], e["reason"]) for e in explanations] == [
        ("anna", "1", "higher_priority"),
        ("cem", "2", "placed_at_better_choice"),
        ("dora", "1", "higher_priority"),
        ("dora", "2", "higher_priority"),
    ]
    anna = explanations[0]
    assert (anna["sibling"], anna["hardship"], anna["in_catchment"], anna["lottery"]) == (
        "false",
        "false",
        "false",
        "1",
    )
    # the last child admitted to K1 (Ü3) is cem: a hardship case
    assert (anna["cutoff_sibling"], anna["cutoff_hardship"], anna["cutoff_lottery"]) == (
        "false",
        "true",
        "3",
    )


def test_bad_input_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = A_CSV.replace("dora,f4,Ü3,K2,K1", "dora,f4,Ü3,K2,K9").replace(
        "emil,f5,U3,K1,,,,,,false", "emil,f5,U3,K1,,,,,,nein"
    )
    _, a_path = write_inputs(tmp_path, apps=bad)
    (tmp_path / "R.csv").write_text("previous result\n", encoding="utf-8")
    done = allocate(tmp_path)
    assert done.returncode == 2
    assert f"{a_path}:6: hardship: expected true or false, got 'nein'" in done.stderr
    assert "nothing allocated" in done.stderr
    assert (tmp_path / "R.csv").read_text(encoding="utf-8") == "previous result\n"
    fixed = bad.replace(",nein,", ",false,")
    write_inputs(tmp_path, apps=fixed)
    done = allocate(tmp_path)
    assert done.returncode == 2
    assert f"{a_path}:5: choice2: unknown Kita 'K9'" in done.stderr


def test_negative_capacity_is_refused(tmp_path: Path) -> None:
    k_path, _ = write_inputs(tmp_path, kitas=K_CSV.replace("U3,1,", "U3,-1,"))
    done = allocate(tmp_path)
    assert done.returncode == 2
    assert f"{k_path}:2: capacity: must not be negative, got -1" in done.stderr
    assert not (tmp_path / "R.csv").exists()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    (tmp_path / "K.csv").unlink()
    done = allocate(tmp_path)
    assert done.returncode == 2
    assert f"{tmp_path / 'K.csv'}: file not found" in done.stderr


def test_lottery_drawn_from_the_seed_is_reproducible_and_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, *rows = A_CSV.splitlines()
    no_lottery = "\n".join(
        [header.removesuffix(",lottery")] + [row.rsplit(",", 1)[0] for row in rows]
    )
    k_path, a_path = write_inputs(tmp_path, apps=no_lottery + "\n")
    args = ["kita", "allocate", "--kitas", str(k_path), "--applications", str(a_path)]

    assert main([*args, "--out", str(tmp_path / "R.csv")]) == 2
    assert "lottery: column absent and no seed given" in capsys.readouterr().err

    assert main([*args, "--out", str(tmp_path / "R1.csv"), "--seed", "2024"]) == 0
    assert "lottery drawn with seed 2024" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "R2.csv"), "--seed", "2024"]) == 0
    first = read_rows(tmp_path / "R1.csv")
    assert sorted(int(r["lottery"]) for r in first) == [1, 2, 3, 4, 5]
    assert read_rows(tmp_path / "R2.csv") == first


def test_seed_is_ignored_when_the_file_has_a_lottery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    k_path, a_path = write_inputs(tmp_path)
    code = main(
        [
            "kita",
            "allocate",
            "--kitas",
            str(k_path),
            "--applications",
            str(a_path),
            "--out",
            str(tmp_path / "R.csv"),
            "--seed",
            "7",
        ]
    )
    assert code == 0
    assert "--seed ignored" in capsys.readouterr().err
    assert [r["lottery"] for r in read_rows(tmp_path / "R.csv")] == ["1", "4", "3", "2", "5"]


def test_only_verified_claims_count(tmp_path: Path) -> None:
    header = A_HEADER.replace(",lottery", ",sibling_verified,hardship_verified,home_verified,"
                              "lottery")
    # ben claims a sibling at K2 and hardship, and lives next to it — none of it verified;
    # anna's home is verified to be in K2's catchment: she wins despite the worse lottery
    write_inputs(tmp_path, apps=f"""{header}
anna,f1,Ü3,K2,,,,,,false,51.3300,9.5200,false,false,true,2
ben,f2,Ü3,K2,,,,,K2,true,51.3300,9.5200,false,false,false,1
""")
    done = allocate(tmp_path, "--explain", str(tmp_path / "E.csv"))
    assert done.returncode == 0, done.stderr
    assert "note" not in done.stderr
    assert [(r["child_id"], r["kita_id"]) for r in read_rows(tmp_path / "R.csv")] == [
        ("anna", "K2"), ("ben", "")]
    (ben,) = read_rows(tmp_path / "E.csv")
    assert (ben["sibling"], ben["hardship"], ben["in_catchment"]) == ("false", "false", "false")


def test_a_file_without_verification_columns_is_taken_as_verified(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    done = allocate(tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("has no sibling_verified, hardship_verified, home_verified column: those claims "
            "count as verified by the city") in done.stderr


def test_unwritable_output_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    k_path, a_path = write_inputs(tmp_path)
    out = tmp_path / "missing-dir" / "R.csv"
    args = ["kita", "allocate", "--kitas", str(k_path), "--applications", str(a_path)]
    code = main([*args, "--out", str(out)])
    assert code == 1
    assert "cannot write" in capsys.readouterr().err


def test_kassel_like_files_round_trip_to_the_domain_result(tmp_path: Path) -> None:
    kitas, apps = kassel_instance(3_000, 60, seed=5)
    write_kitas(tmp_path / "K.csv", kitas)
    write_applications(tmp_path / "A.csv", apps)
    done = allocate(tmp_path, "--explain", str(tmp_path / "E.csv"))
    assert done.returncode == 0, done.stderr
    expected = [
        {
            "child_id": p.child_id,
            "kita_id": p.kita_id or "",
            "choice_rank": "" if p.choice_rank is None else str(p.choice_rank),
            "lottery": str(p.lottery),
        }
        for p in first_round(kitas, apps).placements
    ]
    assert read_rows(tmp_path / "R.csv") == expected
    assert len(read_rows(tmp_path / "E.csv")) > 0
