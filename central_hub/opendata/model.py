"""The records the open-data use cases take and give (besides :mod:`.domain.records`, the
records every outside view of a published dataset is rendered from).

WHY apart from the domain records: these describe the service's own workflow (a version
waiting for review, what its gate found, its files) for the publisher; the public sees
datasets only as :class:`~central_hub.opendata.domain.records.PublishedDataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from central_hub.opendata.domain.records import VersionState


@dataclass(frozen=True, slots=True)
class FileView:
    """A file of a version: name, type, size, SHA-256 and where it is downloaded."""

    name: str
    media_type: str
    bytes: int
    sha256: str
    url: str


@dataclass(frozen=True, slots=True)
class VersionView:
    """A version as the publisher reviews it: state, period, the gate's report (raw and in
    plain words), its files and the first rows of its table."""

    dataset_id: str
    version: int
    state: VersionState
    produced_ms: int
    published_ms: int | None
    withdrawn_ms: int | None
    first_day: date | None
    last_day: date | None
    rows: int
    produced_by: str
    report: dict[str, object]
    plain_words: tuple[str, ...]
    files: tuple[FileView, ...]
    columns: tuple[str, ...]
    preview: tuple[tuple[object, ...], ...]


@dataclass(frozen=True, slots=True)
class DatasetStatus:
    """A dataset in the publisher's list: its current public version and its newest one."""

    dataset_id: str
    title: str
    current: int | None
    current_state: VersionState | None
    latest: int | None
    latest_state: VersionState | None
