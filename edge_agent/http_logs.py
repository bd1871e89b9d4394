"""No client address and no query string in the HTTP server's log lines.

WHY: uvicorn writes the client's address and port, and the full path *with its query string*,
into every access-log line (``uvicorn.access``) and every WebSocket handshake line
(``uvicorn.error``, at INFO); at TRACE also into every connection line. An address is
personal data (a passenger's phone, a family's home connection), and a query string may carry
anything a client put there (an e-mail address, a token someone pasted). The lines are still
worth having when debugging — method, path, status — so they are scrubbed rather than lost:
:class:`ScrubClientDetails` replaces every ``host:port`` by ``-`` and cuts every query string
off, and :func:`scrub_server_logs` attaches it to uvicorn's loggers. Paths that carry personal
ids are the application's to redact (the hub adds its Kita child-id filter beside this one).
"""

from __future__ import annotations

import logging
import re

#: uvicorn's loggers whose lines name the client.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")

_ADDRESS = re.compile(r"(?<![\w/.])(?:\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]*):\d+\b")
_QUERY = re.compile(r"(/[^\s?\"]*)\?[^\s\"]*")


def scrub(text: str) -> str:
    """``text`` without ``host:port`` pairs and without the query strings of paths."""
    return _QUERY.sub(r"\1", _ADDRESS.sub("-", text))


class ScrubClientDetails(logging.Filter):
    """Rewrites a record's message and string arguments with :func:`scrub`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub in place and keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


def scrub_server_logs(*extra: logging.Filter) -> None:
    """Attach :class:`ScrubClientDetails` (and ``extra`` filters) to uvicorn's loggers.

    Call after uvicorn configured its logging (after building its ``Config``): a logger's
    filters apply to the records logged on that logger itself.
    """
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        for flt in (ScrubClientDetails(), *extra):
            logger.addFilter(flt)
