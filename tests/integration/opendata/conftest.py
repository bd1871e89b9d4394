"""Fixtures of the open-data integration tests: a real hub (its own Mosquitto, SQLite files)
whose open-data roll-up holds a week of a small city and whose Kita service ran a real round,
with every dataset produced and published through the publisher's HTTP API.

WHY one hub per module: producing and publishing six datasets is the expensive part, and the
tests of a module read the same publication; a test that changes it (withdrawal) builds its
own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from central_hub.core.identity import Role
from central_hub.core.tokens import TokenStore
from central_hub.kita.domain import KitaPlaces
from central_hub.kita.model import ApplicationInput, Family
from central_hub.kita.synthetic import kassel_instance
from central_hub.opendata import store
from central_hub.opendata.domain.datasets import DATASETS
from central_hub.opendata.service import OpendataService
from central_hub.opendata.settings import OpendataSettings
from central_hub.opendata.synthetic import bus_hour, hours, kassel_network, signal_hour
from tests.integration.central_hub.helpers import HubServer, hub_config, start_hub

GTFS = Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip"
#: the schedule must not run while a test reads: its first run is far away
#: (the contributor ID is the placeholder of tests/fixtures/dcat-ap-de/vocabularies.ttl)
QUIET = OpendataSettings(first_run_s=86_400,
                         contributor_id="http://dcat-ap.de/def/contributors/stadtKassel")


@dataclass
class Portal:
    """A running hub with published open data, and a publisher's bearer token."""

    server: HubServer
    publisher: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def service(self) -> OpendataService:
        service: OpendataService = self.server.app.state.opendata
        return service

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publisher}"}


def seed_rollup(service: OpendataService, *, days: int = 7, seed: int = 1) -> None:
    """A week of a small city (6 lines, 8 intersections) in the roll-up, up to today."""
    lines, signals = kassel_network(6, 10, 8)
    rng = random.Random(seed)
    first = date.today() - timedelta(days=days - 1)
    for hour in hours(first, days):
        with service.engine.begin() as conn:
            store.replace_hour(conn, hour, bus_hour(hour, lines, calls_per_hour=3, rng=rng),
                               signal_hour(hour, signals, rng=rng))


def seed_kita(server: HubServer, *, children: int = 400, kitas: int = 30,
              lone: KitaPlaces | None = None) -> None:
    """A real Kita procedure on the hub's Kita service: Kitas, families, applications, the
    deadline passed and round 1 run. ``lone``: one more Kita, and one child whose only
    choice it is."""
    kita = server.app.state.kita
    places, apps = kassel_instance(children, kitas, seed=3)
    for p in [*places, *([lone] if lone else [])]:
        kita.save_kita(p)
    kita.set_deadline(datetime.now(UTC) + timedelta(hours=1))
    born = date.today() - timedelta(days=700)
    for i, a in enumerate(apps):
        family = kita.register_family()
        kita.submit(Family(family.family_id), ApplicationInput(
            f"Kind {i}", a.age_group, a.choices, None, False, a.lat, a.lon, born))
    if lone is not None:
        family = kita.register_family()
        kita.submit(Family(family.family_id), ApplicationInput(
            "Einzelkind", lone.age_group, (lone.kita_id,), None, False, lone.lat, lone.lon,
            born))
    # every application is in: the period closes (staff may move the deadline before the
    # first round), and once it has passed the round runs
    closes = datetime.now(UTC) + timedelta(milliseconds=200)
    kita.set_deadline(closes)
    time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds() + 0.05))
    kita.run_round(seed=42)


def publish_all(portal: Portal) -> None:
    """Run every producer through the publisher's API and publish what the gate passed."""
    with httpx.Client(base_url=portal.url, timeout=60, headers=portal.auth()) as http:
        for spec in DATASETS:
            made = http.post(f"/api/v1/opendata/datasets/{spec.id}/runs")
            assert made.status_code == 201, made.text
            body = made.json()
            assert body["state"] == "pending", (spec.id, body["report"])
            done = http.post(f"/api/v1/opendata/datasets/{spec.id}/versions/"
                             f"{body['version']}/publish")
            assert done.status_code == 200, done.text


def open_portal(tmp: Path, broker: MosquittoBroker, lone: KitaPlaces | None = None) -> Portal:
    """A hub with seeded data; nothing published yet."""
    server = start_hub(hub_config(tmp, broker, gtfs=str(GTFS)), opendata=QUIET)
    _, token = TokenStore(server.hub.engine).issue("publisher", {Role.OPENDATA_PUBLISHER},
                                                   expires_days=1)
    portal = Portal(server, token)
    seed_rollup(portal.service)
    seed_kita(server, lone=lone)
    return portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A hub with every dataset published (see the module)."""
    tmp = tmp_path_factory.mktemp("opendata")
    with MosquittoBroker(tmp / "mosquitto") as broker:
        p = open_portal(tmp, broker)
        try:
            publish_all(p)
            yield p
        finally:
            p.server.stop()
