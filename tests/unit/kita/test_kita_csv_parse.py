"""Parsing K.csv and A.csv text: good files load, every bad input is named by file, line, field."""

from __future__ import annotations

import csv
import io

import pytest

from central_hub.kita.csv_io import LoadedInput, parse_input
from central_hub.kita.errors import KitaInputError

K_HEADER = "kita_id,name,age_group,capacity,lat,lon,catchment_km"
A_HEADER = (
    "child_id,family_id,age_group,choice1,choice2,choice3,choice4,choice5,"
    "sibling_kita,hardship,lat,lon"
)
KITAS = [
    K_HEADER,
    "K1,Kita Sonnenschein,U3,2,51.3155,9.4975,1.0",
    "K1,Kita Sonnenschein,Ü3,3,51.3155,9.4975,1.0",
    "K2,Kita Regenbogen,Ü3,1,51.3200,9.5100,0.8",
]
APPS = [
    A_HEADER + ",lottery",
    "c1,f1,Ü3,K1,K2,,,,,false,51.3150,9.4970,7",
    "c2,f1,U3,K1,,,,,K1,true,51.3150,9.4970,3",
]


def parse(kitas: list[str], apps: list[str], seed: int | None = None) -> LoadedInput:
    return parse_input(
        io.StringIO("".join(line + "\n" for line in kitas)),
        io.StringIO("".join(line + "\n" for line in apps)),
        seed=seed,
    )


def problems(kitas: list[str], apps: list[str], seed: int | None = None) -> list[str]:
    with pytest.raises(KitaInputError) as caught:
        parse(kitas, apps, seed)
    return [str(p) for p in caught.value.problems]


def test_good_files_load() -> None:
    loaded = parse(KITAS, APPS)
    assert not loaded.lottery_drawn
    assert [(k.kita_id, k.age_group, k.capacity) for k in loaded.kitas] == [
        ("K1", "U3", 2),
        ("K1", "Ü3", 3),
        ("K2", "Ü3", 1),
    ]
    first, second = loaded.applications
    assert first.choices == ("K1", "K2")
    assert first.sibling_kita is None
    assert not first.hardship
    assert first.lottery == 7
    assert second.sibling_kita == "K1"
    assert second.hardship
    assert (second.lat, second.lon) == (51.3150, 9.4970)


def test_spreadsheet_quirks_are_accepted() -> None:
    kitas = ["\ufeff" + K_HEADER, "", " K1 , Kita , U3 , 2 , 51.3 , 9.5 , 1 ", ""]
    apps = [
        "\ufeff" + A_HEADER + ",lottery",
        "c1,f1,U3,K1,,,,,,TRUE,51.3,9.5,1",
        "",
        "c2,f2,U3,K1,,,,,,False,51.3,9.5,2",
    ]
    loaded = parse([line + "\r" for line in kitas], apps)
    assert loaded.kitas[0].kita_id == "K1"
    assert [a.hardship for a in loaded.applications] == [True, False]


def test_lottery_is_drawn_from_the_seed_when_the_column_is_absent() -> None:
    apps = [A_HEADER] + [f"c{i},f{i},Ü3,K1,,,,,,false,51.3,9.5" for i in range(20)]
    drawn = parse(KITAS, apps, seed=5)
    assert drawn.lottery_drawn
    numbers = [a.lottery for a in drawn.applications]
    assert sorted(numbers) == list(range(1, 21))
    assert [a.lottery for a in parse(KITAS, apps, seed=5).applications] == numbers
    assert [a.lottery for a in parse(KITAS, apps, seed=6).applications] != numbers


