"""The official GBFS JSON schemas (v2.3 and v3.0), as the validator the GBFS reader is given.

WHY the official schemas, copied: an operator's feed is checked against exactly what
MobilityData publishes (the schemas its own gbfs-validator uses), not against our reading of
the specification, and the hub never fetches a schema from the network. The files in
``v2.3/`` and ``v3.0/`` are unmodified copies of ``MobilityData/gbfs-json-schema`` (commit
2e974fd51ae1db9c8006c97375d53e0b882cfedf, 2026-08-13), only the files the hub reads, under
the Apache License 2.0 in ``LICENSE`` beside them.

WHY a module outside ``domain/``: reading the schemas from package data is I/O; the pure
reader (:mod:`central_hub.mobility.domain.gbfs`) takes a
:class:`~central_hub.mobility.domain.gbfs.SchemaCheck` instead, and :class:`GbfsSchemas` is
the one the hub injects.

The validator is ``jsonschema-rs`` (the one the project already checks the learning items'
metadata with), with formats checked (``date-time`` as RFC 3339, ``uri``, ``email``...).
"""

from __future__ import annotations

import json
from importlib import resources
from threading import Lock
from typing import Any

import jsonschema_rs

from central_hub.mobility.domain.gbfs import DISCOVERY, FILES
from central_hub.mobility.errors import FeedError

#: the longest schema error message put into a FeedError (a message may quote a whole file)
MESSAGE_CHARS = 160


def schema_path(version: str, feed: str) -> str:
    """Where the schema of ``<feed>.json`` of GBFS ``version`` is, inside this package."""
    return f"v{version}/{feed}.json"


class GbfsSchemas:
    """A :class:`~central_hub.mobility.domain.gbfs.SchemaCheck`: validates a file against
    its official schema, each schema loaded once on first use (thread-safe: the poller
    validates large files in a worker thread)."""

    def __init__(self) -> None:
        self._validators: dict[tuple[str, str], jsonschema_rs.Draft7Validator] = {}
        self._lock = Lock()

    def __call__(self, version: str, feed: str, document: object) -> None:
        """Return if ``document`` is valid, else raise ``FeedError`` naming the file and the
        path of the first schema error."""
        error = next(iter(self._validator(version, feed).iter_errors(document)), None)
        if error is None:
            return
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                             for p in error.instance_path)
        message = str(error.message)
        if len(message) > MESSAGE_CHARS:
            message = message[:MESSAGE_CHARS] + "…"
        raise FeedError(f"{feed}.json: schema error at {path} (GBFS {version}): {message}")

    def _validator(self, version: str, feed: str) -> jsonschema_rs.Draft7Validator:
        key = (version, feed)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                validator = jsonschema_rs.Draft7Validator(load_schema(version, feed),
                                                          validate_formats=True)
                self._validators[key] = validator
            return validator


def load_schema(version: str, feed: str) -> dict[str, Any]:
    """The official schema of ``<feed>.json`` of GBFS ``version`` (a file the hub reads)."""
    if version not in FILES or (feed != DISCOVERY and feed not in FILES[version]):
        raise FeedError(f"{feed}.json: no schema for GBFS {version} in the hub")
    text = resources.files(__name__).joinpath(schema_path(version, feed)).read_text(
        encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
