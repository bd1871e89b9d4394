"""Words and short phrases as answers: alternatives, case, one forgiven typo.

WHY a rule for typos: a pupil who types "Schmeterling" knows the word; marking it wrong in a
vocabulary task teaches nothing. The rule is narrow on purpose: one edit (Damerau-Levenshtein
distance 1: a letter missing, extra, wrong or two letters swapped) in a word of six letters or
more, never in a spelling task, where the spelling is what is asked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: the shortest word in which one typo is forgiven
TYPO_MIN_LETTERS = 6


def _tidy(text: str, case_sensitive: bool) -> str:
    text = " ".join(unicodedata.normalize("NFC", text).split())
    text = text.replace("’", "'").replace("‘", "'")
    return text if case_sensitive else text.casefold()


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), stopping at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[-1], limit)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """How a text answer matched: exactly, with one forgiven typo (:attr:`intended` is the
    word meant), or not at all."""

    matched: bool
    typo: bool = False
    intended: str = ""


def match_text(answer: str, accepted: tuple[str, ...], *, case_sensitive: bool,
               typo_tolerance: bool) -> TextMatch:
    """Whether ``answer`` is one of ``accepted`` (the first one is the model answer)."""
    given = _tidy(answer, case_sensitive)
    candidates = [(_tidy(option, case_sensitive), option) for option in accepted]
    if any(given == tidy for tidy, _ in candidates):
        return TextMatch(True)
    if not typo_tolerance:
        return TextMatch(False)
    given_words = given.split(" ")
    for tidy, option in candidates:
        words = tidy.split(" ")
        if len(words) != len(given_words):
            continue
        typos = 0
        for want, got in zip(words, given_words, strict=True):
            if want == got:
                continue
            if len(want) >= TYPO_MIN_LETTERS and edit_distance(want, got) == 1:
                typos += 1
            else:
                typos = 99
                break
        if typos == 1:
            return TextMatch(True, typo=True, intended=option)
    return TextMatch(False)
