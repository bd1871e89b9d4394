"""What ``kassel demo`` was asked for, and the error it stops with when it cannot start.

Why a module of its own: the options and the error are shared by every part of the demo (the
config builders refuse broken templates, the session reads the seed and the sizes, the runner
starts everything), so they sit below all of them and none imports the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import KasselError


class DemoError(KasselError):
    """The demo cannot start (port taken, Mosquitto missing, broken templates)."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``kassel demo`` was asked for."""

    buses: int = 20
    intersections: int = 10
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    duration_s: float | None = None
    workdir: Path | None = None
    seed: int = 1
    incidents: bool = True
    #: the local time of day (seconds after midnight) the city's timetable and demand run at
    #: when the demo starts; ``None``: the time in Kassel now.
    time_of_day_s: int | None = None
