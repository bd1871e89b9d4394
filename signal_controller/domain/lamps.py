"""Lamp aspects of a signal group and their SPaT names (ETSI/SAE MovementPhaseState).

Why a separate enum: the controller reasons in German lamp aspects (red, red-amber, green,
amber, flashing amber, dark); only the SPaT output speaks MovementPhaseState, and the mapping
(with the protected/permissive distinction) lives here once.
"""

from __future__ import annotations

from enum import Enum

from edge_agent.contract.payloads import MovementPhaseState


class Lamp(Enum):
    """What a signal head shows."""

    RED = "red"
    RED_AMBER = "red_amber"
    GREEN = "green"
    AMBER = "amber"
    FLASHING_AMBER = "flashing_amber"
    DARK = "dark"


#: aspects the fail-safe uses; the kernel alone may enter or leave them.
FAIL_SAFE_LAMPS = frozenset({Lamp.FLASHING_AMBER, Lamp.DARK})


def phase_state(lamp: Lamp, protected: bool) -> MovementPhaseState:
    """The SPaT ``state`` of ``lamp`` for a protected or permissive movement."""
    if lamp is Lamp.RED:
        return "stop-And-Remain"
    if lamp is Lamp.RED_AMBER:
        return "pre-Movement"
    if lamp is Lamp.GREEN:
        return "protected-Movement-Allowed" if protected else "permissive-Movement-Allowed"
    if lamp is Lamp.AMBER:
        return "protected-clearance" if protected else "permissive-clearance"
    if lamp is Lamp.FLASHING_AMBER:
        return "caution-Conflicting-Traffic"
    return "dark"
