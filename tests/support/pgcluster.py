"""A private PostgreSQL cluster (initdb + pg_ctl) that a test may stop and start again.

The hub's integration tests share one cluster per session; a fault test that stops the
database needs its own, so stopping it breaks nothing else.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from central_hub.broker import free_port


def pg_bin(name: str) -> str:
    """Path of a PostgreSQL server program (Debian keeps them under /usr/lib/postgresql)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [
        p for p in (shutil.which(name),) if p]
    if not found:
        raise RuntimeError(f"{name} is missing: apt-get install postgresql")
    return found[-1]


class PgCluster:
    """One cluster on a free port with database ``hub`` (user ``hub``, trust auth)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hub-pg-fault-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "pg.log"
        self.port = free_port()
        self._as: list[str] = []

    @property
    def url(self) -> str:
        return f"postgresql://hub@127.0.0.1:{self.port}/hub"

    def _run(self, *args: str, check: bool = True) -> None:
        subprocess.run([*self._as, *args], check=check, capture_output=True, timeout=60)

    def init(self) -> None:
        self.sock.mkdir()
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "hub", "-A", "trust", "--no-sync")
        self.start()
        self._run(pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "hub", "hub")

    def start(self) -> None:
        """Start (again) and wait until it accepts connections."""
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o",
                  f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast``: open transactions are rolled back, clients cut off."""
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop",
                  check=False)

    def __enter__(self) -> PgCluster:
        self.init()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
