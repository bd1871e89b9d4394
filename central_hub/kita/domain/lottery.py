"""Drawing the lottery numbers from a published seed, reproducibly.

The draw must be repeatable by anyone who knows the seed and the list of children (so the
city can prove it was not rigged) and must not depend on the order of rows in a file (so
re-sorting the file cannot change anyone's luck). Hence the children are sorted by id before
a seeded shuffle hands out the numbers 1..n.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def draw_lottery(child_ids: Sequence[str], seed: int) -> list[int]:
    """Lottery numbers 1..n aligned with ``child_ids``, a permutation fixed by ``seed``.

    Children are ordered by id (ties, which validation rejects anyway, by position) before
    the seeded shuffle, so the same ids and seed always give each child the same number.
    """
    order = sorted(range(len(child_ids)), key=lambda i: (child_ids[i], i))
    numbers = list(range(1, len(child_ids) + 1))
    random.Random(seed).shuffle(numbers)  # a public, reproducible draw: not secret
    drawn = [0] * len(child_ids)
    for i, number in zip(order, numbers, strict=True):
        drawn[i] = number
    return drawn
