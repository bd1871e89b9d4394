"""A stand-in for hostapd's control interface (no WLAN hardware or mac80211_hwsim here).

It serves one UNIX datagram socket ``<dir>/<iface>`` and answers in hostapd's own text format
(``hostapd/ctrl_iface.c``, ``src/ap/ctrl_iface_ap.c``: ``hostapd_ctrl_iface_sta_mib()``):
``PING`` → ``PONG``; ``ATTACH``/``DETACH`` → ``OK``; ``STA-FIRST`` and ``STA-NEXT <mac>`` →
the MAC on the first line, then ``flags=[AUTH][ASSOC][AUTHORIZED]...``, ``aid=``,
``capability=``, ``listen_interval=``, ``supported_rates=``, ``timeout_next=`` and counters;
an empty datagram at the end of the list; ``FAIL`` for an unknown MAC. Attached clients get
``<3>AP-STA-CONNECTED <mac>`` / ``<3>AP-STA-DISCONNECTED <mac>`` events.

In process: ``FakeHostapd(dir, iface)`` with ``associate``/``disassociate``/``close``. As a
process (``python fake_hostapd.py DIR IFACE``): lines ``assoc MAC``, ``auth MAC`` (authenticated
only, not associated), ``disassoc MAC`` on stdin, ``ready`` on stdout once the socket exists.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from pathlib import Path


class FakeHostapd:
    """One radio's control socket, served by a thread."""

    def __init__(self, ctrl_dir: Path, iface: str) -> None:
        ctrl_dir.mkdir(parents=True, exist_ok=True)
        self.path = ctrl_dir / iface
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._lock = threading.Lock()
        self.stations: dict[str, str] = {}  # MAC → flags, in association order
        self.attached: set[str] = set()
        self.requests: list[str] = []
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _sta_mib(self, mac: str) -> str:
        aid = list(self.stations).index(mac) + 1
        return (
            f"{mac}\nflags={self.stations[mac]}\naid={aid}\ncapability=0x421\n"
            "listen_interval=10\nsupported_rates=82 84 8b 96 0c 12 18 24 30 48 60 6c\n"
            "timeout_next=NULLFUNC POLL\nrx_packets=1234\ntx_packets=987\nrx_bytes=250100\n"
            "tx_bytes=1048576\ninactive_msec=120\nsignal=-51\nrx_rate_info=720 mcs 7 shortGI\n"
            "tx_rate_info=650 mcs 7\nconnected_time=42\n"
        )

    def _reply(self, command: str, sender: str) -> str:
        with self._lock:
            self.requests.append(command)
            macs = list(self.stations)
            if command == "PING":
                return "PONG\n"
            if command == "ATTACH":
                self.attached.add(sender)
                return "OK\n"
            if command == "DETACH":
                self.attached.discard(sender)
                return "OK\n"
            if command == "STA-FIRST":
                return self._sta_mib(macs[0]) if macs else ""
            if command.startswith("STA-NEXT "):
                mac = command.split(" ", 1)[1].lower()
                if mac not in self.stations:
                    return "FAIL\n"
                i = macs.index(mac)
                return self._sta_mib(macs[i + 1]) if i + 1 < len(macs) else ""
            return "UNKNOWN COMMAND\n"

    def _serve(self) -> None:
        while True:
            try:
                data, sender = self._sock.recvfrom(4096)
            except OSError:
                return
            reply = self._reply(data.decode().strip(), sender)
            with contextlib.suppress(OSError):
                self._sock.sendto(reply.encode(), sender)

    def _event(self, text: str) -> None:
        for client in list(self.attached):
            try:
                self._sock.sendto(f"<3>{text}".encode(), client)
            except OSError:
                self.attached.discard(client)

    def associate(self, mac: str, *, event: bool = True) -> None:
        """A phone associated (``event=False``: hostapd's event was lost)."""
        with self._lock:
            self.stations[mac.lower()] = "[AUTH][ASSOC][AUTHORIZED][WMM][HT]"
        if event:
            self._event(f"AP-STA-CONNECTED {mac.lower()}")

    def authenticate_only(self, mac: str) -> None:
        """A station that authenticated but did not (yet) associate: listed, not counted."""
        with self._lock:
            self.stations[mac.lower()] = "[AUTH]"

    def disassociate(self, mac: str) -> None:
        """A phone left."""
        with self._lock:
            self.stations.pop(mac.lower(), None)
        self._event(f"AP-STA-DISCONNECTED {mac.lower()}")

    def close(self) -> None:
        """hostapd stops: the socket disappears."""
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def main() -> None:
    fake = FakeHostapd(Path(sys.argv[1]), sys.argv[2])
    print("ready", flush=True)
    actions = {"assoc": fake.associate, "auth": fake.authenticate_only,
               "disassoc": fake.disassociate}
    for line in sys.stdin:
        what, _, mac = line.strip().partition(" ")
        if what in actions:
            actions[what](mac)
            print("ok", flush=True)
    fake.close()


if __name__ == "__main__":
    main()
