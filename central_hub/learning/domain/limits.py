"""The bounds on what a pupil's answer may make the checker do.

WHY bounds: the check route is public. A parser that follows the input wherever it leads can
be made to build a number with a billion digits (``9^9^9^9``) or recurse until the stack
ends; each bound here refuses such input before any work proportional to its danger is done.
"""

from __future__ import annotations

#: characters of an answer (or of one gap) read at all; longer ones are refused unread
MAX_ANSWER_CHARS = 200
#: nodes of an expression's tree (numbers, letters, operations)
MAX_NODES = 120
#: nesting of parentheses, powers and signs
MAX_DEPTH = 24
#: digits of one number as written
MAX_DIGITS = 30
#: the absolute value of a number used as an exponent
MAX_EXPONENT = 64
#: digits of a power of two numbers (``10^64`` has 65)
MAX_POWER_DIGITS = 400
#: the degree a polynomial may reach when multiplied out (``(x+1)^64`` is the limit)
MAX_DEGREE = 64
#: gaps of a cloze answer, options of a choice, ordering or matching answer
MAX_LIST_ITEMS = 64
#: random points at which two expressions are compared before sympy is asked
SAMPLE_POINTS = 6
