"""Intergreen times by the RiLSA-style formula, from clearing and entering geometry.

Why compute instead of typing numbers: an intergreen protects people; it must follow from the
junction's geometry by a documented rule so that a reviewer can re-derive it. For a clearing
group A and an entering group B that conflict at a point P::

    t_z = t_pass + (s_clear + l_vehicle) / v_clear - s_enter / v_enter

rounded up to whole seconds and never below 0, where ``t_pass`` (Überfahrzeit) is the time a
vehicle may still cross the stop line after green ends (the amber time for motor vehicles and
trams, 1 s for cyclists, 0 for pedestrians), ``s_clear`` the distance from A's stop line to P,
``l_vehicle`` the design vehicle length (6 m motor vehicles including buses, 15 m trams, 0 for
cyclists and pedestrians), ``v_clear`` the clearing speed (10 m/s straight, 7 m/s turning
motor vehicles and trams, 4 m/s cyclists, 1.2 m/s pedestrians), ``s_enter`` the distance from
B's stop line to P and ``v_enter`` the entering speed (11.1 m/s = 40 km/h motor vehicles and
trams with a flying start, 5 m/s cyclists, 1.5 m/s pedestrians). Fast entering and slow
clearing are the conservative choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: design vehicle length (m) by kind.
VEHICLE_LENGTH_M = {"vehicle": 6.0, "bus": 6.0, "tram": 15.0, "bicycle": 0.0, "pedestrian": 0.0}
#: clearing speed (m/s) by kind, straight movements.
CLEAR_SPEED = {"vehicle": 10.0, "bus": 10.0, "tram": 7.0, "bicycle": 4.0, "pedestrian": 1.2}
#: clearing speed (m/s) of turning motor vehicles.
CLEAR_SPEED_TURNING = 7.0
#: entering speed (m/s) by kind (flying start).
ENTER_SPEED = {"vehicle": 11.1, "bus": 11.1, "tram": 11.1, "bicycle": 5.0, "pedestrian": 1.5}
#: passing time after the end of green for kinds without an amber-based value.
PASS_TIME_S = {"bicycle": 1.0, "pedestrian": 0.0}


@dataclass(frozen=True, slots=True)
class Movement:
    """The clearing or entering movement of one signal group at one conflict point."""

    kind: str
    distance_m: float
    turning: bool = False
    amber_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Intergreen:
    """An intergreen with the terms it was computed from (for the documentation)."""

    seconds: int
    pass_s: float
    clear_s: float
    enter_s: float


def intergreen(clearing: Movement, entering: Movement) -> Intergreen:
    """The intergreen (whole seconds) from ``clearing`` to ``entering``."""
    kind = clearing.kind
    pass_s = PASS_TIME_S.get(kind, clearing.amber_s)
    speed = CLEAR_SPEED[kind]
    if clearing.turning and kind in ("vehicle", "bus", "tram"):
        speed = min(speed, CLEAR_SPEED_TURNING)
    clear_s = (clearing.distance_m + VEHICLE_LENGTH_M[kind]) / speed
    enter_s = entering.distance_m / ENTER_SPEED[entering.kind]
    raw = pass_s + clear_s - enter_s
    return Intergreen(max(0, math.ceil(round(raw, 6))), pass_s, clear_s, enter_s)
