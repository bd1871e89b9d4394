"""Other operators' GTFS-Realtime feeds, polled: bounded, parsed as a whole or refused.

WHY: the regional operator's trains and buses run through Kassel too; their TripUpdates (and
VehiclePositions, for crowding) reach the planner through the same reader our own buses' go
through (:mod:`central_hub.mobility.domain.realtime`). A feed is fetched the careful way every
outside feed is (:mod:`central_hub.mobility.fetching`), parsed off the event loop, and kept
as its last good message; a refused fetch is counted and reported through ``on_refused``
(the service raises ``realtime_feed_refused``) and never reaches the planner. A message
whose header is older than ``max_age_s`` is left out of the planner's real time: a delay
said an hour ago is no prediction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import httpx
from google.transit import gtfs_realtime_pb2 as rt

from central_hub.mobility.domain.realtime import parse_feed
from central_hub.mobility.errors import FeedError
from central_hub.mobility.fetching import FeedRefusedError, fetch_bounded
from central_hub.mobility.settings import RealtimeFeedConfig

log = logging.getLogger(__name__)


class RealtimeFeeds:
    """The configured GTFS-Realtime feeds, each polled every ``poll_s``."""

    def __init__(self, feeds: Sequence[RealtimeFeedConfig], *, max_bytes: int,
                 on_refused: Callable[[str, str], None],
                 on_accepted: Callable[[str], None] | None = None,
                 max_age_s: float = 300.0, timeout_s: float = 10.0,
                 client: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._feeds = list(feeds)
        self._max_bytes = max_bytes
        self._on_refused = on_refused
        self._on_accepted = on_accepted
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            follow_redirects=True, max_redirects=3,
            headers={"Accept": "application/x-protobuf",
                     "User-Agent": "kassel-hub GTFS-Realtime consumer"})
        self._clock = clock
        self._last: dict[str, rt.FeedMessage] = {}
        self.refused: Counter[str] = Counter()

    async def aclose(self) -> None:
        """Close the HTTP client if the poller made it."""
        if self._own_client:
            await self._client.aclose()

    def messages(self) -> list[rt.FeedMessage]:
        """The last good message of each feed that is not too old, in configuration order."""
        now = self._clock()
        return [msg for f in self._feeds if (msg := self._last.get(f.name)) is not None
                and now - msg.header.timestamp <= self._max_age_s]

    def last(self) -> Mapping[str, rt.FeedMessage]:
        """Every feed's last good message, however old."""
        return dict(self._last)

    async def poll(self, feed: RealtimeFeedConfig) -> bool:
        """Fetch and parse one feed; ``True`` when it was taken."""
        try:
            body = await fetch_bounded(self._client, httpx.URL(feed.url), what=feed.name,
                                       max_bytes=self._max_bytes, timeout_s=self._timeout_s)
            message = await asyncio.to_thread(parse_feed, body, self._max_bytes)
        except FeedError as exc:
            kind = exc.kind if isinstance(exc, FeedRefusedError) else "invalid"
            self.refused[feed.name] += 1
            log.warning("GTFS-Realtime feed %s refused (%s): %s", feed.name, kind, exc)
            try:
                self._on_refused(feed.name, str(exc))
            except Exception:  # the alarm sink failing must not stop the poller
                log.exception("GTFS-Realtime feed %s: on_refused failed", feed.name)
            return False
        self._last[feed.name] = message
        if self._on_accepted is not None:
            self._on_accepted(feed.name)
        return True

    async def _feed_loop(self, feed: RealtimeFeedConfig) -> None:
        while True:
            await self.poll(feed)
            await asyncio.sleep(feed.poll_s)

    async def run(self) -> None:
        """Poll every feed at its own pace until cancelled."""
        async with asyncio.TaskGroup() as group:
            for feed in self._feeds:
                group.create_task(self._feed_loop(feed), name=f"gtfs_rt_{feed.name}")
