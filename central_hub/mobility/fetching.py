"""Reading another party's feed over HTTP: bounded in size and time, refusals counted by kind.

WHY one place: the hub reads two kinds of feeds from servers it does not control, sharing
operators' GBFS files and other operators' GTFS-Realtime; both must be read the same
careful way. The body is streamed and dropped at the size limit (a declared
``Content-Length`` above it is refused before a byte is read), the whole answer must arrive
within the time limit, only ``http(s)`` is followed, and a URL is shown in messages without
its query string or user info (where access keys live).
"""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx

from central_hub.mobility.errors import FeedError

#: why a file was refused, as counted
RefusalKind = Literal["http", "network", "timeout", "oversize", "json", "invalid", "error"]


class FeedRefusedError(FeedError):
    """A file the poller refused, with the kind of refusal it is counted as."""

    def __init__(self, message: str, kind: RefusalKind) -> None:
        super().__init__(message)
        self.kind: RefusalKind = kind


def shown(url: httpx.URL) -> str:
    """``url`` as messages show it: without user info and query string."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


async def fetch_bounded(client: httpx.AsyncClient, target: httpx.URL, *, what: str,
                        max_bytes: int, timeout_s: float) -> bytes:
    """The body of ``target``; :class:`FeedRefusedError` (with its kind) when it is not an
    ``http(s)`` URL, the answer is not 200, larger than ``max_bytes`` or later than
    ``timeout_s``, or the connection fails. ``what`` names the file in messages."""
    if target.scheme not in ("http", "https"):
        raise FeedRefusedError(f"{what}: not an http(s) URL: {str(target)[:200]!r}", "invalid")
    where = shown(target)
    try:
        async with asyncio.timeout(timeout_s), client.stream("GET", target) as response:
            if response.status_code != httpx.codes.OK:
                raise FeedRefusedError(f"{what}: HTTP {response.status_code} from {where}",
                                       "http")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FeedRefusedError(f"{what}: {declared} bytes declared, more than the "
                                       f"limit of {max_bytes}", "oversize")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FeedRefusedError(f"{what}: more than the limit of {max_bytes} bytes",
                                           "oversize")
                chunks.append(chunk)
            return b"".join(chunks)
    except TimeoutError as exc:
        raise FeedRefusedError(f"{what}: no complete answer from {where} within "
                               f"{timeout_s:g} s", "timeout") from exc
    except httpx.TimeoutException as exc:
        raise FeedRefusedError(f"{what}: {type(exc).__name__} from {where}", "timeout") from exc
    except httpx.HTTPError as exc:
        raise FeedRefusedError(f"{what}: {type(exc).__name__} from {where}: {exc}",
                               "network") from exc
