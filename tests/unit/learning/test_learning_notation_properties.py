"""Properties of the notation reader and the checker, over generated input (hypothesis):
whatever a pupil types, the checker answers with a verdict; equal terms written differently
are equal, different ones are not."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.learning.domain.algebra import equivalent
from central_hub.learning.domain.checking import check_typed
from central_hub.learning.domain.exercises import read_answer_spec
from central_hub.learning.domain.notation import NotationError, parse

SCHOOL_ALPHABET = "0123456789xyab+-*/:^()., ²³√π·−sqrtpi€kmgh%_'\"[]{}=<>!"

EXPRESSION = read_answer_spec({"kind": "expression", "value": "x^2-1"}, "property")
QUANTITY = read_answer_spec({"kind": "quantity", "value": "2,5 km"}, "property")
NUMBER = read_answer_spec({"kind": "number", "value": "3/4", "form": "reduced"}, "property")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=SCHOOL_ALPHABET, max_size=40) | st.text(max_size=40))
def test_any_typed_answer_gets_a_verdict(answer: str) -> None:
    for spec in (EXPRESSION, QUANTITY, NUMBER):
        result = check_typed(spec, answer)
        assert result.feedback
        assert result.correct in (True, False)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=SCHOOL_ALPHABET, max_size=60))
def test_the_reader_raises_only_its_own_error(answer: str) -> None:
    try:
        parse(answer)
    except NotationError as exc:
        assert str(exc)


coefficients = st.integers(min_value=-9, max_value=9)


@settings(max_examples=150, deadline=None)
@given(coefficients, coefficients, coefficients, coefficients)
def test_a_product_equals_its_expansion_and_not_a_changed_one(a: int, b: int, c: int,
                                                              d: int) -> None:
    product = parse(f"({a}x+{b})({c}x+{d})".replace("+-", "-"))
    expanded = parse(f"{a * c}x^2+{a * d + b * c}x+{b * d}".replace("+-", "-"))
    assert equivalent(product, expanded)
    assert equivalent(expanded, product)
    changed = parse(f"{a * c}x^2+{a * d + b * c}x+{b * d + 1}".replace("+-", "-"))
    assert not equivalent(product, changed)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=99), st.integers(min_value=1, max_value=99),
       st.integers(min_value=2, max_value=99))
def test_decimal_comma_point_and_mixed_numbers_agree(whole: int, numerator: int,
                                                      denominator: int) -> None:
    numerator = numerator % denominator or 1
    mixed = parse(f"{whole} {numerator}/{denominator}")
    improper = parse(f"{whole * denominator + numerator}/{denominator}")
    assert equivalent(mixed, improper)
    assert equivalent(parse(f"{whole},{numerator:02d}"), parse(f"{whole}.{numerator:02d}0"))
