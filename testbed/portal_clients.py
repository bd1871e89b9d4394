"""Phones behind one access point in the lab's passenger namespace, and the server they reach.

Why: the gateway benchmark measures admission the way a passenger causes it — a real
``POST /accept`` from the phone's own MAC and address, then the first TCP connection that
gets through the firewall to the internet. One veth into a passenger namespace (one access
point port on the bridge) carries N macvlans, each with its own MAC and address
(:func:`add_clients`); every socket of client k leaves through its own macvlan
(``SO_BINDTODEVICE``), so the gateway finds the MAC in its neighbour table and programs
``MAC . IP`` exactly as for a phone. :func:`role_clients` runs in the passenger namespace and
answers one JSON line per command; :func:`role_sink` is the internet namespace's server.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from testbed.netlab import INTERNET_WEB, NetLab

#: the gateway's address on the passenger LAN, and the portal's port there
GATEWAY_IP = "10.77.0.1"
PORTAL_PORT = 8080
#: the internet server's port: one the portal never redirects
SINK_PORT = 8081
FIRST_CLIENT_HOST = 100  # clients are 10.77.0.100 ...


def client_ip(k: int) -> str:
    """Client k's address on the passenger LAN."""
    return f"10.77.0.{FIRST_CLIENT_HOST + k}"


def client_mac(k: int) -> str:
    """Client k's MAC address (locally administered)."""
    return f"02:42:00:00:{k >> 8:02x}:{k & 0xFF:02x}"


def add_clients(lab: NetLab, pax: str, n: int) -> None:
    """N macvlans (own MAC and IP each) on the passenger namespace's one veth."""
    for key, value in (("all.arp_ignore", 1), ("all.arp_announce", 2),
                       ("all.rp_filter", 0), ("default.rp_filter", 0)):
        # answer ARP only on the macvlan that owns the address: no MAC/IP mix-ups
        lab.ns(pax, "sysctl", "-q", "-w", f"net.ipv4.conf.{key}={value}")
    lines = []
    for k in range(n):
        lines += [
            f"link add mv{k} link eth0 type macvlan mode bridge",
            f"link set mv{k} address {client_mac(k)}",
            f"addr add {client_ip(k)}/24 dev mv{k}",
            f"link set mv{k} up",
            f"route add default via {GATEWAY_IP} dev mv{k} metric {k + 1}",
        ]
    subprocess.run(["ip", "-n", pax, "-batch", "-"], input="\n".join(lines) + "\n",
                   text=True, check=True, capture_output=True, timeout=60)


def role_sink(addr: str, port: int) -> None:
    """The internet namespace's server: accept and close (a connect succeeding is the signal)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1024)
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        conn.close()


def client_socket(k: int) -> socket.socket:
    """A non-blocking TCP socket that leaves through client k's own macvlan (MAC and IP)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, f"mv{k}".encode())
    s.bind((client_ip(k), 0))
    s.setblocking(False)
    return s


class Prober(threading.Thread):
    """Tries a TCP connect to the internet sink for every waiting client, 1 ms per round.

    A SYN the firewall drops is never answered (the kernel would retry after 1 s), so each
    round opens a fresh socket per client, waits up to 1 ms for the handshake and closes the
    ones still pending. One thread with ``select`` for all clients keeps the bench's own CPU
    small while ten clients are waiting at once.
    """

    ROUND_S = 0.001

    def __init__(self) -> None:
        super().__init__(name="prober", daemon=True)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._waiting: dict[int, tuple[float, Callable[[float | None], None]]] = {}

    def watch(self, k: int, deadline: float, done: Callable[[float | None], None]) -> None:
        """Call ``done(perf_counter at success)`` or ``done(None)`` after ``deadline``."""
        with self._lock:
            self._waiting[k] = (deadline, done)
        self._wake.set()

    def run(self) -> None:
        while True:
            with self._lock:
                waiting = dict(self._waiting)
            if not waiting:
                self._wake.wait()
                self._wake.clear()
                continue
            now = time.perf_counter()
            socks: dict[socket.socket, int] = {}
            for k, (deadline, done) in waiting.items():
                if now > deadline:
                    self._finish(k, done, None)
                    continue
                s = client_socket(k)
                s.connect_ex((INTERNET_WEB, SINK_PORT))
                socks[s] = k
            end = time.perf_counter() + self.ROUND_S
            while socks and (left := end - time.perf_counter()) > 0:
                _, writable, _ = select.select([], list(socks), [], left)
                for s in writable:
                    k = socks.pop(s)
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        self._finish(k, waiting[k][1], time.perf_counter())
                    s.close()
            for s in socks:
                s.close()

    def _finish(self, k: int, done: Callable[[float | None], None], when: float | None) -> None:
        with self._lock:
            self._waiting.pop(k, None)
        done(when)


