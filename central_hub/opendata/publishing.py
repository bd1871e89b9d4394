"""Publishing: a dataset's producer run, its table through the privacy gate, its files
written as a new version; review, publication and withdrawal.

WHY one use case for the whole path: the gate must stand between every producer and every
file, so the only code that writes a version's files is here, after :func:`pass_gate`; a
table the gate refuses is kept as a refused version with its report (the publisher sees
why) and no file. A producer that fails writes nothing: the dataset keeps its previous
version, and the caller raises the alarm.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine

from central_hub.opendata import store
from central_hub.opendata.domain import producers
from central_hub.opendata.domain.csv_text import table_csv
from central_hub.opendata.domain.datapackage import data_package
from central_hub.opendata.domain.datasets import BY_ID, GTFS, KITA, OCCUPANCY, PUNCTUALITY
from central_hub.opendata.domain.datasets import SIGNALS as SIGNALS_SPEC
from central_hub.opendata.domain.datasets import WLAN as WLAN_SPEC
from central_hub.opendata.domain.gate import pass_gate
from central_hub.opendata.domain.records import (
    DatasetSpec,
    PublishedDataset,
    Resource,
    Table,
    VersionState,
)
from central_hub.opendata.domain.rollup import local
from central_hub.opendata.errors import ConflictError, NotFoundError, ProducerError

log = logging.getLogger(__name__)

#: what the Kita service gives the statistics (see :func:`central_hub.kita.mount.
#: allocation_statistics`): places (kita, age group, capacity, lat, lon) and outcomes
KitaStatistics = Callable[[], tuple[list[tuple[str, str, int, float, float]],
                                    list[tuple[str, str, int | None]]]]

CSV = "data.csv"
PACKAGE = "datapackage.json"
GTFS_ZIP = "gtfs.zip"
MEDIA_TYPES = {CSV: "text/csv", PACKAGE: "application/json", GTFS_ZIP: "application/zip"}
#: the live feeds the GTFS dataset lists as API distributions: (path, title)
GTFS_RT_FEEDS = (("/gtfs-rt/vehicle-positions", "GTFS-Realtime VehiclePositions"),
                 ("/gtfs-rt/trip-updates", "GTFS-Realtime TripUpdates"))


@dataclass(frozen=True, slots=True)
class Sources:
    """Where producers read what is not in the service's own roll-up."""

    kita: KitaStatistics | None = None
    gtfs_zip: Path | None = None


def file_url(base_url: str, dataset_id: str, version: int, name: str) -> str:
    """Where a version's file is downloaded."""
    return f"{base_url}/opendata/datasets/{dataset_id}/versions/{version}/{name}"


def landing_page(base_url: str, dataset_id: str) -> str:
    """The dataset's page on the portal."""
    return f"{base_url}/opendata/#/datensatz/{dataset_id}"


