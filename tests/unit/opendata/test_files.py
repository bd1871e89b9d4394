"""The CSV files and their ``datapackage.json``, checked by Frictionless itself.

WHY Frictionless as the judge: the descriptor promises types, sizes and digests; a reader's
tooling (Frictionless, its Python API and its command line) is what holds us to them, not our
own reading of the specs. A negative control proves the check can fail.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import frictionless
import pytest

from central_hub.opendata.domain.csv_text import (
    csv_chunks,
    format_cell,
    format_number,
    table_csv,
)
from central_hub.opendata.domain.datapackage import data_package
from central_hub.opendata.domain.records import (
    ColumnSpec,
    ColumnType,
    DatasetSpec,
    PublishedDataset,
    Resource,
    Table,
    VersionState,
)

COLUMNS = (
    ColumnSpec("day", ColumnType.DATE, "Tag", "Der Kalendertag.", "Fahrplan"),
    ColumnSpec("stop", ColumnType.STRING, "Haltestelle", "Name der Haltestelle.",
               "GTFS stops.txt"),
    ColumnSpec("boardings", ColumnType.INTEGER, "Einsteiger", "Einsteigende Fahrgäste.",
               "Türzähler der Busse", unit="Personen", people=True),
    ColumnSpec("load", ColumnType.NUMBER, "Auslastung", "Mittlere Auslastung (0–1).",
               "Türzähler der Busse"),
)
ROWS: tuple[tuple[object, ...], ...] = (
    (date(2026, 3, 1), "Königsplatz", 120, 0.4567),
    (date(2026, 3, 1), "Wilhelmshöhe (Bahnhof)", None, 1 / 3),  # suppressed count
    (date(2026, 3, 2), 'Straße "Am Weinberg", Süd; Tor 2', 7, None),  # quotes, comma, ;
    (datetime(2026, 3, 2, 17, 30, tzinfo=UTC), "Zeile\nzwei", 0, 2.0),
    (date(2026, 3, 3), "Äußere Ößstraße", 12, -0.00001),
)
TABLE = Table(columns=COLUMNS, rows=ROWS)
SPEC = DatasetSpec(id="kassel-occupancy-stop-day", title="Fahrgäste je Haltestelle und Tag",
                   description="Einsteiger je Haltestelle, Tag für Tag.", themes=("TRAN",),
                   keywords=("ÖPNV", "Fahrgäste"), periodicity="DAILY", group="mobilitaet",
                   columns=COLUMNS, main_measure="boardings")
DATASET = PublishedDataset(
    spec=SPEC, version=3, state=VersionState.PUBLISHED,
    issued=datetime(2026, 1, 1, tzinfo=UTC), modified=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
    temporal=(date(2026, 3, 1), date(2026, 3, 3)),
    resources=(Resource(id="r1", name="occupancy", description="Die Tabelle als CSV.",
                        format="CSV", media_type="text/csv",
                        url="https://hub.kassel.example/files/occupancy.csv", byte_size=1),),
    versions=(3, 2, 1), privacy_report=("Kleine Zahlen sind unterdrückt.",),
    landing_page="https://hub.kassel.example/opendata/datasets/kassel-occupancy-stop-day",
)


def write_package(folder: Path, tables: dict[str, tuple[Table, bytes]]) -> Path:
    """Write each table's bytes to data/<name>.csv and the descriptor next to them."""
    (folder / "data").mkdir()
    files = {}
    for name, (_, data) in tables.items():
        path = f"data/{name}.csv"
        (folder / path).write_bytes(data)
        files[name] = (path, len(data), hashlib.sha256(data).hexdigest())
    descriptor = data_package(DATASET, {n: t for n, (t, _) in tables.items()}, files)
    target = folder / "datapackage.json"
    target.write_text(json.dumps(descriptor, ensure_ascii=False, indent=2), encoding="utf-8")
    return target


def errors_of(report: frictionless.Report) -> list[list[str]]:
    return report.flatten(["type", "rowNumber", "fieldName", "message"])  # type: ignore[no-any-return]


def cli(descriptor: Path) -> subprocess.CompletedProcess[str]:
    """``frictionless validate`` from the venv (its entry point next to the interpreter)."""
    entry = Path(sys.executable).with_name("frictionless")
    command = [str(entry)] if entry.exists() else [sys.executable, "-m", "frictionless"]
    return subprocess.run([*command, "validate", str(descriptor)], capture_output=True,
                          text=True, cwd=descriptor.parent, timeout=120, check=False)


# --- the CSV text ---------------------------------------------------------------------------


def test_csv_text_is_utf8_rfc4180_with_empty_suppressed_cells() -> None:
    data = table_csv(TABLE)
    assert not data.startswith(b"\xef\xbb\xbf")  # no BOM
    text = data.decode("utf-8")
    assert text.split("\r\n") == [
        "day,stop,boardings,load",
        "2026-03-01,Königsplatz,120,0.457",
        "2026-03-01,Wilhelmshöhe (Bahnhof),,0.333",
        '2026-03-02,"Straße ""Am Weinberg"", Süd; Tor 2",7,',
        '2026-03-02,"Zeile\nzwei",0,2.0',
        "2026-03-03,Äußere Ößstraße,12,0.0",
        "",
    ]


