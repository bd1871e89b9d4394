"""How the catalogue names and finds things: exercise addresses, searchable text, shuffles.

WHY here: an exercise is addressed from outside as ``<item>.<exercise>`` (the check route,
the browser's saved progress); what a search finds of an item, and in which order a pupil
sees the options of an ordering, are rules every adapter must apply alike.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from typing import TypeVar

from central_hub.learning.domain.exercises import Item

_GAP = re.compile(r"\{\{\d+\}\}")
_MARKUP = re.compile(r"[$\\{}*_#`>|\[\]()]+")
_T = TypeVar("_T")


def exercise_address(item_id: str, exercise_id: str) -> str:
    """``<item>.<exercise>``: ids hold only ``[a-z0-9-]``, so the dot is unambiguous."""
    return f"{item_id}.{exercise_id}"


def split_address(address: str) -> tuple[str, str] | None:
    """``(item, exercise)`` of an address, ``None`` for one that is not."""
    item, dot, exercise = address.partition(".")
    if not dot or not item or not exercise or "." in exercise:
        return None
    return item, exercise


def searchable_text(item: Item) -> str:
    """What the search reads of an item besides its title: topic, description, keywords,
    text and the exercises' titles and prompts, with Markdown and maths signs blanked."""
    parts = [item.topic, item.description, " ".join(item.keywords), item.body]
    for exercise in item.exercises:
        parts += [exercise.title, exercise.prompt]
        parts += [option.text for option in exercise.options]
    return _MARKUP.sub(" ", _GAP.sub(" ", "\n".join(parts)))


def shuffled(values: Sequence[_T], key: str) -> list[_T]:
    """``values`` in an order fixed by ``key`` and never the given one (when there are two
    or more): the order a pupil sees an ordering's options in, the same on every device."""
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    out = list(values)
    if len(out) < 2:
        return out
    while out == list(values):
        rng.shuffle(out)
    return out
