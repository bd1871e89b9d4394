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

``quality`` (CONTRACT §3): ``HIGH`` door counters consistent; ``MODERATE`` door counters that
drifted, or WLAN with a ratio calibrated from doors in the last day; ``LOW`` WLAN with the
default ratio; ``ERROR`` no source at all. Only counts leave this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from edge_agent.contract.payloads import OccupancyStatus, Quality, occupancy_status_for

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


@dataclass(slots=True)
class _Device:
    pseudonyms: set[str]
    randomized: bool
    fingerprint: str
    last_seq: int | None
    first_seen_ms: int
    last_seen_ms: int
    first_departure: int
    last_departure: int


@dataclass(frozen=True, slots=True)
class OccupancyEstimate:
    """What the fusion publishes (counts only)."""

    passengers: int
    quality: Quality
    door_in: int
    door_out: int
    wlan_clients: int
    probe_devices: int

    def payload_fields(self, capacity_seated: int, capacity_total: int) -> dict[str, object]:
        """The occupancy payload's fields besides ``v``, ``ts``, ``seq`` and ``vehicle_id``."""
        status: OccupancyStatus = occupancy_status_for(self.passengers, capacity_seated)
        return {
            "passengers": self.passengers,
            "capacity_seated": capacity_seated,
            "capacity_total": capacity_total,
            "occupancy_percentage": round(100 * self.passengers / capacity_total),
            "occupancy_status": status,
            "quality": self.quality,
            "sources": {
                "door_in": self.door_in,
                "door_out": self.door_out,
                "wlan_clients": self.wlan_clients,
                "probe_devices": self.probe_devices,
            },
        }


@dataclass(slots=True)
class OccupancyStats:
    """Counters for health and tests."""

    probes: int = 0
    weak_probes: int = 0
    merged_randomized: int = 0
    devices_created: int = 0
    calibrations: int = 0


@dataclass(slots=True)
class OccupancyFusion:
    """Fuses the three sources; feed it observations, ask it for an estimate."""

    rules: OccupancyRules = field(default_factory=OccupancyRules)
    doors_fitted: bool = False
    probes_fitted: bool = False
    door_in: int = 0
    door_out: int = 0
    ratio: float = 1.0
    calibrated_at_ms: int | None = None
    departures: int = 0
    stats: OccupancyStats = field(default_factory=OccupancyStats)
    _devices: list[_Device] = field(default_factory=list)
    _by_pseudonym: dict[str, _Device] = field(default_factory=dict)
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

    def on_probe(self, obs: ProbeObservation) -> None:
        """One sniffed probe request."""
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
                dev.pseudonyms.add(obs.device)
                self._by_pseudonym[obs.device] = dev
        if dev is None:
            dev = _Device(
                {obs.device}, obs.randomized, obs.fingerprint, obs.seq, obs.ts_ms, obs.ts_ms,
                self.departures, self.departures,
            )
            self._devices.append(dev)
            self._by_pseudonym[obs.device] = dev
            self.stats.devices_created += 1
        dev.last_seen_ms = max(dev.last_seen_ms, obs.ts_ms)
        dev.last_departure = self.departures
        if obs.seq is not None:
            dev.last_seq = obs.seq

    def on_departure(self, departures: int, now_ms: int, wlan_clients: int) -> None:
        """The vehicle left a stop (``departures`` from the stop tracker); calibrate."""
        self.departures = departures
        self._expire(now_ms)
        if not self.doors_fitted or self._door_drifted:
            return
        devices = self._device_count(now_ms, set(), wlan_clients)
        people = self.door_passengers()
        r = self.rules
        if devices >= r.min_calibration_count and people >= r.min_calibration_count:
            sample = min(max(people / devices, r.ratio_bounds[0]), r.ratio_bounds[1])
            a = r.calibration_alpha if self.calibrated_at_ms is not None else 1.0
            self.ratio = (1 - a) * self.ratio + a * sample
            self.calibrated_at_ms = now_ms
            self.stats.calibrations += 1

    # -- output ---------------------------------------------------------------------------------

    def estimate(
        self, now_ms: int, associated: Iterable[str] = (), associated_count: int | None = None
    ) -> OccupancyEstimate:
        """Current estimate; ``associated`` are the pseudonyms of associated WLAN clients."""
        self._expire(now_ms)
        assoc = set(associated)
        wlan_clients = associated_count if associated_count is not None else len(assoc)
        probe_devices = self._qualified_probe_devices(now_ms)
        devices = self._device_count(now_ms, assoc, wlan_clients)
        wlan_estimate = round(devices * self.ratio)
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
            quality = "MODERATE" if calibrated else "LOW"
        else:
            passengers, quality = 0, "ERROR"
        return OccupancyEstimate(
            passengers, quality, self.door_in, self.door_out, wlan_clients, probe_devices
        )

    # -- internals ------------------------------------------------------------------------------

    def _match_randomized(self, obs: ProbeObservation) -> _Device | None:
        r = self.rules
        best: _Device | None = None
        best_gap = SEQ_MODULO
        for dev in self._devices:
            if not dev.randomized or dev.fingerprint != obs.fingerprint:
                continue
            if obs.ts_ms - dev.last_seen_ms > r.dedup_window_s * 1000:
                continue
            if obs.seq is None or dev.last_seq is None:
                continue
            gap = (obs.seq - dev.last_seq) % SEQ_MODULO
            if 0 < gap <= r.max_seq_gap and gap < best_gap:
                best, best_gap = dev, gap
        return best

    def _qualified(self, dev: _Device, now_ms: int) -> bool:
        if now_ms - dev.last_seen_ms > self.rules.presence_window_s * 1000:
            return False
        return dev.last_departure - dev.first_departure >= self.rules.min_departures

    def _qualified_probe_devices(self, now_ms: int) -> int:
        return sum(1 for d in self._devices if self._qualified(d, now_ms))

    def _device_count(self, now_ms: int, assoc: set[str], wlan_clients: int) -> int:
        """Associated clients plus qualified probing devices, each device once."""
        extra = sum(
            1
            for d in self._devices
            if self._qualified(d, now_ms) and not (d.pseudonyms & assoc)
        )
        return max(wlan_clients, len(assoc)) + extra

    def _expire(self, now_ms: int) -> None:
        horizon = now_ms - self.rules.presence_window_s * 1000
        if not any(d.last_seen_ms < horizon for d in self._devices):
            return
        self._devices = [d for d in self._devices if d.last_seen_ms >= horizon]
        self._by_pseudonym = {p: d for d in self._devices for p in d.pseudonyms}


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
