"""Storage on both dialects: idempotent batched writes, roll-ups, tiered retention, registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from central_hub.domain.intake import Intake, Row
from central_hub.domain.rollups import DAY_MS, HOUR_MS, MINUTE_MS, RetentionPolicy
from central_hub.registry import DeviceRegistry
from central_hub.storage.db import make_engine
from central_hub.storage.maintenance import Maintenance
from central_hub.storage.schema import rollup_hour, rollup_minute, samples
from central_hub.storage.writer import BatchWriter
from tests.integration.central_hub.helpers import TOPICS, occupancy, position


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (f"sqlite:///{tmp_path / 'sub' / 'hub.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_db"))
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _rows(intake: Intake, msgs: list[tuple[str, bytes]], received: int) -> list[Row]:
    out = []
    for topic, payload in msgs:
        r = intake.accept(topic, payload, received)
        assert isinstance(r, Row)
        out.append(r)
    return out


def test_writes_are_idempotent_and_rolled_up(engine: Engine) -> None:
    now = 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS + 30 * MINUTE_MS
    base = now - 5 * MINUTE_MS
    msgs = [(TOPICS.topic("position", "7"), position("7", i, base + i * 1000))
            for i in range(120)]  # two minutes at 1 Hz
    msgs += [(TOPICS.topic("occupancy", "7"), occupancy("7", i, 10 + i, base + i * 20_000))
             for i in range(6)]
    writer = BatchWriter(engine)
    assert writer.write(_rows(Intake(TOPICS), msgs, now)) == 126
    assert writer.write(_rows(Intake(TOPICS), msgs, now)) == 0  # a redelivery: nothing new
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar() == 126

    maint = Maintenance(engine, RetentionPolicy())
    report = maint.run(now + 10_000)
    assert report.minute_buckets > 0 and report.hour_buckets > 0
    with engine.connect() as conn:
        minute = {(r.metric, r.bucket): r for r in conn.execute(select(rollup_minute))}
        hour = {r.metric: r for r in conn.execute(select(rollup_hour))}
    first = base - base % MINUTE_MS
    speed = minute[("position.speed_mps", first)]
    assert speed.count == 60 and speed.total == pytest.approx(60 * 8.0)
    pax = hour["occupancy.passengers"]
    assert (pax.count, pax.minimum, pax.maximum) == (6, 10.0, 15.0)
    assert maint.run(now + 20_000).minute_buckets == 0  # nothing new received: nothing to do

    late = [(TOPICS.topic("position", "7"), position("7", 500, base + 5_000))]  # a replay
    writer.write(_rows(Intake(TOPICS), late, now + 30_000))
    maint.run(now + 40_000)
    with engine.connect() as conn:
        count = conn.execute(select(rollup_minute.c.count).where(
            rollup_minute.c.metric == "position.speed_mps",
            rollup_minute.c.bucket == first)).scalar()
    assert count == 61

    deleted = Maintenance(engine, RetentionPolicy(raw_days=14, minute_days=90)).retain(
        now + 15 * DAY_MS)
    assert deleted["samples"] == 127
    assert Maintenance(engine, RetentionPolicy(minute_days=90)).retain(
        now + 91 * DAY_MS)["rollup_minute"] > 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollup_hour)).scalar() > 0


def test_registry_files_follow_the_table(engine: Engine, tmp_path: Path) -> None:
    reloads: list[int] = []
    reg = DeviceRegistry(engine, TOPICS, str(tmp_path / "pw"), str(tmp_path / "acl"),
                         lambda: reloads.append(1))
    pw = reg.register("bus-1", "bus", "1")
    reg.register("ks-1", "intersection")
    text = (tmp_path / "pw").read_text()
    assert text.startswith("bus-1:$7$101$") and "ks-1:$7$" in text and pw not in text
    acl = (tmp_path / "acl").read_text()
    assert "user bus-1\ntopic write kassel/v1/bus/1/position" in acl
    assert reg.remove("bus-1") and "bus-1" not in (tmp_path / "acl").read_text()
    assert len(reloads) == 3
    assert json.dumps([d.device_id for d in reg.records()]) == '["ks-1"]'
