"""Reading school notation into a tree: numbers, letters and the operations between them.

WHY a parser of our own: the tools that read maths from text (Python's ``eval``, sympy's
``sympify`` and ``parse_expr``) execute code, and a public check route must never run what a
pupil typed. This grammar knows only what a pupil writes at school, and everything else is
refused with a friendly German message:

* numbers with a decimal comma or point (``2,5`` = ``2.50``), fractions, mixed numbers
  (``4 2/7`` = 30/7);
* single letters as variables, ``pi``/``π``; ``sqrt(...)``, ``√``;
* ``+ - − * · × / : ÷ ^ ** ² ³`` and parentheses;
* implicit multiplication: ``5x``, ``2(x+1)``, ``(5x+7)(5x-7)``, ``xy``.

The tree keeps what the pupil wrote (a fraction as a fraction, how many decimals), because
the form requirements ("fully reduced", "2 decimal places") are about the writing, not the
value. Sizes are bounded before anything is built (:mod:`.limits`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

from central_hub.learning.domain import limits
from central_hub.learning.errors import NotationError

__all__ = ["NotationError", "normalise", "parse", "variables"]


@dataclass(frozen=True, slots=True)
class Num:
    """A number as written: its value and how (``int``, ``decimal`` with its decimals)."""

    value: Fraction
    decimals: int  # digits after the decimal separator; 0 for an integer


@dataclass(frozen=True, slots=True)
class Mixed:
    """A mixed number, ``4 2/7``: whole part and a proper fraction."""

    whole: int
    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction:
        """``whole + numerator/denominator``."""
        return self.whole + Fraction(self.numerator, self.denominator)


@dataclass(frozen=True, slots=True)
class Var:
    """A variable: one letter."""

    name: str


@dataclass(frozen=True, slots=True)
class Pi:
    """The circle number."""


@dataclass(frozen=True, slots=True)
class Neg:
    """``-x``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Bin:
    """A binary operation; ``implicit`` marks a multiplication written without a sign."""

    op: Literal["+", "-", "*", "/"]
    left: Node
    right: Node
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class Pow:
    """``base ^ exponent``."""

    base: Node
    exponent: Node


@dataclass(frozen=True, slots=True)
class Sqrt:
    """The square root."""

    operand: Node


Node = Num | Mixed | Var | Pi | Neg | Bin | Pow | Sqrt

# -- tokens ---------------------------------------------------------------------------------

_TRANSLATE = str.maketrans({
    "−": "-", "–": "-", "—": "-", "·": "*", "⋅": "*", "×": "*", "÷": ":", "π": "π",
    "（": "(", "）": ")", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})
_WORDS = {"sqrt": "sqrt", "wurzel": "sqrt", "pi": "pi"}
_TOKEN = re.compile(r"""
    (?P<mixed>\d+[ ]+\d+[ ]*/[ ]*\d+(?![\d.,]))
  | (?P<num>\d+(?:[.,]\d+)?|[.,]\d+)
  | (?P<word>[a-zA-Z]+)
  | (?P<pi>π)
  | (?P<pow>\*\*|\^)
  | (?P<sup>[²³])
  | (?P<op>[-+*/:()√])
  | (?P<space>[ \t]+)
""", re.VERBOSE)

Token = tuple[str, str]


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise NotationError(
                f"Das Zeichen „{text[pos]}“ kann ich in einer Rechnung nicht lesen.")
        kind = match.lastgroup or ""
        value = match.group()
        pos = match.end()
        if kind == "space":
            continue
        if kind == "word":
            word = _WORDS.get(value.lower())
            if word is not None:
                out.append(("func" if word == "sqrt" else "pi", word))
            elif len(value) > 8:
                raise NotationError(
                    f"„{value}“ ist kein Rechenausdruck. Variablen sind einzelne Buchstaben.")
            else:
                out.extend(("var", letter) for letter in value)
            continue
        if kind == "num" and len(value.replace(",", "").replace(".", "")) > limits.MAX_DIGITS:
            raise NotationError("Diese Zahl ist zu lang.")
        out.append((kind, value))
    return out


def normalise(text: str) -> str:
    """The answer in one spelling: Unicode NFC, school signs mapped to ASCII, trimmed."""
    return unicodedata.normalize("NFC", text).translate(_TRANSLATE).strip()


# -- parser ---------------------------------------------------------------------------------

