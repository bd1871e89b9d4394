"""Signal controllers on a thread of their own, with the weight a deployed controller has.

Why: the safety kernel's watchdog trips when a tick is 500 ms late (fail-safe, flashing amber).
A deployed controller runs alone on its device, with ``Nice=-10`` from its systemd unit
(``firmware_configs/systemd/kassel-signal.service``). Where controllers share a process with
other work (the demo city, whose hub, buses and street run on the main event loop, or a test
that drives buses and MQTT clients beside one), that other work would decide when a tick runs:
under CPU load the shared loop was seen 518 and 682 ms late, and the controllers went to
fail-safe. A :class:`ControllerHost` gives them their own event loop on their own thread, and
that thread asks for the unit's weight (Linux schedules threads one by one, so only this thread
gets it). A weight, not a real-time class, for the unit's reason: a real-time Python thread
that spun would starve everything else.

The weight alone does not help against the process's own work: every socket call of a tick
gives up the GIL, and a busy thread of the same process keeps it for the interpreter's switch
interval (5 ms) before the controllers' thread gets it back, several times a tick. The host
therefore shortens the process's switch interval to 1 ms (``bench/bench_controller_host.py``:
with a thread of the process computing all the time and two CPU hogs beside it, the worst tick
lag of 10 controllers fell from 106 to 35 ms; see BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from signal_controller.app import SignalController

log = logging.getLogger(__name__)

#: the controller's nice value, as in the systemd unit (lower is more CPU weight).
TICK_NICE = -10
#: the process's GIL switch interval while it hosts controllers (Python's default: 5 ms).
TICK_SWITCH_INTERVAL_S = 0.001

T = TypeVar("T")


def raise_thread_priority(nice: int = TICK_NICE) -> bool:
    """Give the calling thread (only it) the weight of ``nice`` unless it has more already.

    Returns False, with a warning, where that is not permitted (an unprivileged user without
    ``CAP_SYS_NICE``): the controllers then run at the process's own weight.
    """
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) > nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.warning("controller thread keeps its priority (nice %d not permitted: %s); "
                    "under CPU load its ticks may come late", nice, exc)
        return False
    return True


class ControllerHost:
    """Runs controllers on a dedicated thread and event loop; start, call into, stop.

    The controllers may be built anywhere (nothing in them binds to a loop before ``run``);
    from :meth:`start` on they belong to the host's loop, and other threads reach them only
    through :meth:`call`. Controllers that share a
    :class:`~signal_controller.scheduler.TickScheduler` are ticked by one timer on this loop.
    """

    def __init__(self, controllers: Sequence[SignalController], *, nice: int = TICK_NICE,
                 switch_interval_s: float | None = TICK_SWITCH_INTERVAL_S,
                 name: str = "signal-controllers") -> None:
        self.controllers = tuple(controllers)
        self.nice = nice
        #: shortened for the whole process from :meth:`start` on (never lengthened); None
        #: leaves it alone
        self.switch_interval_s = switch_interval_s
        #: whether the thread got its weight (None until it started)
        self.prioritised: bool | None = None
        #: what ended a controller's ``run`` other than :meth:`stop`
        self.errors: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _main(self) -> None:
        async def runner() -> None:
            self._loop = asyncio.get_running_loop()
            self.prioritised = raise_thread_priority(self.nice)
            runs = [asyncio.create_task(c.run(), name=c.config.device_id)
                    for c in self.controllers]
            self._ready.set()
            for result in await asyncio.gather(*runs, return_exceptions=True):
                if isinstance(result, BaseException):
                    self.errors.append(result)

        try:
            asyncio.run(runner())
        except BaseException as exc:  # reported through .errors; the thread ends either way
            self.errors.append(exc)
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread; return once every controller's ``run`` has been started."""
        if self.switch_interval_s is not None:
            sys.setswitchinterval(min(sys.getswitchinterval(), self.switch_interval_s))
        self._thread.start()
        if not self._ready.wait(timeout) or self._loop is None:
            raise RuntimeError(f"the controller thread did not start within {timeout} s: "
                               f"{self.errors}")

    def call(self, fn: Callable[..., T], *args: object, timeout: float = 10.0) -> T:
        """Run ``fn(*args)`` on the controllers' loop, between two ticks, and return its result."""
        if self._loop is None:
            raise RuntimeError("the controller host is not running")

        async def on_loop() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every controller (each says ``offline``) and wait for the thread to end."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            for controller in self.controllers:
                try:
                    loop.call_soon_threadsafe(controller.stop)
                except RuntimeError:  # the loop closed meanwhile: nothing left to stop
                    break
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> ControllerHost:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
