"""The privacy gate, cell by cell: suppression, noise, k-anonymity and its report."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.opendata.domain.gate import (
    Cell,
    GateError,
    NoiseFn,
    check_spec,
    pass_gate,
)
from central_hub.opendata.domain.noise import calibrate, derived_sensitivity, laplace
from central_hub.opendata.domain.records import ColumnSpec, ColumnType, PrivacySpec, Table

INT, STR = ColumnType.INTEGER, ColumnType.STRING
RANKS = tuple(f"offers_rank_{r}" for r in range(1, 6))
KITA_SUMS = (("applications", (*RANKS, "no_offer")),)


def dim(name: str, title: str, *, qi: bool = False) -> ColumnSpec:
    return ColumnSpec(name, STR, title, name, "test", quasi_identifier=qi)


def count(name: str, title: str | None = None) -> ColumnSpec:
    return ColumnSpec(name, INT, title or name, name, "test", people=True)


def table(columns: tuple[ColumnSpec, ...], *rows: tuple[object, ...]) -> Table:
    return Table(columns, tuple(rows))


def fixed(delta: int) -> NoiseFn:
    """A noise source that adds ``delta`` to every count (tests that need fixed values)."""
    return lambda counts, scale: tuple(c + delta for c in counts)


ONE = (dim("district", "Stadtteil"), count("people", "Personen"))
KITA_COLUMNS = (
    dim("district", "Stadtteil", qi=True), dim("age_group", "Altersgruppe", qi=True),
    ColumnSpec("places", INT, "Plätze", "places", "test"),
    count("applications", "Anmeldungen"), *(count(r) for r in RANKS), count("no_offer"),
)


def kita_row(district: str, age: str, ranks: tuple[int, ...], no_offer: int) -> tuple[object, ...]:
    return (district, age, 50, sum(ranks) + no_offer, *ranks, no_offer)


# --- primary suppression -------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [3, 5, 7])
def test_counts_below_the_threshold_are_suppressed_and_the_threshold_itself_is_not(
    threshold: int,
) -> None:
    rows = [(f"d{v}", v) for v in range(threshold + 2)]
    result = pass_gate(table(ONE, *rows), PrivacySpec(threshold=threshold))
    assert result.table is not None
    published = [row[1] for row in result.table.rows]
    assert published == [0, *([None] * (threshold - 1)), threshold, threshold + 1]
    assert result.report.primary == tuple(Cell(v, "people") for v in range(1, threshold))
    assert result.report.secondary == ()


def test_a_zero_is_published() -> None:
    result = pass_gate(table(ONE, ("a", 0), ("b", 9)), PrivacySpec())
    assert result.table is not None
    assert result.table.rows == (("a", 0), ("b", 9))
    assert result.report.primary == ()


def test_other_columns_and_the_input_are_left_as_they_are() -> None:
    source = table(KITA_COLUMNS, kita_row("Mitte", "U3", (1, 0, 0, 0, 0), 0),
                   kita_row("Nord", "U3", (9, 3, 0, 0, 0), 2))
    copy = Table(source.columns, tuple(tuple(r) for r in source.rows))
    result = pass_gate(source, PrivacySpec(row_sums=KITA_SUMS))
    assert source == copy
    assert result.table is not None
    assert [r[:3] for r in result.table.rows] == [r[:3] for r in source.rows]


@pytest.mark.parametrize("threshold", [-1, 0, 1, 2])
def test_a_threshold_below_3_is_refused(threshold: int) -> None:
    with pytest.raises(GateError, match="below the minimum 3"):
        PrivacySpec(threshold=threshold)


def test_a_threshold_of_3_is_allowed() -> None:
    assert PrivacySpec(threshold=3).threshold == 3


@pytest.mark.parametrize("fields", [{"epsilon": 0.0}, {"epsilon": -1.0},
                                    {"epsilon": math.inf}, {"k": 0}, {"sensitivity": 0},
                                    {"rows_per_person": 0}])
def test_other_broken_specs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(GateError):
        PrivacySpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", [
    PrivacySpec(row_sums=(("applications", ("places",)),)),
    PrivacySpec(row_sums=(("applications", ()),)),
    PrivacySpec(row_sums=(("applications", ("applications",)),)),
    PrivacySpec(column_sums=(("nowhere",),)),
    PrivacySpec(column_sums=(("applications",),)),
    PrivacySpec(population="places"),
])
def test_a_spec_that_does_not_fit_the_table_is_refused(spec: PrivacySpec) -> None:
    with pytest.raises(GateError):
        check_spec(spec, KITA_COLUMNS)


@pytest.mark.parametrize("value", [-1, 2.5, "3", None, True])
def test_a_people_cell_that_is_no_count_is_refused(value: object) -> None:
    with pytest.raises(GateError, match="not a count"):
        pass_gate(table(ONE, ("a", value)), PrivacySpec())


# --- secondary suppression -----------------------------------------------------------------


def test_a_row_sum_line_gets_a_second_suppression_the_smallest_count() -> None:
    columns = (dim("district", "Stadtteil"), count("total"), count("a"), count("b"),
               count("c"))
    result = pass_gate(table(columns, ("x", 20, 2, 8, 10)),
                       PrivacySpec(row_sums=(("total", ("a", "b", "c")),)))
    assert result.report.primary == (Cell(0, "a"),)
    assert result.report.secondary == (Cell(0, "b"),)
    assert result.table is not None
    assert result.table.rows == (("x", 20, None, None, 10),)


def test_a_column_line_gets_a_second_suppression_ties_by_position() -> None:
    columns = (dim("district", "Stadtteil"), dim("age", "Alter"), count("people"))
    rows = [("a", "U3", 7), ("b", "U3", 2), ("c", "U3", 7), ("a", "Ü3", 9), ("b", "Ü3", 9)]
    result = pass_gate(table(columns, *rows), PrivacySpec(column_sums=(("age",),)))
    assert result.report.primary == (Cell(1, "people"),)
    assert result.report.secondary == (Cell(0, "people"),)


def test_secondary_suppression_propagates_across_lines() -> None:
    # the complement in the applications column opens a row of its own, and so on
    rows = [kita_row("Mitte", "U3", (1, 0, 0, 0, 0), 0),
            kita_row("Nord", "U3", (9, 6, 0, 0, 0), 0),
            kita_row("Süd", "U3", (12, 8, 0, 0, 0), 0)]
    spec = PrivacySpec(row_sums=KITA_SUMS, column_sums=(("age_group",),))
    report = pass_gate(table(KITA_COLUMNS, *rows), spec).report
    assert report.primary == (Cell(0, "applications"), Cell(0, "offers_rank_1"))
    # Mitte's row has one suppressed part (its child's rank 1: everybody counted shares it),
    # so a second part is suppressed, its rank 2 (a zero, not pinned: rank 2 has other
    # counts); applications column -> Nord's 15; Nord's row -> its 6 of rank 2 (smaller than
    # its 9); the rank 1 column -> Nord's 9. Then every line holds two suppressed cells or
    # none, and Mitte's child may have been offered its first or its second choice.
    assert report.secondary == (Cell(0, "offers_rank_2"), Cell(1, "applications"),
                                Cell(1, "offers_rank_1"), Cell(1, "offers_rank_2"))


def test_if_only_zeros_remain_a_zero_is_suppressed() -> None:
    columns = (dim("district", "Stadtteil"), count("people"))
    result = pass_gate(table(columns, ("a", 0), ("b", 2), ("c", 0)),
                       PrivacySpec(column_sums=((),)))
    assert result.report.secondary == (Cell(0, "people"),)
    assert result.table is not None
    assert result.table.rows == (("a", None), ("b", None), ("c", 0))


def test_a_cell_that_equals_a_known_total_refuses_the_table() -> None:
    # the age group has one district only: its known city total is the suppressed cell
    columns = (dim("district", "Stadtteil"), dim("age", "Alter"), count("people", "Kinder"))
    result = pass_gate(table(columns, ("a", "U3", 2), ("a", "Ü3", 9), ("b", "Ü3", 9)),
                       PrivacySpec(column_sums=(("age",),)))
    assert result.table is None
    assert result.report.refused is not None
    assert "Zeile 1" in result.report.refused
    assert "„Kinder“" in result.report.refused


def test_a_zero_pinned_by_a_line_of_zeros_is_no_complement() -> None:
    # (b, people) is 0 and alone in its district line, whose total 0 is known: hiding it
    # protects nothing, so (a, people) = the age total minus 0 cannot be protected
    columns = (dim("district", "Stadtteil"), dim("age", "Alter"), count("people"))
    result = pass_gate(table(columns, ("a", "U3", 2), ("b", "U3", 0), ("a", "Ü3", 9)),
                       PrivacySpec(column_sums=(("age",), ("district",))))
    assert result.table is None


# --- differential privacy ------------------------------------------------------------------


def test_the_noise_report_names_the_parameters() -> None:
    rows = [kita_row("Mitte", "U3", (10, 5, 0, 0, 0), 6)]
    report = pass_gate(table(KITA_COLUMNS, *rows),
                       PrivacySpec(epsilon=1.0, k=1, row_sums=KITA_SUMS)).report
    assert report.noise is not None
    assert report.noise.mechanism == "discrete Laplace"
    assert report.noise.epsilon == 1.0
    assert report.noise.sensitivity == 2  # once in applications, once in one rank column
    assert report.noise.scale == 2.0
    assert report.noise.privacy_loss <= 1.0
    assert report.noise.library == "OpenDP 0.16.0"


def test_without_epsilon_there_is_no_noise() -> None:
    result = pass_gate(table(ONE, ("a", 17)), PrivacySpec())
    assert result.report.noise is None
    assert result.table is not None
    assert result.table.rows == (("a", 17),)


@pytest.mark.parametrize(("people", "row_sums", "rows_per_person", "expected"), [
    (("a",), (), 1, 1),
    (("a", "b"), (), 1, 2),
    (("t", "a", "b"), (("t", ("a", "b")),), 1, 2),
    (("t", "a", "b", "c", "d"), (("t", ("a", "b")), ("a", ("c", "d"))), 1, 3),
    (("t", "a", "b"), (("t", ("a", "b")),), 12, 24),
])
def test_the_derived_sensitivity(people: tuple[str, ...],
                                 row_sums: tuple[tuple[str, tuple[str, ...]], ...],
                                 rows_per_person: int, expected: int) -> None:
    assert derived_sensitivity(people, row_sums, rows_per_person) == expected


def test_the_spec_overrides_the_sensitivity() -> None:
    report = pass_gate(table(ONE, ("a", 17)), PrivacySpec(epsilon=0.5, sensitivity=3)).report
    assert report.noise is not None
    assert report.noise.sensitivity == 3
    assert report.noise.scale == pytest.approx(6.0)


def test_noise_comes_before_suppression_and_negative_counts_clamp_to_zero() -> None:
    rows = (("a", 7), ("b", 3), ("c", 40))
    down = pass_gate(table(ONE, *rows), PrivacySpec(epsilon=1.0), noise=fixed(-5))
    assert down.table is not None
    assert down.table.rows == (("a", None), ("b", 0), ("c", 35))
    assert down.report.primary == (Cell(0, "people"),)
    up = pass_gate(table(ONE, *rows), PrivacySpec(epsilon=1.0), noise=fixed(2))
    assert up.table is not None
    assert up.table.rows == (("a", 9), ("b", 5), ("c", 42))


def test_the_injected_noise_is_handed_the_calibrated_scale() -> None:
    seen: list[float] = []

    def spy(counts: tuple[int, ...], scale: float) -> tuple[int, ...]:
        seen.append(scale)
        return counts

    pass_gate(table(ONE, ("a", 7)), PrivacySpec(epsilon=0.25), noise=spy)
    assert seen == [4.0]


def test_opendp_noise_publishes_only_counts_the_rules_allow() -> None:
    rows = [kita_row(d, a, (v, 2, 1, 0, 0), 3) for d in ("a", "b", "c", "d")
            for a, v in (("U3", 8), ("Ü3", 20))]
    spec = PrivacySpec(epsilon=1.0, k=1, row_sums=KITA_SUMS, column_sums=(("age_group",),))
    for _ in range(20):
        result = pass_gate(table(KITA_COLUMNS, *rows), spec)
        if result.table is None:
            continue
        for row in result.table.rows:
            for v in row[3:]:
                assert v is None or (isinstance(v, int) and (v == 0 or v >= 5))


def test_opendp_noise_is_not_a_fixed_function_of_the_input() -> None:
    source = table(ONE, *((f"d{i}", 1000) for i in range(30)))
    tables = {pass_gate(source, PrivacySpec(epsilon=0.1)).table for _ in range(3)}
    assert len(tables) > 1


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(0.7, 1), (3.3, 2), (0.3, 3),
                                                      (1.0, 2), (0.123456789, 7)])
def test_the_scale_meets_epsilon_by_opendps_privacy_map(epsilon: float,
                                                        sensitivity: int) -> None:
    calibration = calibrate(epsilon, sensitivity)
    assert calibration is not None
    assert calibration.scale >= sensitivity / epsilon
    assert calibration.scale == pytest.approx(sensitivity / epsilon)
    # checked again on a measurement built independently with the reported scale
    assert laplace(calibration.scale).map(sensitivity) <= epsilon  # type: ignore[no-untyped-call]
    assert laplace(calibration.scale).check(sensitivity, epsilon)


def test_the_naive_scale_would_overspend_and_is_raised() -> None:
    # OpenDP rounds the map up: 1/0.7 costs slightly more than 0.7
    assert laplace(1 / 0.7).map(1) > 0.7  # type: ignore[no-untyped-call]
    calibration = calibrate(0.7, 1)
    assert calibration is not None
    assert calibration.scale > 1 / 0.7
    assert calibration.privacy_loss <= 0.7


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.01, max_value=10.0), st.integers(min_value=1, max_value=20))
def test_every_calibration_respects_the_privacy_map(epsilon: float, sensitivity: int) -> None:
    calibration = calibrate(epsilon, sensitivity)
    assert calibration is not None
    assert calibration.privacy_loss <= epsilon
    assert calibration.measurement.map(sensitivity) <= epsilon  # type: ignore[no-untyped-call]


# --- k-anonymity ---------------------------------------------------------------------------


def test_a_table_below_k_is_refused() -> None:
    rows = [kita_row("Mitte", "U3", (3, 1, 0, 0, 0), 0), kita_row("Nord", "U3", (9, 3, 0, 0, 0), 2)]
    result = pass_gate(table(KITA_COLUMNS, *rows), PrivacySpec(threshold=3, k=5))
    assert result.table is None
    assert result.report.k == 4
    assert result.report.k_required == 5
    assert result.report.refused is not None
    assert "k = 4" in result.report.refused
    assert "Stadtteil, Altersgruppe" in result.report.refused


def test_k_counts_published_people_only() -> None:
    # Mitte's 4 are suppressed (a group publishing no people), Nord's 3 of rank 1 too
    rows = [kita_row("Mitte", "U3", (4, 0, 0, 0, 0), 0), kita_row("Nord", "U3", (9, 3, 0, 0, 0), 2),
            kita_row("Süd", "U3", (6, 0, 0, 0, 0), 0)]
    result = pass_gate(table(KITA_COLUMNS, *rows), PrivacySpec(k=5))
    assert result.report.k == 6
    assert result.report.quasi_identifiers == ("district", "age_group")
    assert result.report.population == "applications"
    assert result.table is not None


def test_k_counts_the_population_column_of_the_spec() -> None:
    rows = [kita_row("Mitte", "U3", (9, 0, 0, 0, 0), 6)]
    report = pass_gate(table(KITA_COLUMNS, *rows), PrivacySpec(population="no_offer")).report
    assert report.k == 6
    assert report.population == "no_offer"


def test_k_sums_the_rows_of_a_combination() -> None:
    columns = (dim("district", "Stadtteil", qi=True), dim("month", "Monat"), count("people"))
    rows = [("a", "01", 3), ("a", "02", 3), ("b", "01", 9)]
    report = pass_gate(table(columns, *rows), PrivacySpec(threshold=3, k=5)).report
    assert report.k == 6
    assert report.refused is None


def test_without_quasi_identifiers_there_is_no_k() -> None:
    report = pass_gate(table(ONE, ("a", 9)), PrivacySpec()).report
    assert report.k is None
    assert report.quasi_identifiers == ()
    assert not any("Kombination" in s for s in report.plain_words())


# --- the report ----------------------------------------------------------------------------


def kita_report_case() -> Table:
    return table(KITA_COLUMNS,
                 kita_row("Mitte", "U3", (1, 0, 0, 0, 0), 0),
                 kita_row("Nord", "U3", (9, 6, 0, 0, 0), 0),
                 kita_row("Süd", "U3", (12, 8, 0, 0, 0), 0))


def test_the_report_is_json() -> None:
    report = pass_gate(kita_report_case(), PrivacySpec(
        row_sums=KITA_SUMS, column_sums=(("age_group",),))).report
    data = json.loads(json.dumps(report.as_dict()))
    assert data["threshold"] == 5
    assert data["suppressed"]["primary"]["count"] == 2
    assert data["suppressed"]["primary"]["cells"][0] == {"row": 0, "column": "applications"}
    assert data["suppressed"]["secondary"]["count"] == 4
    assert data["noise"] is None
    assert data["k_anonymity"] == {"k": 20, "k_required": 5,
                                   "quasi_identifiers": ["district", "age_group"],
                                   "population": "applications"}
    assert data["refused"] is None


def test_the_report_in_plain_words() -> None:
    report = pass_gate(kita_report_case(), PrivacySpec(
        row_sums=KITA_SUMS, column_sums=(("age_group",),))).report
    assert report.plain_words() == (
        "2 Zellen mit weniger als 5 Personen wurden unterdrückt.",
        "4 weitere Zellen wurden unterdrückt, damit die unterdrückten nicht aus Summen "
        "errechnet werden können.",
        "Zellen mit 0 Personen werden gezeigt: dass niemand darin ist, verrät über niemanden "
        "etwas.",
        "Jede veröffentlichte Kombination aus Stadtteil, Altersgruppe steht für mindestens "
        "5 Personen (k = 20).",
    )


def test_plain_words_of_noise_singular_and_refusal() -> None:
    noisy = pass_gate(table(ONE, ("a", 3), ("b", 9)), PrivacySpec(epsilon=1.0),
                      noise=fixed(0)).report
    assert noisy.plain_words() == (
        "Auf die Personenzahlen wurde Rauschen nach Differential Privacy gelegt "
        "(ε = 1,0 je Veröffentlichung, diskreter Laplace-Mechanismus, Skala 1,0).",
        "1 Zelle mit weniger als 5 Personen wurde unterdrückt.",
    )
    small = pass_gate(table(ONE, ("a", 9)), PrivacySpec(epsilon=0.3, sensitivity=2),
                      noise=fixed(0)).report
    assert "ε = 0,3 je Veröffentlichung" in small.plain_words()[0]
    assert "Skala 6,67)" in small.plain_words()[0]
    refused = pass_gate(table(KITA_COLUMNS, kita_row("Mitte", "U3", (3, 1, 0, 0, 0), 0)),
                        PrivacySpec(threshold=3, k=5)).report
    assert refused.plain_words()[0].startswith("Die Tabelle wurde nicht veröffentlicht: ")
    assert not any(s.startswith("Jede veröffentlichte") for s in refused.plain_words())


def test_a_lone_suppressed_part_of_a_row_sum_gets_a_second_part() -> None:
    # three children, all offered their first choice: suppressing the 3s hides the number,
    # but a reader who sees every other part published as 0 learns that whoever applied
    # there got the first choice; a second part (a zero) is suppressed beside it
    rows = [kita_row("Mitte", "U3", (3, 0, 0, 0, 0), 0),
            kita_row("Nord", "U3", (20, 6, 0, 0, 0), 0),
            kita_row("Süd", "U3", (12, 8, 0, 0, 0), 0)]
    result = pass_gate(table(KITA_COLUMNS, *rows), PrivacySpec(row_sums=KITA_SUMS))
    assert result.report.primary == (Cell(0, "applications"), Cell(0, "offers_rank_1"))
    assert result.report.secondary == (Cell(0, "offers_rank_2"),)
    assert result.table is not None
    mitte = result.table.rows[0]
    parts = mitte[KITA_COLUMNS.index(count("offers_rank_1")):][:6]
    assert sum(cell is None for cell in parts) == 2
