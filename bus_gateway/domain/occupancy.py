"""Occupancy fusion: door counters, associated WLAN clients and sniffed probe requests.

Why this shape:

* **Door counters** are the best source (they count people), but they drift over a day and
  may not be fitted; when present they win and calibrate the WLAN sources.
* **WLAN** sees devices, not people. Devices are identified by a pseudonym (a salted MAC
  hash, :mod:`bus_gateway.domain.privacy`). Phones randomise the MAC of probe requests (the
  locally administered bit is set), so randomised probes whose 802.11 sequence numbers
  continue and whose information elements have the same fingerprint within a short window
  are merged into one device.
* **Roadside devices** (people at a stop, cars alongside, shops) are excluded twice: a probe
  weaker than ``rssi_min_dbm`` is ignored, and a device counts only after it was seen on both
  sides of a departure from a stop (passengers ride across stops, the roadside does not).
* Devices ``×`` a calibrated *passengers-per-device* ratio gives the WLAN estimate.

``quality``: ``HIGH`` door counters consistent; ``MODERATE`` door counters that
drifted, or WLAN with a ratio calibrated from doors in the last day; ``LOW`` WLAN with the
default ratio; ``ERROR`` no source at all. Only counts leave this module.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from edge_agent.contract.payloads import (
    OccupancyFields,
    OccupancySources,
    Quality,
    occupancy_status_for,
)

SEQ_MODULO = 4096
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ProbeObservation:
    """One probe request as the sniffer saw it, MAC already replaced by its pseudonym."""

    ts_ms: int
    device: str
    randomized: bool
    seq: int | None
    fingerprint: str
    rssi_dbm: int | None


@dataclass(frozen=True, slots=True)
class OccupancyRules:
    """Tuning of the fusion."""

    rssi_min_dbm: int = -72
    #: a device not heard for this long has left the bus.
    presence_window_s: float = 300.0
    #: randomised probes are merged only within this window ...
    dedup_window_s: float = 60.0
    #: ... and when the sequence number advanced by at most this much.
    max_seq_gap: int = 128
    #: departures a device must have been seen across to count (0 disables the check).
    min_departures: int = 1
    default_ratio: float = 1.0
    ratio_bounds: tuple[float, float] = (0.3, 5.0)
    #: calibration needs this many passengers and devices to be meaningful.
    min_calibration_count: int = 3
    calibration_alpha: float = 0.25
    calibration_valid_ms: int = DAY_MS
    #: the device table never holds more; a new device evicts the least recently heard
    #: *probationary* one (not yet seen across a departure), else the least recently heard.
    max_devices: int = 4096
    #: pseudonyms remembered per device (a phone that keeps rotating keeps its newest).
    max_pseudonyms: int = 16


@dataclass(slots=True, eq=False)
class _Device:
    key: int  # creation order, unique: ties between match candidates go to the oldest
    pseudonyms: dict[str, None]  # insertion-ordered: the oldest is forgotten first
    randomized: bool
    fingerprint: str
    last_seq: int | None
    first_seen_ms: int
    last_seen_ms: int
    first_departure: int
    last_departure: int
    #: the matching index's current entry for this device (-1: not indexed, or gone)
    token: int = -1
    established: bool = False


_Entry = tuple[int, int, _Device]  # (device key, token, device): a heap orders by key


@dataclass(slots=True)
class _SeqIndex:
    """The randomised devices of one IE fingerprint, by their last sequence number.

    ``bits`` has bit ``s`` set while ``heaps[s]`` exists; each heap orders its entries by
    device creation. Entries go stale when a device moves on (new sequence number), is
    evicted or is too old to merge; stale entries are dropped when they reach a heap's top.
    """

    bits: int = 0
    heaps: dict[int, list[_Entry]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OccupancyEstimate:
    """What the fusion publishes (counts only)."""

    passengers: int
    quality: Quality
    door_in: int
    door_out: int
    wlan_clients: int
    probe_devices: int

    def payload_fields(
        self, vehicle_id: str, capacity_seated: int, capacity_total: int
    ) -> OccupancyFields:
        """The ``occupancy`` message of vehicle ``vehicle_id``, for ``agent.publish``."""
        return OccupancyFields(
            vehicle_id=vehicle_id,
            passengers=self.passengers,
            capacity_seated=capacity_seated,
            capacity_total=capacity_total,
            occupancy_percentage=round(100 * self.passengers / capacity_total),
            occupancy_status=occupancy_status_for(self.passengers, capacity_seated),
            quality=self.quality,
            sources=OccupancySources(
                door_in=self.door_in,
                door_out=self.door_out,
                wlan_clients=self.wlan_clients,
                probe_devices=self.probe_devices,
            ),
        )


@dataclass(slots=True)
class OccupancyStats:
    """Counters for health and tests."""

    probes: int = 0
    weak_probes: int = 0
    merged_randomized: int = 0
    devices_created: int = 0
    calibrations: int = 0
    #: devices dropped because the table was full (not by the presence window)
    evicted: int = 0
    #: estimates in which the probing devices exceeded what the vehicle can carry
    saturated_estimates: int = 0


@dataclass(slots=True)
class OccupancyFusion:
    """Fuses the three sources; feed it observations, ask it for an estimate.

    ``capacity_total`` (the vehicle's places) bounds what probes may claim (see
    :meth:`estimate`); ``None`` leaves the WLAN estimate uncapped.
    """

    rules: OccupancyRules = field(default_factory=OccupancyRules)
    doors_fitted: bool = False
    probes_fitted: bool = False
    capacity_total: int | None = None
    door_in: int = 0
    door_out: int = 0
    ratio: float = 1.0
    calibrated_at_ms: int | None = None
    departures: int = 0
    stats: OccupancyStats = field(default_factory=OccupancyStats)
    #: least recently heard first; probation: not yet seen across ``min_departures``
    _probation: OrderedDict[int, _Device] = field(default_factory=OrderedDict)
    _established: OrderedDict[int, _Device] = field(default_factory=OrderedDict)
    _by_pseudonym: dict[str, _Device] = field(default_factory=dict)
    _index: dict[str, _SeqIndex] = field(default_factory=dict)
    _index_entries: int = 0
    _next_key: int = 0
    _next_token: int = 0
    _door_offset: int = 0
    _door_drifted: bool = False

    def __post_init__(self) -> None:
        self.ratio = self.rules.default_ratio

    # -- inputs ---------------------------------------------------------------------------------

    def on_doors(self, boarded: int, alighted: int) -> None:
        """People counted in and out by a door sensor since the last call."""
        self.doors_fitted = True
        self.door_in += max(0, boarded)
        self.door_out += max(0, alighted)
        if self.door_in - self.door_out + self._door_offset < 0:
            # more left than entered: the counters drifted; never report negative people
            self._door_offset = self.door_out - self.door_in
            self._door_drifted = True

    def reset_doors(self) -> None:
        """The vehicle is known to be empty (end of a trip at the depot)."""
        self._door_offset = self.door_out - self.door_in
        self._door_drifted = False

    def door_passengers(self) -> int:
        """On board according to the door counters."""
        return max(0, self.door_in - self.door_out + self._door_offset)

    @property
    def device_count(self) -> int:
        """Devices in the table now (at most ``rules.max_devices``)."""
        return len(self._probation) + len(self._established)

    def on_probe(self, obs: ProbeObservation) -> None:
        """One sniffed probe request (O(log n) in the table's size, whatever it holds)."""
        self.probes_fitted = True
        self.stats.probes += 1
        r = self.rules
        if obs.rssi_dbm is not None and obs.rssi_dbm < r.rssi_min_dbm:
            self.stats.weak_probes += 1
            return
        dev = self._by_pseudonym.get(obs.device)
        if dev is None and obs.randomized:
            dev = self._match_randomized(obs)
            if dev is not None:
                self.stats.merged_randomized += 1
                self._add_pseudonym(dev, obs.device)
        if dev is None:
            dev = self._create(obs)
        table = self._established if dev.established else self._probation
        table.move_to_end(dev.key)
        dev.last_seen_ms = max(dev.last_seen_ms, obs.ts_ms)
        dev.last_departure = self.departures
        if obs.seq is not None:
            if dev.last_seq != obs.seq:
                self._unindex(dev)  # its index entry moves to the new sequence number
            dev.last_seq = obs.seq
        if not dev.established and dev.last_departure - dev.first_departure >= r.min_departures:
            del self._probation[dev.key]
            dev.established = True
            self._established[dev.key] = dev
        if dev.randomized and dev.last_seq is not None and dev.token < 0:
            self._index_push(dev)

    def on_departure(self, departures: int, now_ms: int, wlan_clients: int) -> None:
        """The vehicle left a stop (``departures`` from the stop tracker); calibrate."""
        self.departures = departures
        self._expire(now_ms)
        if not self.doors_fitted or self._door_drifted:
            return
        devices, saturated = self._device_count(now_ms, set(), wlan_clients)
        if saturated:
            return  # a flood of probes says nothing about passengers per device
        people = self.door_passengers()
        r = self.rules
        if devices >= r.min_calibration_count and people >= r.min_calibration_count:
            sample = min(max(people / devices, r.ratio_bounds[0]), r.ratio_bounds[1])
            a = r.calibration_alpha if self.calibrated_at_ms is not None else 1.0
            self.ratio = (1 - a) * self.ratio + a * sample
            self.calibrated_at_ms = now_ms
            self.stats.calibrations += 1

    # -- output ---------------------------------------------------------------------------------

    def probe_device_cap(self) -> int | None:
        """The most probing devices the vehicle can carry: full, at the lowest ratio."""
        if self.capacity_total is None:
            return None
        return math.ceil(self.capacity_total / self.rules.ratio_bounds[0])

    def estimate(
        self, now_ms: int, associated: Iterable[str] = (), associated_count: int | None = None
    ) -> OccupancyEstimate:
        """Current estimate; ``associated`` are the pseudonyms of associated WLAN clients.

        The cap rule (docs/bus_gateway.md, "Occupancy fusion"): with ``capacity_total`` set,
        the WLAN estimate never exceeds it; when more qualified probing devices are heard than
        :meth:`probe_device_cap`, the probes are a flood, not riders: they are left out (the
        estimate rests on associated clients and doors), ``probe_devices`` reports the cap,
        and a WLAN-only estimate is ``LOW``.
        """
        self._expire(now_ms)
        assoc = set(associated)
        wlan_clients = associated_count if associated_count is not None else len(assoc)
        probe_devices = self._qualified_probe_devices(now_ms)
        devices, saturated = self._device_count(now_ms, assoc, wlan_clients)
        cap = self.probe_device_cap()
        if cap is not None:
            probe_devices = min(probe_devices, cap)
        if saturated:
            self.stats.saturated_estimates += 1
        wlan_estimate = round(devices * self.ratio)
        if self.capacity_total is not None:
            wlan_estimate = min(wlan_estimate, self.capacity_total)
        calibrated = (
            self.calibrated_at_ms is not None
            and now_ms - self.calibrated_at_ms <= self.rules.calibration_valid_ms
        )
        quality: Quality
        if self.doors_fitted:
            doors = self.door_passengers()
            if self._door_drifted:
                passengers, quality = max(doors, wlan_estimate), "MODERATE"
            else:
                passengers, quality = doors, "HIGH"
        elif self.probes_fitted or wlan_clients > 0:
            passengers = wlan_estimate
            quality = "MODERATE" if calibrated and not saturated else "LOW"
        else:
            passengers, quality = 0, "ERROR"
        return OccupancyEstimate(
            passengers, quality, self.door_in, self.door_out, wlan_clients, probe_devices
        )

    # -- internals ------------------------------------------------------------------------------

    def _create(self, obs: ProbeObservation) -> _Device:
        r = self.rules
        while self.device_count >= max(1, r.max_devices):
            table = self._probation or self._established
            _, victim = table.popitem(last=False)
            self._forget(victim)
            self.stats.evicted += 1
        dev = _Device(
            self._next_key, {}, obs.randomized, obs.fingerprint, obs.seq, obs.ts_ms, obs.ts_ms,
            self.departures, self.departures,
        )
        self._next_key += 1
        self._add_pseudonym(dev, obs.device)
        dev.established = r.min_departures <= 0
        (self._established if dev.established else self._probation)[dev.key] = dev
        self.stats.devices_created += 1
        return dev

    def _add_pseudonym(self, dev: _Device, pseudonym: str) -> None:
        dev.pseudonyms[pseudonym] = None
        self._by_pseudonym[pseudonym] = dev
        while len(dev.pseudonyms) > max(1, self.rules.max_pseudonyms):
            oldest = next(iter(dev.pseudonyms))
            del dev.pseudonyms[oldest]
            if self._by_pseudonym.get(oldest) is dev:
                del self._by_pseudonym[oldest]

    def _unindex(self, dev: _Device) -> None:
        """``dev``'s index entry is no longer valid (it moved on, or left)."""
        idx = self._index.get(dev.fingerprint)
        if idx is not None and dev.token >= 0 and dev.last_seq is not None:
            heap = idx.heaps.get(dev.last_seq)
            if heap is not None and len(heap) == 1 and heap[0][2] is dev:
                # the common case (a device alone with its model and sequence number):
                # drop the entry now rather than when a lookup or the rebuild meets it
                self._index_entries -= 1
                del idx.heaps[dev.last_seq]
                idx.bits &= ~(1 << dev.last_seq)
                if not idx.heaps:
                    del self._index[dev.fingerprint]
        dev.token = -1

    def _forget(self, dev: _Device) -> None:
        """``dev`` left the table: its pseudonyms and index entry go with it."""
        self._unindex(dev)
        for p in dev.pseudonyms:
            if self._by_pseudonym.get(p) is dev:
                del self._by_pseudonym[p]

    def _index_push(self, dev: _Device) -> None:
        assert dev.last_seq is not None
        idx = self._index.get(dev.fingerprint)
        if idx is None:
            idx = self._index[dev.fingerprint] = _SeqIndex()
        heap = idx.heaps.get(dev.last_seq)
        if heap is None:
            heap = idx.heaps[dev.last_seq] = []
            idx.bits |= 1 << dev.last_seq
        dev.token = self._next_token
        self._next_token += 1
        heapq.heappush(heap, (dev.key, dev.token, dev))
        self._index_entries += 1
        if self._index_entries > 2 * self.device_count + 1024:
            self._rebuild_index()

    def _rebuild_index(self) -> None:
        """Drop every stale entry at once (amortised: only after as many pushes as devices)."""
        self._index.clear()
        self._index_entries = 0
        for table in (self._probation, self._established):
            for dev in table.values():
                dev.token = -1
        for table in (self._probation, self._established):
            for dev in table.values():
                if dev.randomized and dev.last_seq is not None:
                    self._index_push(dev)

    def _match_randomized(self, obs: ProbeObservation) -> _Device | None:
        """The device this randomised probe continues: same fingerprint, the smallest forward
        sequence gap (1 … ``max_seq_gap``), heard within ``dedup_window_s``; the oldest device
        among equals. A few big-integer operations find the candidate sequence numbers."""
        idx = self._index.get(obs.fingerprint)
        gap_max = min(self.rules.max_seq_gap, SEQ_MODULO - 1)
        if idx is None or obs.seq is None or gap_max <= 0:
            return None
        both = idx.bits | (idx.bits << SEQ_MODULO)
        # bit j ↔ sequence number obs.seq - gap_max + j, i.e. gap gap_max - j
        window = (both >> (obs.seq % SEQ_MODULO - gap_max + SEQ_MODULO)) & ((1 << gap_max) - 1)
        while window:
            j = window.bit_length() - 1
            seq = (obs.seq - gap_max + j) % SEQ_MODULO
            dev = self._first_fresh(obs.fingerprint, idx, seq, obs.ts_ms)
            if dev is not None:
                return dev
            window ^= 1 << j
        return None

    def _first_fresh(self, fp: str, idx: _SeqIndex, seq: int, ts_ms: int) -> _Device | None:
        heap = idx.heaps[seq]
        window_ms = self.rules.dedup_window_s * 1000
        while heap:
            _, token, dev = heap[0]
            if dev.token == token and ts_ms - dev.last_seen_ms <= window_ms:
                return dev
            heapq.heappop(heap)
            self._index_entries -= 1
            if dev.token == token:
                dev.token = -1  # too old to merge (probe times do not go back)
        del idx.heaps[seq]
        idx.bits &= ~(1 << seq)
        if not idx.heaps:
            del self._index[fp]
        return None

    def _qualified(self, dev: _Device, now_ms: int) -> bool:
        if now_ms - dev.last_seen_ms > self.rules.presence_window_s * 1000:
            return False
        return dev.last_departure - dev.first_departure >= self.rules.min_departures

    def _qualified_probe_devices(self, now_ms: int) -> int:
        return sum(1 for d in self._established.values() if self._qualified(d, now_ms))

    def _device_count(
        self, now_ms: int, assoc: set[str], wlan_clients: int
    ) -> tuple[int, bool]:
        """Associated clients plus qualified probing devices, each device once; and whether
        the probing devices exceed :meth:`probe_device_cap` (then they are left out)."""
        extra = sum(
            1
            for d in self._established.values()
            if self._qualified(d, now_ms) and assoc.isdisjoint(d.pseudonyms)
        )
        cap = self.probe_device_cap()
        saturated = cap is not None and extra > cap
        return max(wlan_clients, len(assoc)) + (0 if saturated else extra), saturated

    def _expire(self, now_ms: int) -> None:
        horizon = now_ms - self.rules.presence_window_s * 1000
        for table in (self._probation, self._established):
            while table:
                dev = next(iter(table.values()))
                if dev.last_seen_ms >= horizon:
                    break
                del table[dev.key]
                self._forget(dev)


#: information elements left out of the fingerprint: the SSID asked for and the channel vary
#: between probes of the same phone; the capabilities do not.
_VOLATILE_IES = frozenset({0, 3})


def ie_fingerprint(elements: Iterable[tuple[int, bytes]]) -> str:
    """A short digest of a probe request's information elements (IDs and contents).

    Identical for every phone of the same model and OS version, so it does not identify a
    person; combined with continuing sequence numbers it ties together the randomised
    addresses of one device.
    """
    h = hashlib.blake2b(digest_size=8)
    for ie_id, data in elements:
        if ie_id in _VOLATILE_IES:
            continue
        h.update(bytes([ie_id & 0xFF, len(data) & 0xFF]))
        h.update(data)
    return h.hexdigest()
