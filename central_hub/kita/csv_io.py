"""The allocation's CSV files: reading Kitas and applications, writing results and reasons.

The city exchanges data with the allocation as CSV (``docs/kita.md`` has the formats), often
exported from spreadsheets and edited by hand. So this adapter is strict and talkative: every
problem — a missing column, a malformed number, an unknown Kita, a duplicate child — is
reported with file, line and field, all problems at once, and nothing is allocated while any
remains. Parsing happens on lines of text (:func:`parse_input`) so it is tested without files;
:func:`read_input` only opens the files. Outputs are written to a temporary file and renamed,
so a failed run never leaves half a result behind.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from central_hub.kita.domain.explanations import Explanation
from central_hub.kita.domain.lottery import draw_lottery
from central_hub.kita.domain.priorities import Priority
from central_hub.kita.domain.records import MAX_CHOICES, Application, KitaPlaces
from central_hub.kita.domain.rounds import Placement
from central_hub.kita.domain.validation import Problem, find_problems
from central_hub.kita.errors import InputProblem, KitaError, KitaInputError

KITA_COLUMNS = ("kita_id", "name", "age_group", "capacity", "lat", "lon", "catchment_km")
CHOICE_COLUMNS = tuple(f"choice{rank}" for rank in range(1, MAX_CHOICES + 1))
APPLICATION_COLUMNS = (
    "child_id",
    "family_id",
    "age_group",
    *CHOICE_COLUMNS,
    "sibling_kita",
    "hardship",
    "lat",
    "lon",
)
LOTTERY_COLUMN = "lottery"
#: optional, ``true``/``false``: whether the city verified the row's ``sibling_kita``,
#: ``hardship`` and home (``lat``/``lon``); without a column, that claim counts as given (the
#: file is the city's own record, docs/kita.md).
VERIFIED_COLUMNS = ("sibling_verified", "hardship_verified", "home_verified")
RESULT_COLUMNS = ("child_id", "kita_id", "choice_rank", "lottery")
EXPLANATION_COLUMNS = (
    "child_id",
    "choice_rank",
    "kita_id",
    "reason",
    "sibling",
    "hardship",
    "in_catchment",
    "lottery",
    "cutoff_sibling",
    "cutoff_hardship",
    "cutoff_in_catchment",
    "cutoff_lottery",
)

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")  # beyond 18 digits it is not a count
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")
_BOOLEANS = {"true": True, "false": False}
_FLAGS = ("false", "true")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LoadedInput:
    """Validated Kitas and applications, ready to allocate.

    ``lottery_drawn`` tells whether the lottery numbers came from the seed (no ``lottery``
    column) rather than from the file, so the caller can say so. ``trusted`` names the absent
    ``*_verified`` columns, whose claims were taken as verified.
    """

    kitas: list[KitaPlaces]
    applications: list[Application]
    lottery_drawn: bool
    trusted: tuple[str, ...] = ()
    #: what the reader noticed and the user should know (a detected separator)
    notes: tuple[str, ...] = ()


class _FieldError(KitaError):
    """One unparsable cell; internal, turned into an :class:`InputProblem` at once."""


def _integer(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise _FieldError(f"expected a whole number, got {raw!r}")
    return int(raw)


def _decimal(raw: str) -> float:
    if _DECIMAL_COMMA.fullmatch(raw):
        raise _FieldError(f"expected a number with a decimal point, got {raw!r}")
    if not _DECIMAL.fullmatch(raw):
        raise _FieldError(f"expected a number, got {raw!r}")
    return float(raw)


def _decimal_comma(raw: str) -> float:
    """A number as German Excel writes it in a semicolon-separated file: ``51,3227``."""
    return _decimal(raw.replace(",", ".", 1) if _DECIMAL_COMMA.fullmatch(raw) else raw)


#: the separators a Kita file may use: ',' (the format's own), ';' (what German Excel writes
#: by default, with decimal commas), tab (a paste from a spreadsheet).
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


def detect_delimiter(header: str, known: Sequence[str]) -> str:
    """The separator that splits ``header`` into the most known column names (',' on a tie)."""
    def score(delimiter: str) -> int:
        return sum(cell.strip().removeprefix("\ufeff") in known
                   for cell in header.split(delimiter))
    return max(DELIMITERS, key=lambda d: (score(d), d == ","))


def _boolean(raw: str) -> bool:
    value = _BOOLEANS.get(raw.lower())
    if value is None:
        raise _FieldError(f"expected true or false, got {raw!r}")
    return value


def _required(raw: str) -> str:
    if not raw:
        raise _FieldError("must not be empty")
    return raw


class _Row:
    """One data row: cells by column name, collecting problems instead of raising."""

    def __init__(self, source: str, line: int, cells: dict[str, str],
                 decimal_comma: bool = False) -> None:
        self.source = source
        self.line = line
        self.cells = cells
        self.problems: list[InputProblem] = []
        #: how this file writes decimals: ``51,32`` in a semicolon-separated file
        self.decimal: Callable[[str], float] = _decimal_comma if decimal_comma else _decimal

    def get(self, column: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(self.cells[column])
        except _FieldError as exc:
            self.problems.append(InputProblem(self.source, self.line, column, str(exc)))
            return None

    def optional(self, column: str) -> str | None:
        return self.cells[column] or None


def _rows(
    lines: Iterable[str],
    source: str,
    required: Sequence[str],
    optional: Sequence[str],
    problems: list[InputProblem],
    *,
    notes: list[str] | None = None,
) -> Iterator[_Row]:
    """Yield the data rows of a CSV text; header and shape problems go to ``problems``.

    The separator is detected from the header (',' or ';' or tab); one other than ',' is
    reported in ``notes``, and with ';' decimals may be written with a comma.
    """
    lines = list(lines)
    first = next((line for line in lines if line.strip()), "")
    delimiter = detect_delimiter(first, (*required, *optional))
    if delimiter != "," and notes is not None:
        notes.append(f"{source}: columns separated by {_DELIMITER_NAMES[delimiter]} "
                     "(detected from the header)")
    reader = csv.reader(lines, strict=True, delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader)]
        while not any(header):  # blank lines before the header
            header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        problems.append(InputProblem(source, 1, "", "file is empty, expected a header line"))
        return
    except csv.Error as exc:
        problems.append(InputProblem(source, reader.line_num, "", f"not valid CSV: {exc}"))
        return
    header_line = reader.line_num
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    header_problems = [
        InputProblem(source, header_line, name, "column appears twice")
        for i, name in enumerate(header)
        if name in header[:i]
    ]
    header_problems += [
        InputProblem(source, header_line, name, "unknown column")
        if name
        else InputProblem(source, header_line, "", "a column has no name")
        for name in header
        if name not in required and name not in optional
    ]
    header_problems += [
        InputProblem(source, header_line, name, "missing column")
        for name in required
        if name not in header
    ]
    if header_problems:
        if not any(name in required or name in optional for name in header):
            header_problems = [InputProblem(
                source, header_line, "",
                f"no known column in the header line {first.strip()[:80]!r}: separate the "
                f"columns with commas (or semicolons) and name them {', '.join(required)}")]
        problems.extend(header_problems)
        return
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                field = header[len(cells)] if len(cells) < len(header) else ""
                msg = f"row has {len(cells)} fields, the header has {len(header)}"
                problems.append(InputProblem(source, reader.line_num, field, msg))
                continue
            values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
            yield _Row(source, reader.line_num, values, decimal_comma=delimiter == ";")
    except csv.Error as exc:
        problems.append(InputProblem(source, reader.line_num, "", f"not valid CSV: {exc}"))


def _parse_kitas(
    lines: Iterable[str], source: str, problems: list[InputProblem], notes: list[str]
) -> tuple[list[KitaPlaces], list[int]]:
    kitas: list[KitaPlaces] = []
    line_of: list[int] = []
    for row in _rows(lines, source, KITA_COLUMNS, (), problems, notes=notes):
        kita_id = row.get("kita_id", _required)
        age_group = row.get("age_group", _required)
        capacity = row.get("capacity", _integer)
        lat = row.get("lat", row.decimal)
        lon = row.get("lon", row.decimal)
        catchment = row.get("catchment_km", row.decimal)
        problems.extend(row.problems)
        if (
            kita_id is None
            or age_group is None
            or capacity is None
            or lat is None
            or lon is None
            or catchment is None
        ):
            continue
        kitas.append(
            KitaPlaces(kita_id, row.cells["name"], age_group, capacity, lat, lon, catchment)
        )
        line_of.append(row.line)
    return kitas, line_of


def _choices(row: _Row) -> tuple[str, ...] | None:
    given = [row.cells[column] for column in CHOICE_COLUMNS]
    if all(given):
        return tuple(given)
    if not given[0]:
        row.problems.append(InputProblem(row.source, row.line, "choice1", "must not be empty"))
        return None
    last = max(i for i, kita_id in enumerate(given) if kita_id)
    gaps = [i for i in range(last) if not given[i]]
    for i in gaps:
        msg = f"empty, but {CHOICE_COLUMNS[last]} is given: list the choices without gaps"
        row.problems.append(InputProblem(row.source, row.line, CHOICE_COLUMNS[i], msg))
    return None if gaps else tuple(given[: last + 1])


def _verified(row: _Row, column: str) -> bool | None:
    """A ``*_verified`` cell; ``True`` (the claim counts) when the file has no such column."""
    if column not in row.cells:
        return True
    return row.get(column, _boolean)


def _parse_applications(
    lines: Iterable[str],
    source: str,
    seed: int | None,
    problems: list[InputProblem],
    notes: list[str],
) -> tuple[list[Application], list[int], bool, tuple[str, ...]]:
    optional = (LOTTERY_COLUMN, *VERIFIED_COLUMNS)
    rows = list(_rows(lines, source, APPLICATION_COLUMNS, optional, problems, notes=notes))
    has_lottery = bool(rows) and LOTTERY_COLUMN in rows[0].cells
    trusted = tuple(column for column in VERIFIED_COLUMNS if rows and column not in rows[0].cells)
    if rows and not has_lottery and seed is None:
        msg = "column absent and no seed given to draw the lottery (pass --seed)"
        problems.append(InputProblem(source, 1, LOTTERY_COLUMN, msg))
    drawn = draw_lottery([row.cells["child_id"] for row in rows], seed or 0)
    applications: list[Application] = []
    line_of: list[int] = []
    for row, drawn_number in zip(rows, drawn, strict=True):
        child_id = row.get("child_id", _required)
        family_id = row.get("family_id", _required)
        age_group = row.get("age_group", _required)
        choices = _choices(row)
        hardship = row.get("hardship", _boolean)
        lat = row.get("lat", row.decimal)
        lon = row.get("lon", row.decimal)
        lottery = row.get(LOTTERY_COLUMN, _integer) if has_lottery else drawn_number
        sibling_verified = _verified(row, "sibling_verified")
        hardship_verified = _verified(row, "hardship_verified")
        home_verified = _verified(row, "home_verified")
        problems.extend(row.problems)
        if (
            child_id is None
            or family_id is None
            or age_group is None
            or choices is None
            or hardship is None
            or lat is None
            or lon is None
            or lottery is None
            or sibling_verified is None
            or hardship_verified is None
            or home_verified is None
        ):
            continue
        sibling = row.optional("sibling_kita")
        applications.append(
            Application(
                child_id,
                family_id,
                age_group,
                choices,
                sibling if sibling_verified else None,
                hardship and hardship_verified,
                lat,
                lon,
                lottery,
                home_verified=home_verified,
            )
        )
        line_of.append(row.line)
    return applications, line_of, not has_lottery, trusted


def _locate(
    problem: Problem, kitas: tuple[str, list[int]], applications: tuple[str, list[int]]
) -> InputProblem:
    source, line_of = kitas if problem.kind == "kita" else applications
    message = problem.message
    if problem.first is not None:
        message += f" (first on line {line_of[problem.first]})"
    return InputProblem(source, line_of[problem.index], problem.field, message)


def parse_input(
    kitas_lines: Iterable[str],
    applications_lines: Iterable[str],
    *,
    seed: int | None = None,
    kitas_source: str = "K.csv",
    applications_source: str = "A.csv",
) -> LoadedInput:
    """Parse and validate both files' text; raise :class:`KitaInputError` naming every problem.

    Without a ``lottery`` column the numbers are drawn from ``seed``
    (:func:`~central_hub.kita.domain.lottery.draw_lottery`); a ``seed`` is ignored when the
    column is present. A claim counts only where its ``*_verified`` column (if present) says
    ``true``; an unverified sibling or hardship is read as not claimed, an unverified home
    places the child in no catchment. The ``*_source`` names appear in problem reports.
    """
    problems: list[InputProblem] = []
    notes: list[str] = []
    kitas, kita_lines = _parse_kitas(kitas_lines, kitas_source, problems, notes)
    applications, application_lines, drawn, trusted = _parse_applications(
        applications_lines, applications_source, seed, problems, notes
    )
    if problems:
        raise KitaInputError(problems)
    located = [
        _locate(p, (kitas_source, kita_lines), (applications_source, application_lines))
        for p in find_problems(kitas, applications)
    ]
    if located:
        raise KitaInputError(located)
    return LoadedInput(kitas, applications, drawn, trusted, tuple(notes))


def _read_lines(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return stream.readlines()
    except FileNotFoundError as exc:
        raise KitaInputError([InputProblem(str(path), 0, "", "file not found")]) from exc
    except UnicodeDecodeError as exc:
        problem = InputProblem(str(path), 0, "", f"not UTF-8 text: {exc.reason}")
        raise KitaInputError([problem]) from exc
    except OSError as exc:
        problem = InputProblem(str(path), 0, "", f"cannot read: {exc.strerror}")
        raise KitaInputError([problem]) from exc


def read_input(kitas_path: Path, applications_path: Path, seed: int | None) -> LoadedInput:
    """Read, parse and validate ``K.csv`` and ``A.csv`` (see :func:`parse_input`)."""
    kitas_lines = _read_lines(kitas_path)
    applications_lines = _read_lines(applications_path)
    return parse_input(
        kitas_lines,
        applications_lines,
        seed=seed,
        kitas_source=str(kitas_path),
        applications_source=str(applications_path),
    )


def _write_atomically(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_NO_PRIORITY = ("", "", "", "")


def _priority_cells(priority: Priority | None) -> tuple[str, str, str, int | str]:
    if priority is None:
        return _NO_PRIORITY
    sibling, hardship, in_catchment, lottery = priority
    return (_FLAGS[sibling], _FLAGS[hardship], _FLAGS[in_catchment], lottery)


def write_kitas(path: Path, kitas: Iterable[KitaPlaces]) -> None:
    """Write ``K.csv`` in the input format (synthetic instances, exports from the hub)."""
    _write_atomically(
        path,
        KITA_COLUMNS,
        ((k.kita_id, k.name, k.age_group, k.capacity, k.lat, k.lon, k.catchment_km) for k in kitas),
    )


def write_applications(
    path: Path, applications: Iterable[Application], *, with_lottery: bool = True
) -> None:
    """Write ``A.csv`` in the input format; without the lottery column if asked.

    The records hold the claims that count, so the file has ``home_verified`` (an unverified
    home) but no other ``*_verified`` column.
    """
    header = (*APPLICATION_COLUMNS, "home_verified")
    if with_lottery:
        header = (*header, LOTTERY_COLUMN)
    padding = ("",) * MAX_CHOICES
    _write_atomically(
        path,
        header,
        (
            (
                a.child_id,
                a.family_id,
                a.age_group,
                *(a.choices + padding)[:MAX_CHOICES],
                a.sibling_kita or "",
                _FLAGS[a.hardship],
                a.lat,
                a.lon,
                _FLAGS[a.home_verified],
                *((a.lottery,) if with_lottery else ()),
            )
            for a in applications
        ),
    )


def _result_rows(placements: Iterable[Placement]) -> Iterator[tuple[object, ...]]:
    for p in placements:
        yield p.child_id, p.kita_id or "", "" if p.choice_rank is None else p.choice_rank, p.lottery


def write_results(path: Path, placements: Iterable[Placement]) -> None:
    """Write ``R.csv``: one row per child, empty Kita and rank when it has no place."""
    _write_atomically(path, RESULT_COLUMNS, _result_rows(placements))


def results_text(placements: Iterable[Placement]) -> str:
    """``R.csv`` as text, for the hub's download of a round (same rows as :func:`write_results`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    writer.writerows(_result_rows(placements))
    return out.getvalue()


def write_explanations(path: Path, explanations: Iterable[Explanation]) -> None:
    """Write ``E.csv``: one row per choice not obtained, with the child's priority and cutoff."""
    _write_atomically(
        path,
        EXPLANATION_COLUMNS,
        (
            (
                e.child_id,
                e.choice_rank,
                e.kita_id,
                e.reason.value,
                *_priority_cells(e.priority),
                *_priority_cells(e.cutoff),
            )
            for e in explanations
        ),
    )