def test_without_lottery_column_a_seed_is_required() -> None:
    apps = [A_HEADER, "c1,f1,Ü3,K1,,,,,,false,51.3,9.5"]
    assert problems(KITAS, apps) == [
        "A.csv:1: lottery: column absent and no seed given to draw the lottery (pass --seed)"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("K3,X,U3,ten,51.3,9.5,1", "K.csv:5: capacity: expected a whole number, got 'ten'"),
        ("K3,X,U3,2.5,51.3,9.5,1", "K.csv:5: capacity: expected a whole number, got '2.5'"),
        ("K3,X,U3,-2,51.3,9.5,1", "K.csv:5: capacity: must not be negative, got -2"),
        (
            'K3,X,U3,2,"51,3",9.5,1',
            "K.csv:5: lat: expected a number with a decimal point, got '51,3'",
        ),
        ("K3,X,U3,2,51.3,east,1", "K.csv:5: lon: expected a number, got 'east'"),
        ("K3,X,U3,2,51.3,9.5,nan", "K.csv:5: catchment_km: expected a number, got 'nan'"),
        ("K3,X,U3,2,51.3,9.5,-1", "K.csv:5: catchment_km: must be a distance >= 0, got -1.0"),
        ("K3,X,U3,2,51.3", "K.csv:5: lon: row has 5 fields, the header has 7"),
        ("K3,X,U3,2,51.3,9.5,1,extra", "K.csv:5: row has 8 fields, the header has 7"),
        (",X,U3,2,51.3,9.5,1", "K.csv:5: kita_id: must not be empty"),
        (
            "K1,Again,U3,2,51.3,9.5,1",
            "K.csv:5: kita_id: duplicate Kita 'K1' for age group 'U3' (first on line 2)",
        ),
    ],
)
def test_bad_kita_rows(line: str, expected: str) -> None:
    assert problems([*KITAS, line], APPS) == [expected]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "c3,f3,Ü3,K1,K9,,,,,false,51.3,9.5,9",
            "A.csv:4: choice2: unknown Kita 'K9'",
        ),
        (
            "c3,f3,Ü3,K1,K2,K1,,,,false,51.3,9.5,9",
            "A.csv:4: choice3: Kita 'K1' is already choice1",
        ),
        (
            "c3,f3,U3,K1,K2,,,,,false,51.3,9.5,9",
            "A.csv:4: choice2: Kita 'K2' has no places for age group 'U3' (only Ü3)",
        ),
        (
            "c1,f3,Ü3,K1,,,,,,false,51.3,9.5,9",
            "A.csv:4: child_id: duplicate child 'c1' (first on line 2)",
        ),
        (
            "c3,f3,Ü3,K1,,,,,K7,false,51.3,9.5,9",
            "A.csv:4: sibling_kita: unknown Kita 'K7'",
        ),
        ("c3,f3,Ü3,K1,,,,,,yes,51.3,9.5,9", "A.csv:4: hardship: expected true or false, got 'yes'"),
        ("c3,f3,Ü3,K1,,,,,,false,north,9.5,9", "A.csv:4: lat: expected a number, got 'north'"),
        (
            "c3,f3,Ü3,K1,,,,,,false,95,9.5,9",
            "A.csv:4: lat: latitude must be in [-90, 90], got 95.0",
        ),
        ("c3,f3,Ü3,K1,,,,,,false,51.3,9.5,", "A.csv:4: lottery: expected a whole number, got ''"),
        (
            "c3,f3,Ü3,K1,,,,,,false,51.3,9.5," + "9" * 30,
            "A.csv:4: lottery: expected a whole number, got '" + "9" * 30 + "'",
        ),
        (
            "c3,f3,Ü3,K1,,,,,,false,51.3,9.5,x1",
            "A.csv:4: lottery: expected a whole number, got 'x1'",
        ),
        (
            "c3,f3,Ü3,K1,,,,,,false,51.3,9.5,7",
            "A.csv:4: lottery: lottery number 7 is already used in age group 'Ü3'; "
            "ties must be broken by distinct numbers (first on line 2)",
        ),
        ("c3,f3,Ü3,,,,,,,false,51.3,9.5,9", "A.csv:4: choice1: must not be empty"),
        (
            "c3,f3,Ü3,K1,,K2,,,,false,51.3,9.5,9",
            "A.csv:4: choice2: empty, but choice3 is given: list the choices without gaps",
        ),
        ("c3,,Ü3,K1,,,,,,false,51.3,9.5,9", "A.csv:4: family_id: must not be empty"),
        (
            "c3,f3,Krippe,K1,,,,,,false,51.3,9.5,9",
            "A.csv:4: age_group: no Kita offers age group 'Krippe'",
        ),
    ],
)
def test_bad_application_rows(line: str, expected: str) -> None:
    found = problems(KITAS, [*APPS, line])
    assert found[0] == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (K_HEADER.replace(",capacity", ""), "K.csv:1: capacity: missing column"),
        (K_HEADER + ",phone", "K.csv:1: phone: unknown column"),
        (K_HEADER + ",name", "K.csv:1: name: column appears twice"),
        (K_HEADER + ",", "K.csv:1: a column has no name"),
    ],
)
def test_bad_headers(header: str, expected: str) -> None:
    assert problems([header, *KITAS[1:]], APPS)[0] == expected


