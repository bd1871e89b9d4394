"""A real edge-agent process for tests: publishes bus positions at a fixed rate.

Run as ``python -m tests.support.agent_process CONFIG RATE_HZ [--broker URL] [--announce]`` so
tests can ``kill -9`` and restart it. Commands ``echo`` and ``boom`` exercise the command path.
``RATE_HZ`` 0 publishes as fast as the store commits; ``--announce`` prints ``seq N`` on stdout
once ``publish`` returned for N (the message is on disk: the power-cut test checks that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import BusConfig, load_config
from edge_agent.contract.payloads import PositionFields


async def main(config_path: str, rate_hz: float, broker: str | None, announce: bool) -> None:
    config = load_config(config_path)
    assert isinstance(config, BusConfig)
    agent = EdgeAgent(config, kind="bus", entity_id=config.vehicle.id, broker_url=broker)
    agent.install_signal_handlers()

    @agent.command("echo")
    def echo(args: dict[str, object]) -> dict[str, object]:
        return {"echo": args}

    executed = {"count": 0}

    @agent.command("count")
    def count(args: dict[str, object]) -> dict[str, object]:
        executed["count"] += 1
        return {"count": executed["count"]}

    @agent.command("boom")
    def boom(args: dict[str, object]) -> None:
        raise RuntimeError("boom on purpose")

    async def produce() -> None:
        i = 0
        while True:
            i += 1
            payload = await agent.publish(PositionFields(
                vehicle_id=config.vehicle.id, lat=51.3 + i * 1e-6, lon=9.5,
                bearing=90.0, speed_mps=8.0, route_id=config.route.route_id,
                trip_id=None, stop_id=None, stop_status="IN_TRANSIT_TO",
            ))
            if announce and not agent.store_failing:
                sys.stdout.write(f"seq {json.loads(payload)['seq']}\n")
                sys.stdout.flush()
            await asyncio.sleep(1 / rate_hz if rate_hz > 0 else 0)

    producer = asyncio.create_task(produce())
    await agent.run()
    producer.cancel()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    p = argparse.ArgumentParser()
    p.add_argument("config")
    p.add_argument("rate_hz", type=float)
    p.add_argument("--broker")
    p.add_argument("--announce", action="store_true")
    a = p.parse_args()
    asyncio.run(main(a.config, a.rate_hz, a.broker, a.announce))
