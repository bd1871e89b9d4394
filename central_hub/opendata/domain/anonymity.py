"""k-anonymity of a published table: how few people a combination of quasi-identifiers
stands for.

WHY on top of suppression: each cell may hold five people, yet a combination of district, age
group and month can be rare enough to point at a family once several columns are read
together. k is the number of people of the smallest published group of rows agreeing on all
quasi-identifiers; the gate refuses a table whose k is below the spec's.

Counted on what is published (after noise and suppression): a group's people are the sum of
its *published* population cells. A suppressed cell counts nothing, and a group whose
population is suppressed throughout is no published group at all: it publishes no number of
people (its other people cells are at most its total, so suppressed or zero too). This errs on
the safe side: a group of 3 suppressed and 10 published people counts as 10. Groups of 0
people publish that nobody is there and are not counted either.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence


def smallest_group(rows: Sequence[Sequence[object]], quasi_identifiers: Sequence[int],
                   population: int) -> int | None:
    """k: the fewest published people of a group of rows agreeing on the quasi-identifier
    columns (indexes), counting column ``population``; ``None`` if no group has any."""
    people: dict[tuple[object, ...], int] = {}
    for row in rows:
        key = tuple(row[i] for i in quasi_identifiers)
        value = row[population]
        people[key] = people.get(key, 0) + (value if isinstance(value, int) else 0)
    published = [n for n in people.values() if n > 0]
    return min(published) if published else None
