"""The re-rating rules (issue 12): who shares the uplink, when a class exists, what caps it.

1. The fair share ``min(per_client_kbps, uplink_kbps / n)`` counts the *admitted* clients
   (accepted, not timed out), busy or silent.
2. An admitted client's class exists before its firewall element: its traffic is never
   forwarded outside a class capped at a fair share.
3. The operator's ``set_uplink_kbps`` is a cap: the measured uplink may go below it, never
   above; a later command replaces it; without one, ``max_kbps`` bounds the measurement.
"""

from __future__ import annotations

import asyncio

import pytest

from bus_gateway.domain.autorate import AutorateSettings, CapacityEstimator, LinkSample
from bus_gateway.domain.sessions import SessionTable
from bus_gateway.domain.shaping import ShapingPlan, fair_share_kbps, placement_kbps
from bus_gateway.errors import PortalError, ShaperError
from bus_gateway.uplink import UplinkMonitor
from bus_gateway.wlan import SimulatedDataplane, WlanGateway
from edge_agent.contract.configs import WlanConfig

T0 = 1_767_225_600_000
IPS = [f"10.77.0.{100 + k}" for k in range(4)]
MACS = [f"02:00:00:00:0{k}:01" for k in range(4)]


# --- 1. the fair share counts admitted clients -------------------------------------------------


def test_the_fair_share_counts_admitted_clients_busy_or_silent():
    sessions = SessionTable(session_timeout_s=3600, idle_timeout_s=300)
    plan = ShapingPlan(per_client_kbps=2000, uplink_kbps=20000)
    for mac, ip in zip(MACS[:3], IPS[:3], strict=True):
        sessions.admit(mac, ip, T0)
    # two download, the third is silent: all three are admitted, all three count
    for mac in MACS[:2]:
        sessions.activity(mac, 10_000_000, T0 + 200_000)
    plan.reconcile([s.ip for s in sessions.active()], uplink_kbps=4000)
    assert {ip: c.rate_kbps for ip, c in plan.classes.items()} == dict.fromkeys(IPS[:3], 1333)
    # the silent one times out (idle): no longer admitted, the two get 2000 each
    assert [r.reason for r in sessions.expire(T0 + 301_000)] == ["idle"]
    diff = plan.reconcile([s.ip for s in sessions.active()])
    assert {c.ip for c in diff.remove} == {IPS[2]}
    assert {ip: c.rate_kbps for ip, c in plan.classes.items()} == dict.fromkeys(IPS[:2], 2000)


def test_a_placed_class_is_capped_at_the_share_that_counts_it():
    plan = ShapingPlan(per_client_kbps=2000, uplink_kbps=3000)
    plan.reconcile(IPS[:1])
    assert plan.classes[IPS[0]].rate_kbps == 2000
    diff = plan.place(IPS[1])  # admitted now; the others are re-rated by the next pass
    assert [(c.ip, c.slot, c.rate_kbps) for c in diff.add] == [(IPS[1], 1, 1500)]
    assert not plan.place(IPS[1]).add  # placed once
    diff = plan.reconcile(IPS[:2])
    assert [(c.ip, c.rate_kbps) for c in diff.change] == [(IPS[0], 1500)] and not diff.add


def test_placement_rates_are_rounded_down_to_two_significant_figures():
    assert [placement_kbps(k) for k in (8, 99, 100, 219, 1333, 2000, 2050, 19999)] == [
        8, 99, 100, 210, 1300, 2000, 2000, 19000]
    # boarding at a stop: ten shares, two distinct rates to encode, none above its share
    shares = [fair_share_kbps(2000, 20000, n) for n in range(91, 101)]
    placed = [placement_kbps(k) for k in shares]
    assert set(placed) == {210, 200} and all(p <= k for p, k in zip(placed, shares, strict=True))


def test_a_failed_request_makes_the_next_pass_put_every_class_in_its_own_slot():
    plan = ShapingPlan(per_client_kbps=2000, uplink_kbps=20000)
    plan.reconcile(IPS[:3])
    slots = {ip: c.slot for ip, c in plan.classes.items()}
    plan.resync()
    diff = plan.reconcile(IPS[1:3])
    assert {c.ip: c.slot for c in diff.add} == {ip: slots[ip] for ip in IPS[1:3]}
    assert [c.ip for c in diff.remove] == [IPS[0]] and not diff.change
    assert not plan.in_doubt and plan.reconcile(IPS[1:3]).empty