class Publisher:
    """Produces, publishes and withdraws versions (see the module)."""

    def __init__(self, engine: Engine, sources: Sources, *, period_days: int) -> None:
        self._engine = engine
        self._sources = sources
        self._period_days = period_days

    def period(self, now_ms: int) -> tuple[date, date]:
        """The days a version produced at ``now_ms`` covers (up to today, local time)."""
        today = local(now_ms).date()
        return today - timedelta(days=self._period_days - 1), today

    def _table(self, spec: DatasetSpec, conn: Connection, first: date, last: date) -> Table:
        if spec is OCCUPANCY:
            return producers.occupancy(store.occupancy(conn, first, last))
        if spec is PUNCTUALITY:
            return producers.punctuality(store.delay_histograms(conn, first, last))
        if spec is WLAN_SPEC:
            return producers.wlan(store.wlan(conn, first, last))
        if spec is SIGNALS_SPEC:
            return producers.signals(store.signals(conn, first, last))
        if spec is KITA:
            if self._sources.kita is None:
                raise ProducerError("the hub carries no Kita service")
            places, outcomes = self._sources.kita()
            return producers.kita(
                [producers.KitaPlaces(k, g, c, lat, lon) for k, g, c, lat, lon in places],
                [producers.KitaOutcome(first_choice, g, rank) for first_choice, g, rank
                 in outcomes])
        raise ProducerError(f"{spec.id} has no table producer")

    def produce(self, dataset_id: str, *, now_ms: int, by: str, publish: bool,
                base_url: str) -> store.VersionRow:
        """Run the dataset's producer and gate; store the version (published when
        ``publish`` and the gate let it through, else pending or refused).
        :class:`ProducerError` when the producer failed (nothing stored)."""
        spec = BY_ID.get(dataset_id)
        if spec is None:
            raise NotFoundError(f"no dataset {dataset_id!r}")
        first, last = self.period(now_ms)
        try:
            if spec is GTFS:
                return self._store_gtfs(now_ms, by, publish)
            return self._produce(spec, first, last, now_ms=now_ms, by=by, publish=publish,
                                 base_url=base_url)
        except ProducerError:
            raise
        except Exception as exc:
            # whatever failed (a query, the gate's spec check, a file), the transaction was
            # rolled back: nothing is stored, the previous version stays
            # the first line of the cause (a database error's next lines are its statement)
            first_line = (str(exc).splitlines() or [""])[0][:300]
            raise ProducerError(f"{dataset_id}: {type(exc).__name__}: {first_line}") from exc

    def _produce(self, spec: DatasetSpec, first: date, last: date, *, now_ms: int, by: str,
                 publish: bool, base_url: str) -> store.VersionRow:
        with self._engine.connect() as conn:
            span = store.data_days(conn, first, last) if spec is not KITA else None
            table = self._table(spec, conn, *(span or (first, last)))
        result = pass_gate(table, spec.privacy)
        report = result.report.as_dict()
        report["plain_words"] = list(result.report.plain_words())
        with self._engine.begin() as conn:
            number = store.next_version(conn, spec.id)
            if result.table is None:
                state, files = VersionState.REJECTED, []
            else:
                state = VersionState.PUBLISHED if publish else VersionState.PENDING
                files = self._files(spec, number, result.table, report, now_ms=now_ms,
                                    span=span, base_url=base_url)
            row = store.VersionRow(
                spec.id, number, state, now_ms, now_ms if state is VersionState.PUBLISHED
                else None, None, span[0] if span else None, span[1] if span else None,
                len(table.rows), report, by)
            store.add_version(conn, row, files)
        log.info("open data: %s version %d %s (%d rows)", spec.id, number, state.value,
                 len(table.rows))
        return row

    def _files(self, spec: DatasetSpec, number: int, table: Table, report: dict[str, object],
               *, now_ms: int, span: tuple[date, date] | None, base_url: str
               ) -> list[tuple[str, str, bytes, str]]:
        csv = table_csv(table)
        at = datetime.fromtimestamp(now_ms / 1000, local(now_ms).tzinfo)
        words = report.get("plain_words")
        ds = PublishedDataset(
            spec, number, VersionState.PENDING, at, at, span,
            (Resource(f"{spec.id}-v{number}-csv", CSV, spec.title, "CSV", "text/csv",
                      file_url(base_url, spec.id, number, CSV), len(csv)),),
            (number,), tuple(str(w) for w in words) if isinstance(words, list) else (),
            landing_page(base_url, spec.id))
        digest = hashlib.sha256(csv).hexdigest()
        package = json.dumps(
            data_package(ds, {CSV: table}, {CSV: (CSV, len(csv), digest)}),
            ensure_ascii=False, indent=2).encode()
        return [(CSV, MEDIA_TYPES[CSV], csv, digest),
                (PACKAGE, MEDIA_TYPES[PACKAGE], package, hashlib.sha256(package).hexdigest())]

    def _store_gtfs(self, now_ms: int, by: str, publish: bool) -> store.VersionRow:
        path = self._sources.gtfs_zip
        if path is None:
            raise ProducerError("the hub has no static GTFS feed (gtfs.static)")
        content = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            bad = zf.testzip()
            names = set(zf.namelist())
        if bad is not None or "stops.txt" not in names:
            raise ProducerError(f"{path} is not a readable GTFS zip")
        report: dict[str, object] = {
            "people_columns": [], "plain_words": [
                "Fahrplandaten enthalten keine Angaben über Personen; sie werden unverändert "
                "veröffentlicht."]}
        with self._engine.begin() as conn:
            number = store.next_version(conn, GTFS.id)
            state = VersionState.PUBLISHED if publish else VersionState.PENDING
            row = store.VersionRow(GTFS.id, number, state, now_ms,
                                   now_ms if publish else None, None, None, None, 0, report, by)
            store.add_version(conn, row, [(GTFS_ZIP, MEDIA_TYPES[GTFS_ZIP], content,
                                           hashlib.sha256(content).hexdigest())])
        return row

    def publish(self, dataset_id: str, number: int, now_ms: int) -> store.VersionRow:
        """Publish a version waiting for review, or one withdrawn before."""
        with self._engine.begin() as conn:
            v = store.version(conn, dataset_id, number)
            if v is None:
                raise NotFoundError(f"no version {number} of {dataset_id!r}")
            if v.state not in (VersionState.PENDING, VersionState.WITHDRAWN):
                raise ConflictError(f"version {number} is {v.state.value}: only a pending or "
                                    "withdrawn version can be published")
            store.set_state(conn, dataset_id, number, VersionState.PUBLISHED, now_ms)
            out = store.version(conn, dataset_id, number)
        assert out is not None
        return out

    def withdraw(self, dataset_id: str, now_ms: int) -> list[int]:
        """Withdraw every published version of the dataset: it leaves the catalogue and the
        CKAN lists, its files answer 410, its record stays (marked withdrawn)."""
        if dataset_id not in BY_ID:
            raise NotFoundError(f"no dataset {dataset_id!r}")
        with self._engine.begin() as conn:
            numbers = [v.version for v in store.versions(conn, dataset_id)
                       if v.state is VersionState.PUBLISHED]
            if not numbers:
                raise ConflictError(f"{dataset_id} has no published version")
            for n in numbers:
                store.set_state(conn, dataset_id, n, VersionState.WITHDRAWN, now_ms)
        return numbers
