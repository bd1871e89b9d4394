"""Loads the static GTFS zip (``gtfs.static`` in the hub config) into a :class:`Schedule`.

WHY a thin loader: reading a zip is I/O; everything that interprets the timetable lives in the
pure :mod:`central_hub.domain.schedule`. A missing or malformed feed is a :class:`ConfigError`
that names the file, like every other config problem.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from central_hub.domain.schedule import Schedule, ScheduleError, parse
from edge_agent.errors import ConfigError

FILES = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt", "shapes.txt",
         "calendar.txt", "calendar_dates.txt")


def load_schedule(path: str | Path) -> Schedule:
    """Read a GTFS zip; :class:`ConfigError` when it cannot be read or parsed."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            files = {n: zf.read(n).decode("utf-8-sig") for n in FILES if n in names}
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("gtfs.static", f"cannot read the GTFS zip: {exc}")]) \
            from exc
    try:
        return parse(files)
    except ScheduleError as exc:
        raise ConfigError(str(path), [("gtfs.static", str(exc))]) from exc
