"""The allocation's inputs as immutable values: a Kita's places and a child's application.

They carry identifiers as strings, exactly as the city publishes them, so an explanation can
name the Kita; the fast algorithm works on integer indices built from them in
:mod:`central_hub.kita.domain.instance`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: parents rank at most this many Kitas.
MAX_CHOICES = 5


@dataclass(frozen=True, slots=True)
class KitaPlaces:
    """The places one Kita offers to one age group.

    A Kita with a crèche and a kindergarten appears twice (one row per age group), because
    the two groups are allocated separately and have their own capacity and catchment.
    """

    kita_id: str
    name: str
    age_group: str
    capacity: int
    lat: float
    lon: float
    catchment_km: float


@dataclass(frozen=True, slots=True)
class Application:
    """One child's application: its ranked choices and the facts its priority depends on.

    ``choices`` lists Kita ids best first (one to :data:`MAX_CHOICES`). ``sibling_kita`` is
    the Kita a sibling already attends, if any. ``lottery`` is the child's single tie-break
    number, the same at every Kita; lower wins in the first round.

    The priority facts are the ones that *count*: an adapter passes a claim only once it is
    verified (the hub: by staff; ``A.csv``: the ``*_verified`` columns, ``docs/kita.md``).
    ``home_verified`` says whether the home (``lat``/``lon``) may place the child in a
    catchment; an unverified home never does, wherever it lies.
    """

    child_id: str
    family_id: str
    age_group: str
    choices: tuple[str, ...]
    sibling_kita: str | None
    hardship: bool
    lat: float
    lon: float
    lottery: int
    home_verified: bool = True
