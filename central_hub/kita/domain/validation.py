"""The rules an allocation's input must satisfy, checked before anything is allocated.

Checks return every problem as a :class:`Problem` naming the record (by position) and the
field, instead of raising at the first, so an adapter can point at file lines or form fields
and a clerk can fix everything in one pass. :func:`first_round` refuses input with problems.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from central_hub.kita.domain.records import MAX_CHOICES, Application, KitaPlaces

RecordKind = Literal["kita", "application"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: which record (kind and 0-based position), which field, and why.

    ``first`` is the position of the earlier record a duplicate clashes with, so the adapter
    can name both places.
    """

    kind: RecordKind
    index: int
    field: str
    message: str
    first: int | None = None

    def __str__(self) -> str:
        where = f"{self.kind} #{self.index + 1}: {self.field}: {self.message}"
        if self.first is not None:
            where += f" (first at {self.kind} #{self.first + 1})"
        return where


def _check_place(
    kind: RecordKind, index: int, lat: float, lon: float, problems: list[Problem]
) -> None:
    # chained comparisons are False for NaN, so they reject non-finite values too
    if not -90.0 <= lat <= 90.0:
        problems.append(Problem(kind, index, "lat", f"latitude must be in [-90, 90], got {lat}"))
    if not -180.0 <= lon <= 180.0:
        problems.append(Problem(kind, index, "lon", f"longitude must be in [-180, 180], got {lon}"))


def _check_kitas(kitas: Sequence[KitaPlaces], problems: list[Problem]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for i, kita in enumerate(kitas):
        if not kita.kita_id:
            problems.append(Problem("kita", i, "kita_id", "must not be empty"))
        if not kita.age_group:
            problems.append(Problem("kita", i, "age_group", "must not be empty"))
        key = (kita.kita_id, kita.age_group)
        if key in seen:
            problems.append(
                Problem(
                    "kita",
                    i,
                    "kita_id",
                    f"duplicate Kita {kita.kita_id!r} for age group {kita.age_group!r}",
                    first=seen[key],
                )
            )
        else:
            seen[key] = i
        if kita.capacity < 0:
            problems.append(
                Problem("kita", i, "capacity", f"must not be negative, got {kita.capacity}")
            )
        if not (math.isfinite(kita.catchment_km) and kita.catchment_km >= 0.0):
            problems.append(
                Problem(
                    "kita", i, "catchment_km", f"must be a distance >= 0, got {kita.catchment_km}"
                )
            )
        _check_place("kita", i, kita.lat, kita.lon, problems)


def _check_choices(
    i: int,
    app: Application,
    groups_of: dict[str, set[str]],
    problems: list[Problem],
) -> None:
    choices = app.choices
    if not choices:
        problems.append(Problem("application", i, "choice1", "at least one choice is required"))
    if len(choices) > MAX_CHOICES:
        problems.append(
            Problem(
                "application",
                i,
                f"choice{MAX_CHOICES + 1}",
                f"at most {MAX_CHOICES} choices, got {len(choices)}",
            )
        )
    earlier: dict[str, int] = {}
    for rank, kita_id in enumerate(choices, start=1):
        field = f"choice{rank}"
        if kita_id in earlier:
            problems.append(
                Problem(
                    "application",
                    i,
                    field,
                    f"Kita {kita_id!r} is already choice{earlier[kita_id]}",
                )
            )
            continue
        earlier[kita_id] = rank
        groups = groups_of.get(kita_id)
        if groups is None:
            problems.append(Problem("application", i, field, f"unknown Kita {kita_id!r}"))
        elif app.age_group not in groups:
            offered = ", ".join(sorted(groups))
            problems.append(
                Problem(
                    "application",
                    i,
                    field,
                    f"Kita {kita_id!r} has no places for age group {app.age_group!r} "
                    f"(only {offered})",
                )
            )


def _check_application(
    i: int,
    app: Application,
    *,
    groups_of: dict[str, set[str]],
    kitas_of: dict[str, set[str]],
    children: dict[str, int],
    lotteries: dict[str, dict[int, int]],
    problems: list[Problem],
) -> None:
    if not app.child_id:
        problems.append(Problem("application", i, "child_id", "must not be empty"))
    elif app.child_id in children:
        problems.append(
            Problem(
                "application",
                i,
                "child_id",
                f"duplicate child {app.child_id!r}",
                first=children[app.child_id],
            )
        )
    else:
        children[app.child_id] = i
    if not app.family_id:
        problems.append(Problem("application", i, "family_id", "must not be empty"))
    if app.age_group not in kitas_of:
        problems.append(
            Problem("application", i, "age_group", f"no Kita offers age group {app.age_group!r}")
        )
    _check_choices(i, app, groups_of, problems)
    if app.sibling_kita is not None and app.sibling_kita not in groups_of:
        problems.append(
            Problem("application", i, "sibling_kita", f"unknown Kita {app.sibling_kita!r}")
        )
    _check_place("application", i, app.lat, app.lon, problems)
    if app.lottery < 0:
        problems.append(
            Problem("application", i, "lottery", f"must not be negative, got {app.lottery}")
        )
    draws = lotteries.setdefault(app.age_group, {})
    if app.lottery in draws:
        problems.append(
            Problem(
                "application",
                i,
                "lottery",
                f"lottery number {app.lottery} is already used in age group "
                f"{app.age_group!r}; ties must be broken by distinct numbers",
                first=draws[app.lottery],
            )
        )
    else:
        draws[app.lottery] = i


def _check_applications(
    applications: Sequence[Application],
    groups_of: dict[str, set[str]],
    problems: list[Problem],
) -> None:
    kitas_of: dict[str, set[str]] = {}
    for kita_id, groups in groups_of.items():
        for group in groups:
            kitas_of.setdefault(group, set()).add(kita_id)
    children: dict[str, int] = {}
    lotteries: dict[str, dict[int, int]] = {group: {} for group in kitas_of}
    for i, app in enumerate(applications):
        # One expression for the common, valid case; anything else is examined field by
        # field (and reported) by _check_application.
        child_id = app.child_id
        choices = app.choices
        group_kitas = kitas_of.get(app.age_group)
        draws = lotteries.get(app.age_group)
        if (
            child_id
            and child_id not in children
            and app.family_id
            and group_kitas is not None
            and draws is not None
            and 0 < len(choices) <= MAX_CHOICES
            and len(set(choices)) == len(choices)
            and group_kitas.issuperset(choices)
            and (app.sibling_kita is None or app.sibling_kita in groups_of)
            and -90.0 <= app.lat <= 90.0
            and -180.0 <= app.lon <= 180.0
            and app.lottery >= 0
            and app.lottery not in draws
        ):
            children[child_id] = i
            draws[app.lottery] = i
        else:
            _check_application(
                i,
                app,
                groups_of=groups_of,
                kitas_of=kitas_of,
                children=children,
                lotteries=lotteries,
                problems=problems,
            )


def find_problems(
    kitas: Sequence[KitaPlaces], applications: Sequence[Application]
) -> list[Problem]:
    """Every rule the input breaks, Kitas first, each record in input order; empty if none."""
    problems: list[Problem] = []
    _check_kitas(kitas, problems)
    groups_of: dict[str, set[str]] = {}
    for kita in kitas:
        groups_of.setdefault(kita.kita_id, set()).add(kita.age_group)
    _check_applications(applications, groups_of, problems)
    return problems
