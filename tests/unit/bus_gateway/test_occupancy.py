"""Occupancy fusion: randomised-MAC de-duplication, roadside exclusion, calibration, quality."""

from __future__ import annotations

import random

import pytest

from bus_gateway.domain.occupancy import (
    OccupancyFusion,
    OccupancyRules,
    ProbeObservation,
    ie_fingerprint,
)

T0 = 1_767_225_600_000


def probe(device, ts, seq, fp="phoneA", rssi=-50, randomized=True):
    return ProbeObservation(ts, device, randomized, seq, fp, rssi)


def test_randomised_probes_with_continuing_sequence_merge_into_one_device():
    f = OccupancyFusion(OccupancyRules(min_departures=0))
    f.on_probe(probe("r1", T0, 100))
    f.on_probe(probe("r2", T0 + 5_000, 104))  # new random MAC, seq continues
    f.on_probe(probe("r3", T0 + 9_000, 110))
    assert f.estimate(T0 + 10_000).probe_devices == 1
    assert f.stats.merged_randomized == 2


def test_same_model_phones_are_told_apart_by_sequence_numbers():
    f = OccupancyFusion(OccupancyRules(min_departures=0))
    f.on_probe(probe("r1", T0, 100))
    f.on_probe(probe("r2", T0 + 1_000, 3000))  # same fingerprint, far-away sequence
    f.on_probe(probe("r3", T0 + 2_000, 900, fp="phoneB"))  # other model
    assert f.estimate(T0 + 3_000).probe_devices == 3


def test_no_merge_outside_the_window_or_for_global_macs():
    f = OccupancyFusion(OccupancyRules(min_departures=0, dedup_window_s=30))
    f.on_probe(probe("r1", T0, 100))
    f.on_probe(probe("r2", T0 + 40_000, 101))
    f.on_probe(probe("g1", T0 + 41_000, 102, randomized=False))
    assert f.estimate(T0 + 42_000).probe_devices == 3


def test_weak_and_single_segment_devices_are_roadside():
    f = OccupancyFusion()
    f.on_probe(probe("passenger", T0, 10))
    f.on_probe(probe("far", T0, 500, fp="x", rssi=-85))
    f.on_probe(probe("at-stop", T0 + 1_000, 2000, fp="y"))
    f.on_departure(1, T0 + 20_000, 0)
    f.on_probe(probe("passenger", T0 + 30_000, 14))
    est = f.estimate(T0 + 31_000)
    assert est.probe_devices == 1
    assert f.stats.weak_probes == 1


def test_devices_expire_after_presence_window():
    f = OccupancyFusion(OccupancyRules(min_departures=0, presence_window_s=60))
    f.on_probe(probe("a", T0, 1))
    assert f.estimate(T0 + 1_000).probe_devices == 1
    assert f.estimate(T0 + 61_001).probe_devices == 0


def test_doors_win_and_calibrate_wlan_ratio():
    f = OccupancyFusion(OccupancyRules(min_departures=0))
    f.on_doors(8, 0)
    for i in range(4):
        f.on_probe(probe(f"d{i}", T0, 100 + 1000 * i, fp=f"m{i}"))
    f.on_departure(1, T0 + 1_000, 0)
    assert f.ratio == 2.0
    est = f.estimate(T0 + 2_000)
    assert (est.passengers, est.quality) == (8, "HIGH")
    assert (est.door_in, est.door_out, est.probe_devices) == (8, 0, 4)


def test_wlan_only_quality_low_until_calibrated_then_moderate():
    f = OccupancyFusion(OccupancyRules(min_departures=0))
    f.on_probe(probe("a", T0, 1))
    f.on_probe(probe("b", T0, 1, fp="b"))
    est = f.estimate(T0 + 1)
    assert (est.passengers, est.quality) == (2, "LOW")
    f.ratio, f.calibrated_at_ms = 1.5, T0
    assert f.estimate(T0 + 2).quality == "MODERATE"
    f.doors_fitted = False
    assert f.estimate(T0 + 2).passengers == 3


def test_doors_that_drift_below_zero_clamp_and_lower_quality():
    f = OccupancyFusion()
    f.on_doors(2, 5)
    est = f.estimate(T0)
    assert (est.passengers, est.quality) == (0, "MODERATE")
    f.on_doors(3, 0)
    assert f.estimate(T0).passengers == 3
    f.reset_doors()
    assert f.estimate(T0).passengers == 0


