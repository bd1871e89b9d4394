"""An attacker against the gate's suppression: no suppressed cell may be computed back.

The attacker knows the published table and, conservatively, the total of every line (computed
from the ORIGINAL table): each row sum (``total - sum(parts) = 0``) and the total of every
people column over the rows agreeing on a ``column_sums`` group. Until nothing changes it
solves every line with exactly one unknown cell (difference attack) and bounds every unknown
of a line by ``0 .. remainder`` (a remainder of 0 gives all of them away).
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import event, given, settings
from hypothesis import strategies as st

from central_hub.opendata.domain.gate import pass_gate
from central_hub.opendata.domain.records import ColumnSpec, ColumnType, PrivacySpec, Table

INT, STR = ColumnType.INTEGER, ColumnType.STRING
Cell = tuple[int, str]
#: a line: {cell: +1 or -1} and the known value of the signed sum
Equation = tuple[dict[Cell, int], int]


def equations(original: Table, privacy: PrivacySpec) -> list[Equation]:
    """Every line of the spec, with its total taken from the original table."""
    people = [c.name for c in original.columns if c.people]
    eqs: list[Equation] = []
    for r in range(len(original.rows)):
        for total, parts in privacy.row_sums:
            eqs.append(({(r, total): 1, **{(r, p): -1 for p in parts}}, 0))
    for dims in privacy.column_sums:
        groups: dict[tuple[object, ...], list[int]] = {}
        for r, row in enumerate(original.rows):
            groups.setdefault(tuple(row[original.index(d)] for d in dims), []).append(r)
        for members in groups.values():
            for name in people:
                value = sum(int(original.rows[r][original.index(name)]) for r in members)  # type: ignore[call-overload]
                eqs.append(({(r, name): 1 for r in members}, value))
    return eqs


def attack(published: Table, eqs: Sequence[Equation]) -> dict[Cell, int]:
    """The suppressed cells the attacker determines exactly, with their values."""
    known: dict[Cell, int] = {}
    unknown: set[Cell] = set()
    for r, row in enumerate(published.rows):
        for c in published.columns:
            if c.people:
                value = row[published.index(c.name)]
                if value is None:
                    unknown.add((r, c.name))
                else:
                    assert isinstance(value, int)
                    known[(r, c.name)] = value
    found: dict[Cell, int] = {}
    changed = True
    while changed:
        changed = False
        for coeffs, constant in eqs:
            open_cells = [cell for cell in coeffs if cell in unknown]
            if not open_cells:
                continue
            rest = constant - sum(a * known[cell] for cell, a in coeffs.items()
                                  if cell not in unknown)
            solved: dict[Cell, int] = {}
            if len(open_cells) == 1:  # difference attack
                solved[open_cells[0]] = rest * coeffs[open_cells[0]]
            signs = {coeffs[cell] for cell in open_cells}
            if len(signs) == 1 and rest * signs.pop() == 0:
                # unknowns of one sign, counts >= 0, summing to the remainder 0: all are 0
                solved.update(dict.fromkeys(open_cells, 0))
            for cell, value in solved.items():
                unknown.discard(cell)
                known[cell] = found[cell] = value
                changed = True
    return found


# --- random tables -------------------------------------------------------------------------


@st.composite
def cases(draw: st.DrawFn) -> tuple[Table, PrivacySpec]:
    """Tables of 1-3 dimensions (1-4 values each, some combinations missing), standalone
    people columns or a total with its parts, small counts; random lines."""
    n_dims = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 4)) for _ in range(n_dims)]
    dims = [ColumnSpec(f"d{i}", STR, f"D{i}", "dim", "test") for i in range(n_dims)]
    combos: list[tuple[str, ...]] = [()]
    for i, size in enumerate(sizes):
        combos = [(*c, f"v{i}{j}") for c in combos for j in range(size)]
    kept = [c for c in combos if draw(st.booleans()) or draw(st.booleans())] or combos[:1]
    small = st.integers(0, 9) | st.integers(0, 3)
    with_total = draw(st.booleans())
    n_counts = draw(st.integers(2, 4) if with_total else st.integers(1, 3))
    names = [f"p{i}" for i in range(n_counts)]
    counts = [ColumnSpec(n, INT, n, "count", "test", people=True) for n in names]
    rows: list[tuple[object, ...]] = []
    for combo in kept:
        values = [draw(small) for _ in names]
        rows.append((*combo, sum(values), *values) if with_total else (*combo, *values))
    columns = (*dims, *([ColumnSpec("total", INT, "total", "count", "test", people=True)]
                        if with_total else []), *counts)
    all_dims = tuple(d.name for d in dims)
    subsets = [tuple(d for d, take in zip(all_dims, mask, strict=True) if take)
               for mask in draw(st.lists(st.tuples(*(st.booleans() for _ in all_dims)),
                                         max_size=3, unique=True))]
    row_sums = (("total", tuple(names)),) if with_total and draw(st.booleans()) else ()
    privacy = PrivacySpec(threshold=draw(st.integers(3, 6)), k=1, row_sums=row_sums,
                          column_sums=tuple(subsets))
    return Table(tuple(columns), tuple(rows)), privacy


@settings(max_examples=200, deadline=None)
@given(cases())
def test_no_suppressed_cell_can_be_computed_from_the_known_totals(
    case: tuple[Table, PrivacySpec],
) -> None:
    original, privacy = case
    result = pass_gate(original, privacy)
    event("refused" if result.table is None else "published")
    if result.table is None:
        return
    event(f"suppressed: {'some' if result.report.primary else 'none'}")
    assert attack(result.table, equations(original, privacy)) == {}


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_line_holds_no_or_at_least_two_suppressed_cells(
    case: tuple[Table, PrivacySpec],
) -> None:
    original, privacy = case
    result = pass_gate(original, privacy)
    if result.table is None:
        return
    for coeffs, _ in equations(original, privacy):
        hidden = [cell for cell in coeffs
                  if result.table.rows[cell[0]][result.table.index(cell[1])] is None]
        assert len(hidden) != 1


# --- the Kita case -------------------------------------------------------------------------

RANKS = tuple(f"offers_rank_{r}" for r in range(1, 6))
KITA_COLUMNS = (
    ColumnSpec("district", STR, "Stadtteil", "d", "test", quasi_identifier=True),
    ColumnSpec("age_group", STR, "Altersgruppe", "a", "test", quasi_identifier=True),
    ColumnSpec("applications", INT, "Anmeldungen", "a", "test", people=True),
    *(ColumnSpec(r, INT, r, r, "test", people=True) for r in RANKS),
    ColumnSpec("no_offer", INT, "Ohne Zusage", "n", "test", people=True),
)
KITA_PRIVACY = PrivacySpec(row_sums=(("applications", (*RANKS, "no_offer")),),
                           column_sums=(("age_group",), ("district",)))


def kita_table() -> Table:
    """Four districts × two age groups; in Wesertor one child of U3, offered its 2nd choice."""
    def row(district: str, age: str, ranks: tuple[int, ...], no_offer: int) -> tuple[object, ...]:
        return (district, age, sum(ranks) + no_offer, *ranks, no_offer)

    return Table(KITA_COLUMNS, (
        row("Mitte", "U3", (14, 6, 3, 0, 0), 5),
        row("Mitte", "Ü3", (30, 9, 4, 2, 0), 3),
        row("Nord-Holland", "U3", (11, 5, 2, 1, 0), 7),
        row("Nord-Holland", "Ü3", (25, 8, 3, 0, 0), 2),
        row("Wesertor", "U3", (0, 1, 0, 0, 0), 0),
        row("Wesertor", "Ü3", (18, 6, 0, 0, 0), 4),
        row("Wehlheiden", "U3", (16, 7, 2, 0, 0), 7),
        row("Wehlheiden", "Ü3", (33, 10, 5, 1, 0), 0),
    ))


def test_the_one_childs_offer_cannot_be_read() -> None:
    original = kita_table()
    result = pass_gate(original, KITA_PRIVACY)
    assert result.table is not None
    wesertor = result.table.rows[4]
    assert wesertor[original.index("applications")] is None
    assert wesertor[original.index("offers_rank_2")] is None
    assert attack(result.table, equations(original, KITA_PRIVACY)) == {}


def test_the_attacker_reads_the_offer_without_secondary_suppression() -> None:
    # the same table with only the primary suppressions: the attacker is not toothless
    original = kita_table()
    primary = {(c.row, c.column) for c in pass_gate(original, KITA_PRIVACY).report.primary}
    naive = Table(original.columns, tuple(
        tuple(None if (r, original.columns[i].name) in primary else v
              for i, v in enumerate(row)) for r, row in enumerate(original.rows)))
    found = attack(naive, equations(original, KITA_PRIVACY))
    assert found[(4, "offers_rank_2")] == 1
    assert found[(4, "applications")] == 1
