"""Tools of the hostile HTTP tests: a raw-socket body flood, an RSS sampler, a real bus gateway.

WHY a raw socket and not httpx: the attack is a client that keeps sending — a body of hundreds
of megabytes, chunked or announced by ``Content-Length`` — and the question is *when* the
server answers while the client is still sending, and whether the server buffered what was
sent. An HTTP library sends the whole body before it reads the answer, so it can only tell
how the exchange ended. :func:`send_body` interleaves sending with reading, notes the moment
the status line arrives and stops sending then.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import yaml

from central_hub.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
MB = 1 << 20
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What came back while the client was sending its body."""

    #: the response's status code, ``None`` when no status line arrived before the deadline.
    status: int | None
    #: from the end of the request head to the status line (or to giving up).
    seconds: float
    #: body bytes the client had handed to its socket when the answer came (or it gave up).
    sent: int
    #: response head and whatever of the body arrived.
    raw: bytes
    #: with ``keep_sending_s``: seconds from the answer until the server closed the connection
    #: while the client went on sending (``None``: still open when the client stopped).
    closed_after_s: float | None = None
    #: with ``keep_sending_s``: body bytes handed to the socket after the answer.
    sent_after: int = 0

    def header(self, name: str) -> str | None:
        """A response header's value (case-insensitive), if present."""
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


class _Body:
    """The body's bytes, piece by piece, framed for the wire."""

    def __init__(self, total: int, chunked: bool, prefix: bytes, suffix: bytes) -> None:
        self.total, self.chunked, self.prefix, self.suffix = total, chunked, prefix, suffix
        self.sent = 0
        self.filler = b"x" * _CHUNK

    @property
    def done(self) -> bool:
        return self.sent >= self.total

    def next_piece(self) -> bytes:
        take = min(_CHUNK, self.total - self.sent)
        piece = (self.prefix + self.filler)[:take] if self.sent == 0 else self.filler[:take]
        if self.sent + take >= self.total and self.suffix:
            piece = piece[: take - len(self.suffix)] + self.suffix
        self.sent += take
        if not self.chunked:
            return piece
        framed = b"%x\r\n%s\r\n" % (take, piece)
        return framed + b"0\r\n\r\n" if self.done else framed


def send_body(host: str, port: int, method: str, path: str, *, total: int,
              chunked: bool = True, content_length: int | None = None,
              headers: dict[str, str] | None = None, prefix: bytes = b"", suffix: bytes = b"",
              deadline_s: float = 120.0, keep_sending_s: float = 0.0) -> Answer:
    """Send ``total`` body bytes (``prefix``, ``x`` …, ``suffix``) until the server answers.

    ``chunked``: ``Transfer-Encoding: chunked``; otherwise ``Content-Length: content_length``
    (default ``total``), which may announce more than is sent. Sending stops when the response
    head has arrived — or, with ``keep_sending_s``, goes on that long after it to see when the
    server closes the connection (an attacker does not stop because he got an answer).
    """
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}",
            "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    else:
        head.append(f"Content-Length: {total if content_length is None else content_length}")
    body = _Body(total, chunked, prefix, suffix)
    sock = socket.create_connection((host, port), timeout=10)
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        sock.setblocking(False)
        start = time.monotonic()
        pending, raw = b"", b""
        status: int | None = None
        answered_at: float | None = None
        sent_then = 0
        closed_after: float | None = None
        open_ = True  # the server has not closed (no EOF, reset or broken pipe yet)
        writable_ = True
        while open_ and time.monotonic() - start < deadline_s:
            if answered_at is not None and time.monotonic() - answered_at > keep_sending_s:
                break
            want_write = writable_ and (not body.done or bool(pending))
            readable, writable, _ = select.select([sock], [sock] if want_write else [], [], 0.1)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                raw += data
                if status is None and b"\r\n" in raw:
                    status = int(raw.split(b" ", 2)[1])
                if answered_at is None and (b"\r\n\r\n" in raw or not data):
                    answered_at, sent_then = time.monotonic(), body.sent
                if not data:
                    open_ = False
            if writable and want_write:
                pending = pending or body.next_piece()
                try:
                    pending = pending[sock.send(pending):]
                except BlockingIOError:
                    pass
                except OSError as exc:  # the server closed; read what it said
                    if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                        raise
                    writable_ = False
            if (not open_ or not writable_) and answered_at is not None and closed_after is None:
                closed_after = time.monotonic() - answered_at
                open_ = False
        if answered_at is None:
            return Answer(status, time.monotonic() - start, body.sent, raw)
        return Answer(status, answered_at - start, sent_then, raw, closed_after,
                      body.sent - sent_then)
    finally:
        sock.close()


class RssSampler:
    """The peak RSS of a process while a block runs, sampled every 10 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.before_mb = self.rss_mb()
        self.peak_mb = self.before_mb
        self.after_mb = self.before_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss_mb(self) -> float:
        return float(self.process.memory_info().rss) / MB

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            with contextlib.suppress(psutil.Error):
                self.peak_mb = max(self.peak_mb, self.rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.after_mb = self.rss_mb()
        self.peak_mb = max(self.peak_mb, self.after_mb)

    @property
    def growth_mb(self) -> float:
        """How far the peak rose above the RSS before the block."""
        return self.peak_mb - self.before_mb


class BusGatewayProcess:
    """``kassel bus`` with the demo bus's config (simulated WLAN): its portal on 127.0.0.1.

    The test's client is not on the passenger network, so ``POST /accept`` answers 403
    — exactly the passenger who has not accepted the terms.
    """

    def __init__(self, tmp_path: Path, broker_url: str, *,
                 wlan: dict[str, object] | None = None) -> None:
        source = ROOT / "firmware_configs/buses/demo-bus-0001.yaml"
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        data["agent"] = {**data.get("agent", {}), "state_dir": str(tmp_path / "bus-state")}
        self.port = free_port()
        data["wlan"] = {**data["wlan"], **(wlan or {}), "portal_port": self.port}
        self.config = tmp_path / "bus.yaml"
        self.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        (tmp_path / "routes").symlink_to(source.parent / "routes")
        self.log = tmp_path / "bus.log"
        self.broker_url = broker_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.cli", "bus", "--config", str(self.config),
                 "--broker", self.broker_url, "--log-level", "WARNING"],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"bus exited: {self.log.read_text()[-2000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/captive", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"portal not up: {self.log.read_text()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
