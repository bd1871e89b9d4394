"""The device's broker password on disk: replaced atomically, readable by its owner only.

WHY a module of its own: ``rotate_credentials`` (docs/commands.md) replaces the password a
device logs in with while it runs. A crash or power cut in the middle must leave either the
old or the new password on disk, never half a file or none (the device would be locked out
of the broker for good), and the file must never be readable by other users of the Pi
(mode 0600 from the moment it exists, not chmod-ed afterwards). The password before the
rotation is kept beside it (``<file>.previous``, also 0600) until a login with the new one has
succeeded, because the hub switches the broker to the new password only after the device's
acknowledgement, and that acknowledgement may be lost.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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