def test_associated_clients_count_once_even_when_they_also_probe():
    f = OccupancyFusion(OccupancyRules(min_departures=0))
    f.on_probe(probe("assoc", T0, 5, randomized=False))
    f.on_probe(probe("other", T0, 9, fp="z"))
    est = f.estimate(T0 + 1, associated=["assoc", "quiet"])
    assert est.wlan_clients == 2 and est.passengers == 3


def test_no_sources_is_error_and_payload_fields_follow_the_contract():
    est = OccupancyFusion().estimate(T0)
    assert est.quality == "ERROR"
    f = OccupancyFusion()
    f.on_doors(45, 0)
    fields = f.estimate(T0).payload_fields("1234", capacity_seated=40, capacity_total=90)
    assert fields.vehicle_id == "1234"
    assert fields.occupancy_percentage == 50
    assert fields.occupancy_status == "STANDING_ROOM_ONLY"
    assert fields.sources.model_dump() == {"door_in": 45, "door_out": 0, "wlan_clients": 0,
                                           "probe_devices": 0}


def test_fingerprint_ignores_ssid_and_channel():
    base = [(1, b"\x02\x04"), (45, b"ht-caps"), (127, b"ext")]
    a = ie_fingerprint([(0, b"home-wifi"), (3, b"\x01"), *base])
    b = ie_fingerprint([(0, b""), (3, b"\x06"), *base])
    c = ie_fingerprint([(0, b""), (45, b"other"), (127, b"ext")])
    assert a == b != c


# --- the bounded table and the indexed matcher -------------------------------------------------


class _OldFusion:
    """The matcher as it was before the table was bounded and indexed (linear scan).

    Kept as the reference: with the bound out of reach the indexed fusion must merge, create
    and count exactly as this did.
    """

    def __init__(self, rules: OccupancyRules) -> None:
        self.rules = rules
        self.devices: list[dict] = []
        self.by_pseudonym: dict[str, dict] = {}
        self.departures = 0
        self.merged = self.created = 0

    def on_probe(self, obs: ProbeObservation) -> None:
        r = self.rules
        if obs.rssi_dbm is not None and obs.rssi_dbm < r.rssi_min_dbm:
            return
        dev = self.by_pseudonym.get(obs.device)
        if dev is None and obs.randomized:
            best, best_gap = None, 4096
            for d in self.devices:
                if not d["rnd"] or d["fp"] != obs.fingerprint:
                    continue
                if obs.ts_ms - d["last"] > r.dedup_window_s * 1000:
                    continue
                if obs.seq is None or d["seq"] is None:
                    continue
                gap = (obs.seq - d["seq"]) % 4096
                if 0 < gap <= r.max_seq_gap and gap < best_gap:
                    best, best_gap = d, gap
            dev = best
            if dev is not None:
                self.merged += 1
                dev["ps"].add(obs.device)
                self.by_pseudonym[obs.device] = dev
        if dev is None:
            dev = {"ps": {obs.device}, "rnd": obs.randomized, "fp": obs.fingerprint,
                   "seq": obs.seq, "last": obs.ts_ms, "d0": self.departures,
                   "d1": self.departures}
            self.devices.append(dev)
            self.by_pseudonym[obs.device] = dev
            self.created += 1
        dev["last"] = max(dev["last"], obs.ts_ms)
        dev["d1"] = self.departures
        if obs.seq is not None:
            dev["seq"] = obs.seq

    def expire(self, now: int) -> None:
        horizon = now - self.rules.presence_window_s * 1000
        self.devices = [d for d in self.devices if d["last"] >= horizon]
        self.by_pseudonym = {p: d for d in self.devices for p in d["ps"]}

    def counts(self, now: int, assoc: set[str]) -> tuple[int, int]:
        self.expire(now)
        r = self.rules

        def ok(d: dict) -> bool:
            return (now - d["last"] <= r.presence_window_s * 1000
                    and d["d1"] - d["d0"] >= r.min_departures)

        qualified = [d for d in self.devices if ok(d)]
        return len(qualified), len(assoc) + sum(1 for d in qualified if not d["ps"] & assoc)


