"""The GBFS poller against the simulated bike operator, over real HTTP on a free port.

Both GBFS versions are read into the same system; each file is re-read at its own ttl (the
clock is the test's: time is moved, never waited for); an HTTP 500, an oversize body (with
and without a Content-Length), a schema-invalid file, a body that is not JSON and an
unreachable operator are refused, counted and reported, and the last good data stays.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from central_hub.mobility.sharing_feeds import FeedLimits, OperatorConfig, SharingFeeds
from simulations.demo.bike_operator import BikeOperatorServer, Fault

STOPS = [(f"s{i}", f"Haltestelle {i}", 51.31 + i * 0.002, 9.48 + i * 0.003) for i in range(8)]


class Clock:
    """The poller's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def operator() -> Iterator[BikeOperatorServer]:
    with BikeOperatorServer(STOPS, seed=3) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_both_versions_are_read_and_each_file_is_reread_at_its_own_ttl(
        operator: BikeOperatorServer) -> None:
    clock = Clock()
    refused: list[tuple[str, str]] = []
    configs = [OperatorConfig(name="rad", url=operator.discovery_url("3.0")),
               OperatorConfig(name="rad-alt", url=operator.discovery_url("2.3"))]

    async def scenario() -> None:
        async with SharingFeeds(configs, on_refused=lambda o, r: refused.append((o, r)),
                                clock=clock) as feeds:
            await feeds.poll_once()
            new, old = feeds.systems()["rad"], feeds.systems()["rad-alt"]
            assert (new.feed_version, old.feed_version) == ("3.0", "2.3")
            assert new.name == "KasselRad (Demo)"
            assert len(new.stations) == len(STOPS)
            assert (new.stations, new.vehicles, new.pricing_plans) == (
                old.stations, old.vehicles, old.pricing_plans)
            assert new.vehicles
            assert all(v.lat is not None for v in new.vehicles)
            first_status = new.file("station_status")
            assert first_status is not None

            # the status files have a ttl of 60 s, the descriptions 3600 s (read every 300 s)
            assert feeds.next_due_in() == 60
            before = operator.requests.copy()
            operator.advance(61)
            clock.now += 61
            await feeds.poll_once()
            assert operator.requests - before == Counter({
                "v3.0/station_status": 1, "v3.0/vehicle_status": 1,
                "v2.3/station_status": 1, "v2.3/free_bike_status": 1})
            moved = feeds.systems()["rad"]
            assert moved.file("station_status").last_updated > (  # type: ignore[union-attr]
                first_status.last_updated)
            assert moved.file("station_information") == new.file("station_information")

            before = operator.requests.copy()
            clock.now += 300
            await feeds.poll_once()
            assert (operator.requests - before)["v3.0/station_information"] == 1
            assert (operator.requests - before)["v2.3/gbfs"] == 1

    asyncio.run(scenario())
    assert refused == []


def test_refused_files_are_counted_reported_and_the_last_good_data_kept(
        operator: BikeOperatorServer) -> None:
    clock = Clock()
    refused: list[tuple[str, str]] = []
    configs = [OperatorConfig(name="rad", url=operator.discovery_url("3.0")),
               OperatorConfig(name="weg",
                              url=f"http://127.0.0.1:{closed_port()}/gbfs.json?key=geheim")]
    limits = FeedLimits(max_bytes=256_000, timeout_s=3)
    faults = {"station_status": (Fault.HTTP_500, "http", "station_status.json: HTTP 500 from"),
              "vehicle_status": (Fault.OVERSIZE, "oversize",
                                 f"vehicle_status.json: {operator.OVERSIZE_BYTES} bytes "
                                 "declared, more than the limit of 256000"),
              "system_pricing_plans": (Fault.ENDLESS, "oversize",
                                       "system_pricing_plans.json: more than the limit of "
                                       "256000 bytes"),
              "station_information": (Fault.INVALID, "invalid",
                                      "station_information.json: schema error at $.ttl"),
              "vehicle_types": (Fault.NOT_JSON, "json", "vehicle_types.json: not JSON")}

    async def scenario() -> None:
        async with SharingFeeds(configs, on_refused=lambda o, r: refused.append((o, r)),
                                clock=clock, limits=limits) as feeds:
            await feeds.poll_once()
            good = feeds.systems()["rad"]
            assert "weg" not in feeds.systems()
            assert feeds.refusals() == {"rad": 0, "weg": 1}
            assert refused[0][0] == "weg"
            assert refused[0][1].startswith("gbfs.json: ConnectError from http://127.0.0.1:")
            assert "geheim" not in refused[0][1]  # an access key in the URL is not shown
            refused.clear()

            for name, (fault, _, _) in faults.items():
                operator.break_file(name, fault)
            operator.advance(900)  # the fleet moves on: what is kept is visibly the old data
            clock.now += 301  # every file is due
            started = time.monotonic()
            await feeds.poll_once()
            assert time.monotonic() - started < 3  # the endless body was not read to its end

            assert feeds.refusals()["rad"] == len(faults)
            kinds = {k: n for (o, k), n in feeds.refusals_by_kind().items() if o == "rad"}
            assert kinds == {"http": 1, "oversize": 2, "invalid": 1, "json": 1}
            reasons = sorted(r for o, r in refused if o == "rad")
            assert len(reasons) == len(faults)
            for _, _, start in faults.values():
                assert any(r.startswith(start) for r in reasons), (start, reasons)

            kept = feeds.systems()["rad"]
            assert (kept.stations, kept.vehicles, kept.pricing_plans, kept.vehicle_types) == (
                good.stations, good.vehicles, good.pricing_plans, good.vehicle_types)
            for name in faults:
                assert kept.file(name) == good.file(name)
            # the files that were fine were read again
            assert kept.file("system_information") != good.file("system_information")

            # repaired: the refused files are retried after min_ttl_s, not after their ttl
            operator.repair()
            clock.now += 11
            await feeds.poll_once()
            fresh = feeds.systems()["rad"]
            assert fresh.file("station_status").last_updated > (  # type: ignore[union-attr]
                good.file("station_status").last_updated)  # type: ignore[union-attr]
            assert fresh.vehicles != good.vehicles
            assert feeds.refusals()["rad"] == len(faults)

    asyncio.run(scenario())


def test_run_keeps_polling_when_the_alarm_callback_fails(
        operator: BikeOperatorServer) -> None:
    operator.break_file("system_pricing_plans", Fault.HTTP_500)
    calls: list[str] = []

    def failing_alarm(name: str, reason: str) -> None:
        calls.append(reason)
        raise RuntimeError("alarm sink down")

    async def scenario() -> None:
        limits = FeedLimits(min_ttl_s=0.05, max_ttl_s=0.05)
        async with SharingFeeds([OperatorConfig(name="rad", url=operator.discovery_url())],
                                on_refused=failing_alarm, limits=limits) as feeds:
            task = asyncio.create_task(feeds.run(), name="sharing-feeds")
            deadline = time.monotonic() + 3
            while feeds.refusals()["rad"] < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert feeds.refusals()["rad"] >= 2  # refused again on the next round
            system = feeds.systems()["rad"]
            assert system.pricing_plans == ()  # never read well
            assert system.stations

    asyncio.run(scenario())
    assert calls
    assert calls[0].startswith("system_pricing_plans.json: HTTP 500")
