"""ControllerHost against a real Mosquitto: its own thread at a deployed controller's weight.

The weight is checked where the kernel keeps it (the thread's nice value), for the host's
thread only; without the privilege to raise it, the host runs on and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from central_hub.broker import MosquittoBroker
from edge_agent.contract.payloads import Status, decode
from signal_controller.host import TICK_NICE
from tests.integration.signal_controller.helpers import ControllerThread, as_config, config_data
from tests.support.mqtt_probe import MqttProbe

ROOT = "kassel/v1"
REPO = Path(__file__).resolve().parents[3]


def _nice(native_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, native_id)


def test_the_host_thread_alone_gets_the_controller_weight_and_stops_cleanly(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    cfg = as_config(config_data("ks-0042.yaml", tmp_path))
    probe = MqttProbe(broker.url, client_id="host-probe")
    probe.subscribe(f"{ROOT}/device/ks-0042/status", qos=1)
    probe.subscribe(f"{ROOT}/signal/ks-0042/spat", qos=0)
    own = _nice(threading.get_native_id())
    with ControllerThread(cfg, broker.url) as ct:
        assert ct.prioritised is True
        host_thread = next(t for t in threading.enumerate() if t.name == "controller-ks-0042")
        assert host_thread.native_id is not None
        assert _nice(host_thread.native_id) == min(TICK_NICE, own)
        assert _nice(threading.get_native_id()) == own  # the rest of the process keeps its own

        def online_and_ticking(ms: list[Any]) -> bool:
            return any(m.topic.endswith("/spat") for m in ms) and any(
                decode(Status, m.payload).state == "online" for m in ms
                if m.topic.endswith("/status"))

        assert probe.wait_for(online_and_ticking, 30), "the hosted controller never ticked"
        # call() runs on the controller's loop, where its ticks are counted
        assert ct.call(lambda: ct.controller.ticks) > 0
    assert not host_thread.is_alive()
    assert ct.errors == []
    assert decode(Status, probe.on("/status")[-1].payload).state == "offline"
    probe.close()


def test_without_the_privilege_the_thread_keeps_its_weight_and_warns(tmp_path: Path) -> None:
    # CAP_SYS_NICE dropped from every set: raising the weight is refused by the kernel
    script = textwrap.dedent("""
        import logging, os, threading
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        from signal_controller.host import raise_thread_priority
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        ok = raise_thread_priority()
        after = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        print(ok, before == after)
    """)
    out = subprocess.run(
        ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "--",
         sys.executable, "-c", script],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert "WARNING controller thread keeps its priority" in out.stderr
