"""Occupancy fusion: randomised-MAC de-duplication, roadside exclusion, calibration, quality."""

from __future__ import annotations

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
    fields = f.estimate(T0).payload_fields(capacity_seated=40, capacity_total=90)
    assert fields["occupancy_percentage"] == 50
    assert fields["occupancy_status"] == "STANDING_ROOM_ONLY"
    assert fields["sources"] == {"door_in": 45, "door_out": 0, "wlan_clients": 0,
                                 "probe_devices": 0}


def test_fingerprint_ignores_ssid_and_channel():
    base = [(1, b"\x02\x04"), (45, b"ht-caps"), (127, b"ext")]
    a = ie_fingerprint([(0, b"home-wifi"), (3, b"\x01"), *base])
    b = ie_fingerprint([(0, b""), (3, b"\x06"), *base])
    c = ie_fingerprint([(0, b""), (45, b"other"), (127, b"ext")])
    assert a == b != c
