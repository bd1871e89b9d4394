"""German stems for the SQLite search: what PostgreSQL's ``german`` configuration does there.

WHY Snowball: SQLite's FTS5 stems only English (``porter``). The German Snowball stemmer
(``snowballstemmer``, the algorithm PostgreSQL's ``german`` dictionary uses) makes "Brüche",
"Bruch" and "Bruchrechnung" findable from each other's stem, on both databases alike.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import snowballstemmer

_WORD = re.compile(r"\w+", re.UNICODE)
#: words of a query that count (more are ignored: a query is a few words)
MAX_QUERY_WORDS = 12


@cache
def _stemmer() -> Any:
    return snowballstemmer.stemmer("german")


def stems(text: str) -> list[str]:
    """The stems of a text's words, lower case, in order."""
    words = [w.casefold() for w in _WORD.findall(text)]
    return [str(stem) for stem in _stemmer().stemWords(words)]


def fts_query(text: str) -> str | None:
    """An FTS5 query matching items that contain every stem (as a prefix), each quoted so
    that nothing a user types is FTS5 syntax; ``None`` for a query without words."""
    found = stems(text)[:MAX_QUERY_WORDS]
    if not found:
        return None
    return " ".join('"' + stem.replace('"', '""') + '"*' for stem in found)
