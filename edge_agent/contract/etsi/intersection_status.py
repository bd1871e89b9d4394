"""Our SPaT ``status`` as the IntersectionStatusObject bits of a SPATEM, and back.

Why a table: receivers act on these bits (a flashing controller's timings mean nothing, a
fixed-time one's are exact), so each of our statuses sets the one bit that says the same
thing (docs/c-its.md, "Intersection status"). Statuses we do not have (manual control, an
active preemption, a degraded detector set) set no bit until the controller reports them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from edge_agent.contract.payloads import SignalStatus

#: IntersectionStatusObject ::= BIT STRING (SIZE(16)): bit number of each name (bit 0 first).
STATUS_BIT_NAMES: Final[tuple[str, ...]] = (
    "manualControlIsEnabled", "stopTimeIsActivated", "failureFlash", "preemptIsActive",
    "signalPriorityIsActive", "fixedTimeOperation", "trafficDependentOperation",
    "standbyOperation", "failureMode", "off", "recentMAPmessageUpdate",
    "recentChangeInMAPassignedLanesIDsUsed", "noValidMAPisAvailableAtThisTime",
    "noValidSPATisAvailableAtThisTime",
)
STATUS_BITS = 16

#: our status -> the bits it sets.
BITS_OF_STATUS: Final = MappingProxyType({
    "operational": ("trafficDependentOperation",),  # actuated: detectors shape the timings
    "fixed_time": ("fixedTimeOperation",),
    "flashing": ("failureFlash",),                   # halted: amber flashing (fail-safe)
    "dark": ("off",),
    "fault": ("failureMode",),
})


def status_value(status: SignalStatus) -> tuple[int, int]:
    """The BIT STRING value ``(integer, 16)`` for ``status`` (bit 0 is the most significant)."""
    value = 0
    for name in BITS_OF_STATUS[status]:
        value |= 1 << (STATUS_BITS - 1 - STATUS_BIT_NAMES.index(name))
    return value, STATUS_BITS


def status_names(value: int, bits: int = STATUS_BITS) -> frozenset[str]:
    """The names of the bits set in a decoded IntersectionStatusObject (bits beyond the
    named ones, reserved by the standard, are dropped)."""
    return frozenset(
        name for i, name in enumerate(STATUS_BIT_NAMES)
        if i < bits and value >> (bits - 1 - i) & 1
    )
