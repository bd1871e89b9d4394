"""Fixtures of the hub's integration tests: a hub on a private broker, a private PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from central_hub.broker import MosquittoBroker, free_port
from tests.integration.central_hub.helpers import HubServer, selling_hub


@pytest.fixture
def hub(broker: MosquittoBroker, tmp_path: Path) -> Iterator[HubServer]:
    """A hub (SQLite, demo GTFS, selling tickets) on the test's private broker, served on a
    free port."""
    gtfs = Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip"
    with selling_hub(tmp_path, broker, gtfs) as srv:
        yield srv


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [
        p for p in (shutil.which(name),) if p]
    if not found:
        raise RuntimeError(f"{name} is missing: apt-get install postgresql")
    return found[-1]


class _SharedCluster:
    """The session's one PostgreSQL cluster and how many ``pg_url`` fixtures hold it.

    Why: the Kita and learning conftests re-export ``pg_url``, and pytest makes each re-export
    a session fixture of its own; without this, a full run would initdb and start a cluster
    per directory. Every database a test uses is its own anyway (``pg_db``)."""

    url = ""
    users = 0
    stop: tuple[str, ...] = ()
    root: Path | None = None


def _start_cluster() -> None:
    root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    _SharedCluster.root = root
    _SharedCluster.stop = (*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                           "stop")
    subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(data), "-U", "hub", "-A", "trust",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "pg.log"),
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "-w", "start"], check=True, capture_output=True)
    subprocess.run([*as_user, _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                    "hub", "hub"], check=True, capture_output=True)
    _SharedCluster.url = f"postgresql://hub@127.0.0.1:{port}/hub"


def _stop_cluster() -> None:
    if _SharedCluster.stop:
        subprocess.run(_SharedCluster.stop, check=False, capture_output=True)
    if _SharedCluster.root is not None:
        shutil.rmtree(_SharedCluster.root, ignore_errors=True)
    _SharedCluster.url, _SharedCluster.stop, _SharedCluster.root = "", (), None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a free port, for the whole session
    (one for every directory that uses it: :class:`_SharedCluster`)."""
    if _SharedCluster.users == 0:
        try:
            _start_cluster()
        except BaseException:
            _stop_cluster()
            raise
    _SharedCluster.users += 1
    try:
        yield _SharedCluster.url
    finally:
        _SharedCluster.users -= 1
        if _SharedCluster.users == 0:
            _stop_cluster()


@pytest.fixture
def pg_db(pg_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh database in the session's PostgreSQL cluster for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    admin = pg_url.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name
