"""Benchmark of the SPATEM codec (issue 17): the fast writer and pycrate against asn1tools, per
message and as CPU per intersection at 10 Hz.

Why: every controller publishes SPaT 10 times a second and the hub will read 300 of them, so
the cost of one SPATEM decides whether the C-ITS output fits beside the JSON payload. Each
figure is printed as a ratio against a baseline measured in the same run: our encode against
asn1tools' encode of the same value and against the JSON SPaT payload of the same tick, our
decode (typed values) against asn1tools' decode of the same bytes. A 16-group intersection;
asn1tools is compiled from testbed/etsi_asn1.py's ASN.1 text.

The controller sends the fast writer's bytes (edge_agent/contract/etsi/spatem_writer.py,
byte-identical to pycrate's: checked here too); it is measured on two kinds of tick: *new
rows* (every group's times move with the tick, as in the pycrate rows: nothing is reused, its
worst case) and *steady* (the same rows object with absolute times over successive ticks, as a
controller hands out while its predictions hold: the common case).

Run: ``.venv/bin/python bench/bench_etsi.py`` (about 20 s; ``--quick`` for a 2 s check).
Timings are CPU time, the best of ``--repeats`` rounds, so background load inflates them less.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this checkout's packages, and testbed/ (shared with the tests; not installed)
sys.path.insert(0, str(ROOT))

from edge_agent.contract.etsi import uper  # noqa: E402
from edge_agent.contract.etsi.header import MessageId  # noqa: E402
from edge_agent.contract.etsi.spatem import (  # noqa: E402
    ItsIntersection,
    decode_spatem,
    encode_spatem,
    encode_tick_spatem,
    spatem_value,
)
from edge_agent.contract.etsi.spatem_writer import SpatemWriter  # noqa: E402
from edge_agent.contract.payloads import SignalStatus, Spat, SpatGroup, encode  # noqa: E402
from testbed import etsi_asn1  # noqa: E402

TS0 = 1_750_000_000_000
STATES = ("stop-And-Remain", "pre-Movement", "protected-Movement-Allowed", "protected-clearance")


def tick_spat(tick: int, groups: int) -> Spat:
    """The SPaT of a ``groups``-group intersection at ``tick`` (100 ms apart)."""
    ts = TS0 + 100 * tick
    return Spat.model_validate({
        "ts": ts, "seq": tick, "intersection_id": "ks-0042", "revision": 3,
        "status": "operational",
        "groups": [{"sg": f"K{i}", "state": STATES[i % 4], "min_end": ts + 1000 * i,
                    "max_end": ts + 1000 * i + 30_000, "likely_end": ts + 1000 * i + 8000,
                    "confidence": 80} for i in range(groups)],
    })


@dataclass(frozen=True, slots=True)
class Tick:
    """A controller's tick as the writer takes it (spat_wire.SpatTick)."""

    now: int
    revision: int
    status: SignalStatus
    groups: tuple[SpatGroup, ...]


def tick_of(spat: Spat, now: int | None = None) -> Tick:
    """The tick of ``spat`` (at ``now``: the same rows later)."""
    return Tick(spat.ts if now is None else now, spat.revision, spat.status,
                tuple(spat.groups))


def asn1tools_value(value: dict[str, Any]) -> dict[str, Any]:
    """Our toolkit's value in asn1tools' notation (BIT STRING as bytes)."""
    (state,) = value["spat"]["intersections"]
    bits, nbits = state["status"]
    state["status"] = (bits.to_bytes(2, "big"), nbits)
    return value


