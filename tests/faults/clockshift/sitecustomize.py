"""Loaded at start-up by the controller process of the clock-step fault test (its folder comes
first on ``PYTHONPATH``): the process's wall clock (``time.time``, ``time.time_ns``) is shifted
by the number of seconds in the file ``KASSEL_TEST_CLOCK_OFFSET_FILE``, re-read every 20 ms,
while the monotonic clock stays true, as an NTP step or a wrong RTC does to a real controller.

Why not libfaketime: it does the same in C, but it also intercepts the thread and timed-wait
calls, and under CPU load it stalled 10 ms waits by 72-144 ms (21-24 ms without it), which made
the controller's watchdog trip on late ticks that no real clock step causes.
"""

from __future__ import annotations

import os
import time

_path = os.environ.get("KASSEL_TEST_CLOCK_OFFSET_FILE")
if _path:
    _real_time, _real_time_ns, _monotonic = time.time, time.time_ns, time.monotonic
    _state = {"offset": 0.0, "read_at": -1.0}

    def _offset() -> float:
        now = _monotonic()
        if now - _state["read_at"] >= 0.02:
            _state["read_at"] = now
            try:
                with open(_path, encoding="utf-8") as f:
                    _state["offset"] = float(f.read().strip() or 0)
            except (OSError, ValueError):
                pass
        return _state["offset"]

    def _time() -> float:
        return _real_time() + _offset()

    def _time_ns() -> int:
        return _real_time_ns() + int(_offset() * 1e9)

    time.time = _time
    time.time_ns = _time_ns
