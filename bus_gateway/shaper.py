"""Per-client HTB shaping in both directions through pyroute2 (netlink, no ``tc`` forks).

Why this layout (what this kernel offers: HTB, TBF, IFB + ``mirred``, ``u32``; no ``police``,
no ``fw``, no CAKE/fq_codel/sfq/netem — leaves get fq_codel only where it exists):

* **download** (to passengers): an HTB tree on the passenger device's egress (the bridge
  device itself, or the plain interface). ``u32`` on the destination IP puts each client in
  its own class.
* **upload** (from passengers): egress shaping is the only kind HTB does, so ingress traffic
  is redirected with ``mirred`` to an IFB device that carries the same tree, classified on
  the source IP. On a bridge the redirect sits on every *port* (never on the bridge device:
  redirecting the bridge's ingress broke DNAT on this kernel), and new ports are picked up by
  :meth:`HtbShaper.sync_ports`.

Tree (same on both devices)::

    1:   htb, default 1:3
    1:1  the link (gateway-local traffic may use all of it)
    ├─ 1:2  the uplink's capacity, shared by admitted clients
    │   └─ 1:100+slot   one per client, rate = ceil = fair share
    └─ 1:3  everything else: portal, DNS, DHCP, not-yet-admitted clients

Re-rating changes classes in place (``change-class``): no packet is dropped, no connection
reset. Every client has the same rate, so one pass encodes the message once per device and
sends patched copies in bulk (:mod:`bus_gateway.netlinkbatch`): 180 classes cost 1–2 ms of
Python instead of 45–95 ms through one pyroute2 call each. The shared class 1:2 moves in the
same batch, ahead of its clients on each device, so the kernel holds a pass's new shared rate
beside the clients' old rates only between two messages of one system call (it was tens of
milliseconds under load when 1:2 went through pyroute2 first). Filters are one ``u32`` per
client at its own priority, so one can be deleted without touching the others.

A new client's class, leaf queue and filter are *put* the same way (:meth:`HtbShaper.apply`):
templates encoded once per device (the class's once per rate), patched per client, sent in one
batch — a fraction of a millisecond, which is what lets the gateway create the class before the
firewall admits the client. Putting is idempotent (the filter at the client's priority is
deleted first, the class is created or changed, the leaf replaced), so a put repeated after a
failed pass converges instead of failing on what the earlier attempt left behind.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from ipaddress import IPv4Address

from pyroute2 import IPBatch, IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from bus_gateway.domain.shaping import FIRST_CLIENT_MINOR, ClientClass, ShapingDiff
from bus_gateway.errors import ShaperError
from bus_gateway.netlinkbatch import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    RtnlBatch,
    find_word,
    tc_request,
    with_handle,
)

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ROOT = 0x10000
LINK_CLASS = 0x10001
CLIENTS_CLASS = 0x10002
DEFAULT_MINOR = 0x3
INGRESS = 0xFFFF0000
FILTER_PRIO_BASE = 10
#: packets a client's queue holds where fq_codel is missing (~100 ms of full frames at 10 Mbit/s)
LEAF_QUEUE_PACKETS = 100
_MTU = 1600


#: a put creates the class or changes the one a failed pass left behind
_PUT_CLASS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
_PUT_LEAF = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
_ADD_FILTER = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_DEL_FILTER = NLM_F_REQUEST | NLM_F_ACK
#: values no real request carries, to find where the filter template holds them
_SENTINEL_CLASSID = 0x7EADBEEF
_SENTINEL_ADDRESS = 0xC6336401


def _filter_info(slot: int) -> int:
    """``tcm_info`` of a client's filter: its priority and ``htons(ETH_P_IP)``."""
    return ((FILTER_PRIO_BASE + slot) << 16) | socket.htons(ETH_P_IP)


@dataclass(frozen=True, slots=True)
class _FilterTemplate:
    """An encoded ``u32`` client filter and where its class id and address sit."""

    message: bytes
    classid_at: int
    address_at: int


def _rate(kbps: int) -> str:
    return f"{kbps}kbit"


