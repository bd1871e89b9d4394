"""The privacy gate: the one step between the hub's data and the internet.

WHY one gate for every table: whatever a producer builds, nothing is published that counts
few people, that can be computed back from totals, or that singles out a rare combination of
quasi-identifiers; and each version says how it was protected (:class:`GateReport`).

The steps, in order (:func:`pass_gate`):

1. noise (:mod:`.noise`): if the spec has an ``epsilon``, OpenDP's discrete Laplace on every
   people count, negative results clamped to 0;
2. primary and secondary suppression (:mod:`.suppression`) on the (noisy) counts;
3. k-anonymity (:mod:`.anonymity`) on what is left: a table with k below the spec's is
   refused, as is one whose suppressed cells cannot be protected from known totals.

A spec that breaks a rule raises :class:`GateError`; a table that fails the gate is not an
error but a result without a table, whose report says why.

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from central_hub.opendata.domain.anonymity import smallest_group
from central_hub.opendata.domain.gate_report import Cell, GateReport, NoiseReport
from central_hub.opendata.domain.noise import (
    MECHANISM,
    NoiseFn,
    calibrate,
    derived_sensitivity,
    noisy_counts,
)
from central_hub.opendata.domain.records import ColumnSpec, PrivacySpec, Table
from central_hub.opendata.domain.suppression import (
    Position,
    column_sum_lines,
    primary_cells,
    protect,
    row_sum_lines,
)
from central_hub.opendata.errors import OpendataError

__all__ = ["MINIMUM_THRESHOLD", "Cell", "GateError", "GateReport", "GateResult", "NoiseFn",
           "NoiseReport", "check_privacy_fields", "check_spec", "pass_gate"]

#: no spec may publish counts of people below this (statistics offices use 3 to 5)
MINIMUM_THRESHOLD = 3


class GateError(OpendataError, ValueError):
    """A privacy spec breaks a rule or does not fit its table, or a people cell is no count: a
    bug in a dataset's definition or producer. Tables that merely fail the gate are refused
    (:attr:`GateReport.refused`), not raised."""


def check_privacy_fields(privacy: PrivacySpec) -> None:
    """Raise :class:`GateError` if the spec's own fields break a rule (called when it is built)."""
    if privacy.threshold < MINIMUM_THRESHOLD:
        raise GateError(f"privacy threshold {privacy.threshold} is below the minimum "
                        f"{MINIMUM_THRESHOLD}: counts of 1 or 2 people must never be published")
    if privacy.epsilon is not None and not (math.isfinite(privacy.epsilon)
                                            and privacy.epsilon > 0):
        raise GateError(f"epsilon must be a positive number, not {privacy.epsilon}")
    if privacy.k < 1:
        raise GateError(f"k must be at least 1, not {privacy.k}")
    if privacy.sensitivity is not None and privacy.sensitivity < 1:
        raise GateError(f"sensitivity must be at least 1, not {privacy.sensitivity}")
    if privacy.rows_per_person < 1:
        raise GateError(f"rows_per_person must be at least 1, not {privacy.rows_per_person}")


def check_spec(privacy: PrivacySpec, columns: Sequence[ColumnSpec]) -> None:
    """Raise :class:`GateError` if the spec does not fit the columns: every row sum of people
    columns, every line's dimension an existing non-people column, ``population`` a people
    column, and a people column to count k with if there are quasi-identifiers."""
    check_privacy_fields(privacy)
    by_name = {c.name: c for c in columns}
    people = [c.name for c in columns if c.people]
    for total, parts in privacy.row_sums:
        if not parts or total in parts:
            raise GateError(f"row sum {total!r} needs parts other than itself, not {parts}")
        unknown = [n for n in (total, *parts) if n not in people]
        if unknown:
            raise GateError(f"row sum {total!r}: {unknown} are no people columns of the table")
    for dims in privacy.column_sums:
        wrong = [d for d in dims if d not in by_name or by_name[d].people]
        if wrong:
            raise GateError(f"column sums over {dims}: {wrong} are no dimension columns")
    if privacy.population is not None and privacy.population not in people:
        raise GateError(f"population {privacy.population!r} is no people column of the table")
    if any(c.quasi_identifier for c in columns) and not people:
        raise GateError("the table has quasi-identifiers but no people column to compute k")


