"""A tiny TCP bulk sender/receiver run inside network namespaces for throughput tests.

``python bulk.py serve|connect ADDR PORT send|recv``: one connection; the receiving side
prints ``<unix time> <cumulative bytes>`` lines so the test can compute rates over any window
of one long-lived connection (a re-rating must not need a reconnect).

Each line is an *arrival*: the cumulative count grew, and the new bytes came in at that time
(reads less than :data:`BURST_S` after the first are one arrival: one packet the shaper let
go, read in pieces). When nothing arrived for 0.1 s a line repeats the count with a later
time, so a stalled flow still shows. Why arrivals with their own times rather than the count
every 0.1 s: the shaper's HTB sees GSO/GRO packets of up to 64 KB (veth and bridge pass them
on whole, as a modem's GRO does on a bus) and lets each go at once, then owes its length in
tokens — at 1 Mbit/s half a second of nothing, then 64 KB. A window cut at arbitrary report
times counts one such lump more or less (±17 % over 3 s); one cut at arrivals counts exactly
what the shaper sent in between (:meth:`gatewaylab.Receiver.kbps`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time

CHUNK = b"\0" * 16384
#: reads this close to the first read of an arrival belong to it (packets the shaper sends at
#: 1–2 Mbit/s are at least 6 ms apart; one packet read in pieces takes microseconds)
BURST_S = 0.002
REPORT_S = 0.1


def pump(sock: socket.socket, mode: str) -> None:
    if mode == "send":
        while True:
            sock.sendall(CHUNK)
    total = 0
    arrivals: list[list[float]] = []  # [time of the first read, cumulative bytes], not printed
    lock = threading.Lock()

    def report() -> None:
        printed = 0
        while True:
            time.sleep(REPORT_S)
            cut = time.time() - BURST_S  # arrivals that may still grow stay for the next round
            with lock:
                ready = [a for a in arrivals if a[0] < cut]
                del arrivals[:len(ready)]
            if ready:
                lines = "".join(f"{t:.6f} {int(n)}\n" for t, n in ready)
                printed = int(ready[-1][1])
            else:
                lines = f"{cut:.6f} {printed}\n"
            sys.stdout.write(lines)
            sys.stdout.flush()

    threading.Thread(target=report, daemon=True).start()
    while True:
        data = sock.recv(1 << 20)  # everything queued at once: a packet is not split over reads
        if not data:
            return
        now = time.time()
        with lock:
            total += len(data)
            if arrivals and now - arrivals[-1][0] < BURST_S:
                arrivals[-1][1] = total
            else:
                arrivals.append([now, total])


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