def _quantum(kbps: int) -> int:
    """HTB quantum: rate/10 bytes, kept within [MTU, 60000] (avoids kernel warnings)."""
    return max(_MTU, min(60_000, kbps * 1000 // 8 // 10))


def _burst(kbps: int) -> int:
    """Bucket size: 10 ms at the rate, at least two full GSO-less frames."""
    return max(2 * _MTU, kbps * 1000 // 8 // 100)


class HtbShaper:
    """Owns the HTB trees of one passenger interface and its IFB device."""

    def __init__(
        self,
        lan: str,
        *,
        link_kbps: int = 1_000_000,
        local_kbps: int = 100_000,
        ipr: IPRoute | None = None,
    ) -> None:
        self.lan = lan
        self.link_kbps = link_kbps
        self.local_kbps = local_kbps
        self._ipr = ipr or IPRoute()
        self._own_ipr = ipr is None
        self.ifb = ""
        self._ports: set[int] = set()
        self._leaf_qdisc: str | None = None
        self._classes: dict[str, ClientClass] = {}
        self._clients_kbps: int | None = None  # the rate of 1:2 on both devices now
        self._indexes: dict[str, int] = {}
        self._encoder: IPBatch | None = None
        self._batch: RtnlBatch | None = None
        self._class_templates: dict[tuple[int, int], bytes] = {}  # (ifindex, rate)
        self._leaf_templates: dict[int, bytes] = {}
        self._filter_templates: dict[tuple[int, int], _FilterTemplate] = {}  # (ifindex, offset)
        self._unfilter_templates: dict[int, bytes] = {}

    # --- helpers -------------------------------------------------------------------------

    def _index(self, name: str) -> int:
        found = self._ipr.link_lookup(ifname=name)
        if not found:
            raise ShaperError(f"interface {name} does not exist")
        return int(found[0])

    def _tc(self, *args: object, **kwargs: object) -> None:
        try:
            self._ipr.tc(*args, **kwargs)
        except NetlinkError as exc:
            raise ShaperError(f"tc {args[:2]} on {args[2:3]}: {exc}") from exc

    def _devices(self) -> list[tuple[int, int]]:
        """``(ifindex, IP header offset of the client address)`` for download and upload.

        Looked up once per :meth:`setup` (each lookup is a netlink round trip, and this runs on
        every shaping pass).
        """
        for name in (self.lan, self.ifb):
            if name not in self._indexes:
                self._indexes[name] = self._index(name)
        return [(self._indexes[self.lan], 16), (self._indexes[self.ifb], 12)]

    def ports(self) -> list[int]:
        """Where passenger traffic enters: the bridge's ports, or the interface itself."""
        lan = self._index(self.lan)
        link = self._ipr.get_links(lan)[0]
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        if kind != "bridge":
            return [lan]
        return sorted(
            int(lk["index"]) for lk in self._ipr.get_links() if lk.get_attr("IFLA_MASTER") == lan
        )

    # --- lifecycle -----------------------------------------------------------------------

    def setup(self, uplink_kbps: int) -> None:
        """Build both trees and the ingress redirects from scratch."""
        self._indexes.clear()
        self._forget_templates()
        self._clients_kbps = None
        lan = self._index(self.lan)
        self.ifb = f"kifb{lan}"[:15]
        if not self._ipr.link_lookup(ifname=self.ifb):
            try:
                self._ipr.link("add", ifname=self.ifb, kind="ifb")
            except NetlinkError as exc:
                raise ShaperError(f"cannot create IFB device {self.ifb}: {exc}") from exc
        self._ipr.link("set", index=self._index(self.ifb), state="up")
        for idx, _ in self._devices():
            self._delete_root(idx)
            self._tc("add", "htb", idx, ROOT, default=DEFAULT_MINOR)
            self._add_class(idx, LINK_CLASS, ROOT, self.link_kbps, self.link_kbps)
            self._add_class(idx, CLIENTS_CLASS, LINK_CLASS, uplink_kbps, uplink_kbps)
            self._clients_kbps = uplink_kbps
            self._add_class(
                idx, ROOT | DEFAULT_MINOR, LINK_CLASS, self.local_kbps, self.link_kbps
            )
            self._attach_leaf(idx, ROOT | DEFAULT_MINOR)
        self._ports.clear()
        self.sync_ports()

    def sync_ports(self) -> list[int]:
        """Redirect ingress of ports that appeared since the last call; return new ones."""
        ifb = self._index(self.ifb)
        current = set(self.ports())
        new = sorted(current - self._ports)
        for port in new:
            self._delete_ingress(port)
            self._tc("add", "ingress", port, INGRESS)
            self._tc(
                "add-filter", "u32", port,
                parent=INGRESS, prio=1, protocol=ETH_P_ALL, target=0x1,
                keys=["0x0/0x0+0"],
                action={"kind": "mirred", "direction": "egress", "action": "redirect",
                        "ifindex": ifb},
            )
        self._ports = current
        return new

    def apply(self, diff: ShapingDiff, uplink_kbps: int) -> None:
        """Remove and put client classes first, then re-rate the shared class and the others.

        New passengers get their own class before the (longer) re-rating of everybody else.
        The shared class and the clients' classes change in one batch (:meth:`_rerate`).
        """
        devices = self._devices()
        for idx, _ in devices:
            for c in diff.remove:
                self._del_filter(idx, c)
                self._del_class(idx, ROOT | c.minor)
        for c in diff.remove:
            self._classes.pop(c.ip, None)
        self._put(devices, diff.add)
        self._rerate(devices, diff.change, uplink_kbps)
        for c in diff.change:
            self._classes[c.ip] = c

    def _put(self, devices: list[tuple[int, int]], added: tuple[ClientClass, ...]) -> None:
        """Class, leaf queue and filter of every client in ``added`` on both devices, in bulk.

        Per client and device: delete whatever filter holds its priority (nothing, normally),
        create (or change) its class, replace the class's leaf queue, add its filter — in that
        order, which the kernel keeps within one batch.
        """
        if not added:
            return
        batch = self._bulk()
        requests: list[bytes] = []
        what: dict[int, tuple[str, int, ClientClass]] = {}
        for idx, offset in devices:
            for c in added:
                for step, build in self._put_steps(idx, offset, c):
                    seq = batch.next_seq()
                    requests.append(build(seq))
                    what[seq] = (step, idx, c)
        failed = {
            seq: err for seq, err in batch.run(requests).items()
            if not (what[seq][0] == "unfilter" and err in (errno.ENOENT, errno.EINVAL))
        }
        if failed:
            refused = {what[seq][2].ip for seq in failed}
            for c in added:
                if c.ip not in refused:
                    self._classes[c.ip] = c
            seq, err = next(iter(failed.items()))
            step, idx, c = what[seq]
            raise ShaperError(
                f"{len(failed)} of {len(requests)} requests to put {len(added)} client classes "
                f"refused; first: {step} of class {ROOT | c.minor:x} ({c.ip}) on {idx}: "
                f"{os.strerror(err)}"
            )
        for c in added:
            self._classes[c.ip] = c

    def _put_steps(
        self, idx: int, offset: int, c: ClientClass
    ) -> list[tuple[str, Callable[[int], bytes]]]:
        """The requests that put ``c`` on device ``idx``, each as a function of its seq."""
        handle = ROOT | c.minor
        info = _filter_info(c.slot)
        filt = self._filter_template(idx, offset)
        words = ((filt.classid_at, "=I", handle), (filt.address_at, "!I", int(IPv4Address(c.ip))))
        return [
            ("unfilter", partial(tc_request, self._unfilter_template(idx), flags=_DEL_FILTER,
                                 info=info)),
            ("class", partial(tc_request, self._class_template(idx, c.rate_kbps),
                              flags=_PUT_CLASS, handle=handle)),
            ("leaf", partial(tc_request, self._leaf_template(idx), flags=_PUT_LEAF,
                             handle=c.minor << 16, parent=handle)),
            ("filter", partial(tc_request, filt.message, flags=_ADD_FILTER, info=info,
                               words=words)),
        ]

    # --- templates for bulk requests ---------------------------------------------------------

    def _bulk(self) -> RtnlBatch:
        if self._encoder is None:
            self._encoder = IPBatch()  # encodes, never sends
            self._batch = RtnlBatch()
        assert self._batch is not None
        return self._batch

    def _encode(self, *args: object, **kwargs: object) -> bytes:
        assert self._encoder is not None
        self._encoder.reset()
        self._encoder.tc(*args, **kwargs)
        return bytes(self._encoder.batch)

    def _forget_templates(self) -> None:
        """Templates carry the ifindex: a rebuilt tree may sit on re-created devices."""
        self._class_templates.clear()
        self._leaf_templates.clear()
        self._filter_templates.clear()
        self._unfilter_templates.clear()

    def _class_template(self, idx: int, kbps: int) -> bytes:
        key = (idx, kbps)
        template = self._class_templates.get(key)
        if template is None:
            if len(self._class_templates) > 64:  # the fair share moves with every client
                self._class_templates.clear()
            template = self._class_templates[key] = self._encode(
                "add-class", "htb", idx, ROOT | FIRST_CLIENT_MINOR,
                **self._htb_params(CLIENTS_CLASS, kbps, kbps),
            )
        return template

    def _leaf_template(self, idx: int) -> bytes:
        template = self._leaf_templates.get(idx)
        if template is None:
            minor = FIRST_CLIENT_MINOR
            if self._leaf_qdisc == "fq_codel":
                template = self._encode("add", "fq_codel", idx, minor << 16, parent=ROOT | minor)
            else:
                template = self._encode("add", "pfifo", idx, minor << 16, parent=ROOT | minor,
                                        limit=LEAF_QUEUE_PACKETS)
            self._leaf_templates[idx] = template
        return template

    def _filter_template(self, idx: int, offset: int) -> _FilterTemplate:
        key = (idx, offset)
        template = self._filter_templates.get(key)
        if template is None:
            message = self._encode(
                "add-filter", "u32", idx, parent=ROOT, prio=FILTER_PRIO_BASE,
                protocol=ETH_P_IP, target=_SENTINEL_CLASSID,
                keys=[f"0x{_SENTINEL_ADDRESS:08x}/0xffffffff+{offset}"],
            )
            template = self._filter_templates[key] = _FilterTemplate(
                message,
                find_word(message, "=I", _SENTINEL_CLASSID),
                find_word(message, "!I", _SENTINEL_ADDRESS),
            )
        return template

    def _unfilter_template(self, idx: int) -> bytes:
        template = self._unfilter_templates.get(idx)
        if template is None:
            template = self._unfilter_templates[idx] = self._encode(
                "del-filter", index=idx, parent=ROOT, info=_filter_info(0)
            )
        return template

    def _rerate(
        self, devices: list[tuple[int, int]], changed: tuple[ClientClass, ...], uplink_kbps: int
    ) -> None:
        """``change-class`` of the shared class 1:2 (when its rate moves) and of every class in
        ``changed``, on both devices, in one bulk batch.

        One batch, not a pyroute2 call for 1:2 and a batch for the clients: between the two,
        the shaper thread encoded rate tables and waited for the GIL, and for milliseconds
        (tens under load) the kernel held the new shared rate beside the old client rates — a
        state no plan ever asked for, which a reader of ``tc class show`` saw as settled. Now
        the kernel gets them back to back, per device 1:2 first, then its clients, in one
        ``send`` as long as they fit :data:`~bus_gateway.netlinkbatch.CHUNK_BYTES` (the kernel
        applies them one after the other in that system call, no Python in between).

        Classes of one rate share one encoded message (HTB's rate tables are the costly part);
        the copies differ in the class handle and the sequence number only.
        """
        shared = uplink_kbps != self._clients_kbps
        if not changed and not shared:
            return
        batch = self._bulk()
        requests: list[bytes] = []
        what: dict[int, tuple[int, ClientClass | None]] = {}
        for idx, _ in devices:
            if shared:
                seq = batch.next_seq()
                message = self._encode("change-class", "htb", idx, CLIENTS_CLASS,
                                       **self._htb_params(LINK_CLASS, uplink_kbps, uplink_kbps))
                requests.append(with_handle(message, seq, CLIENTS_CLASS))
                what[seq] = (idx, None)
            templates: dict[int, bytes] = {}
            for c in changed:
                template = templates.get(c.rate_kbps)
                if template is None:
                    template = templates[c.rate_kbps] = self._encode(
                        "change-class", "htb", idx, ROOT | c.minor,
                        **self._htb_params(CLIENTS_CLASS, c.rate_kbps, c.rate_kbps),
                    )
                seq = batch.next_seq()
                requests.append(with_handle(template, seq, ROOT | c.minor))
                what[seq] = (idx, c)
        failed = batch.run(requests)
        if shared:
            # unknown after a refusal: the next pass sends 1:2 again whatever its rate
            refused = any(what[seq][1] is None for seq in failed)
            self._clients_kbps = None if refused else uplink_kbps
        if failed:
            seq, err = next(iter(failed.items()))
            idx, owner = what[seq]
            which = (f"{ROOT | owner.minor:x} ({owner.ip})" if owner is not None
                     else f"{CLIENTS_CLASS:x}")
            raise ShaperError(
                f"{len(failed)} of {len(requests)} class changes refused; first: class "
                f"{which} on {idx}: {os.strerror(err)}"
            )

    def classes(self) -> dict[str, ClientClass]:
        """The client classes installed now, by IP."""
        return dict(self._classes)

    def teardown(self) -> None:
        """Remove both trees, the ingress redirects and the IFB device."""
        for port in self._ports:
            self._delete_ingress(port)
        self._ports.clear()
        for name in (self.lan, self.ifb):
            found = self._ipr.link_lookup(ifname=name) if name else []
            if found:
                self._delete_root(int(found[0]))
        if self.ifb and self._ipr.link_lookup(ifname=self.ifb):
            self._ipr.link("del", index=self._index(self.ifb))
        self._classes.clear()
        self._indexes.clear()
        self._forget_templates()
        self._clients_kbps = None

    def close(self) -> None:
        """Release the netlink sockets (the trees stay)."""
        if self._batch is not None:
            self._batch.close()
        if self._encoder is not None:
            self._encoder.close()
        if self._own_ipr:
            self._ipr.close()

    # --- netlink details -----------------------------------------------------------------

    @staticmethod
    def _htb_params(parent: int, rate: int, ceil: int) -> dict[str, object]:
        return {
            "parent": parent, "rate": _rate(rate), "ceil": _rate(ceil), "burst": _burst(rate),
            "cburst": _burst(ceil), "quantum": _quantum(rate),
        }

    def _add_class(self, idx: int, handle: int, parent: int, rate: int, ceil: int) -> None:
        self._tc("add-class", "htb", idx, handle, **self._htb_params(parent, rate, ceil))

    def _del_class(self, idx: int, handle: int) -> None:
        try:
            self._ipr.tc("del-class", index=idx, handle=handle, parent=CLIENTS_CLASS)
        except NetlinkError as exc:
            log.warning("cannot delete class %x on %d: %s", handle, idx, exc)

    def _del_filter(self, idx: int, c: ClientClass) -> None:
        try:
            # tcm_info = prio << 16 | htons(protocol): deletes exactly this client's filter
            info = ((FILTER_PRIO_BASE + c.slot) << 16) | socket.htons(ETH_P_IP)
            self._ipr.tc("del-filter", index=idx, parent=ROOT, info=info)
        except NetlinkError as exc:
            # the slot, not the passenger's address: an address is personal data
            log.warning("cannot delete filter of slot %d on %d: %s", c.slot, idx, exc)

    def _attach_leaf(self, idx: int, handle: int) -> None:
        """A leaf queue of its own: fq_codel where the kernel has it (a Pi does), else pfifo.

        Never the default: a bridge has ``txqueuelen`` 0, and HTB's default leaf inherits it
        as a one-packet queue, which collapses TCP to a fraction of the class's rate.
        """
        minor = handle & 0xFFFF
        if self._leaf_qdisc != "pfifo":
            try:
                self._ipr.tc("add", "fq_codel", idx, (minor << 16), parent=handle)
                self._leaf_qdisc = "fq_codel"
                return
            except NetlinkError:
                self._leaf_qdisc = "pfifo"
        self._tc("add", "pfifo", idx, (minor << 16), parent=handle, limit=LEAF_QUEUE_PACKETS)

    def _delete_root(self, idx: int) -> None:
        with contextlib.suppress(NetlinkError):
            self._ipr.tc("del", index=idx, handle=0, parent=0xFFFFFFFF)

    def _delete_ingress(self, idx: int) -> None:
        with contextlib.suppress(NetlinkError):
            self._ipr.tc("del", "ingress", idx, INGRESS)
