"""The open-data service's tables: versions and their files, and the statistics roll-up.

WHY its own :class:`~sqlalchemy.MetaData`: the published files and the roll-up belong to the
service and live where its settings say (by default a database of its own, apart from the
telemetry); they are created when the service is mounted, never at import.

The roll-up tables are keyed by the hour they cover (``hour_ms``, its start) and carry the
local ``day`` beside it: an hour is rolled up again by deleting its rows and writing them anew
(the current hour as often as the schedule runs), and producers sum days with one ``GROUP BY``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = String(100)

versions = Table(
    "opendata_versions", metadata,
    Column("dataset_id", ID, primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    #: pending | published | withdrawn | rejected (records.VersionState)
    Column("state", String(16), nullable=False),
    Column("produced_ms", BigInteger, nullable=False),
    Column("published_ms", BigInteger, nullable=True),
    Column("withdrawn_ms", BigInteger, nullable=True),
    Column("first_day", Date, nullable=True),
    Column("last_day", Date, nullable=True),
    Column("rows", Integer, nullable=False),
    #: the privacy gate's report (JSON): the version's provenance
    Column("report", Text, nullable=False),
    #: "schedule" or the publisher's name
    Column("produced_by", String(100), nullable=False),
)

files = Table(
    "opendata_files", metadata,
    Column("dataset_id", ID, primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), primary_key=True),
    Column("media_type", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)


def _hourly(name: str, *columns: Column[Any], key: tuple[str, ...]) -> Table:
    table = Table(name, metadata,
                  Column("hour_ms", BigInteger, primary_key=True, autoincrement=False),
                  Column("day", Date, nullable=False), *columns)
    Index(f"ix_{name}_day", table.c.day, *(table.c[k] for k in key))
    return table


stop_hours = _hourly(
    "opendata_stop_hours",
    Column("route_id", ID, primary_key=True), Column("stop_id", ID, primary_key=True),
    Column("hour", Integer, nullable=False), Column("calls", Integer, nullable=False),
    Column("boardings", Integer, nullable=False), Column("alightings", Integer, nullable=False),
    Column("load_sum", Integer, nullable=False), Column("load_n", Integer, nullable=False),
    *(Column(f"status{i}", Integer, nullable=False) for i in range(5)),
    key=("route_id", "stop_id"))

delays = _hourly(
    "opendata_delays",
    Column("route_id", ID, primary_key=True), Column("stop_id", ID, primary_key=True),
    Column("bin_s", Integer, primary_key=True, autoincrement=False),
    Column("calls", Integer, nullable=False),
    key=("route_id", "stop_id"))

wlan_hours = _hourly(
    "opendata_wlan_hours",
    Column("route_id", ID, primary_key=True),
    Column("sessions", Integer, nullable=False), Column("bytes", BigInteger, nullable=False),
    key=("route_id",))

signal_groups = _hourly(
    "opendata_signal_groups",
    Column("intersection_id", ID, primary_key=True), Column("sg", ID, primary_key=True),
    Column("green_ms", BigInteger, nullable=False),
    Column("observed_ms", BigInteger, nullable=False),
    key=("intersection_id",))

signal_hours = _hourly(
    "opendata_signal_hours",
    Column("intersection_id", ID, primary_key=True),
    Column("cycles", Integer, nullable=False), Column("cycle_ms", BigInteger, nullable=False),
    Column("granted", Integer, nullable=False), Column("rejected", Integer, nullable=False),
    Column("failsafe_min", Float, nullable=False),
    *(c for b in range(3) for c in (Column(f"band{b}_rows", Integer, nullable=False),
                                    Column(f"band{b}_err_ms", Float, nullable=False))),
    Column("bounded", Integer, nullable=False), Column("inside", Integer, nullable=False),
    key=("intersection_id",))

#: the last complete hour rolled up
watermarks = Table(
    "opendata_watermarks", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

ROLLUP_TABLES = (stop_hours, delays, wlan_hours, signal_groups, signal_hours)


def create_schema(engine: Engine) -> None:
    """Create the tables (idempotent)."""
    metadata.create_all(engine)
