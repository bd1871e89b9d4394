"""A child's priority at a Kita: the published criteria, and their encoding as one integer.

Criteria, most important first: (1) a sibling already attends this Kita, (2) hardship case,
(3) the child lives within the Kita's catchment radius, (4) the lottery number (lower first;
reversed in further rounds). The three yes/no criteria form a *class* 0..7 (lower is better)
and the lottery a *tie-break* 0..n-1 within the age group; ``class * n + tie_break`` is then a
single integer, unique per child, whose natural order is the priority order. Deferred
acceptance compares integers only, which keeps it under a second for 100,000 children.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

SIBLING_BIT = 4
HARDSHIP_BIT = 2
CATCHMENT_BIT = 1


class Priority(NamedTuple):
    """A child's standing at one Kita in the published criteria, for explanations.

    Compare two priorities with :meth:`sort_key`, never with ``<`` on the tuple itself: the
    yes/no fields rank ``True`` first and the lottery's direction depends on the round.
    """

    sibling: bool
    hardship: bool
    in_catchment: bool
    lottery: int

    def sort_key(self, lottery_descending: bool = False) -> tuple[bool, bool, bool, int]:
        """Key whose ascending order is priority order (first = highest priority)."""
        draw = -self.lottery if lottery_descending else self.lottery
        return (not self.sibling, not self.hardship, not self.in_catchment, draw)


#: the yes/no criteria (sibling, hardship, in_catchment) of each priority class.
CLASS_CRITERIA: tuple[tuple[bool, bool, bool], ...] = tuple(
    (not cls & SIBLING_BIT, not cls & HARDSHIP_BIT, not cls & CATCHMENT_BIT) for cls in range(8)
)


def decode(priority_key: int, modulus: int, lottery_of_tie_break: Sequence[int]) -> Priority:
    """Turn an integer priority key back into the criteria it encodes.

    ``modulus`` is the number of children in the age group; ``lottery_of_tie_break[t]`` is
    the lottery number of the child with tie-break ``t`` in the round the key belongs to.
    """
    cls, tie_break = divmod(priority_key, modulus)
    sibling, hardship, in_catchment = CLASS_CRITERIA[cls]
    return Priority(sibling, hardship, in_catchment, lottery_of_tie_break[tie_break])
