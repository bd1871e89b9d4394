"""Bulk re-rating on a real kernel: every client's HTB class on both devices gets the new rate;
after a refused change, a resync pass puts every class again (idempotently) in its slot.

The shaper runs inside the gateway namespace of a ``NetLab`` (this file doubles as the script
that runs there); ``tc -j class show`` is the judge, not the shaper's own bookkeeping.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[3]
CLIENTS = 60
KBIT = 1  # rates are compared in kbit/s


def _all_rates(dev: str) -> dict[str, int]:
    """Class id → rate in kbit/s of every HTB class on ``dev``."""
    out = subprocess.run(["tc", "class", "show", "dev", dev], capture_output=True,
                         text=True, check=True).stdout  # this tc has no JSON for classes
    return {
        m[1]: int(m[2]) * {None: 1, "K": 1000, "M": 1_000_000}[m[3]] // 1000
        for m in re.finditer(r"class htb 1:([0-9a-f]+) .*? rate (\d+)(K|M)?bit", out)
    }


def _rates(dev: str) -> dict[str, int]:
    """Class id → rate in kbit/s of the client classes (``1:100`` and up) on ``dev``."""
    return {k: v for k, v in _all_rates(dev).items() if int(k, 16) >= 0x100}


def _shared(lan: str, ifb: str) -> list[int]:
    """The rate of the shared class 1:2 on both devices."""
    return [_all_rates(dev)["2"] for dev in (lan, ifb)]


def _filters(dev: str) -> dict[str, str]:
    """Client address (hex) → class id of every ``u32`` filter on ``dev``."""
    out = subprocess.run(["tc", "filter", "show", "dev", dev], capture_output=True,
                         text=True, check=True).stdout
    found: dict[str, str] = {}
    for m in re.finditer(r"flowid 1:([0-9a-f]+) .*?\n\s+match ([0-9a-f]{8})/ffffffff", out):
        assert m[2] not in found, f"two filters for {m[2]} on {dev}"
        found[m[2]] = m[1]
    return found


def _in_namespace(lan: str) -> dict[str, object]:
    from bus_gateway.domain.shaping import ShapingPlan  # noqa: PLC0415
    from bus_gateway.errors import ShaperError  # noqa: PLC0415
    from bus_gateway.shaper import HtbShaper  # noqa: PLC0415

    shaper = HtbShaper(lan)
    plan = ShapingPlan(per_client_kbps=2000, uplink_kbps=6000)
    ips = [f"10.77.0.{100 + k}" for k in range(CLIENTS)]
    shaper.setup(plan.uplink_kbps)
    shaper.apply(plan.reconcile(ips), plan.uplink_kbps)
    added = {"lan": _rates(lan), "ifb": _rates(shaper.ifb)}
    diff = plan.reconcile(ips[:-1], uplink_kbps=12000)  # one leaves and the uplink doubles
    shaper.apply(diff, plan.uplink_kbps)
    rerated = {"lan": _rates(lan), "ifb": _rates(shaper.ifb), "changed": len(diff.change),
               "shared": _shared(lan, shaper.ifb)}
    victim = plan.classes[ips[0]]
    # someone removes one client's class behind the shaper's back (its filter first: HTB
    # refuses to delete a class a filter points at)
    subprocess.run(["tc", "filter", "del", "dev", lan, "parent", "1:", "prio",
                    str(10 + victim.slot)], check=True, capture_output=True)
    subprocess.run(["tc", "class", "del", "dev", lan, "classid", f"1:{victim.minor:x}"],
                   check=True, capture_output=True)
    error = ""
    try:
        shaper.apply(plan.reconcile(ips[:-1], uplink_kbps=3000), plan.uplink_kbps)
    except ShaperError as exc:
        error = str(exc)
    after_error = {"lan": _rates(lan), "ifb": _rates(shaper.ifb),
                   "shared": _shared(lan, shaper.ifb)}
    # the failure put the plan in doubt: the next pass puts every class again, in its slot
    plan.resync()
    shaper.apply(plan.reconcile(ips[:-1]), plan.uplink_kbps)
    resynced = {"lan": _rates(lan), "ifb": _rates(shaper.ifb),
                "filters": [_filters(lan), _filters(shaper.ifb)],
                "slots": sorted(f"{c.minor:x}" for c in plan.classes.values())}
    shaper.teardown()
    shaper.close()
    return {"added": added, "rerated": rerated, "error": error, "after_error": after_error,
            "resynced": resynced}


def test_rerating_reaches_every_class_on_both_devices_and_reports_refusals(tmp_path: Path):
    # imported here: this file also runs as a script inside the namespace, without ``tests``
    from testbed.netlab import NetLab  # noqa: PLC0415

    lab = NetLab(tmp_path, passengers=1, bridge=True)
    try:
        res = lab.ns(lab.gw, sys.executable, __file__, lab.lan, timeout=60)
    finally:
        lab.close()
    r = json.loads(res.stdout)
    for dev in ("lan", "ifb"):
        assert len(r["added"][dev]) == CLIENTS
        assert set(r["added"][dev].values()) == {KBIT * 100}  # 6000 kbit/s / 60
        assert len(r["rerated"][dev]) == CLIENTS - 1
        assert set(r["rerated"][dev].values()) == {KBIT * (12000 // 59)}
    assert r["rerated"]["changed"] == CLIENTS - 1
    assert r["rerated"]["shared"] == [12000, 12000]  # 1:2 moved in the clients' batch
    # one class gone behind the shaper's back: only that change is refused, and said so (the
    # batch held the clients' classes and 1:2, on both devices)
    assert r["error"].startswith(f"1 of {2 * (CLIENTS - 1) + 2} class changes refused")
    assert r["after_error"]["shared"] == [3000, 3000]
    assert "10.77.0.100" in r["error"]
    assert len(r["after_error"]["lan"]) == CLIENTS - 2
    assert len(r["after_error"]["ifb"]) == CLIENTS - 1
    for dev in ("lan", "ifb"):  # every other class did get 3000 kbit/s / 59
        assert set(r["after_error"][dev].values()) == {KBIT * (3000 // 59)}
    # after the resync pass: the lost class is back, nothing is doubled, every slot unchanged
    for dev, filters in zip(("lan", "ifb"), r["resynced"]["filters"], strict=True):
        assert set(r["resynced"][dev]) == set(r["resynced"]["slots"])
        assert set(r["resynced"][dev].values()) == {KBIT * (3000 // 59)}
        assert len(filters) == CLIENTS - 1 and set(filters.values()) == set(r["resynced"]["slots"])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT_DIR))
    print(json.dumps(_in_namespace(sys.argv[1])))
