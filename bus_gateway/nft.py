"""nftables adapter: applies :mod:`bus_gateway.domain.firewall` rulesets and element changes.

Why in process: every ``POST /accept`` changes the ``admitted`` sets, and on a small router
starting the ``nft`` binary costs far more than the change itself (2–4 ms per process on an
idle 2-core VM, 10–15 ms under load, against about 0.1 ms in process), and concurrent
admissions queued behind each other's processes. So the
rulesets go through ``libnftables`` (Debian ``libnftables1``, the library the ``nft`` binary
is built on) loaded with :mod:`ctypes`: the same parser, the same error messages, one kernel
transaction per call, no fork. ctypes releases the GIL while the library runs, so the event
loop keeps serving the portal. Where the library is missing the ``nft`` binary is used
(``nft -f -``, same input, same transaction semantics) and a log line says so.

Group commit (:meth:`NftFirewall.apply`): the caller hands over every change that queued up
while the previous transaction ran; they go to the kernel as one transaction with the net
element delta. If that transaction is refused, each change is retried alone, so one bad
element costs only its own client the admission.
"""

from __future__ import annotations

import ctypes
import json
import logging
import shlex
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Protocol

from bus_gateway.domain.firewall import (
    DHCP_TABLE,
    FAMILY,
    TABLE,
    AdmissionChange,
    FirewallSpec,
    Pair,
    merge_changes,
    pair,
    render_delta,
    render_protected,
    render_ruleset,
)
from bus_gateway.errors import FirewallError

log = logging.getLogger(__name__)

LIBNFTABLES = "libnftables.so.1"
#: ``NFT_CTX_OUTPUT_JSON`` of ``<nftables/libnftables.h>``
_OUTPUT_JSON = 1 << 4


class NftRunner(Protocol):
    """Runs one ``nft -f`` style script as one transaction; returns what nft printed."""

    name: str

    def run(self, script: str, *, json_output: bool = False) -> str:
        """Apply ``script``; :class:`FirewallError` with nft's message when refused."""

    def close(self) -> None:
        """Release what the runner holds."""


class LibNftables:
    """``libnftables`` in process through ctypes (one context, used under a lock).

    A ``nft_ctx`` is not thread-safe; the lock makes one instance safe to share, and the
    dataplane uses it from one worker thread anyway.
    """

    name = "libnftables"

    def __init__(self, soname: str = LIBNFTABLES) -> None:
        try:
            lib = ctypes.CDLL(soname)  # CDLL: the GIL is released during every call
        except OSError as exc:
            raise FirewallError(
                f"cannot load {soname} ({exc}); install the Debian package libnftables1"
            ) from exc
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.restype = None
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        for fn in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, fn).restype = ctypes.c_int
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
        for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, fn).restype = ctypes.c_char_p
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
        lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.restype = None
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        ctx = lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT
        if not ctx:
            raise FirewallError("nft_ctx_new failed (out of memory?)")
        if lib.nft_ctx_buffer_output(ctx) != 0 or lib.nft_ctx_buffer_error(ctx) != 0:
            lib.nft_ctx_free(ctx)
            raise FirewallError("libnftables cannot buffer its output")
        self._lib = lib
        self._ctx: int | None = ctx
        self._plain_flags = int(lib.nft_ctx_output_get_flags(ctx))
        self._lock = threading.Lock()

    def run(self, script: str, *, json_output: bool = False) -> str:
        """Apply ``script`` in one transaction (``nft_run_cmd_from_buffer``)."""
        with self._lock:
            if self._ctx is None:
                raise FirewallError("libnftables context already closed")
            flags = self._plain_flags | (_OUTPUT_JSON if json_output else 0)
            self._lib.nft_ctx_output_set_flags(self._ctx, flags)
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
            # reading a buffer also rewinds it for the next command: read both every time
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise FirewallError(f"nftables refused the change: {err.strip() or f'error {rc}'}")
        return out

    def close(self) -> None:
        """Free the context."""
        with self._lock:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


