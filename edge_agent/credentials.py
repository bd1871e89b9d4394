"""The device's broker password on disk: replaced atomically, readable by its owner only.

WHY a module of its own: ``rotate_credentials`` (docs/commands.md) replaces the password a
device logs in with while it runs. A crash or power cut in the middle must leave either the
old or the new password on disk, never half a file or none (the device would be locked out
of the broker for good), and the file must never be readable by other users of the Pi
(mode 0600 from the moment it exists, not chmod-ed afterwards). The password before the
rotation is kept beside it (``<file>.previous``, also 0600) until a login with the new one has
succeeded, because the hub switches the broker to the new password only after the device's
acknowledgement, and that acknowledgement may be lost.

:class:`BrokerPasswords` is the running agent's side of it: which password the next login
uses, the fallback to the previous one, and the ``rotate_credentials`` command itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from edge_agent.contract.commands import RotateCredentialsArgs
from edge_agent.errors import CommandRefusedError

# one logger for the whole agent runtime, as before it was split into modules
log = logging.getLogger("edge_agent.agent")

MODE = 0o600


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a 0600 temporary file, fsync, rename, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class CredentialFile:
    """``mqtt.password_file`` and its ``.previous`` companion."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.previous_path = path.with_name(path.name + ".previous")

    def read(self) -> str | None:
        """The current password (``None`` when the file does not exist yet)."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def read_previous(self) -> str | None:
        """The password before the last rotation, while it is still kept."""
        try:
            return self.previous_path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def store(self, new: str, old: str | None) -> None:
        """Keep ``old`` as the previous password, then make ``new`` the current one."""
        if old is not None and old != new:
            _write_private(self.previous_path, old)
        _write_private(self.path, new)

    def drop_previous(self) -> None:
        """Forget the previous password (a login with the current one succeeded)."""
        with contextlib.suppress(FileNotFoundError):
            self.previous_path.unlink()


class BrokerPasswords:
    """The broker password an agent logs in with, and the previous one while it is kept.

    Why a class: the session (which password to try) and the ``rotate_credentials`` command
    (which replaces it) share this state, and its rules are easy to get wrong: the password is
    never logged nor put in an ack, and the previous one is dropped only after a login with
    the new one succeeded.
    """

    def __init__(self, *, device_id: str, given: str | None, password_file: str | None) -> None:
        """``given``: a password from the caller or the broker URL; else ``password_file``."""
        self._device_id = device_id
        #: the broker password: given, in the URL, or from ``mqtt.password_file``, which
        #: ``rotate_credentials`` replaces
        self.current = given
        self.file: CredentialFile | None = None
        #: the password before the last rotation, tried when the new one is refused, until a
        #: login with the new one succeeded (the broker switches only after our ack)
        self.previous: str | None = None
        #: whether the current session logged in with the previous password (fallback)
        self.on_previous = False
        if password_file and given is None:
            # only a password kept in this file can be rotated: one given in the URL or by
            # the caller would come back unchanged after a restart
            self.file = CredentialFile(Path(password_file))
            self.current = self.file.read()
            self.previous = self.file.read_previous()

    def for_login(self, use_previous: bool) -> str | None:
        """The password of the next connect attempt."""
        return self.previous if use_previous else self.current

    async def logged_in(self, use_previous: bool) -> None:
        """A login succeeded, with the previous password or the current one."""
        self.on_previous = use_previous
        if not use_previous and self.previous is not None:
            await self._forget_previous()

    async def rotate(self, args: RotateCredentialsArgs) -> dict[str, object]:
        """``rotate_credentials``: store the new broker password, keep the old as fallback.

        The new password is written to ``mqtt.password_file`` atomically (mode 0600) and the
        current one to its ``.previous`` file, both before the ack: the hub switches the
        broker to the new password only on our ``ok``, and the broker then disconnects this
        session (Mosquitto re-checks logins when it reloads its password file), so the next
        connect uses the new password; until one succeeds the previous one is kept and tried
        when the new one is refused. The password is never logged nor put in the ack.
        """
        creds = self.file
        if creds is None:
            raise CommandRefusedError(
                "rotate_credentials: the password does not come from mqtt.password_file, "
                "so a new one could not be kept")
        old = self.previous if self.on_previous else self.current
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, creds.store, args.password, old)
        except OSError as exc:
            raise CommandRefusedError(
                f"rotate_credentials: cannot write {creds.path}: {exc.strerror or exc}"
            ) from exc
        self.current = args.password
        self.previous = old
        log.info("%s: new broker password stored in %s (the previous one is kept until a "
                 "login with the new one succeeds)", self._device_id, creds.path)
        return {"stored": True}

    async def _forget_previous(self) -> None:
        """A login with the new password succeeded: the previous one is no longer needed."""
        self.previous = None
        if self.file is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.file.drop_previous)
            except OSError as exc:
                log.warning("%s: cannot remove the previous password file: %s",
                            self._device_id, exc.strerror or exc)