# --- 2. the class before the firewall, through the WLAN service --------------------------------


class RecordingDataplane(SimulatedDataplane):
    """The simulated dataplane, recording the order in which classes and elements arrive."""

    def __init__(self, fail_shaping: int = 0) -> None:
        super().__init__()
        self.events: list[tuple[str, str, int]] = []
        self.fail_shaping = fail_shaping

    def shape(self, diff, uplink_kbps):
        if self.fail_shaping and diff.add:
            self.fail_shaping -= 1
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(ShaperError("RTNETLINK answers: File exists"))
            return failed
        self.events += [("class", c.ip, c.rate_kbps) for c in (*diff.add, *diff.change)]
        return super().shape(diff, uplink_kbps)

    def submit(self, change, after=None):
        done = super().submit(change, after)

        def record(f: asyncio.Future[None]) -> None:
            if not f.cancelled() and f.exception() is None:
                self.events.extend(("admit", str(ip), 0) for _, ip in change.admit)

        if done.done():
            record(done)
        else:
            done.add_done_callback(record)
        return done


def gateway(dp: SimulatedDataplane, uplink_kbps: int = 20000) -> WlanGateway:
    cfg = WlanConfig(backend="simulated", interface="wlan0", uplink="wwan0",
                     per_client_kbps=2000, uplink_kbps=uplink_kbps, session_timeout_min=60,
                     idle_timeout_min=5)
    for mac, ip in zip(MACS, IPS, strict=True):
        dp.station_joined(mac, ip)
    return WlanGateway(cfg, dp, lambda: T0)


def test_two_passengers_at_2000_after_set_uplink_4000_and_classes_before_admission():
    dp = RecordingDataplane()
    wlan = gateway(dp)

    async def scenario():
        await wlan.accept(IPS[0])
        await wlan.accept(IPS[1])
        assert await wlan.set_uplink_kbps(4000) == 2000
        await wlan.shaped()
        assert dp.rates == dict.fromkeys(IPS[:2], 2000)
        # the third boards: it is admitted only once its class exists, at the new share
        await wlan.accept(IPS[2])
        admitted = dp.events.index(("admit", IPS[2], 0))
        placed = [e for e in dp.events[:admitted] if e[1] == IPS[2]]
        assert placed == [("class", IPS[2], 1300)]  # ≤ the share of three, rounded down
        await wlan.shaped()
        assert dp.rates == dict.fromkeys(IPS[:3], 1333)

    asyncio.run(scenario())


def test_a_client_whose_class_cannot_be_put_is_not_admitted_and_everything_is_put_again():
    dp = RecordingDataplane()
    wlan = gateway(dp)

    async def scenario():
        await wlan.accept(IPS[0])
        await wlan.shaped()
        dp.fail_shaping = 1
        with pytest.raises(PortalError) as refused:
            await wlan.accept(IPS[1])
        assert refused.value.status == 503
        assert list(dp.admitted.values()) == [IPS[0]]  # never let through unshaped
        assert wlan.sessions.get(MACS[1]) is None  # may simply try again
        await wlan.shaped()
        assert wlan.shaping_failures == 1 and not wlan.plan.in_doubt
        assert dp.rates == {IPS[0]: 2000}  # the pass after the failure put the survivor again
        await wlan.accept(IPS[1])
        assert sorted(dp.admitted.values()) == IPS[:2]

    asyncio.run(scenario())


def test_a_returning_client_gets_its_class_before_its_element_and_retries_when_refused():
    dp = RecordingDataplane()
    now = [T0]
    cfg = WlanConfig(backend="simulated", interface="wlan0", uplink="wwan0",
                     per_client_kbps=2000, uplink_kbps=20000, session_timeout_min=60,
                     idle_timeout_min=5)
    wlan = WlanGateway(cfg, dp, lambda: now[0])

    async def scenario():
        dp.station_joined(MACS[0], IPS[0])
        await wlan.accept(IPS[0])
        dp.station_left(MACS[0])  # off the bus at a stop …
        now[0] += 6 * 60_000  # … for longer than the idle timeout: dormant
        await wlan.tick()
        await wlan.shaped()
        assert dp.admitted == {} and dp.rates == {}
        dp.events.clear()
        dp.station_joined(MACS[0], IPS[0])  # back within its session …
        dp.fail_shaping = 1  # … but its class cannot be put this time
        await wlan.tick()
        assert dp.admitted == {} and not wlan.sessions.active()  # dormant again: retried
        await wlan.shaped()
        await wlan.tick()  # the next sighting
        assert dp.admitted == {MACS[0]: IPS[0]}
        assert dp.events.index(("class", IPS[0], 2000)) < dp.events.index(("admit", IPS[0], 0))

    asyncio.run(scenario())


