"""Small helpers the hostile tests share: many reachability checks at once, listeners.

Why concurrent: a dropped SYN is only noticed by its timeout, and the broker tests check
several addresses × ports each time; one helper process connects to all of them in parallel
and answers with JSON, so a round costs one timeout, not one per port.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from testbed.netlab import NetLab

_CONNECT_ALL = """
import json, selectors, socket, sys, time
targets = json.loads(sys.argv[1]); timeout = float(sys.argv[2])
sel = selectors.DefaultSelector(); result = {}
for host, port in targets:
    s = socket.socket(); s.setblocking(False)
    s.connect_ex((host, port))
    sel.register(s, selectors.EVENT_WRITE, f"{host}:{port}")
    result[f"{host}:{port}"] = False
end = time.monotonic() + timeout
while sel.get_map() and (left := end - time.monotonic()) > 0:
    for key, _ in sel.select(left):
        s = key.fileobj
        result[key.data] = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        sel.unregister(s); s.close()
print(json.dumps(result))
"""

_LISTEN_ALL = """
import json, selectors, socket, sys
sel = selectors.DefaultSelector()
for host, port in json.loads(sys.argv[1]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept(); conn.close()
"""


def connects(lab: NetLab, ns: str, targets: Iterable[tuple[str, int]],
             timeout: float = 1.5) -> dict[str, bool]:
    """``host:port`` → whether a TCP connect from namespace ``ns`` succeeded."""
    res = lab.ns(ns, sys.executable, "-c", _CONNECT_ALL, json.dumps(list(targets)),
                 str(timeout), check=True, timeout=timeout + 15)
    return json.loads(res.stdout)


def listen(lab: NetLab, ns: str, targets: Iterable[tuple[str, int]]) -> None:
    """TCP listeners that accept and close, in namespace ``ns`` (stopped with the lab)."""
    proc = lab.spawn_piped(ns, sys.executable, "-c", _LISTEN_ALL, json.dumps(list(targets)))
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "listening", f"listeners did not start: {line!r}"


def pings(lab: NetLab, ns: str, host: str) -> bool:
    """One ICMP echo from ``ns`` to ``host`` answered within a second."""
    res = lab.ns(ns, "busybox", "ping", "-c", "1", "-W", "1", host, check=False, timeout=10)
    return res.returncode == 0
