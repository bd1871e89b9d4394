"""Quantities with units as written at school: ``2,5 km`` is ``2500 m``.

WHY pint behind a list of school units: pint knows the conversions, so ``2,5 km`` equals
``2500 m`` and ``90 min`` equals ``1,5 h`` without a table of our own. But pint reads far more
than a pupil means (``a`` is a year to pint and an Ar at school) and its parser is not ours to
bound, so the unit part is read here against the units taught at school, in their German
spellings, and only the resulting unit names are handed to pint.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache

import pint
import sympy

from central_hub.learning.domain import limits
from central_hub.learning.domain.algebra import constant_value, to_sympy
from central_hub.learning.domain.notation import NotationError, Num, normalise, parse, variables

#: school spelling -> pint unit name
SCHOOL_UNITS: dict[str, str] = {
    "mm": "millimeter", "cm": "centimeter", "dm": "decimeter", "m": "meter", "km": "kilometer",
    "a": "are", "ar": "are", "ha": "hectare",
    "ml": "milliliter", "cl": "centiliter", "l": "liter", "hl": "hectoliter",
    "mg": "milligram", "g": "gram", "kg": "kilogram", "t": "metric_ton",
    "s": "second", "sek": "second", "min": "minute", "h": "hour", "std": "hour",
    "d": "day", "tag": "day", "tage": "day",
    "€": "euro", "eur": "euro", "euro": "euro", "ct": "cent", "cent": "cent",
    "%": "percent",
}
_SPLIT = re.compile(r"[a-zA-Zäöüß€%]")
_UNIT_TOKEN = re.compile(
    r"\s*(?:(?P<name>[a-zA-Zäöüß€%]+)\.?(?P<power>[²³]|\^?[23](?![0-9]))?|(?P<op>[/*]))")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with a unit: exact magnitude as written, pint unit."""

    magnitude: float
    unit: pint.Unit
    #: digits after the decimal separator as written (0 for an integer or a fraction)
    decimals: int = 0
    #: the magnitude exactly, where it is rational (``2,5``, ``4 1/2``; not ``2π``)
    exact: Fraction | None = None

    def base(self) -> tuple[float, str]:
        """The magnitude in SI base units and the dimensionality, for comparing."""
        quantity = (self.magnitude * self.unit).to_base_units()
        return float(quantity.magnitude), str(quantity.dimensionality)


@cache
def registry() -> pint.UnitRegistry:  # type: ignore[type-arg]
    """One unit registry for the process (building one takes a quarter of a second)."""
    units: pint.UnitRegistry = pint.UnitRegistry(cache_folder=None)  # type: ignore[type-arg]
    units.define("euro = [currency] = EUR")
    units.define("cent = euro / 100")
    return units


def parse_unit(text: str) -> pint.Unit:
    """``km/h``, ``m²``, ``cm^3``, ``€``: a unit from :data:`SCHOOL_UNITS`, or
    :class:`NotationError`."""
    units = registry()
    result = units.dimensionless
    pos, divide, expect_unit = 0, False, True
    while pos < len(text):
        match = _UNIT_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if not text[pos:].strip():
                break
            raise NotationError(f"Die Einheit „{text.strip()}“ kenne ich nicht.")
        pos = match.end()
        if match.group("op"):
            if expect_unit:
                raise NotationError(f"Die Einheit „{text.strip()}“ kenne ich nicht.")
            divide, expect_unit = match.group("op") == "/", True
            continue
        name = SCHOOL_UNITS.get(match.group("name").lower())
        if name is None:
            raise NotationError(f"Die Einheit „{match.group('name')}“ kenne ich nicht.")
        power_text = (match.group("power") or "").lstrip("^")
        power = {"": 1, "2": 2, "²": 2, "3": 3, "³": 3}[power_text]
        unit = getattr(units, name) ** power
        result = result / unit if divide else result * unit
        divide, expect_unit = False, False
    if expect_unit:
        raise NotationError("Hier fehlt die Einheit, zum Beispiel „m“ oder „kg“.")
    return result


_COMPOUND = re.compile(r"(?:\s*\d+(?:[.,]\d+)?\s*[a-zA-Z€]+\.?){2,4}\s*")
_COMPOUND_PART = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*([a-zA-Z€]+\.?)")


def _compound(text: str) -> Quantity | None:
    """``1 h 30 min``, ``2 m 35 cm``, ``3 € 50 ct``: parts of one kind, added up in the
    first part's unit."""
    if not _COMPOUND.fullmatch(text):
        return None
    parts = [(Fraction(number.replace(",", ".")), parse_unit(unit_text))
             for number, unit_text in _COMPOUND_PART.findall(text)]
    unit = parts[0][1]
    total = Fraction(0)
    for number, part_unit in parts:
        if (1 * part_unit).dimensionality != (1 * unit).dimensionality:
            raise NotationError("Die Teile dieser Größe passen nicht zusammen.")
        factor = Fraction((1 * part_unit).to(unit).magnitude).limit_denominator(10**9)
        total += number * factor
    return Quantity(float(total), unit, 0, total)


@lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Quantity:
    """``2,5 km``, ``4 1/2 h``, ``3,20 €``, ``2π m``: a number and a unit, or
    :class:`NotationError`. The unit is the text from the first letter (or ``€``, ``%``) at
    which the rest reads as a unit; what stands before it must be a number."""
    text = normalise(text)
    if len(text) > limits.MAX_ANSWER_CHARS:
        raise NotationError("Diese Antwort ist zu lang.")
    compound = _compound(text)
    if compound is not None:
        return compound
    error = NotationError("Hier fehlt die Einheit, zum Beispiel „m“ oder „kg“.")
    for match in _SPLIT.finditer(text):
        try:
            unit = parse_unit(text[match.start():])
        except NotationError as exc:
            error = exc
            continue
        number_text = text[:match.start()]
        if not number_text.strip():
            raise NotationError("Vor der Einheit fehlt die Zahl.")
        node = parse(number_text)
        if variables(node):
            raise NotationError("Vor der Einheit muss eine Zahl stehen.")
        value = to_sympy(node)
        if not value.is_real:
            raise NotationError("Vor der Einheit muss eine Zahl stehen.")
        exact = constant_value(node)
        return Quantity(float(sympy.N(value)), unit,
                        node.decimals if isinstance(node, Num) else 0, exact)
    raise error


def same_quantity(a: Quantity, b: Quantity) -> bool:
    """The same amount, whatever the units: ``2,5 km`` = ``2500 m``; ``2,5 kg`` ≠ ``2,5 km``."""
    (va, da), (vb, db) = a.base(), b.base()
    return da == db and math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-12)


def same_dimension(a: Quantity, b: Quantity) -> bool:
    """Whether two quantities measure the same thing (length, mass, time...)."""
    return a.base()[1] == b.base()[1]
