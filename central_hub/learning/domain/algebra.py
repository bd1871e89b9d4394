"""When two answers are the same: values, algebraic equivalence, bounded work.

WHY two tests: a pupil's ``1+x`` must be right where the author wrote ``x+1``, and
``(5x+7)(5x-7)`` where the author wrote ``25x^2-49``. Comparing at random points is fast and
refuses almost every wrong answer at once; an answer that agrees everywhere is then proved
equal by sympy (``simplify(a - b) == 0``), so that no two different expressions are taken
for one by chance. Trees reach sympy only through :func:`to_sympy`, built node by node from
sympy's own constructors: nothing a pupil typed is ever handed to a parser that executes
code. Powers are bounded before they are computed (:mod:`.limits`).
"""

from __future__ import annotations

import cmath
import math
import random
from fractions import Fraction
from functools import lru_cache

import sympy

from central_hub.learning.domain import limits
from central_hub.learning.domain.notation import (
    Bin,
    Mixed,
    Neg,
    Node,
    NotationError,
    Num,
    Pi,
    Pow,
    Sqrt,
    Var,
    variables,
)

_TOO_BIG = "Diese Zahl wird zu groß, um sie zu prüfen. Rechne mit kleineren Zahlen."


def degree(node: Node) -> int:
    """An upper bound of the degree the expression reaches when multiplied out; raises
    :class:`NotationError` for powers that could not be computed in bounded time."""
    match node:
        case Var():
            return 1
        case Num() | Mixed() | Pi():
            return 0
        case Neg(operand):
            return degree(operand)
        case Sqrt(operand):
            return degree(operand)
        case Bin("*", left, right):
            return _bounded(degree(left) + degree(right))
        case Bin("/", left, right):
            return _bounded(degree(left) + degree(right))
        case Bin(_, left, right):
            return max(degree(left), degree(right))
        case Pow(base, exponent):
            degree(exponent)
            value = constant_value(exponent)
            if value is None:
                if variables(exponent):
                    return _bounded(max(1, degree(base)) * limits.MAX_EXPONENT)
                return degree(base)
            if abs(value) > limits.MAX_EXPONENT:
                raise NotationError(_TOO_BIG)
            base_value = constant_value(base)
            if base_value is not None and \
                    abs(value) * _digits(base_value) > limits.MAX_POWER_DIGITS:
                raise NotationError(_TOO_BIG)
            return _bounded(degree(base) * math.ceil(abs(value)))
    raise AssertionError(node)  # pragma: no cover - the union is exhaustive


def _digits(value: Fraction) -> float:
    """About how many decimal digits a number's numerator or denominator has per power."""
    if value == 0:
        return 0.0
    return abs(math.log10(abs(value.numerator)) - math.log10(value.denominator)) + 1.0


def _bounded(value: int) -> int:
    if value > limits.MAX_DEGREE:
        raise NotationError(_TOO_BIG)
    return value


def constant_value(node: Node) -> Fraction | None:
    """The exact value of a tree of numbers and + - * / with integer powers, else ``None``."""
    match node:
        case Num(value):
            return value
        case Mixed():
            return node.value
        case Neg(operand):
            inner = constant_value(operand)
            return None if inner is None else -inner
        case Bin(op, left, right):
            a, b = constant_value(left), constant_value(right)
            if a is None or b is None:
                return None
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            return None if b == 0 else a / b
        case Pow(base, exponent):
            b, e = constant_value(base), constant_value(exponent)
            if b is None or e is None or e.denominator != 1 or abs(e) > limits.MAX_EXPONENT:
                return None
            if b == 0 and e < 0:
                return None
            if abs(e) * _digits(b) > limits.MAX_POWER_DIGITS:
                return None
            return b ** int(e)
    return None


@lru_cache(maxsize=4096)
def to_sympy(node: Node) -> sympy.Expr:
    """The tree as a sympy expression, after :func:`degree` has bounded its powers (kept
    for the trees read last, like :func:`~.notation.parse`: sympy's expressions are
    immutable)."""
    degree(node)
    return _convert(node)


