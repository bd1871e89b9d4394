"""Open the demo's Kita round over the hub's own HTTP API, as city staff and families would.

WHY over HTTP and not into the store: the demo then proves the service's real path (its
validation, its rate limit, its roles), and what a visitor tries next behaves exactly like what
was seeded. The staff token is the demo's own, kept in a file readable by the owner only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from edge_agent.errors import KasselError
from simulations.demo.domain.kita_round import DEADLINE_DAYS, FAMILIES, KITAS, DemoChild

PREFIX = "api/v1/kita"


@dataclass(frozen=True, slots=True)
class SeededRound:
    """What was seeded, for the demo's progress lines."""

    kitas: int
    places: int
    families: int
    applications: int
    deadline: str


class KitaSeedError(KasselError):
    """The hub refused part of the demo's seed (a bug in the demo or the service)."""


def _ok(answer: httpx.Response, what: str) -> httpx.Response:
    if answer.status_code >= 300:
        raise KitaSeedError(f"seeding the Kita round: {what}: HTTP {answer.status_code} "
                            f"{answer.text[:200]}")
    return answer


async def _apply(client: httpx.AsyncClient, token: str, child: DemoChild) -> str:
    body = {"child_name": child.child_name, "date_of_birth": child.date_of_birth,
            "age_group": child.age_group, "choices": list(child.choices),
            "sibling_kita": child.sibling_kita, "hardship": child.hardship,
            "lat": child.lat, "lon": child.lon}
    answer = _ok(await client.post(f"{PREFIX}/applications", json=body,
                                   headers={"Authorization": f"Bearer {token}"}),
                 "an application")
    return str(answer.json()["child_id"])


async def seed_kita_round(base_url: str, staff_token: str, *, now: datetime | None = None,
                          ) -> SeededRound:
    """Create the Kitas, open applications for two weeks, and let the sample families apply;
    staff verify the sibling claim so that a visitor sees both verified and unverified claims.
    """
    staff = {"Authorization": f"Bearer {staff_token}"}
    deadline = (now or datetime.now(UTC)) + timedelta(days=DEADLINE_DAYS)
    places = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        for kita in KITAS:
            for group, capacity in (("U3", kita.places_u3), ("Ü3", kita.places_u3_plus)):
                body = {"name": kita.name, "capacity": capacity, "lat": kita.lat,
                        "lon": kita.lon, "catchment_km": kita.catchment_km}
                _ok(await client.put(f"{PREFIX}/kitas/{kita.kita_id}/{group}", json=body,
                                     headers=staff), f"Kita {kita.kita_id} {group}")
                places += capacity
        _ok(await client.put(f"{PREFIX}/period", json={"deadline": deadline.isoformat()},
                             headers=staff), "the application period")
        applications = 0
        for children in FAMILIES:
            family = _ok(await client.post(f"{PREFIX}/families"), "a family").json()
            for child in children:
                child_id = await _apply(client, family["token"], child)
                applications += 1
                if child.sibling_kita is not None:
                    check = {"verdict": "verified", "checked_by": "Demo (Jugendamt)",
                             "note": "sibling's place confirmed by the Kita"}
                    _ok(await client.put(f"{PREFIX}/applications/{child_id}/claims/sibling",
                                         json=check, headers=staff), "a claim check")
    return SeededRound(kitas=len(KITAS), places=places, families=len(FAMILIES),
                       applications=applications, deadline=deadline.date().isoformat())