class NftCommand:
    """The ``nft`` binary (``nft -f -``): the fallback where libnftables is missing."""

    name = "nft binary"

    def __init__(self, nft: str | None = None) -> None:
        self.path = nft or shutil.which("nft") or "/usr/sbin/nft"

    def run(self, script: str, *, json_output: bool = False) -> str:
        """Apply ``script`` in one transaction (one ``nft`` process).

        With ``json_output`` the script is one command given as arguments (``nft -j -f``
        would expect JSON *input*).
        """
        if json_output:
            args, stdin = [self.path, "-j", *shlex.split(script)], None
        else:
            args, stdin = [self.path, "-f", "-"], script
        try:
            proc = subprocess.run(
                args, input=stdin, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FirewallError(f"cannot run {self.path}: {exc}") from exc
        if proc.returncode != 0:
            message = proc.stderr.strip() or f"nft exited {proc.returncode}"
            raise FirewallError(f"nftables refused the change: {message}")
        return proc.stdout

    def close(self) -> None:
        """Nothing to release."""


def make_runner(nft: str | None = None, soname: str = LIBNFTABLES) -> NftRunner:
    """libnftables when it loads, else the ``nft`` binary (logged once)."""
    try:
        return LibNftables(soname)
    except FirewallError as exc:
        runner = NftCommand(nft)
        log.warning("%s; using %s instead (one process per firewall change)", exc, runner.path)
        return runner


@dataclass(frozen=True, slots=True)
class FirewallCounters:
    """Bytes per admitted IP (both directions) and the LAN totals."""

    per_ip: dict[str, int]
    up_bytes: int
    down_bytes: int


class NftFirewall:
    """Owns the ``inet kassel_bus`` table; keeps track of what is admitted in it."""

    def __init__(self, spec: FirewallSpec, runner: NftRunner | None = None) -> None:
        self.spec = spec
        self.runner = runner or make_runner()
        self._admitted: set[Pair] = {pair(m, ip) for m, ip in spec.admitted}
        self._protected = spec.protected
        self.transactions = 0

    def _run(self, script: str) -> str:
        out = self.runner.run(script)
        self.transactions += 1
        return out

    def install(self) -> None:
        """Install (or atomically replace) the whole table with the admitted clients."""
        spec = FirewallSpec(
            self.spec.lan,
            self.spec.uplink,
            self.spec.gateway,
            self.spec.portal_port,
            self.spec.walled_garden,
            self._protected,
            tuple(sorted(self._admitted)),
        )
        self._run(render_ruleset(spec))

    def set_protected(self, addresses: tuple[IPv4Address, ...] | None) -> None:
        """Set the broker's addresses in one transaction (``None``: unknown, fail closed)."""
        if addresses == self._protected:
            return
        self._run(render_protected(addresses))
        self._protected = addresses

    @property
    def protected(self) -> tuple[IPv4Address, ...] | None:
        """The broker's addresses in the table (``None``: not known, nothing forwarded)."""
        return self._protected

    def apply(self, changes: Sequence[AdmissionChange]) -> list[FirewallError | None]:
        """Apply ``changes`` (in order) as one transaction; one result per change.

        When the merged transaction is refused, each change is tried alone so that only the
        change at fault fails (and the others are admitted after all).
        """
        if not changes:
            return []
        delta, after = merge_changes(self._admitted, changes)
        try:
            if not delta.empty:
                self._run(render_delta(delta))
        except FirewallError as exc:
            if len(changes) == 1:
                return [exc]
            log.warning("a merged firewall transaction of %d changes failed (%s); "
                        "applying them one by one", len(changes), exc)
            return [self.apply([c])[0] for c in changes]
        self._admitted = set(after)
        return [None] * len(changes)

    def admit(self, mac: str, ip: IPv4Address) -> None:
        """Add one client (MAC + IP) to the admitted sets."""
        self._raise_first(self.apply([AdmissionChange(admit=(pair(mac, ip),))]))

    def remove(self, mac: str, ip: IPv4Address) -> None:
        """Remove one client from the admitted sets; its open connections stop at once."""
        self._raise_first(self.apply([AdmissionChange(remove=(pair(mac, ip),))]))

    @staticmethod
    def _raise_first(results: list[FirewallError | None]) -> None:
        for error in results:
            if error is not None:
                raise error

    def admitted(self) -> set[Pair]:
        """What the table holds (as this adapter put it there)."""
        return set(self._admitted)

    def counters(self) -> FirewallCounters:
        """Per-client byte counters of both sets and the LAN totals (one JSON listing).

        The DHCP limit's set (up to 4,096 stations under a flood) lives in a table of its own,
        so this listing, every upkeep tick, stays the size of the admitted clients.
        """
        listing = self.runner.run(f"list table {FAMILY} {TABLE}", json_output=True)
        items = json.loads(listing).get("nftables", [])
        per_ip: dict[str, int] = {}
        totals = {"lan_up": 0, "lan_down": 0}
        for item in items:
            if "set" in item and item["set"]["name"] in ("admitted", "admitted_ip"):
                for elem in item["set"].get("elem", []):
                    e = elem.get("elem", {}) if isinstance(elem, dict) else {}
                    val = e.get("val")
                    if isinstance(val, dict):  # the MAC . IP concatenation
                        val = val.get("concat", [None, None])[1]
                    nbytes = int(e.get("counter", {}).get("bytes", 0))
                    per_ip[str(val)] = per_ip.get(str(val), 0) + nbytes
            elif "counter" in item and item["counter"]["name"] in totals:
                totals[item["counter"]["name"]] = int(item["counter"].get("bytes", 0))
        return FirewallCounters(per_ip, totals["lan_up"], totals["lan_down"])

    def close(self) -> None:
        """Admit nobody: on shutdown the passenger side stays closed rather than open."""
        self._admitted.clear()
        self.install()

    def uninstall(self) -> None:
        """Remove the table altogether (tests, decommissioning)."""
        self._run(f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
                  f"table {FAMILY} {DHCP_TABLE}\ndelete table {FAMILY} {DHCP_TABLE}\n")
        self._admitted.clear()

    def release(self) -> None:
        """Free the runner (the table stays as it is)."""
        self.runner.close()