def _convert(node: Node) -> sympy.Expr:
    match node:
        case Num(value):
            return sympy.Rational(value.numerator, value.denominator)
        case Mixed():
            value = node.value
            return sympy.Rational(value.numerator, value.denominator)
        case Var(name):
            return sympy.Symbol(name)
        case Pi():
            return sympy.pi
        case Neg(operand):
            return -_convert(operand)
        case Sqrt(operand):
            return sympy.sqrt(_convert(operand))
        case Bin("+", left, right):
            return _convert(left) + _convert(right)
        case Bin("-", left, right):
            return _convert(left) - _convert(right)
        case Bin("*", left, right):
            return _convert(left) * _convert(right)
        case Bin("/", left, right):
            denominator = _convert(right)
            if denominator == 0:
                raise NotationError("Durch 0 kann man nicht teilen.")
            return _convert(left) / denominator
        case Pow(base, exponent):
            b, e = _convert(base), _convert(exponent)
            if b == 0 and e.is_negative:
                raise NotationError("Durch 0 kann man nicht teilen.")
            return sympy.Pow(b, e)
    raise AssertionError(node)  # pragma: no cover


def evaluate(node: Node, point: dict[str, complex]) -> complex:
    """The value at one point, in complex floating point (no sympy, no code execution);
    raises ``ZeroDivisionError``/``OverflowError`` where the expression is undefined."""
    match node:
        case Num(value):
            return complex(value)
        case Mixed():
            return complex(node.value)
        case Var(name):
            return point[name]
        case Pi():
            return complex(math.pi)
        case Neg(operand):
            return -evaluate(operand, point)
        case Sqrt(operand):
            return cmath.sqrt(evaluate(operand, point))
        case Bin("+", left, right):
            return evaluate(left, point) + evaluate(right, point)
        case Bin("-", left, right):
            return evaluate(left, point) - evaluate(right, point)
        case Bin("*", left, right):
            return evaluate(left, point) * evaluate(right, point)
        case Bin("/", left, right):
            return evaluate(left, point) / evaluate(right, point)
        case Pow(base, exponent):
            b, e = evaluate(base, point), evaluate(exponent, point)
            if b == 0 and e.real < 0:
                raise ZeroDivisionError
            if e.imag == 0 and e.real == round(e.real):
                return b ** int(e.real)
            return complex(b ** e)
    raise AssertionError(node)  # pragma: no cover


def _close(a: complex, b: complex) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def numerically_equal(a: Node, b: Node, *, seed: int = 0) -> bool | None:
    """Whether two trees agree at :data:`limits.SAMPLE_POINTS` random complex points;
    ``None`` when too few points were defined for both."""
    names = sorted(variables(a) | variables(b))
    rng = random.Random(seed)
    compared = 0
    for _ in range(limits.SAMPLE_POINTS * 3):
        point = {name: complex(rng.uniform(-3, 3), rng.uniform(-3, 3)) for name in names}
        try:
            va, vb = evaluate(a, point), evaluate(b, point)
        except (ZeroDivisionError, OverflowError):
            continue
        if not (cmath.isfinite(va) and cmath.isfinite(vb)):
            continue
        if not _close(va, vb):
            return False
        compared += 1
        if compared == limits.SAMPLE_POINTS:
            return True
    return None


def equivalent(a: Node, b: Node) -> bool:
    """Whether two answers are the same expression: equal at random points and proved equal
    by sympy. Raises :class:`NotationError` for a tree too big to compute."""
    sa, sb = to_sympy(a), to_sympy(b)
    if numerically_equal(a, b) is False:
        return False
    difference = sa - sb
    if difference == 0:
        return True
    # cheapest first: polynomials need only expand, rational terms cancel
    return any(attempt(difference) == 0
               for attempt in (sympy.expand, sympy.cancel, sympy.simplify))
