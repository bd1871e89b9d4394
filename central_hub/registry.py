"""Device registry: register devices, issue credentials, write Mosquitto's files, reload it.

WHY the hub owns the broker's password and ACL files: the registry is the single
source of who may publish what; generating both files from it (atomically: write, fsync,
rename) and sending SIGHUP means a registered bus can connect a moment later and a removed one
cannot. The generated password is returned once and only its PBKDF2 hash is stored.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from central_hub.domain.acl import SALT_BYTES, AclDevice, acl_file, hash_password, password_file
from central_hub.storage.schema import devices
from edge_agent.contract.topics import Topics
from edge_agent.errors import KasselError

Reload = Callable[[], None]
DeviceKind = Literal["bus", "intersection", "hub"]


class RegistryError(KasselError):
    """A registry operation cannot be done (duplicate id, unknown device)."""


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A registered device without its secret."""

    device_id: str
    kind: str
    entity_id: str
    created_ms: int
    label: str


def pid_file_reload(path: str) -> Reload:
    """A reload that sends SIGHUP to the pid in ``path`` (Mosquitto's ``pid_file``)."""

    def reload() -> None:
        pid = int(Path(path).read_text(encoding="utf-8").strip())
        os.kill(pid, signal.SIGHUP)

    return reload


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


class DeviceRegistry:
    """The ``devices`` table plus the generated broker files."""

    def __init__(self, engine: Engine, topics: Topics, password_path: str | None,
                 acl_path: str | None, reload: Reload | None = None) -> None:
        self._t = devices
        self.engine = engine
        self.topics = topics
        self.password_path = Path(password_path) if password_path else None
        self.acl_path = Path(acl_path) if acl_path else None
        self.reload = reload

    def records(self) -> list[DeviceRecord]:
        t = self._t
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.device_id, t.c.kind, t.c.entity_id, t.c.created_ms,
                                       t.c.label).order_by(t.c.device_id))
            return [DeviceRecord(*r) for r in rows]

    def get(self, device_id: str) -> DeviceRecord | None:
        return next((d for d in self.records() if d.device_id == device_id), None)

    def register(self, device_id: str, kind: DeviceKind, entity_id: str | None = None,
                 label: str = "", password: str | None = None) -> str:
        """Add a device and return its new password (shown once).

        A bus's entity id (its vehicle id) belongs to one login only: the ACL grants that
        login the vehicle's topics, and a controller trusts the vehicle id at the end of a
        ``srem`` topic as the sender's, so a second bus with the same id is refused.
        """
        password = password or secrets.token_urlsafe(24)
        digest = hash_password(password, secrets.token_bytes(SALT_BYTES))
        entity = entity_id or device_id
        try:
            with self.engine.begin() as conn:
                if kind == "bus":
                    t = self._t
                    other = conn.execute(select(t.c.device_id).where(
                        t.c.kind == "bus", t.c.entity_id == entity)).first()
                    if other is not None:
                        raise RegistryError(
                            f"vehicle {entity} is already registered to {other[0]}")
                conn.execute(self._t.insert().values(
                    device_id=device_id, kind=kind, entity_id=entity,
                    password_hash=digest, created_ms=int(time.time() * 1000), label=label))
        except IntegrityError as exc:
            raise RegistryError(f"device {device_id} is already registered") from exc
        self.sync()
        return password

    def rotate(self, device_id: str, password: str | None = None) -> str:
        """Issue a new password for a registered device."""
        password = password or secrets.token_urlsafe(24)
        digest = hash_password(password, secrets.token_bytes(SALT_BYTES))
        with self.engine.begin() as conn:
            n = conn.execute(self._t.update().where(self._t.c.device_id == device_id)
                             .values(password_hash=digest)).rowcount
        if not n:
            raise RegistryError(f"device {device_id} is not registered")
        self.sync()
        return password

    def remove(self, device_id: str) -> bool:
        with self.engine.begin() as conn:
            n = conn.execute(delete(self._t).where(self._t.c.device_id == device_id)).rowcount
        if n:
            self.sync()
        return bool(n)

    def acl_devices(self) -> list[AclDevice]:
        t = self._t
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.device_id, t.c.kind, t.c.entity_id, t.c.password_hash))
            return [AclDevice(r[0], r[1], r[2], r[3]) for r in rows]

    def sync(self) -> None:
        """Write both files (when configured) and reload the broker."""
        if self.password_path is None and self.acl_path is None:
            return
        devs = self.acl_devices()
        if self.password_path is not None:
            _atomic_write(self.password_path, password_file(devs))
        if self.acl_path is not None:
            _atomic_write(self.acl_path, acl_file(devs, self.topics))
        if self.reload is not None:
            self.reload()

    def entity_map(self) -> dict[str, str]:
        """entity id -> device id, for the live state's ``online`` of vehicles."""
        return {d.entity_id: d.device_id for d in self.records()}
