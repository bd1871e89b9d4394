"""Builds one intersection's controller from its config: the only place that picks adapters.

Why one function: :class:`~signal_controller.app.SignalController` takes every collaborator
(edge agent, lamp port, tick scheduler, clock) as an argument, so what runs in production, in
the demo, the benchmarks and the tests differs only in what is passed here. The CLI
(``kassel signal``), the demo and the benchmarks all call :func:`build_controller`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import IntersectionConfig
from signal_controller.app import LoggingSignalHeads, SignalController
from signal_controller.heads import SignalHeads
from signal_controller.rsu import RsuOutput
from signal_controller.scheduler import TickScheduler


def build_controller(
    config: IntersectionConfig,
    *,
    heads: SignalHeads | None = None,
    agent: EdgeAgent | None = None,
    broker_url: str | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    scheduler: TickScheduler | None = None,
) -> SignalController:
    """The controller of ``config``.

    Without ``agent`` it gets its own edge agent on ``broker_url`` (and runs and stops it);
    with one, the caller runs that shared agent. Without ``heads`` lamps are only logged;
    without ``scheduler`` it gets its own (pass one to every controller of a process: one
    timer then ticks them all; it must share ``clock``). With ``its.rsu`` (and ``its.publish``)
    the C-ITS messages also go to that roadside unit over UDP (:mod:`signal_controller.rsu`).
    """
    own_agent = agent is None
    its = config.its
    rsu = (RsuOutput.from_config(its.rsu, label=config.device_id)
           if its is not None and its.publish and its.rsu is not None else None)
    if agent is None:
        agent = EdgeAgent(config, kind="intersection", broker_url=broker_url, clock=clock)
    return SignalController(
        config,
        agent=agent,
        heads=heads if heads is not None else LoggingSignalHeads(config.device_id),
        scheduler=(scheduler if scheduler is not None
                   else TickScheduler(clock=clock, monotonic=monotonic)),
        owns_agent=own_agent,
        clock=clock,
        rsu=rsu,
    )
