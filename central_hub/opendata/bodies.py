"""The open-data HTTP bodies of the publisher's routes (the public routes speak CKAN's and
DCAT's own formats, built in :mod:`.domain`).

WHY strict models: the publisher reviews the gate's report before a version goes out; the
bodies carry it whole (raw and in plain words) with the version's files and first rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from central_hub.opendata.model import DatasetStatus, VersionView
from central_hub.opendata.store import VersionRow


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class DatasetStatusOut(_Out):
    """A dataset in the publisher's list."""

    id: str
    title: str
    current: int | None
    current_state: str | None
    latest: int | None
    latest_state: str | None

    @classmethod
    def of(cls, s: DatasetStatus) -> DatasetStatusOut:
        """From the service's record."""
        return cls(id=s.dataset_id, title=s.title, current=s.current,
                   current_state=s.current_state.value if s.current_state else None,
                   latest=s.latest, latest_state=s.latest_state.value if s.latest_state else None)


class VersionOut(_Out):
    """A version in a list: number, state, when, what period, by whom."""

    dataset_id: str
    version: int
    state: str
    produced_ms: int
    published_ms: int | None
    withdrawn_ms: int | None
    first_day: date | None
    last_day: date | None
    rows: int
    produced_by: str

    @classmethod
    def of(cls, v: VersionRow) -> VersionOut:
        """From a stored version."""
        return cls(dataset_id=v.dataset_id, version=v.version, state=v.state.value,
                   produced_ms=v.produced_ms, published_ms=v.published_ms,
                   withdrawn_ms=v.withdrawn_ms, first_day=v.first_day, last_day=v.last_day,
                   rows=v.rows, produced_by=v.produced_by)


class FileOut(_Out):
    """A file of a version."""

    name: str
    media_type: str
    bytes: int
    sha256: str
    url: str


class ReviewOut(VersionOut):
    """A version as the publisher reviews it: the gate's report, files, first rows."""

    report: dict[str, Any]
    plain_words: list[str]
    files: list[FileOut]
    columns: list[str]
    preview: list[list[Any]]

    @classmethod
    def of_view(cls, v: VersionView) -> ReviewOut:
        """From the service's review record."""
        return cls(dataset_id=v.dataset_id, version=v.version, state=v.state.value,
                   produced_ms=v.produced_ms, published_ms=v.published_ms,
                   withdrawn_ms=v.withdrawn_ms, first_day=v.first_day, last_day=v.last_day,
                   rows=v.rows, produced_by=v.produced_by, report=v.report,
                   plain_words=list(v.plain_words),
                   files=[FileOut(name=f.name, media_type=f.media_type, bytes=f.bytes,
                                  sha256=f.sha256, url=f.url) for f in v.files],
                   columns=list(v.columns), preview=[list(r) for r in v.preview])


class WithdrawnOut(_Out):
    """What a withdrawal withdrew."""

    dataset_id: str
    withdrawn: list[int]