class Clients:
    """Passenger-side measurements: HTTP on asyncio, the connect probes on one thread."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.prober = Prober()
        self.prober.start()

    async def traffic_passes(self, k: int, deadline: float) -> float | None:
        """When a TCP connect from client k to the internet sink first succeeded."""
        future: asyncio.Future[float | None] = self.loop.create_future()

        def done(when: float | None) -> None:
            self.loop.call_soon_threadsafe(future.set_result, when)

        self.prober.watch(k, deadline, done)
        return await future

    async def http(self, k: int, request: bytes) -> tuple[int, float]:
        """(status, time the whole response arrived) of one HTTP/1.1 request to the portal."""
        s = client_socket(k)
        try:
            await self.loop.sock_connect(s, (GATEWAY_IP, PORTAL_PORT))
            await self.loop.sock_sendall(s, request)
            data = b""
            while chunk := await self.loop.sock_recv(s, 65536):
                data += chunk
            done = time.perf_counter()
        finally:
            s.close()
        status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else b"0"
        return int(status), done

    async def accept(self, k: int) -> dict[str, Any]:
        """Client k posts ``/accept``: the response time and when its traffic first passes."""
        body = b"lang=en&accept=yes"
        request = (
            f"POST /accept HTTP/1.1\r\nHost: {GATEWAY_IP}:{PORTAL_PORT}\r\n"
            "Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        t0 = time.perf_counter()
        passes = asyncio.create_task(self.traffic_passes(k, t0 + 5.0))
        status, t_resp = await self.http(k, request)
        t_pass = await passes
        return {
            "client": k, "status": status, "response_ms": (t_resp - t0) * 1000,
            "pass_ms": None if t_pass is None else (t_pass - t0) * 1000,
        }

    async def plain_connect(self, k: int) -> dict[str, Any]:
        """The baseline: how long an admitted client's TCP connect to the internet takes."""
        t0 = time.perf_counter()
        t_pass = await self.traffic_passes(k, t0 + 1.0)
        return {"client": k, "pass_ms": None if t_pass is None else (t_pass - t0) * 1000}

    async def captive(self, k: int) -> dict[str, Any]:
        """The baseline: one ``GET /api/captive`` round trip to the portal."""
        request = (f"GET /api/captive HTTP/1.1\r\nHost: {GATEWAY_IP}:{PORTAL_PORT}\r\n"
                   "Connection: close\r\n\r\n").encode()
        t0 = time.perf_counter()
        status, t_resp = await self.http(k, request)
        return {"client": k, "status": status, "ms": (t_resp - t0) * 1000}


def role_clients() -> None:
    """stdin: ``accept K`` | ``connect K`` | ``captive K`` | ``burst K1 K2`` → one JSON line.

    ``burst`` posts ``/accept`` for clients K1 … K2-1 at the same moment (people boarding at a
    stop) and answers with the list of their results.
    """

    async def main() -> None:
        clients = Clients()
        actions: dict[str, Callable[[int], Any]] = {
            "accept": clients.accept, "connect": clients.plain_connect,
            "captive": clients.captive,
        }
        print("ready", flush=True)
        reader = asyncio.StreamReader()
        await clients.loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
        )
        while line := (await reader.readline()).decode():
            what, *ks = line.split()
            if what == "burst":
                result: Any = await asyncio.gather(
                    *(clients.accept(k) for k in range(int(ks[0]), int(ks[1])))
                )
            else:
                result = await actions[what](int(ks[0]))
            print(json.dumps(result), flush=True)

    asyncio.run(main())