@pytest.mark.parametrize("seed", range(200))
def test_indexed_matcher_merges_and_counts_like_the_linear_scan(seed):
    """Phones of a few models rotate their addresses while their sequence numbers run on
    (several candidates per probe, gaps beyond the window, wrap-around, retransmissions)."""
    rng = random.Random(seed)
    rules = OccupancyRules(min_departures=rng.choice([0, 1]), presence_window_s=60,
                           dedup_window_s=rng.choice([5, 20]), max_pseudonyms=10**6,
                           max_seq_gap=rng.choice([16, 128]))
    new, old = OccupancyFusion(rules), _OldFusion(rules)
    phones = [{"fp": rng.choice("ABC"), "seq": rng.randrange(4096), "mac": 0,
               "rnd": rng.random() < 0.8} for _ in range(rng.randint(2, 12))]
    now, departures, macs = T0, 0, 0
    for _ in range(400):
        roll = rng.random()
        if roll < 0.03:
            departures += 1
            now += 1_000
            new.on_departure(departures, now, 0)
            old.departures = departures
            old.expire(now)
        elif roll < 0.1:
            assoc = {f"p{rng.randrange(macs + 1)}" for _ in range(rng.randint(0, 3))}
            est = new.estimate(now, assoc)
            assert (est.probe_devices, est.passengers) == old.counts(now, assoc)
        else:
            phone = rng.choice(phones)
            now += rng.choice([0, 200, 1_000, 3_000, 8_000, 30_000])
            if phone["rnd"] and rng.random() < 0.5:
                macs += 1
                phone["mac"] = macs  # a new random address
            if rng.random() < 0.9:  # else a retransmission: same sequence number
                phone["seq"] = (phone["seq"] + rng.choice([1, 2, 3, 15, 17, 100, 200])) % 4096
            obs = ProbeObservation(now, f"p{phone['mac']}" if phone["rnd"] else f"g{id(phone)}",
                                   phone["rnd"], phone["seq"], phone["fp"],
                                   rng.choice([-50, -60, -90, None]))
            new.on_probe(obs)
            old.on_probe(obs)
        assert (new.stats.merged_randomized, new.stats.devices_created) == (
            old.merged, old.created)


def test_table_is_bounded_and_evicts_probationary_devices_first():
    f = OccupancyFusion(OccupancyRules(max_devices=100))
    for i in range(10):  # riders: seen before and after a departure
        f.on_probe(probe(f"rider{i}", T0, 100 * i, fp=f"r{i}"))
    f.on_departure(1, T0 + 1_000, 0)
    for i in range(10):
        f.on_probe(probe(f"rider{i}", T0 + 2_000, 100 * i + 1, fp=f"r{i}"))
    for i in range(5_000):  # a flood of one-shot randomised devices, each its own model
        f.on_probe(probe(f"flood{i}", T0 + 3_000 + i, i % 4096, fp=f"x{i}"))
    assert f.device_count == 100
    assert f.stats.evicted == 5_010 - 100
    assert f.estimate(T0 + 9_000).probe_devices == 10  # the riders survived the flood


def test_a_rotating_phone_keeps_only_its_newest_pseudonyms():
    f = OccupancyFusion(OccupancyRules(min_departures=0, max_pseudonyms=4))
    for i in range(50):
        f.on_probe(probe(f"r{i}", T0 + i * 100, 10 + i))
    assert f.device_count == 1 and f.stats.merged_randomized == 49
    assert len(f._by_pseudonym) == 4
    f.on_probe(probe("r49", T0 + 6_000, 100))  # its newest address is still known
    assert f.device_count == 1


def test_probing_devices_are_capped_by_the_vehicle_and_a_flood_is_left_out():
    rules = OccupancyRules(min_departures=0)
    f = OccupancyFusion(rules, capacity_total=90)
    assert f.probe_device_cap() == 300  # 90 places at 0.3 passengers per device
    for i in range(200):
        f.on_probe(probe(f"d{i}", T0, 7, fp=f"m{i}"))
    est = f.estimate(T0 + 1)
    assert (est.passengers, est.probe_devices, est.quality) == (90, 200, "LOW")
    for i in range(200, 400):
        f.on_probe(probe(f"d{i}", T0, 7, fp=f"m{i}"))
    est = f.estimate(T0 + 2, associated=["a1", "a2", "a3"])
    # more than a full vehicle can carry: a flood; only the associated clients count
    assert (est.passengers, est.probe_devices, est.quality) == (3, 300, "LOW")
    assert f.stats.saturated_estimates == 1
    # door counters win as before; drifted doors may be raised by WLAN only up to capacity
    f.on_doors(20, 0)
    assert f.estimate(T0 + 3).passengers == 20
    f.ratio, f.calibrated_at_ms = 2.0, T0
    assert f.estimate(T0 + 3).quality == "HIGH"


def test_a_flood_does_not_calibrate_the_ratio():
    f = OccupancyFusion(OccupancyRules(min_departures=0), capacity_total=10)
    f.on_doors(8, 0)
    for i in range(100):  # cap is 34 devices for 10 places
        f.on_probe(probe(f"d{i}", T0, 7, fp=f"m{i}"))
    f.on_departure(1, T0 + 1_000, 0)
    assert f.stats.calibrations == 0 and f.ratio == 1.0
