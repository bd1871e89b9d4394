"""The lamp hardware port: ``SignalHeads`` shows aspects, ``FakeSignalHeads`` records them.

Why a port this thin: GPIO or a field-bus lamp driver cannot be tested here, so everything
that decides lamps lives in the pure domain behind the safety kernel; the hardware side only
has to show what it is told and report lamp faults. A real driver implements the same one
method (and the TraCI adapter of the simulations does too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from signal_controller.domain.lamps import Lamp


class SignalHeads(Protocol):
    """Where the applied lamp aspects go (lamp drivers, a simulator, a test fake)."""

    def show(self, lamps: Mapping[str, Lamp], now_ms: int) -> None:
        """Show ``lamps`` (every group's aspect) from ``now_ms`` on."""


@dataclass
class FakeSignalHeads:
    """Records every aspect change per group: ``history[sg] == [(ms, Lamp), ...]``."""

    history: dict[str, list[tuple[int, Lamp]]] = field(default_factory=dict)
    calls: int = 0

    def show(self, lamps: Mapping[str, Lamp], now_ms: int) -> None:
        """Append the groups whose aspect differs from the last one shown."""
        self.calls += 1
        for sg, lamp in lamps.items():
            seen = self.history.setdefault(sg, [])
            if not seen or seen[-1][1] is not lamp:
                seen.append((now_ms, lamp))

    def current(self) -> dict[str, Lamp]:
        """The aspect each group shows now."""
        return {sg: seen[-1][1] for sg, seen in self.history.items() if seen}