# --- 3. the operator's figure caps the measured rate -------------------------------------------


def estimator(base: int = 8000) -> CapacityEstimator:
    return CapacityEstimator(AutorateSettings(base_kbps=base, min_kbps=1000, max_kbps=50000))


def feed(est: CapacityEstimator, samples: int, kbps: float, rtt_ms: float,
         start: int = 0) -> list[int]:
    """``samples`` samples 250 ms apart carrying ``kbps`` at ``rtt_ms``."""
    rates = []
    for i in range(start, start + samples):
        sample = LinkSample(i * 250, int(i * kbps * 250 / 8), 0, rtt_ms)
        rates.append(est.observe(sample).rate_kbps)
    return rates


def test_the_operators_figure_is_a_cap_the_measurement_may_only_go_below():
    est = estimator()
    assert est.set_cap(4000) == 4000
    # saturated without delay: the old controller probed up to max_kbps; the cap holds
    rates = feed(est, 200, 4000, 40.0)
    assert max(rates) == 4000 and rates[-1] == 4000
    # congestion (the delay grows): below the figure
    low = feed(est, 20, 2000, 400.0, start=200)
    assert min(low) < 4000
    # the queue drains and the load returns: back up to the figure, never above
    back = feed(est, 400, 4000, 40.0, start=220)
    assert back[-1] == 4000 and max(back) == 4000
    # idle: the decay aims at min(base, cap), not at the configured base above the cap
    idle = feed(est, 200, 10, 40.0, start=620)
    assert idle[-1] == 4000 and max(idle) == 4000


def test_a_later_command_replaces_the_cap_up_or_down():
    est = estimator()
    est.set_cap(4000)
    est.set_cap(12000)  # raised: the estimate starts at the new figure and may probe to it
    assert est.rate_kbps == 12000 and est.ceiling_kbps == 12000
    assert max(feed(est, 200, 12000, 40.0)) == 12000
    est.set_cap(3000)  # lowered: at once
    assert est.rate_kbps == 3000 and max(feed(est, 50, 3000, 40.0, start=200)) == 3000
    est.set_cap(500)  # below min_kbps: the operator's figure still wins
    assert est.rate_kbps == 500 and est.floor_kbps == 500
    assert set(feed(est, 50, 500, 400.0, start=250)) == {500}


def test_without_a_command_max_kbps_bounds_the_measurement():
    est = estimator()
    assert est.cap_kbps is None
    rates = feed(est, 400, 1e6, 40.0)
    assert rates[-1] == 50000 and max(rates) == 50000


def test_the_monitor_never_applies_more_than_the_command_under_full_load():
    est = estimator(base=20000)
    applied: list[int] = []

    async def apply(kbps: int) -> None:
        applied.append(kbps)

    async def rtt() -> float:
        return 40.0  # no queue anywhere: the old controller kept probing upwards

    async def scenario():
        monitor = UplinkMonitor(
            interface="wwan0", reflector=("192.0.2.1", 1883), estimator=est, apply_kbps=apply,
            applied_kbps=lambda: applied[-1] if applied else 20000, interval_s=0.25,
            hysteresis=0.1,
        )
        sent = iter(range(0, 10**9, 250 * 6000 // 8))  # 6000 kbit/s every 250 ms
        monitor.probe_rtt_ms = rtt  # type: ignore[method-assign]
        monitor.counters = lambda: (next(sent), 0)  # type: ignore[method-assign]
        assert await monitor.set_cap(4000) == 4000
        for _ in range(40):
            await monitor.sample()
        assert applied[0] == 4000 and max(applied) == 4000 and est.rate_kbps == 4000

    asyncio.run(scenario())
