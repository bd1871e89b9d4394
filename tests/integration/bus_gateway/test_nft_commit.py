"""The nftables adapter on a real kernel: libnftables in process, the ``nft`` fallback, group
commit of concurrent admissions, and the one-by-one retry when a merged transaction fails.

Each test runs a short script inside the gateway namespace of its own ``NetLab`` (the
firewall's table lives in that namespace only) and checks the kernel's set with ``nft``.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.netlab import NetLab

ROOT = Path(__file__).resolve().parents[3]

PRELUDE = f"""
import asyncio, json, logging, sys
sys.path.insert(0, {str(ROOT)!r})
from ipaddress import IPv4Address, IPv4Interface
from bus_gateway.domain.firewall import AdmissionChange, FirewallSpec, pair
from bus_gateway.errors import FirewallError
from bus_gateway.groupcommit import GroupCommit
from bus_gateway.nft import LibNftables, NftCommand, NftFirewall, make_runner
SPEC = FirewallSpec("pax0", "wwan0", IPv4Interface("10.77.0.1/24"), 8080)
def client(k):
    return pair(f"02:42:00:00:00:{{k:02x}}", f"10.77.0.{{100 + k}}")
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[NetLab]:
    lab = NetLab(tmp_path, passengers=1, bridge=False)
    yield lab
    lab.close()


def run_in_gateway(lab: NetLab, body: str) -> dict[str, object]:
    res = lab.python(lab.gw, PRELUDE + textwrap.dedent(body), timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def kernel_pairs(lab: NetLab) -> set[str]:
    out = lab.ns(lab.gw, "nft", "-j", "list", "set", "inet", "kassel_bus", "admitted").stdout
    items = json.loads(out)["nftables"]
    elems = next(i["set"] for i in items if "set" in i).get("elem", [])
    return {" . ".join(str(v) for v in e["elem"]["val"]["concat"]) for e in elems}


@pytest.mark.parametrize("runner", ["LibNftables()", "NftCommand()"])
def test_concurrent_admissions_share_one_transaction(lab: NetLab, runner: str):
    result = run_in_gateway(lab, f"""
        fw = NftFirewall(SPEC, {runner})
        fw.install()

        async def main():
            loop = asyncio.get_running_loop()
            commit = GroupCommit(lambda batch: loop.run_in_executor(None, fw.apply, batch),
                                 name="test")
            first = commit.submit(AdmissionChange(admit=(client(0),)))
            await asyncio.sleep(0)  # the first transaction is under way
            rest = [commit.submit(AdmissionChange(admit=(client(k),))) for k in range(1, 10)]
            await asyncio.gather(first, *rest)
            # one leaves, one moves to a new address: one more transaction
            moved = pair("02:42:00:00:00:01", "10.77.0.150")
            await asyncio.gather(
                commit.submit(AdmissionChange(remove=(client(0),))),
                commit.submit(AdmissionChange(admit=(moved,), remove=(client(1),))),
            )
            return commit.batches

        batches = asyncio.run(main())
        counters = fw.counters()
        print(json.dumps({{"batches": batches, "transactions": fw.transactions,
                          "per_ip": sorted(counters.per_ip), "runner": fw.runner.name}}))
    """)
    pairs = kernel_pairs(lab)
    assert len(pairs) == 9
    assert "02:42:00:00:00:00 . 10.77.0.100" not in pairs
    assert "02:42:00:00:00:01 . 10.77.0.150" in pairs
    assert "02:42:00:00:00:09 . 10.77.0.109" in pairs
    # install + at most 2 for the ten admissions + at most 2 for the two last changes
    assert result["batches"] <= 4 and result["transactions"] == 1 + result["batches"]
    assert "10.77.0.150" in result["per_ip"] and "10.77.0.101" not in result["per_ip"]


def test_failed_merged_transaction_is_retried_change_by_change(lab: NetLab):
    result = run_in_gateway(lab, """
        fw = NftFirewall(SPEC, LibNftables())
        fw.install()
        fw.admit(*client(0))
        # an operator deleted the element behind the gateway's back
        fw.runner.run("delete element inet kassel_bus admitted "
                      "{ 02:42:00:00:00:00 . 10.77.0.100 }")
        results = fw.apply([AdmissionChange(remove=(client(0),)),
                            AdmissionChange(admit=(client(1),))])
        print(json.dumps({"errors": [None if r is None else str(r) for r in results]}))
    """)
    stale, fresh = result["errors"]
    assert fresh is None
    assert isinstance(stale, str) and stale.startswith("nftables refused the change:")
    assert "02:42:00:00:00:01 . 10.77.0.101" in kernel_pairs(lab)


def test_missing_library_falls_back_to_the_binary_with_a_clear_message(lab: NetLab):
    result = run_in_gateway(lab, """
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        try:
            LibNftables("libnftables.so.999")
        except FirewallError as exc:
            message = str(exc)
        runner = make_runner(soname="libnftables.so.999")
        fw = NftFirewall(SPEC, runner)
        fw.install()
        fw.admit(*client(3))
        try:
            NftFirewall(SPEC, LibNftables()).runner.run("add element inet nosuch x { 1.2.3.4 }")
        except FirewallError as exc:
            refused = str(exc)
        print(json.dumps({"message": message, "runner": runner.name, "refused": refused}))
    """)
    assert "libnftables.so.999" in result["message"]
    assert "libnftables1" in result["message"]  # tells the operator what to install
    assert result["runner"] == "nft binary"
    assert kernel_pairs(lab) == {"02:42:00:00:00:03 . 10.77.0.103"}
    assert str(result["refused"]).startswith("nftables refused the change: Error:")