@dataclass(frozen=True, slots=True)
class GateResult:
    """The published table (``None`` if the gate refused it) and the gate's report."""

    table: Table | None
    report: GateReport


def pass_gate(table: Table, privacy: PrivacySpec, *, noise: NoiseFn | None = None) -> GateResult:
    """Protect ``table`` by ``privacy``; the input is not changed.

    ``noise``: where the noise comes from, for tests that need fixed values (it is handed the
    true counts and the calibrated scale); by default OpenDP's measurement, whose privacy map
    is checked in any case.
    """
    columns = table.columns
    check_spec(privacy, columns)
    index = {c.name: i for i, c in enumerate(columns)}
    people = [i for i, c in enumerate(columns) if c.people]
    values = {(r, c): _count(row[c], r, columns[c]) for r, row in enumerate(table.rows)
              for c in people}

    noise_report: NoiseReport | None = None
    if privacy.epsilon is not None and people:
        sensitivity = privacy.sensitivity if privacy.sensitivity is not None else (
            derived_sensitivity([columns[c].name for c in people], privacy.row_sums,
                                privacy.rows_per_person))
        calibration = calibrate(privacy.epsilon, sensitivity)
        if calibration is None:
            raise GateError(f"no scale meets epsilon {privacy.epsilon} for sensitivity "
                            f"{sensitivity} by OpenDP's privacy map")
        cells = sorted(values)
        noisy = noisy_counts(tuple(values[c] for c in cells), calibration, noise)
        values = dict(zip(cells, noisy, strict=True))
        noise_report = NoiseReport(MECHANISM, calibration.epsilon, calibration.sensitivity,
                                   calibration.scale, calibration.privacy_loss,
                                   calibration.library)

    primary = primary_cells(values, privacy.threshold)
    lines = [*row_sum_lines(len(table.rows), [(index[t], [index[p] for p in ps])
                                              for t, ps in privacy.row_sums]),
             *column_sum_lines(table.rows, [[index[d] for d in dims]
                                            for dims in privacy.column_sums], people)]
    protection = protect(values, primary, lines)
    hidden = {*primary, *protection.secondary}
    rows = tuple(
        tuple(None if (r, c) in hidden else values.get((r, c), v) for c, v in enumerate(row))
        for r, row in enumerate(table.rows))

    quasi = [i for i, c in enumerate(columns) if c.quasi_identifier]
    population = privacy.population or (columns[people[0]].name if people and quasi else None)
    k = smallest_group(rows, quasi, index[population]) if quasi and population else None

    refused: str | None = None
    if protection.unprotectable is not None:
        r, c = protection.unprotectable
        refused = (f"Die unterdrückte Zelle in Zeile {r + 1}, Spalte „{columns[c].title}“ ließe "
                   "sich aus als bekannt angenommenen Summen errechnen, und keine andere Zelle "
                   "kann sie schützen.")
    elif k is not None and k < privacy.k:
        names = ", ".join(columns[i].title for i in quasi)
        refused = (f"Mindestens eine Kombination aus {names} steht nur für {k} Personen; "
                   f"verlangt sind mindestens {privacy.k} (k = {k}).")

    report = GateReport(
        threshold=privacy.threshold,
        primary=_cells(primary, columns),
        secondary=_cells(protection.secondary, columns),
        noise=noise_report,
        k=k,
        k_required=privacy.k,
        quasi_identifiers=tuple(columns[i].name for i in quasi),
        quasi_identifier_titles=tuple(columns[i].title for i in quasi),
        population=population,
        refused=refused,
    )
    published = None if refused is not None else Table(columns, rows)
    return GateResult(published, report)


def _count(value: object, row: int, column: ColumnSpec) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GateError(f"row {row}, column {column.name!r} counts people: {value!r} is not "
                        "a count")
    return value


def _cells(positions: Sequence[Position], columns: Sequence[ColumnSpec]) -> tuple[Cell, ...]:
    return tuple(Cell(r, columns[c].name) for r, c in sorted(positions))
