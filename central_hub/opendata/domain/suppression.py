"""Small-cell suppression, primary and secondary, as statistics offices do it.

WHY secondary suppression: hiding a small count is worthless if a reader can subtract the
published cells from a total they know (a row total in the table, a city total published
elsewhere). The sums a reader is assumed to know are modelled as *lines*: sets of cells whose
sum is known. Every line's total is conservatively assumed known.

Rules (deterministic; cells are ordered by position: row, then column):

* primary: a count of 1 to ``threshold - 1`` people is suppressed. A zero is published:
  that nobody is in a cell discloses nobody.
* secondary, iterated until no line is *exposed*: a line is exposed if it holds exactly one
  suppressed cell (a difference gives it away), or suppressed cells that are all zeros (their
  sum, the line's remainder, is 0, which gives each of them away). In an exposed line one more
  cell is suppressed: the smallest non-suppressed nonzero count (ties by position); if only
  zeros remain, the first zero that is not *pinned*. A zero is pinned if it lies in a line of
  zeros only: that line's known total, 0, gives it away, so suppressing it protects nothing.
* a row sum's parts are the outcomes of the people its total counts (a child's offer by
  wish rank): if exactly one part is suppressed, everybody the total counts shares that part's
  outcome, and a reader learns it without learning any number (attribute disclosure). Such a
  line is exposed too, and one more *part* is suppressed (the same choice as above, among
  the parts).
* if an exposed line has no cell left to suppress, the table cannot be protected: the gate
  refuses it (a suppressed cell then equals a known total minus known zeros).

Pure: no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: a cell of the people columns: (row index, column index)
Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Line:
    """Cells whose sum a reader is assumed to know (a row sum, or a total over rows).

    ``parts``: for a row sum, its parts' cells (without the total's): the outcomes of the
    people the total counts."""

    cells: tuple[Position, ...]
    parts: tuple[Position, ...] = ()


def row_sum_lines(n_rows: int, row_sums: Sequence[tuple[int, Sequence[int]]]) -> list[Line]:
    """One line per row and row sum: the total's cell and its parts' cells (column indexes)."""
    return [Line(tuple(sorted((r, c) for c in (total, *parts))),
                 tuple(sorted((r, c) for c in parts)))
            for r in range(n_rows) for total, parts in row_sums]


def column_sum_lines(rows: Sequence[Sequence[object]], dimensions: Sequence[Sequence[int]],
                     people: Sequence[int]) -> list[Line]:
    """For every group of dimension columns: the rows agreeing on them form one line per
    people column (groups in order of their first row)."""
    lines: list[Line] = []
    for dims in dimensions:
        groups: dict[tuple[object, ...], list[int]] = {}
        for r, row in enumerate(rows):
            groups.setdefault(tuple(row[d] for d in dims), []).append(r)
        lines.extend(Line(tuple((r, c) for r in members))
                     for members in groups.values() for c in people)
    return lines


def primary_cells(values: Mapping[Position, int], threshold: int) -> list[Position]:
    """Cells counting 1 to ``threshold - 1`` people, by position (zeros are published)."""
    return [cell for cell in sorted(values) if 1 <= values[cell] < threshold]


@dataclass(frozen=True, slots=True)
class Protection:
    """The outcome of secondary suppression.

    ``secondary``: the cells suppressed on top of the primary ones, by position.
    ``unprotectable``: a suppressed cell of a line nothing more could protect (then the table
    must not be published), ``None`` if every line is protected.
    """

    secondary: tuple[Position, ...]
    unprotectable: Position | None


def protect(values: Mapping[Position, int], primary: Sequence[Position],
            lines: Sequence[Line]) -> Protection:
    """Suppress further cells until no line is exposed (the module's rules)."""
    pinned = {cell for line in lines if all(values[c] == 0 for c in line.cells)
              for cell in line.cells}
    suppressed = set(primary)
    lines_of: dict[Position, list[int]] = {}
    for i, line in enumerate(lines):
        for position in line.cells:
            lines_of.setdefault(position, []).append(i)
    count = [sum(c in suppressed for c in line.cells) for line in lines]
    mass = [sum(values[c] for c in line.cells if c in suppressed) for line in lines]
    parts = [sum(c in suppressed for c in line.parts) for line in lines]
    part_set = [frozenset(line.parts) for line in lines]

    def by_difference(i: int) -> bool:
        return count[i] == 1 or (count[i] > 1 and mass[i] == 0)

    def exposed(i: int) -> bool:
        return by_difference(i) or parts[i] == 1

    queue = [i for i in range(len(lines)) if exposed(i)]
    heapq.heapify(queue)
    added: list[Position] = []
    while queue:
        i = heapq.heappop(queue)
        if not exposed(i):
            continue
        among = lines[i].cells if by_difference(i) else lines[i].parts
        cell = _complement(among, values, suppressed, pinned)
        if cell is None:
            first = min(c for c in lines[i].cells if c in suppressed)
            return Protection(tuple(sorted(added)), first)
        suppressed.add(cell)
        added.append(cell)
        for j in lines_of[cell]:
            count[j] += 1
            mass[j] += values[cell]
            parts[j] += cell in part_set[j]
            if exposed(j):
                heapq.heappush(queue, j)
    return Protection(tuple(sorted(added)), None)


def _complement(cells: Sequence[Position], values: Mapping[Position, int],
                suppressed: set[Position], pinned: set[Position]) -> Position | None:
    """The cell of ``cells`` to suppress next in an exposed line, ``None`` if there is none."""
    open_cells = [c for c in cells if c not in suppressed]
    nonzero = [c for c in open_cells if values[c] > 0]
    if nonzero:
        return min(nonzero, key=lambda c: (values[c], c))
    zeros = [c for c in open_cells if c not in pinned]
    return min(zeros) if zeros else None