def test_an_empty_file_is_reported() -> None:
    assert problems([], APPS) == ["K.csv:1: file is empty, expected a header line"]
    assert problems(["", "  "], APPS) == ["K.csv:1: file is empty, expected a header line"]


def test_blank_lines_before_the_header_count_for_line_numbers() -> None:
    assert problems(["", K_HEADER, "K3,X,U3,ten,51.3,9.5,1"], APPS) == [
        "K.csv:3: capacity: expected a whole number, got 'ten'"
    ]
    assert problems(["", "kita_id"], APPS)[0] == "K.csv:2: name: missing column"


def test_all_problems_in_both_files_are_reported_at_once() -> None:
    found = problems(
        [*KITAS, "K3,X,U3,many,51.3,9.5,1"],
        [*APPS, "c3,f3,Ü3,K1,,,,,,maybe,51.3,9.5,9", "c4,f4,Ü3,K1,,,,,,false,51.3,up,10"],
    )
    assert found == [
        "K.csv:5: capacity: expected a whole number, got 'many'",
        "A.csv:4: hardship: expected true or false, got 'maybe'",
        "A.csv:5: lon: expected a number, got 'up'",
    ]


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(KitaInputError) as caught:
        parse([*KITAS, "K3,X,U3,-1,51.3,9.5,1", "K4,X,U3,-2,51.3,9.5,1"], APPS)
    assert str(caught.value).splitlines() == [
        "K.csv:5: capacity: must not be negative, got -1",
        "K.csv:6: capacity: must not be negative, got -2",
    ]


def test_a_long_list_of_problems_is_summarised() -> None:
    rows = [f"K{i},X,U3,-{i},51.3,9.5,1" for i in range(3, 33)]
    with pytest.raises(KitaInputError) as caught:
        parse([*KITAS, *rows], APPS)
    assert len(caught.value.problems) == 30
    lines = str(caught.value).splitlines()
    assert len(lines) == 26
    assert lines[-1] == "... and 5 more problems"


def test_verified_columns_decide_which_claims_count() -> None:
    header = A_HEADER + ",sibling_verified,hardship_verified,home_verified,lottery"
    loaded = parse(KITAS, [
        header,
        "c1,f1,Ü3,K1,K2,,,,K1,true,51.3150,9.4970,false,false,false,7",
        "c2,f1,U3,K1,,,,,K1,true,51.3150,9.4970,true,TRUE,true,3",
    ])
    first, second = loaded.applications
    assert (first.sibling_kita, first.hardship, first.home_verified) == (None, False, False)
    assert (second.sibling_kita, second.hardship, second.home_verified) == ("K1", True, True)
    assert loaded.trusted == ()
    assert parse(KITAS, APPS).trusted == ("sibling_verified", "hardship_verified",
                                          "home_verified")
    bad = [header, "c1,f1,Ü3,K1,,,,,,false,51.3150,9.4970,ja,false,,7"]
    assert problems(KITAS, bad) == [
        "A.csv:2: sibling_verified: expected true or false, got 'ja'",
        "A.csv:2: home_verified: expected true or false, got ''",
    ]


def test_semicolon_files_from_german_excel_load_with_decimal_commas() -> None:
    def german(line: str) -> str:
        cells = next(csv.reader([line]))
        return ";".join(cell.replace(".", ",") if cell[:1].isdigit() else cell for cell in cells)

    loaded = parse([german(line) for line in KITAS], [german(line) for line in APPS])
    comma = parse(KITAS, APPS)
    assert loaded.kitas == comma.kitas and loaded.applications == comma.applications
    assert loaded.notes == ("K.csv: columns separated by semicolons (detected from the header)",
                            "A.csv: columns separated by semicolons (detected from the header)")
    assert comma.notes == ()


def test_a_header_with_no_known_column_says_how_to_separate_columns() -> None:
    found = problems(["kita_id|name|age_group", "K1|X|U3"], APPS)
    assert len([p for p in found if p.startswith("K.csv")]) == 1
    assert "no known column in the header line 'kita_id|name|age_group'" in found[0]
    assert "separate the columns with commas (or semicolons)" in found[0]
