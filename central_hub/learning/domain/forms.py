"""The form an answer must take besides its value: reduced, expanded, factorised, n decimals.

WHY separate from the value: ``6/8`` equals ``3/4``, but a task that says "kürze
vollständig" is not done with it, and the pupil deserves to hear that the value is right and
the form is not. Each form is judged on the tree as the pupil wrote it
(:mod:`.notation`), because sympy would have reduced, distributed or rounded it already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from central_hub.learning.domain.algebra import to_sympy
from central_hub.learning.domain.notation import Bin, Neg, Node, Num, Pow, Sqrt

_DECIMALS = re.compile(r"decimals:(\d{1,2})")


@dataclass(frozen=True, slots=True)
class Form:
    """A form requirement: ``reduced``, ``expanded``, ``factorised`` or ``decimals`` (with
    :attr:`places`)."""

    name: str
    places: int = 0

    @classmethod
    def parse(cls, text: str) -> Form:
        """``reduced``, ``expanded``, ``factorised``/``factorized``, ``decimals:N``."""
        text = text.strip().lower()
        if text in ("reduced", "expanded"):
            return cls(text)
        if text in ("factorised", "factorized"):
            return cls("factorised")
        match = _DECIMALS.fullmatch(text)
        if match:
            return cls("decimals", int(match.group(1)))
        raise ValueError(f"unknown form {text!r} (reduced, expanded, factorised, decimals:N)")

    def __str__(self) -> str:
        return f"decimals:{self.places}" if self.name == "decimals" else self.name

    def feedback(self) -> str:
        """What a pupil reads when the value is right and the form is not."""
        if self.name == "reduced":
            return "Der Wert stimmt, aber gib ihn als vollständig gekürzten Bruch an."
        if self.name == "expanded":
            return ("Der Wert stimmt, aber der Term ist noch nicht ausmultipliziert und "
                    "zusammengefasst.")
        if self.name == "factorised":
            return "Der Wert stimmt, aber der Term ist noch nicht vollständig faktorisiert."
        return (f"Der Wert stimmt, aber gib das Ergebnis mit genau {self.places} "
                "Nachkommastellen an.")

    def holds(self, node: Node) -> bool:
        """Whether the written answer has this form."""
        if self.name == "reduced":
            return _reduced(node)
        if self.name == "expanded":
            return _expanded(node)
        if self.name == "factorised":
            return _factorised(node)
        return _decimals(node) == self.places


def _walk(node: Node) -> list[Node]:
    out = [node]
    match node:
        case Neg(operand) | Sqrt(operand):
            out += _walk(operand)
        case Bin(_, left, right) | Pow(left, right):
            out += _walk(left) + _walk(right)
    return out


def _reduced(node: Node) -> bool:
    for part in _walk(node):
        if isinstance(part, Num) and part.decimals:
            return False  # a decimal is not a fraction at all
        if isinstance(part, Bin) and part.op == "/":
            numerator, denominator = to_sympy(part.left), to_sympy(part.right)
            if denominator in (1, -1) or sympy.gcd(numerator, denominator) not in (1, -1):
                return False
            if denominator.is_number and denominator < 0:
                return False
    return True


def _is_sum(node: Node) -> bool:
    while isinstance(node, Neg):
        node = node.operand
    return isinstance(node, Bin) and node.op in "+-"


def _terms(node: Node) -> int:
    if isinstance(node, Bin) and node.op in "+-":
        return _terms(node.left) + _terms(node.right)
    if isinstance(node, Neg):
        return _terms(node.operand)
    return 1


def _expanded(node: Node) -> bool:
    for part in _walk(node):
        if isinstance(part, Bin) and part.op == "*" and (_is_sum(part.left) or _is_sum(part.right)):
            return False
        if isinstance(part, Bin) and part.op == "/" and _is_sum(part.right):
            return False
        if isinstance(part, Pow) and _is_sum(part.base):
            return False
    # like terms collected: as many terms as the multiplied-out expression has
    return _terms(node) == len(sympy.Add.make_args(sympy.expand(to_sympy(node))))


def _factors(node: Node) -> list[Node]:
    match node:
        case Neg(operand):
            return _factors(operand)
        case Bin("*", left, right):
            return _factors(left) + _factors(right)
        case Pow(base, Num()):
            return _factors(base)
    return [node]


def _factorised(node: Node) -> bool:
    for factor in _factors(node):
        expression = to_sympy(factor)
        if not expression.free_symbols:
            continue
        content, parts = sympy.factor_list(expression)
        if len(parts) != 1 or parts[0][1] != 1 or content not in (1, -1):
            return False
    return True


def _decimals(node: Node) -> int | None:
    """The decimals of an answer that is one number (with a sign), else ``None``."""
    while isinstance(node, Neg):
        node = node.operand
    if isinstance(node, Num):
        return node.decimals
    return None

