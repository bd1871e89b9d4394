"""A tiny TCP bulk sender/receiver run inside network namespaces for throughput tests.

``python bulk.py serve|connect ADDR PORT send|recv``: one connection; the receiving side
prints ``<unix time> <cumulative bytes>`` every 0.1 s so the test can compute rates over any
window of one long-lived connection (a re-rating must not need a reconnect).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time

CHUNK = b"\0" * 16384


def pump(sock: socket.socket, mode: str) -> None:
    if mode == "send":
        while True:
            sock.sendall(CHUNK)
    total = 0
    lock = threading.Lock()

    def report() -> None:
        while True:
            time.sleep(0.1)
            with lock:
                n = total
            print(f"{time.time():.3f} {n}", flush=True)

    threading.Thread(target=report, daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            return
        with lock:
            total += len(data)


def main() -> None:
    role, addr, port, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if role == "serve":
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(1)
        print("listening", flush=True)
        conn, _ = srv.accept()
    else:
        conn = socket.create_connection((addr, port), timeout=10)
        conn.settimeout(None)
    with contextlib.suppress(OSError):  # the test killed the other side
        pump(conn, mode)


if __name__ == "__main__":
    main()
