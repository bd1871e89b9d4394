"""A published table as CSV text: the bytes every CSV download and ``datapackage.json``
resource holds.

WHY one writer with fixed rules: the file is what researchers load into R, pandas, Excel and
what Frictionless checks against the descriptor (:mod:`.datapackage`); every choice is made
once, here, and matches the descriptor's ``dialect`` and ``schema``:

* UTF-8 without a byte-order mark (the descriptor says ``encoding: utf-8``);
* RFC 4180: comma, ``"`` quotes doubled inside a quoted field, quoted only where needed,
  lines ended by ``\\r\\n`` (RFC 4180's and the CSV Dialect spec's default line terminator);
  the descriptor states this dialect, because Frictionless otherwise *sniffs* the delimiter
  and a text column full of ``;`` can fool it;
* a header row of the column names;
* a suppressed cell (``None``) is an empty field, the descriptor's ``missingValues: [""]``
  (an empty string in a text column reads as missing too, which it is);
* numbers without locale: ``.`` decimal, no thousands separator, no exponent; floats rounded
  to :data:`FLOAT_DECIMALS` places and written shortest (``2.5``, ``0.333``, ``12.0``):
  counts with differential-privacy noise carry no false precision;
* dates ISO 8601 (``2026-03-01``).

A row whose every cell is suppressed is a "blank row" to Frictionless; the gate never writes
one (a row keeps its dimension columns).

Pure: no I/O (the text is built in memory).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

from .records import ColumnSpec, ColumnType, Table

#: the decimal places a float is rounded to
FLOAT_DECIMALS = 3
#: the rows each chunk of :func:`csv_chunks` holds
ROWS_PER_CHUNK = 5000
#: the dialect of the text, as the Frictionless (CSV Dialect 1.0) descriptor states it
CSV_DIALECT: dict[str, object] = {
    "delimiter": ",",
    "lineTerminator": "\r\n",
    "quoteChar": '"',
    "doubleQuote": True,
    "header": True,
}


def format_number(value: float) -> str:
    """A float as the CSV writes it: rounded to :data:`FLOAT_DECIMALS`, shortest form, no
    exponent, never ``-0.0``; ``NaN``/``INF``/``-INF`` as Table Schema spells them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    rounded = round(value, FLOAT_DECIMALS) + 0.0  # + 0.0: -0.0 becomes 0.0
    text = repr(rounded)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def format_cell(column: ColumnSpec, value: object) -> str:
    """One cell's text, by its column's type.

    :raises ValueError: a value the column's type cannot hold (a fraction in an integer
        column, text in a date column): the table is wrong, nothing is written.
    """
    if value is None:
        return ""
    kind = column.type
    if kind is ColumnType.STRING:
        return str(value)
    if isinstance(value, bool):
        raise ValueError(f"column {column.name}: a bool is not a {kind.value}: {value!r}")
    if kind is ColumnType.INTEGER:
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return str(int(value))
    elif kind is ColumnType.NUMBER:
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return format_number(value)
        if isinstance(value, Decimal):
            return format_number(float(value))
    elif kind is ColumnType.DATE:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
    raise ValueError(f"column {column.name}: not a {kind.value}: {value!r}")


def _text(table: Table, rows: tuple[tuple[object, ...], ...], header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", quotechar='"', doublequote=True,
                        lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow([c.name for c in table.columns])
    width = len(table.columns)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"a row has {len(row)} cells, the table {width} columns")
        writer.writerow([format_cell(c, v) for c, v in zip(table.columns, row, strict=True)])
    return buffer.getvalue().encode("utf-8")


def table_csv(table: Table) -> bytes:
    """The whole table as CSV bytes (UTF-8, header row, ``\\r\\n``)."""
    return _text(table, table.rows, header=True)


def csv_chunks(table: Table, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """The same bytes as :func:`table_csv`, in pieces of ``rows_per_chunk`` rows (the first
    with the header), for a streamed download of a large table."""
    if rows_per_chunk < 1:
        raise ValueError("rows_per_chunk must be at least 1")
    yield _text(table, table.rows[:rows_per_chunk], header=True)
    for start in range(rows_per_chunk, len(table.rows), rows_per_chunk):
        yield _text(table, table.rows[start:start + rows_per_chunk], header=False)
