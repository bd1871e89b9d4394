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
from tests.integration.central_hub.helpers import HubServer, hub_config, start_hub


@pytest.fixture
def hub(broker: MosquittoBroker, tmp_path: Path) -> Iterator[HubServer]:
    """A hub (SQLite, demo GTFS) on the test's private broker, served on a free port."""
    gtfs = Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip"
    srv = start_hub(hub_config(tmp_path, broker, gtfs=str(gtfs)))
    yield srv
    srv.stop()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [
        p for p in (shutil.which(name),) if p]
    if not found:
        raise RuntimeError(f"{name} is missing: apt-get install postgresql")
    return found[-1]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a free port, for the whole session."""
    root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(data), "-U", "hub", "-A", "trust",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(root / "pg.log"),
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "-w", "start"], check=True, capture_output=True)
    subprocess.run([*as_user, _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                    "hub", "hub"], check=True, capture_output=True)
    try:
        yield f"postgresql://hub@127.0.0.1:{port}/hub"
    finally:
        subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                        "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_db(pg_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh database in the session's PostgreSQL cluster for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    admin = pg_url.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name