def test_numbers_are_written_without_locale_or_exponent() -> None:
    assert format_number(1234567.891234) == "1234567.891"
    assert format_number(1e20) == "100000000000000000000.0"
    assert format_number(-0.0004) == "0.0"
    assert format_number(float("nan")) == "NaN"
    assert format_number(float("-inf")) == "-INF"
    integer = COLUMNS[2]
    assert format_cell(integer, 5.0) == "5"
    with pytest.raises(ValueError, match="boardings"):
        format_cell(integer, 5.5)
    with pytest.raises(ValueError, match="boardings"):
        format_cell(integer, True)
    with pytest.raises(ValueError, match="day"):
        format_cell(COLUMNS[0], "2026-03-01")


def test_chunks_join_to_the_whole_text() -> None:
    rows = tuple((date(2026, 1, 1 + i % 28), f"Halt {i}", i, i / 7) for i in range(23))
    table = Table(columns=COLUMNS, rows=rows)
    for size in (1, 5, 23, 100):
        chunks = list(csv_chunks(table, rows_per_chunk=size))
        assert b"".join(chunks) == table_csv(table)
        assert len(chunks) == max(1, -(-23 // size))
    empty = Table(columns=COLUMNS, rows=())
    assert list(csv_chunks(empty)) == [b"day,stop,boardings,load\r\n"]


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="cells"):
        table_csv(Table(columns=COLUMNS, rows=((date(2026, 1, 1), "x"),)))


# --- the descriptor -------------------------------------------------------------------------


def test_descriptor_shape() -> None:
    data = table_csv(TABLE)
    descriptor = data_package(DATASET, {"occupancy": TABLE},
                              {"occupancy": ("data/occupancy.csv", len(data), "ab" * 32)})
    assert descriptor["profile"] == "tabular-data-package"
    assert descriptor["name"] == "kassel-occupancy-stop-day"
    assert descriptor["version"] == "3.0.0"
    assert descriptor["created"] == "2026-03-04T05:06:07Z"
    assert descriptor["licenses"] == [{"name": "dl-de-by-2.0",
                                       "path": "https://www.govdata.de/dl-de/by-2-0",
                                       "title": "Datenlizenz Deutschland – Namensnennung – "
                                                "Version 2.0"}]
    assert descriptor["sources"] == [{"title": "Fahrplan"}, {"title": "GTFS stops.txt"},
                                     {"title": "Türzähler der Busse"}]
    resources: Any = descriptor["resources"]
    (resource,) = resources
    assert resource["hash"] == "sha256:" + "ab" * 32
    assert resource["bytes"] == len(data)
    assert resource["description"] == "Die Tabelle als CSV."
    fields = resource["schema"]["fields"]
    assert fields[2] == {"name": "boardings", "type": "integer", "title": "Einsteiger",
                         "description": "Einsteigende Fahrgäste.",
                         "constraints": {"minimum": 0}, "source": "Türzähler der Busse",
                         "unit": "Personen"}
    assert resource["schema"]["missingValues"] == [""]


@pytest.mark.parametrize(("name", "file", "message"), [
    ("Occupancy", ("a.csv", 1, "ab" * 32), "resource name"),
    ("occupancy", ("../a.csv", 1, "ab" * 32), "unsafe path"),
    ("occupancy", ("/etc/a.csv", 1, "ab" * 32), "unsafe path"),
    ("occupancy", ("a.csv", 1, "xyz"), "SHA-256"),
])
def test_descriptor_refuses_bad_resources(name: str, file: tuple[str, int, str],
                                          message: str) -> None:
    with pytest.raises(ValueError, match=message):
        data_package(DATASET, {name: TABLE}, {name: file})


# --- Frictionless ---------------------------------------------------------------------------


def test_frictionless_validates_the_package(tmp_path: Path) -> None:
    summary = Table(columns=COLUMNS[1:3], rows=(("Königsplatz", 120), ("Süd", None)))
    descriptor = write_package(tmp_path, {"occupancy": (TABLE, table_csv(TABLE)),
                                          "summary": (summary, table_csv(summary))})
    report = frictionless.validate(str(descriptor))
    assert report.valid, errors_of(report)
    assert len(report.tasks) == 2
    # the suppressed cells read back as missing, the rest as typed values
    package = frictionless.Package(str(descriptor))
    resource: Any = package.get_resource("occupancy")
    rows = resource.read_rows()
    assert rows[1]["boardings"] is None
    assert rows[2]["stop"] == 'Straße "Am Weinberg", Süd; Tor 2'
    assert rows[3]["day"] == date(2026, 3, 2)


def test_frictionless_command_line_validates_the_package(tmp_path: Path) -> None:
    descriptor = write_package(tmp_path, {"occupancy": (TABLE, table_csv(TABLE))})
    result = cli(descriptor)
    assert result.returncode == 0, result.stdout + result.stderr


def test_negative_control_text_in_an_integer_column_fails(tmp_path: Path) -> None:
    bad = table_csv(TABLE).replace(b",120,", b",abc,")
    descriptor = write_package(tmp_path, {"occupancy": (TABLE, bad)})
    report = frictionless.validate(str(descriptor))
    assert not report.valid
    assert [e[0] for e in errors_of(report)] == ["type-error"], errors_of(report)
    result = cli(descriptor)
    assert result.returncode != 0, result.stdout


def test_negative_control_a_changed_file_fails_its_hash(tmp_path: Path) -> None:
    descriptor = write_package(tmp_path, {"occupancy": (TABLE, table_csv(TABLE))})
    csv_path = tmp_path / "data" / "occupancy.csv"
    csv_path.write_bytes(csv_path.read_bytes().replace(b",120,", b",121,"))
    report = frictionless.validate(str(descriptor))
    assert not report.valid
    assert "hash-count" in {e[0] for e in errors_of(report)}, errors_of(report)
