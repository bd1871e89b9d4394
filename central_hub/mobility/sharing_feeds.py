"""Sharing operators' GBFS feeds, polled: every file at its own ``ttl``, bounded, validated.

WHY an adapter of its own: an operator's feed is an outside party's server, so nothing it
sends is trusted. Each file is fetched with a time limit and read only up to a size limit
(the body is streamed and dropped at the limit, and a declared ``Content-Length`` above it
is refused before a byte is read); it must be JSON and valid against the official schema
(:mod:`central_hub.mobility.gbfs_schemas`) and the reader's own checks
(:mod:`central_hub.mobility.domain.gbfs`). Every refusal is counted per operator and handed
to ``on_refused`` (the service raises an alarm with it); the file's last good version stays
in use, so a bad feed never replaces good data and never stops the poller or the hub.

Each file is re-read after its own ``ttl`` (a station status every minute, the stations
once an hour), bounded below (an operator cannot make the hub poll it in a loop with
``ttl: 0``) and above (a file is never older than ``max_ttl_s`` plus its own age). A
refused file is retried after ``min_ttl_s``. The clock is injected, so the tests move time
instead of waiting for it.

    operators' servers ──HTTP──► SharingFeeds ──parse_file/assemble──► SharingSystem
                                      └── on_refused(operator, reason) ──► alarm
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import TypeVar

import httpx

from central_hub.mobility.domain.gbfs import (
    DISCOVERY,
    FILES,
    Discovery,
    FeedPart,
    SchemaCheck,
    SharingSystem,
    assemble,
    parse_discovery,
    parse_file,
)
from central_hub.mobility.errors import FeedError, MobilityError
from central_hub.mobility.fetching import FeedRefusedError, fetch_bounded
from central_hub.mobility.settings import FeedLimits, OperatorConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

@dataclass
class _Operator:
    """What the poller holds of one operator: the last good part of each file."""

    config: OperatorConfig
    discovery: Discovery | None = None
    discovery_due: float = -math.inf
    parts: dict[str, FeedPart] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    system: SharingSystem | None = None


class SharingFeeds:
    """Polls the operators' GBFS feeds and keeps each one's last good :class:`SharingSystem`.

    ``validate`` defaults to the official schemas; ``client`` to an own
    ``httpx.AsyncClient`` (closed by :meth:`aclose`); ``clock`` (seconds, monotonic)
    decides when a file is due. ``on_refused(operator, reason)`` is called for every refused
    file, from the event loop; ``on_accepted(operator)`` after a poll that read every file
    that was due (the service clears its alarm with it).
    """

    def __init__(self, operators: Sequence[OperatorConfig], *,
                 on_refused: Callable[[str, str], None],
                 on_accepted: Callable[[str], None] | None = None,
                 limits: FeedLimits | None = None,
                 validate: SchemaCheck | None = None,
                 client: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        names = [o.name for o in operators]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise MobilityError(f"sharing operators configured twice: {', '.join(twice)}")
        self._operators = [_Operator(o) for o in operators]
        self._on_refused = on_refused
        self._on_accepted = on_accepted
        self._limits = limits or FeedLimits()
        if validate is None:
            from central_hub.mobility.gbfs_schemas import GbfsSchemas  # noqa: PLC0415

            validate = GbfsSchemas()
        self._validate: SchemaCheck = validate
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(self._limits.timeout_s), follow_redirects=True,
            max_redirects=3, headers={"Accept": "application/json",
                                      "User-Agent": "kassel-hub GBFS consumer"})
        self._clock = clock
        self._refused: Counter[tuple[str, str]] = Counter()

    async def __aenter__(self) -> SharingFeeds:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if the poller made it."""
        if self._own_client:
            await self._client.aclose()

    def systems(self) -> Mapping[str, SharingSystem]:
        """Each operator's last good system (an operator never read well is absent)."""
        return MappingProxyType({o.config.name: o.system for o in self._operators
                                 if o.system is not None})

    def refusals(self) -> Mapping[str, int]:
        """How many files were refused, per operator (every operator listed)."""
        totals = dict.fromkeys((o.config.name for o in self._operators), 0)
        for (name, _), count in self._refused.items():
            totals[name] += count
        return MappingProxyType(totals)

    def refusals_by_kind(self) -> Mapping[tuple[str, str], int]:
        """How many files were refused, per ``(operator, kind)``."""
        return MappingProxyType(dict(self._refused))

    async def run(self) -> None:
        """Poll until cancelled: every file when it is due."""
        while True:
            await self.poll_once()
            await asyncio.sleep(self.next_due_in())

    def next_due_in(self) -> float:
        """Seconds until the next file is due (at least a tenth of ``min_ttl_s``)."""
        now = self._clock()
        dues = [o.discovery_due for o in self._operators]
        dues += [due for o in self._operators for due in o.due.values()]
        soonest = min(dues, default=now + self._limits.min_ttl_s)
        return min(self._limits.max_ttl_s,
                   max(self._limits.min_ttl_s / 10, soonest - now))

    async def poll_once(self) -> None:
        """Read every file that is due now (all of them at the first call), every operator
        at once; returns when all are read or refused."""
        results = await asyncio.gather(*(self._poll(o) for o in self._operators),
                                       return_exceptions=True)
        for operator, result in zip(self._operators, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancelled: not ours to swallow
                log.error("sharing feed %s: polling failed", operator.config.name,
                          exc_info=result)
                self._refuse(operator, FeedRefusedError(
                    f"polling failed: {type(result).__name__}: {result}", "error"))

    async def _poll(self, operator: _Operator) -> None:
        now = self._clock()
        config = operator.config
        if now >= operator.discovery_due:
            discovery = await self._read(operator, config.url, DISCOVERY, lambda doc: (
                parse_discovery(doc, validate=self._validate, language=config.language)))
            if discovery is None:
                operator.discovery_due = now + self._limits.min_ttl_s
            else:
                if operator.discovery and operator.discovery.version != discovery.version:
                    operator.parts.clear()
                    operator.due.clear()
                operator.discovery = discovery
                operator.discovery_due = now + self._ttl(discovery.file.ttl)
        discovery = operator.discovery
        if discovery is None:
            return
        version = discovery.version
        listed = {n: url for n in FILES[version] if (url := discovery.url(n)) is not None}
        dropped = [n for n in operator.parts if n not in listed]
        for name in dropped:
            del operator.parts[name]
            operator.due.pop(name, None)
        due = [n for n in listed if now >= operator.due.get(n, -math.inf)]

        def parser(name: str) -> Callable[[object], FeedPart]:
            return lambda doc: parse_file(version, name, doc, validate=self._validate,
                                          language=config.language)

        parts = await asyncio.gather(*(self._read(operator, listed[n], n, parser(n))
                                       for n in due))
        changed = bool(dropped)
        for name, part in zip(due, parts, strict=True):
            if part is None:
                operator.due[name] = now + self._limits.min_ttl_s
            else:
                operator.parts[name] = part
                operator.due[name] = now + self._ttl(part.file.ttl)
                changed = True
        if changed:
            try:
                operator.system = assemble(version, operator.parts,
                                           default_form_factor=config.form_factor)
            except FeedError as exc:  # a needed file not read yet: refused already, or soon
                log.info("sharing feed %s: no system yet: %s", config.name, exc)
        if due and all(part is not None for part in parts) and self._on_accepted is not None:
            self._on_accepted(config.name)

    async def _read(self, operator: _Operator, url: str, name: str,
                    parse: Callable[[object], T]) -> T | None:
        """File ``name`` fetched, parsed and read; None (and counted) if it was refused."""
        try:
            document = _json(await self._fetch(operator.config.url, url, name), name)
            try:  # large files are validated off the event loop
                return await asyncio.to_thread(parse, document)
            except FeedError as exc:
                raise FeedRefusedError(str(exc), "invalid") from exc
        except FeedRefusedError as exc:
            self._refuse(operator, exc)
            return None

    async def _fetch(self, base: str, url: str, name: str) -> bytes:
        """The body of ``url``, read only up to the size limit, within the time limit."""
        file = f"{name}.json"
        try:
            target = httpx.URL(base).join(url)
        except (httpx.InvalidURL, ValueError) as exc:
            raise FeedRefusedError(f"{file}: not a URL: {url[:200]!r}", "invalid") from exc
        return await fetch_bounded(self._client, target, what=file,
                                   max_bytes=self._limits.max_bytes,
                                   timeout_s=self._limits.timeout_s)

    def _ttl(self, ttl: int) -> float:
        return min(self._limits.max_ttl_s, max(self._limits.min_ttl_s, float(ttl)))

    def _refuse(self, operator: _Operator, refused: FeedRefusedError) -> None:
        name = operator.config.name
        self._refused[name, refused.kind] += 1
        log.warning("sharing feed %s refused (%s): %s", name, refused.kind, refused)
        try:
            self._on_refused(name, str(refused))
        except Exception:  # the alarm sink failing must not stop the poller
            log.exception("sharing feed %s: on_refused failed", name)


def _json(body: bytes, name: str) -> object:
    """``body`` as JSON; NaN and Infinity (not JSON) and nesting too deep are refused."""
    try:
        document: object = json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        raise FeedRefusedError(f"{name}.json: not JSON: {str(exc)[:200]}", "json") from exc
    return document


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")
