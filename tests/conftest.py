"""Fixtures shared by every test: a private Mosquitto on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private Mosquitto for one test: anonymous, persistent, on a free port."""
    with MosquittoBroker(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[type[MosquittoBroker]]:
    """Build brokers with a password file and ACL; all are stopped at the end of the test."""
    started: list[MosquittoBroker] = []

    class _Tracked(MosquittoBroker):
        def start(self, timeout: float = 10.0) -> None:
            super().start(timeout)
            started.append(self)

    yield _Tracked
    for b in started:
        b.stop()
