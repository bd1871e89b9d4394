"""The open-data use cases as the routes and the schedule call them.

WHY one facade: the routes (public CKAN API, catalogue, downloads; the publisher's review)
and the schedule reach the service through this object only, which owns the roll-up, the
publisher and the caches. The public views change only when a version changes state, so
they are computed once per change (:attr:`revision`) and served from memory: the catalogue
of a thousand datasets is not rebuilt for every harvester.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine

from central_hub.opendata import store
from central_hub.opendata.domain import dcat
from central_hub.opendata.domain.datasets import BY_ID, DATASETS, GTFS, KITA
from central_hub.opendata.domain.records import (
    Organisation,
    PublishedDataset,
    Resource,
    VersionState,
)
from central_hub.opendata.errors import NotFoundError, ProducerError
from central_hub.opendata.model import DatasetStatus, FileView, VersionView
from central_hub.opendata.publishing import (
    CSV,
    GTFS_RT_FEEDS,
    PACKAGE,
    Publisher,
    file_url,
    landing_page,
)
from central_hub.opendata.settings import OpendataSettings
from central_hub.opendata.statistics import StatisticsRollup

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")

#: datasets on a page of the catalogue (Hydra paging)
CATALOGUE_PAGE = 100
#: how many rows of a version the publisher's review shows
PREVIEW_ROWS = 20
#: called with (dataset id, error or None) after every producer run: the alarm
ProducerOutcome = Callable[[str, str | None], None]


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def now_ms() -> int:
    """The wall clock in ms."""
    return time.time_ns() // 1_000_000


class OpendataService:
    """The Open Data Rathaus (see the module)."""

    def __init__(self, engine: Engine, settings: OpendataSettings, publisher: Publisher,
                 rollup: StatisticsRollup | None, *,
                 on_producer: ProducerOutcome | None = None) -> None:
        #: the service's own database (versions, files, the roll-up)
        self.engine = engine
        self._engine = engine
        self.settings = settings
        self.publisher = publisher
        self.rollup = rollup
        self._on_producer = on_producer
        self.organisation = Organisation(
            "stadt-kassel", settings.publisher_name, settings.publisher_homepage,
            settings.publisher_email)
        self._lock = threading.Lock()
        #: bumped whenever a version changes state: the public views' cache key
        self.revision = 0
        self._views: dict[tuple[int, str], list[PublishedDataset]] = {}
        self._pages: dict[tuple[int, str, int, str], bytes] = {}

    # --- the public views -------------------------------------------------------------

    def _changed(self) -> None:
        with self._lock:
            self.revision += 1
            self._views.clear()
            self._pages.clear()

    def datasets(self, base_url: str) -> list[PublishedDataset]:
        """Every dataset with a public version, in the portal's order; a withdrawn one too
        (its state says so: the catalogue and CKAN's lists leave it out)."""
        key = (self.revision, base_url)
        cached = self._views.get(key)
        if cached is not None:
            return cached
        with self._engine.connect() as conn:
            rows = store.versions(conn)
            out = []
            for spec in DATASETS:
                mine = [v for v in rows if v.dataset_id == spec.id]
                public = [v for v in mine if v.state in (VersionState.PUBLISHED,
                                                         VersionState.WITHDRAWN)]
                if not public:
                    continue
                current = public[0]
                out.append(self._public(spec.id, current, public,
                                        store.file_infos(conn, spec.id, current.version),
                                        base_url))
        with self._lock:
            _remember(self._views, key, out)
        return out

    def _public(self, dataset_id: str, current: store.VersionRow,
                public: list[store.VersionRow], files: list[store.FileInfo],
                base_url: str) -> PublishedDataset:
        spec = BY_ID[dataset_id]
        resources = [Resource(f"{dataset_id}-v{current.version}-{f.name.replace('.', '-')}",
                              f.name, _describe(f.name, spec.title), _format(f.name),
                              f.media_type, file_url(base_url, dataset_id, current.version,
                                                     f.name), f.bytes)
                     for f in files]
        if spec is GTFS:
            resources += [Resource(f"{dataset_id}-{path.rsplit('/', 1)[-1]}", title,
                                   f"{title} (Protocol Buffers, live)", "GTFS-RT",
                                   "application/x-protobuf", f"{base_url}{path}", None, api=True)
                          for path, title in GTFS_RT_FEEDS]
        first = min(v.published_ms or v.produced_ms for v in public)
        modified = current.published_ms or current.produced_ms
        words = current.report.get("plain_words")
        temporal = (current.first_day, current.last_day) \
            if current.first_day and current.last_day else None
        return PublishedDataset(
            spec, current.version, current.state, _at(first), _at(modified), temporal,
            tuple(resources), tuple(v.version for v in public),
            tuple(str(w) for w in words) if isinstance(words, list) else (),
            landing_page(base_url, dataset_id))

    def listed(self, base_url: str) -> list[PublishedDataset]:
        """The datasets harvesters list: published, not withdrawn."""
        return [d for d in self.datasets(base_url) if d.state is VersionState.PUBLISHED]

    def catalogue(self, base_url: str, page: int, fmt: str) -> bytes:
        """One page of the DCAT-AP.de catalogue in ``fmt`` (ttl, rdf, jsonld)."""
        key = (self.revision, base_url, page, fmt)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        listed = self.listed(base_url)
        size = CATALOGUE_PAGE
        graph = dcat.catalogue_graph(listed[(page - 1) * size:page * size], self.organisation,
                                     base_url=base_url, page=page, total=len(listed),
                                     page_size=size, fmt=fmt,
                                     contributor_id=self.settings.contributor_id)
        body = dcat.serialise(graph, fmt)
        with self._lock:
            _remember(self._pages, key, body)
        return body

    def file(self, dataset_id: str, number: int, name: str
             ) -> tuple[store.FileInfo, store.VersionRow, bytes]:
        """A file of a public version: its description, version and bytes.
        :class:`NotFoundError` for none (or a version never published)."""
        with self._engine.connect() as conn:
            v = store.version(conn, dataset_id, number)
            if v is None or v.state not in (VersionState.PUBLISHED, VersionState.WITHDRAWN):
                raise NotFoundError(f"no public version {number} of {dataset_id!r}")
            info = next((f for f in store.file_infos(conn, dataset_id, number)
                         if f.name == name), None)
            content = store.file_content(conn, dataset_id, number, name)
        if info is None or content is None:
            raise NotFoundError(f"no file {name!r} in version {number} of {dataset_id!r}")
        return info, v, content

    # --- the publisher ----------------------------------------------------------------

    def statuses(self) -> list[DatasetStatus]:
        """Every dataset with its current public version and its newest one."""
        with self._engine.connect() as conn:
            rows = store.versions(conn)
        out = []
        for spec in DATASETS:
            mine = [v for v in rows if v.dataset_id == spec.id]
            public = [v for v in mine if v.state in (VersionState.PUBLISHED,
                                                     VersionState.WITHDRAWN)]
            out.append(DatasetStatus(
                spec.id, spec.title, public[0].version if public else None,
                public[0].state if public else None, mine[0].version if mine else None,
                mine[0].state if mine else None))
        return out

    def versions(self, dataset_id: str) -> list[store.VersionRow]:
        """Every version of a dataset, newest first."""
        if dataset_id not in BY_ID:
            raise NotFoundError(f"no dataset {dataset_id!r}")
        with self._engine.connect() as conn:
            return store.versions(conn, dataset_id)

    def version(self, dataset_id: str, number: int, base_url: str) -> VersionView:
        """A version for review: its report, files and first rows."""
        with self._engine.connect() as conn:
            v = store.version(conn, dataset_id, number)
            if v is None:
                raise NotFoundError(f"no version {number} of {dataset_id!r}")
            files = store.file_infos(conn, dataset_id, number)
            csv = store.file_content(conn, dataset_id, number, CSV)
        columns: tuple[str, ...] = ()
        preview: tuple[tuple[object, ...], ...] = ()
        if csv is not None:
            lines = csv.decode("utf-8").splitlines()
            columns = tuple(lines[0].split(",")) if lines else ()
            preview = tuple(tuple(line.split(",")) for line in lines[1:PREVIEW_ROWS + 1])
        words = v.report.get("plain_words")
        return VersionView(
            v.dataset_id, v.version, v.state, v.produced_ms, v.published_ms, v.withdrawn_ms,
            v.first_day, v.last_day, v.rows, v.produced_by, v.report,
            tuple(str(w) for w in words) if isinstance(words, list) else (),
            tuple(FileView(f.name, f.media_type, f.bytes, f.sha256,
                           file_url(base_url, dataset_id, number, f.name)) for f in files),
            columns, preview)

    def run(self, dataset_id: str, *, by: str, base_url: str, publish: bool = False,
            at_ms: int | None = None, roll_up: bool = True) -> store.VersionRow:
        """Run a producer now (a publisher's run waits for review unless ``publish``); the
        current hour is rolled up first unless ``roll_up`` is false (the caller did)."""
        now = now_ms() if at_ms is None else at_ms
        try:
            if roll_up and dataset_id in BY_ID and BY_ID[dataset_id] not in (KITA, GTFS):
                self._roll_current(dataset_id, now)
            row = self.publisher.produce(dataset_id, now_ms=now, by=by, publish=publish,
                                         base_url=base_url)
        except ProducerError as exc:
            log.warning("open data: the producer of %s failed: %s", dataset_id, exc)
            if self._on_producer is not None:
                self._on_producer(dataset_id, str(exc))
            raise
        if self._on_producer is not None:
            self._on_producer(dataset_id, None)
        self._changed()
        return row

    def _roll_current(self, dataset_id: str, now: int) -> None:
        if self.rollup is None:
            return
        try:
            self.rollup.roll_current(now)
        except Exception as exc:
            first_line = (str(exc).splitlines() or [""])[0][:300]
            raise ProducerError(f"{dataset_id}: the roll-up of the current hour failed: "
                                f"{type(exc).__name__}: {first_line}") from exc

    def publish(self, dataset_id: str, number: int) -> store.VersionRow:
        """Publish a reviewed version."""
        row = self.publisher.publish(dataset_id, number, now_ms())
        self._changed()
        return row

    def withdraw(self, dataset_id: str) -> list[int]:
        """Withdraw a dataset (every published version)."""
        numbers = self.publisher.withdraw(dataset_id, now_ms())
        self._changed()
        return numbers

    # --- the schedule -----------------------------------------------------------------

    def due(self, now: int, every_ms: int) -> list[str]:
        """The datasets whose newest version is older than ``every_ms`` (or that have none)."""
        with self._engine.connect() as conn:
            rows = store.versions(conn)
        newest: dict[str, int] = {}
        for v in rows:
            newest[v.dataset_id] = max(newest.get(v.dataset_id, 0), v.produced_ms)
        return [d.id for d in DATASETS if now - newest.get(d.id, 0) >= every_ms]

    def scheduled_run(self, now: int, *, base_url: str, every_ms: int,
                      first_ms: int) -> dict[str, str]:
        """Roll up what is new, then produce (and, with ``auto_publish``, publish) every
        dataset that is due; per dataset, its new state or the error."""
        if self.rollup is not None:
            self.rollup.catch_up(now, first_ms=first_ms)
        out: dict[str, str] = {}
        due = self.due(now, every_ms)
        if due and self.rollup is not None:
            try:
                self.rollup.roll_current(now)
            except Exception:  # the producers then fail or miss the last minutes: both said
                log.exception("open data: the roll-up of the current hour failed")
        for dataset_id in due:
            try:
                row = self.run(dataset_id, by="schedule", base_url=base_url,
                               publish=self.settings.auto_publish, at_ms=now, roll_up=False)
                out[dataset_id] = row.state.value
            except ProducerError as exc:
                out[dataset_id] = f"failed: {exc}"
        return out


#: the most views and catalogue pages kept per kind: the keys carry the request's address and
#: page, which a client chooses, so the caches must not grow with what clients ask for
CACHE_ENTRIES = 64


def _remember(cache: dict[K, V], key: K, value: V) -> None:
    """Keep ``value`` under ``key``, dropping the oldest entry beyond :data:`CACHE_ENTRIES`."""
    cache[key] = value
    while len(cache) > CACHE_ENTRIES:
        del cache[next(iter(cache))]


def _format(name: str) -> str:
    return {CSV: "CSV", PACKAGE: "JSON"}.get(name, "ZIP")


def _describe(name: str, title: str) -> str:
    return {CSV: f"{title} (CSV, UTF-8, mit Kopfzeile)",
            PACKAGE: "Frictionless Data Package: Beschreibung der Spalten (Table Schema)"
            }.get(name, f"{title} (GTFS, ZIP)")

