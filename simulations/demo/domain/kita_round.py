"""The Kita round the demo opens: six Kitas in Kassel's districts and four sample families.

WHY fixed, invented data: the demo must show the citizen service ready to try without any real
person's data. The Kitas are named after real districts at plausible places; every child and
parent is invented. The families cover what staff meet in a round: a sibling claim, a hardship
case, a family far from every Kita, and an over-subscribed first wish.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DemoKita:
    """One Kita with places in both age groups."""

    kita_id: str
    name: str
    lat: float
    lon: float
    places_u3: int
    places_u3_plus: int
    catchment_km: float = 1.5


@dataclass(frozen=True, slots=True)
class DemoChild:
    """One sample application, as a family would send it."""

    child_name: str
    date_of_birth: str
    age_group: str
    choices: tuple[str, ...]
    lat: float
    lon: float
    sibling_kita: str | None = None
    hardship: bool = False


KITAS: tuple[DemoKita, ...] = (
    DemoKita("KS-VW-01", "Kita Vorderer Westen", 51.3170, 9.4650, 10, 22),
    DemoKita("KS-WH-02", "Kita Wilhelmshöhe", 51.3140, 9.4220, 8, 20),
    DemoKita("KS-NH-03", "Kita Nord-Holland", 51.3290, 9.4890, 12, 25),
    DemoKita("KS-BH-04", "Kita Bettenhausen", 51.3150, 9.5280, 6, 18),
    DemoKita("KS-WL-05", "Kita Wehlheiden", 51.3050, 9.4600, 8, 16),
    DemoKita("KS-UN-06", "Kita Unterneustadt", 51.3130, 9.5060, 6, 14),
)

#: the sample families, one list of children each (names invented).
FAMILIES: tuple[tuple[DemoChild, ...], ...] = (
    (DemoChild("Mila Beispiel", "2024-05-14", "U3", ("KS-VW-01", "KS-WL-05"), 51.3172, 9.4671,
               sibling_kita="KS-VW-01"),),
    (DemoChild("Jonas Muster", "2022-02-03", "Ü3", ("KS-NH-03", "KS-UN-06", "KS-BH-04"),
               51.3301, 9.4902, hardship=True),
     DemoChild("Lena Muster", "2024-09-21", "U3", ("KS-NH-03", "KS-UN-06"), 51.3301, 9.4902)),
    (DemoChild("Emil Probe", "2021-11-30", "Ü3", ("KS-WH-02", "KS-VW-01", "KS-WL-05"),
               51.3120, 9.4010),),
    (DemoChild("Aylin Testfall", "2023-07-08", "Ü3", ("KS-VW-01", "KS-NH-03"), 51.3180, 9.4700),),
)

#: days from the demo's start to the application deadline.
DEADLINE_DAYS = 14
