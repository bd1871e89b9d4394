"""The demo's Open Data Rathaus: a week of the demo city's statistics, a city-sized Kita
procedure, and every dataset produced, gated and published before the visitor arrives.

WHY seeded in-process: the producers read the hourly statistics roll-up, and a demo that has
run for a minute has one partial hour; the week before it is generated (the same generator as
the scale benchmark, with the demo's own lines, stops and intersections) and written as the
roll-up would have written it. The Kita statistics need more than four sample families (the
gate rightly suppresses a district with one child), so invented applications are added through
the Kita service itself (its checks apply; over HTTP the registrations would be rate-limited
per address, as they must be). Then the schedule's own run produces and publishes, as it does
every day on a real hub.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from fastapi import FastAPI

from central_hub.core.identity import Role
from central_hub.core.tokens import TokenStore
from central_hub.kita.model import ApplicationInput, Family
from central_hub.kita.service import KitaService
from central_hub.opendata.service import OpendataService
from central_hub.opendata.synthetic import seed_rollup
from edge_agent.contract.configs import IntersectionConfig
from simulations.demo.domain.city import LineStop, PlannedIntersection
from simulations.demo.domain.kita_round import KITAS

#: the file in the demo's state folder that holds the open-data publisher's key
OPENDATA_TOKEN_FILE = "opendata-publisher-token"
#: invented applications added to the sample families' (the statistics' city)
STATISTICS_CHILDREN = 160
#: days of generated statistics before today
DAYS = 7


@dataclass(frozen=True, slots=True)
class SeededOpenData:
    """What was seeded and published, for the demo's progress lines."""

    hours: int
    applications: int
    states: dict[str, str]
    token: str


def _applications(kita: KitaService, n: int, seed: int) -> int:
    """``n`` invented children, each choosing two or three of the demo's Kitas near home."""
    rng = random.Random(f"{seed}:opendata-kita")
    born = date.today() - timedelta(days=500)
    for i in range(n):
        home = rng.choice(KITAS)
        lat, lon = home.lat + rng.uniform(-0.01, 0.01), home.lon + rng.uniform(-0.015, 0.015)
        near = sorted(KITAS, key=lambda k: (k.lat - lat) ** 2 + (k.lon - lon) ** 2)
        family = kita.register_family()
        kita.submit(Family(family.family_id), ApplicationInput(
            f"Statistikkind {i + 1:03d}", rng.choice(("U3", "Ü3", "Ü3")),
            tuple(k.kita_id for k in near[:rng.randint(2, 3)]), None, False, lat, lon,
            born - timedelta(days=rng.randint(0, 1200))))
    return n


def seed_open_data(app: FastAPI, lines: Mapping[str, Sequence[LineStop]], *,
                   intersections: Sequence[PlannedIntersection],
                   templates: Sequence[IntersectionConfig], state: Path, base_url: str,
                   seed: int) -> SeededOpenData:
    """Seed the statistics and the Kita procedure, issue the publisher's key (a file only the
    owner may read) and run the schedule once: every dataset produced and published."""
    service: OpendataService = app.state.opendata
    signals = {p.device_id: [g.sg for g in templates[p.template].signal_groups]
               for p in intersections}
    hours = seed_rollup(service.engine, {r: [s.stop_id for s in stops]
                                         for r, stops in lines.items()},
                        signals, first=date.today() - timedelta(days=DAYS), days=DAYS,
                        seed=seed)
    applications = _applications(app.state.kita, STATISTICS_CHILDREN, seed)
    _, token = TokenStore(app.state.hub.engine).issue(
        "demo-opendata", {Role.OPENDATA_PUBLISHER}, expires_days=30)
    path = state / OPENDATA_TOKEN_FILE
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    now = time.time_ns() // 1_000_000
    states = service.scheduled_run(now, base_url=base_url.rstrip("/"), every_ms=1,
                                   first_ms=now)
    return SeededOpenData(hours, applications, states, token)
