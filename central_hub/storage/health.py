"""Whether the hub's database took its last write: one flag shared by every writer.

WHY one object for all writers: ingest batches, alarm rows and the signal history all go to the
same database, so any write's outcome says whether storage is up. The ``hub_storage_down``
alarm is raised at the first failed write and cleared by the first successful one, whichever
writer made it (the signal history may have nothing to write for minutes; ingest may be idle).
Plain attribute stores: writers run in threads, the alarm loop only reads.
"""

from __future__ import annotations

import time


class StorageHealth:
    """The outcome of the latest database write."""

    def __init__(self) -> None:
        #: ``"<writer>: <exception>"`` of the last failed write; ``None`` once one succeeded.
        self.error: str | None = None
        #: when (ms) the current failure began; ``None`` while storage is up.
        self.down_since_ms: int | None = None
        self.failures = 0

    def failed(self, writer: str, exc: BaseException) -> bool:
        """Record a failed write; True when it is the first of an outage (log it loudly)."""
        first = self.error is None
        self.failures += 1
        self.error = f"{writer}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}" \
            if str(exc) else f"{writer}: {type(exc).__name__}"
        if first:
            self.down_since_ms = int(time.time() * 1000)
        return first

    def succeeded(self) -> None:
        """Record a committed write: storage is up."""
        self.error = None
        self.down_since_ms = None

    @property
    def ok(self) -> bool:
        return self.error is None