_STARTS_ATOM = frozenset({"num", "mixed", "var", "pi", "func"})


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at(self, kind: str, value: str | None = None) -> bool:
        token = self.peek()
        return token is not None and token[0] == kind and (value is None or token[1] == value)

    def made(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > limits.MAX_NODES:
            raise NotationError("Dieser Ausdruck ist zu lang. Fasse ihn zusammen.")
        return node

    def enter(self) -> None:
        self.depth += 1
        if self.depth > limits.MAX_DEPTH:
            raise NotationError("Dieser Ausdruck ist zu tief verschachtelt.")

    def sum(self) -> Node:
        self.enter()
        node = self.term()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.take()[1]
            right = self.term()
            node = self.made(Bin("+" if op == "+" else "-", node, right))
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.signed()
        while True:
            token = self.peek()
            if token is None:
                return node
            if token[0] == "op" and token[1] in "*/:":
                self.take()
                right = self.signed()
                node = self.made(Bin("*" if token[1] == "*" else "/", node, right))
            elif token[0] in _STARTS_ATOM or token in (("op", "("), ("op", "√")):
                if token[0] in ("num", "mixed"):
                    raise NotationError("Zwischen zwei Zahlen fehlt ein Rechenzeichen.")
                right = self.power()
                node = self.made(Bin("*", node, right, implicit=True))
            else:
                return node

    def signed(self) -> Node:
        if self.at("op", "-") or self.at("op", "+"):
            op = self.take()[1]
            self.enter()
            operand = self.signed()
            self.depth -= 1
            return self.made(Neg(operand)) if op == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.at("pow"):
            self.take()
            self.enter()
            exponent = self.signed()
            self.depth -= 1
            return self.made(Pow(base, exponent))
        return base

    def postfix(self) -> Node:
        node = self.atom()
        while self.at("sup"):
            exponent = 2 if self.take()[1] == "²" else 3
            node = self.made(Pow(node, Num(Fraction(exponent), 0)))
        return node

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise NotationError("Der Ausdruck endet zu früh: Hier fehlt noch etwas.")
        kind, value = self.take()
        if kind == "num":
            decimals = value.replace(",", ".").partition(".")[2]
            return self.made(Num(Fraction(value.replace(",", ".")), len(decimals)))
        if kind == "mixed":
            whole_text, fraction = value.split(None, 1)
            numerator, denominator = (int(part) for part in fraction.split("/"))
            if denominator == 0:
                raise NotationError("Durch 0 kann man nicht teilen.")
            if numerator >= denominator:
                raise NotationError(
                    "Bei einer gemischten Zahl ist der Bruch kleiner als 1 (z. B. 4 2/7).")
            return self.made(Mixed(int(whole_text), numerator, denominator))
        if kind == "var":
            return self.made(Var(value))
        if kind == "pi":
            return self.made(Pi())
        if kind == "func" or (kind, value) == ("op", "√"):
            self.enter()
            operand = self.power() if kind == "op" else self.parenthesised()
            self.depth -= 1
            return self.made(Sqrt(operand))
        if (kind, value) == ("op", "("):
            self.pos -= 1
            return self.parenthesised()
        if (kind, value) == ("op", ")"):
            raise NotationError("Hier steht eine schließende Klammer zu viel.")
        raise NotationError(f"An dieser Stelle passt „{value}“ nicht.")

    def parenthesised(self) -> Node:
        if not self.at("op", "("):
            raise NotationError("Nach „sqrt“ gehört eine Klammer: sqrt(2).")
        self.take()
        node = self.sum()
        if not self.at("op", ")"):
            raise NotationError("Eine Klammer wird nicht geschlossen.")
        self.take()
        return node


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Read an answer in school notation, or raise :class:`NotationError` with a message for
    the pupil. Input longer than :data:`limits.MAX_ANSWER_CHARS` is refused unread. Trees
    are immutable, so the last few thousand readings are kept: a check reads the model
    answer, the hints and the pupil's answer, and the same answers come again and again."""
    if len(text) > limits.MAX_ANSWER_CHARS:
        raise NotationError("Diese Antwort ist zu lang.")
    tokens = _tokens(normalise(text))
    if not tokens:
        raise NotationError("Die Antwort ist leer.")
    parser = _Parser(tokens)
    node = parser.sum()
    if parser.peek() is not None:
        kind, value = parser.peek() or ("", "")
        if (kind, value) == ("op", ")"):
            raise NotationError("Hier steht eine schließende Klammer zu viel.")
        raise NotationError(f"An dieser Stelle passt „{value}“ nicht.")
    return node


def variables(node: Node) -> frozenset[str]:
    """The letters an expression uses."""
    match node:
        case Var(name):
            return frozenset({name})
        case Neg(operand) | Sqrt(operand):
            return variables(operand)
        case Bin(_, left, right) | Pow(left, right):
            return variables(left) | variables(right)
        case _:
            return frozenset()