def cpu_per_call(repeats: int, calls: int, run: Callable[[int], object]) -> float:
    """Best CPU seconds per call of ``run(i)`` over ``repeats`` rounds of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        for i in range(calls):
            run(i)
        best = min(best, (time.process_time() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2000, help="messages per round")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200 messages, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.repeats = 200, 2
    n, groups = args.calls, args.groups
    print(f"Python {sys.version.split()[0]}; {groups} signal groups, {n} messages a round, "
          f"best of {args.repeats}")
    its = ItsIntersection(561000042, 42, None, {f"K{i}": i + 1 for i in range(groups)})
    spats = [tick_spat(i, groups) for i in range(n)]
    values = [spatem_value(s, its) for s in spats]
    other_values = [asn1tools_value(spatem_value(s, its)) for s in spats]
    data = [encode_spatem(s, its) for s in spats]
    db = etsi_asn1.compiled(MessageId.SPATEM)
    for raw, other in zip(data, other_values, strict=True):  # same bytes from both, or stop
        assert db.encode("SPATEM", other) == raw
    new_rows = [tick_of(s) for s in spats]
    steady_rows = tuple(spats[0].groups)
    steady = [Tick(TS0 + 100 * i, 3, "operational", steady_rows) for i in range(n)]
    check = SpatemWriter(its)
    for tick, raw in zip(new_rows, data, strict=True):  # the writer's bytes are pycrate's
        assert check.encode(tick, "ks-0042") == raw
    for tick in steady[:50]:
        assert check.encode(tick, "ks-0042") == encode_tick_spatem(tick, "ks-0042", its)
    print(f"SPATEM: {len(data[0])} bytes; JSON SPaT: {len(encode(spats[0]))} bytes")

    json_enc = cpu_per_call(args.repeats, n, lambda i: encode(spats[i]))
    ours_enc = cpu_per_call(args.repeats, n, lambda i: encode_spatem(spats[i], its))
    writers = [SpatemWriter(its)]

    def fast_new_rows(i: int) -> bytes:
        if i == 0:  # a new writer each round: no row of an earlier round is kept
            writers[0] = SpatemWriter(its)
        return writers[0].encode(new_rows[i], "ks-0042")

    fast_new = cpu_per_call(args.repeats, n, fast_new_rows)
    writer = SpatemWriter(its)
    fast_steady = cpu_per_call(args.repeats, n, lambda i: writer.encode(steady[i], "ks-0042"))
    ours_codec = cpu_per_call(args.repeats, n,
                              lambda i: uper.encode(MessageId.SPATEM, values[i]))
    other_enc = cpu_per_call(args.repeats, n, lambda i: db.encode("SPATEM", other_values[i]))
    ours_dec = cpu_per_call(args.repeats, n, lambda i: decode_spatem(data[i]))
    other_dec = cpu_per_call(args.repeats, n, lambda i: db.decode("SPATEM", data[i]))

    print("\n## encode (one SPaT tick)")
    print(f"fast writer, steady rows:          {1 / fast_steady:8.0f} msg/s")
    print(f"  against pycrate (payload):       {fast_steady / ours_enc:8.4f}x its cost "
          f"({ours_enc / fast_steady:.0f} times faster)")
    print(f"  against asn1tools:               {fast_steady / other_enc:8.4f}x its cost")
    print(f"fast writer, new rows every tick:  {1 / fast_new:8.0f} msg/s")
    print(f"  against pycrate (payload):       {fast_new / ours_enc:8.4f}x its cost "
          f"({ours_enc / fast_new:.0f} times faster)")
    print(f"  against asn1tools:               {fast_new / other_enc:8.4f}x its cost")
    print(f"pycrate, payload to bytes:         {1 / ours_enc:8.0f} msg/s")
    print(f"  against the JSON payload:        {ours_enc / json_enc:8.1f}x its cost")
    print(f"  codec alone against asn1tools:   {ours_codec / other_enc:8.2f}x its cost")
    print("\n## decode (bytes to values)")
    print(f"ours, typed values:                {1 / ours_dec:8.0f} msg/s")
    print(f"  against asn1tools:               {ours_dec / other_dec:8.2f}x its cost")
    print("\n## CPU per intersection at 10 Hz (share of one core)")
    print(f"controller, fast writer (steady):  {fast_steady * 10 * 100:8.3f} %")
    print(f"  fast writer, new rows:           {fast_new * 10 * 100:8.3f} %")
    print(f"  pycrate instead:                 {ours_enc * 10 * 100:8.3f} %")
    print(f"  asn1tools instead:               {other_enc * 10 * 100:8.3f} %")
    print(f"hub, decode:                       {ours_dec * 10 * 100:8.2f} %")
    print(f"  asn1tools instead:               {other_dec * 10 * 100:8.2f} %")


if __name__ == "__main__":
    main()
