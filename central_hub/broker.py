"""A private Mosquitto process: started on a free port with its own config and persistence.

The demo runs the whole city against one, and every MQTT test uses one through a fixture, so
nothing depends on a broker that happens to run on the machine. It can be stopped, killed and
restarted on the same port with its persistence kept (sessions and retained messages survive),
and reloaded (SIGHUP) after the password or ACL file changed.

Message size limit (issue 13; the production file ``firmware_configs/mosquitto/kassel.conf``
carries the same value, a test keeps them equal): ``max_packet_size`` is
:data:`edge_agent.mqtt5.codec.MAX_PACKET_SIZE` (65 KiB: the contract's 64 KiB payload plus 1 KiB for
header and topic). A client that sends a larger packet is disconnected as soon as the packet's
header is read, so a 150 MB message is never read into the broker's memory, stored, retained or
forwarded; the broker announces the limit in CONNACK. ``message_size_limit`` is *not* set:
Mosquitto 2.0.11 answers a QoS 1 message over it with a PUBACK carrying reason code 0x95, which
is not a PUBACK reason code in MQTT 5, and paho takes that PUBACK for a malformed packet and
drops the connection (measured) — a limit that disconnects our own clients either way.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from edge_agent.errors import BrokerError
from edge_agent.mqtt5.codec import MAX_PACKET_SIZE

INSTALL_HINT = "Mosquitto is missing: install it with `sudo apt-get install mosquitto`"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``host`` (as a server would, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def mosquitto_binary() -> str:
    """Path of the ``mosquitto`` executable or :class:`BrokerError` with the install hint."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None,
    )
    if found is None:
        raise BrokerError(INSTALL_HINT)
    return found


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """The listener's TLS material; the same settings as the production listener
    (``firmware_configs/mosquitto/kassel.conf``): TLS 1.2 or newer, no client certificate
    required (devices log in with a password)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def conf_lines(self) -> list[str]:
        return [f"cafile {self.ca_file}", f"certfile {self.cert_file}",
                f"keyfile {self.key_file}", f"tls_version {TLS_VERSION}"]


#: the oldest TLS version the broker speaks (Mosquitto's ``tls_version`` is a minimum)
TLS_VERSION = "tlsv1.2"


class MosquittoBroker:
    """One private Mosquitto, configured for persistent sessions and large offline queues."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        password_file: Path | None = None,
        acl_file: Path | None = None,
        max_queued_messages: int = 1_000_000,
        autosave_interval: int = 1,
        autosave_on_changes: bool = False,
        extra_conf: str = "",
        max_packet_size: int = MAX_PACKET_SIZE,
        tls: BrokerTls | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.password_file = password_file
        self.acl_file = acl_file
        self.max_queued_messages = max_queued_messages
        #: Mosquitto writes its in-memory state (sessions, queued messages) only at these
        #: saves: every ``autosave_interval`` s (in whole seconds and strictly after, so in
        #: practice every interval + 1 s), or with ``autosave_on_changes`` after that many
        #: changes. A SIGKILL loses what changed since the last save (docs/reliability.md).
        self.autosave_interval = autosave_interval
        self.autosave_on_changes = autosave_on_changes
        self.extra_conf = extra_conf
        #: the largest packet the broker takes and announces (0: no limit, for tests of a
        #: broker without it)
        self.max_packet_size = max_packet_size
        #: serve TLS (1.2 or newer) on the listener instead of plain MQTT
        self.tls = tls
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of this broker (``mqtts://`` with TLS)."""
        return f"{'mqtts' if self.tls is not None else 'mqtt'}://{self.host}:{self.port}"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def write_config(self) -> Path:
        """Write ``mosquitto.conf`` for the current settings and return its path."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            # Started as root, Mosquitto would switch to the "mosquitto" user and could not
            # read our temp dir; keep the identity we were started with.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            f"listener {self.port} {self.host}",
            *(self.tls.conf_lines() if self.tls is not None else []),
            "persistence true",
            f"persistence_location {self.workdir}/",
            f"autosave_interval {self.autosave_interval}",
            f"autosave_on_changes {'true' if self.autosave_on_changes else 'false'}",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"max_queued_messages {self.max_queued_messages}",
            "max_inflight_messages 1000",
            "set_tcp_nodelay true",
        ]
        if self.max_packet_size:
            lines.append(f"max_packet_size {self.max_packet_size}")
        if self.password_file is not None:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if self.extra_conf:
            lines.append(self.extra_conf)
        self.conf_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.conf_path

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        binary = mosquitto_binary()
        if not port_is_free(self.port, self.host):
            raise BrokerError(f"port {self.port} on {self.host} is already in use")
        self.write_config()
        self._proc = subprocess.Popen(
            [binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # its own session: a terminal's Ctrl-C reaches the whole foreground process group,
            # but the owner stops the broker itself, after its clients (``kassel demo``)
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                raise BrokerError(f"mosquitto exited at start: {err.strip()} {log[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(
                (self.host, self.port), timeout=0.2
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not accept connections on {self.port} in {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM): persistence is written, sessions survive a restart."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash or power loss would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc is not None and proc.stderr:
            proc.stderr.close()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same port with the same persistence."""
        self.stop()
        self.start(timeout)

    def reload(self) -> None:
        """Re-read the password and ACL files (SIGHUP)."""
        if self._proc is None or self._proc.poll() is not None:
            raise BrokerError("mosquitto is not running")
        self._proc.send_signal(signal.SIGHUP)

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
