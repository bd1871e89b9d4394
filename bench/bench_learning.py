"""Benchmarks of the learning platform (issue 19): answer checks, over HTTP, and search.

Why: a class of 30 pupils behind one school router and the hub's other services share one
small machine, so the checker must be fast per answer, stay fast under 100 concurrent
pupils, and the catalogue must find items among 20,000 quickly on both databases.

* ``checks``: checks per second on one core, per checker type, through the domain's
  ``check()``; for algebraic equivalence the peer is the naive way (sympy's ``parse_expr``
  + ``simplify(a - b) == 0``, which executes code and so is not allowed on pupils' input),
  for the other types the baseline is a plain string comparison of the same answers. Also
  how long the hostile answers take to be refused (goal < 1 s).
* ``http``: a hub app (the learning router, SQLite, the checker processes) served by
  uvicorn in its own process; 100 concurrent clients in another process, each sending an
  answer every second on average (Poisson, open loop), for ``--seconds``. p50/p99 latency
  per checker type (goals p99 < 20 ms for expressions, < 2 ms for the rest), and the
  closed-loop throughput of the same clients sending back to back, as a peer figure.
* ``search``: 20,000 published items on SQLite and on PostgreSQL (its own cluster on a free
  port); p50/p99 of searches with words, grade and subject (goal p99 < 50 ms); the baseline
  is a ``LIKE '%word%'`` scan of the same table in the same run.

Run: ``.venv/bin/python bench/bench_learning.py checks|http|search|all``.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sympy  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import Depends, FastAPI  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sympy.parsing.sympy_parser import (  # noqa: E402
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from central_hub.api.deps import authorize  # noqa: E402
from central_hub.api.ratelimits import HubLimiters  # noqa: E402
from central_hub.broker import free_port  # noqa: E402
from central_hub.core.config import HubSettings  # noqa: E402
from central_hub.core.resolver import IdentityResolver, static_tokens  # noqa: E402
from central_hub.learning import starter, store  # noqa: E402
from central_hub.learning.api import create_learning_router  # noqa: E402
from central_hub.learning.checker_pool import CheckerPool  # noqa: E402
from central_hub.learning.domain.algebra import to_sympy  # noqa: E402
from central_hub.learning.domain.checking import check  # noqa: E402
from central_hub.learning.domain.exercises import (  # noqa: E402
    Answer,
    Exercise,
    Item,
    read_exercise,
)
from central_hub.learning.domain.notation import parse  # noqa: E402
from central_hub.learning.domain.quantities import parse_quantity  # noqa: E402
from central_hub.learning.service import LearningService  # noqa: E402
from central_hub.learning.tables import create_schema  # noqa: E402
from central_hub.storage.db import make_engine  # noqa: E402
from edge_agent.heap import freeze_start_up_heap  # noqa: E402

# -- the exercises of every checker type, with right and wrong answers ----------------------

CASES: dict[str, tuple[dict[str, Any], list[Answer]]] = {
    "single_choice": ({"type": "single_choice", "options": [
        {"id": "a", "text": "laufen"}, {"id": "b", "text": "Haus", "correct": True},
        {"id": "c", "text": "schnell"}]}, [("b",), ("a",), ("c",)]),
    "multiple_choice": ({"type": "multiple_choice", "options": [
        {"id": "a", "text": "Haus", "correct": True}, {"id": "b", "text": "Baum",
                                                       "correct": True},
        {"id": "c", "text": "gehen"}]}, [("a", "b"), ("b",), ("a", "c")]),
    "ordering": ({"type": "ordering", "options": [
        {"id": "a", "text": "1/4"}, {"id": "b", "text": "1/3"}, {"id": "c", "text": "1/2"}]},
        [("a", "b", "c"), ("c", "b", "a")]),
    "matching": ({"type": "matching", "pairs": [
        {"id": "p1", "left": "dog", "right": "Hund"}, {"id": "p2", "left": "cat",
                                                       "right": "Katze"},
        {"id": "p3", "left": "mouse", "right": "Maus"}]}, [("p1", "p2", "p3"), ("p2", "p1", "p3")]),
    "cloze_text": ({"type": "cloze", "prompt": "Gestern {{1}} wir ins Kino, es {{2}} schön.",
                    "gaps": [{"kind": "text", "value": "gingen", "typo_tolerance": False},
                             {"kind": "text", "value": "war"}]},
                   [("gingen", "war"), ("gehen", "war"), ("Gingen", "ist")]),
    "text": ({"type": "input", "answer": {"kind": "text", "value": "Schmetterling",
                                          "alternatives": ["Falter"]}},
             ["Schmetterling", "schmeterling", "Biene", "falter"]),
    "number": ({"type": "input", "answer": {"kind": "number", "value": "2,5"}},
               ["2.50", "5/2", "2 1/2", "2,6"]),
    "quantity": ({"type": "input", "answer": {"kind": "quantity", "value": "2,5 km"}},
                 ["2500 m", "2,5 km", "250000 cm", "2500 g"]),
    "expression": ({"type": "input", "answer": {"kind": "expression",
                                                "value": "(5x+7)(5x-7)"}},
                   ["25x^2-49", "(5x-7)(5x+7)", "25x²+49", "x+1"]),
    "expression_form": ({"type": "input", "answer": {"kind": "expression", "value": "x^2-9",
                                                     "form": "expanded"}},
                        ["-9+x²", "(x+3)(x-3)", "x^2+9"]),
}
HOSTILE = ["__import__('os').system('id')", "9**9**9**9", "x" * 10_000, "(" * 1000 + ")" * 1000,
           "1+" * 5000 + "1", "(x+1)^100000", "2^(2^(2^(2^(2^2))))"]
EXPRESSION_TYPES = {"number", "quantity", "expression", "expression_form"}


def exercise(kind: str) -> Exercise:
    body, answers = CASES[kind]
    source = {"id": kind.replace("_", "-"), "title": kind, "prompt": body.get("prompt", "?"),
              "solution": "-", "samples": {"accept": [list(answers[0]) if isinstance(
                  answers[0], tuple) else answers[0]], "reject": [
                  list(answers[-1]) if isinstance(answers[-1], tuple) else answers[-1]]},
              **body}
    return read_exercise(source, "bench")


def first_sight(ex: Exercise, answer: Answer) -> object:
    """A check as if neither the answer nor the model answer had been read before: the
    readers keep their last results, and the few answers cycled here would all be kept."""
    parse.cache_clear()
    to_sympy.cache_clear()
    parse_quantity.cache_clear()
    return check(ex, answer)


def rate(run: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``run`` over about ``seconds``."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            run()
        done += 20
    return done / elapsed


def bench_checks(seconds: float) -> dict[str, Any]:
    transformations = (*standard_transformations, implicit_multiplication_application)
    rows: dict[str, Any] = {}
    for kind, (_, answers) in CASES.items():
        ex = exercise(kind)
        cycle = itertools.cycle(answers)
        run = first_sight if kind in EXPRESSION_TYPES else check
        ours = rate(lambda ex=ex, cycle=cycle, run=run: run(ex, next(cycle)), seconds)
        if kind.startswith("expression"):
            model = ex.answer.value if ex.answer else ""
            texts = [str(a).replace("²", "^2").replace("^", "**") for a in answers]
            peer_cycle = itertools.cycle(texts)

            def naive(model: str = model, peer_cycle: Iterator[str] = peer_cycle) -> bool:
                a = parse_expr(next(peer_cycle), transformations=transformations)
                b = parse_expr(model.replace("^", "**"), transformations=transformations)
                return bool(sympy.simplify(a - b) == 0)

            # the peer reads only the constant answers of CASES above, never outside input
            peer = rate(naive, seconds)
            rows[kind] = {"per_s": ours, "peer": "parse_expr+simplify", "peer_per_s": peer,
                          "ratio": ours / peer}
        else:
            plain = [str(a) for a in answers]
            base_cycle = itertools.cycle(plain)
            value = plain[0]
            base = rate(lambda base_cycle=base_cycle, value=value:
                        next(base_cycle).strip().casefold() == value, seconds)
            rows[kind] = {"per_s": ours, "peer": "string ==", "peer_per_s": base,
                          "ratio": ours / base}
    hostile = exercise("expression")
    worst = 0.0
    for answer in HOSTILE:
        start = time.perf_counter()
        verdict = check(hostile, answer)
        worst = max(worst, time.perf_counter() - start)
        assert not verdict.correct
    rows["hostile_worst_s"] = worst
    return rows


# -- over HTTP ------------------------------------------------------------------------------


def serve(db: str, port: int, workers: int, freeze: bool) -> None:
    """The server process of the ``http`` benchmark; ``freeze``: as ``kassel hub`` does once
    started (:func:`gc.freeze`)."""
    settings = HubSettings.model_validate(
        {"rate_limits": {"learning_answers": {"burst": 10**6, "per_minute": 10**6}}})
    engine = make_engine(db, hub_schema=False)
    create_schema(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = CheckerPool(workers, 1.0)
        service = LearningService(engine, pool)
        service.seed()
        await pool.start()
        if freeze:
            freeze_start_up_heap()
        app.state.learning = service
        app.state.identity = IdentityResolver(static_tokens(settings))
        app.state.limiters = HubLimiters.of(settings.rate_limits)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(create_learning_router(), prefix="/api/v1/learning",
                       dependencies=[Depends(authorize)])

    @app.post("/floor/exercises/{exercise_id}/check")
    async def floor(exercise_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The floor: the same request through uvicorn and FastAPI, no check at all."""
        return {"correct": True, "feedback": exercise_id, "gaps": None}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                timeout_keep_alive=120)


def http_targets() -> list[tuple[str, str, Answer]]:
    """(checker type, exercise address, answer) from the starter content."""
    found: dict[str, tuple[str, str, Answer]] = {}
    for item, _ in starter.items():
        for ex in item.exercises:
            kind = ex.type if ex.type != "input" or ex.answer is None else \
                ("expression" if ex.answer.kind == "expression" else ex.answer.kind)
            if ex.type == "cloze":
                kinds = {g.kind for g in ex.gaps}
                kind = "cloze_text" if kinds == {"text"} else "cloze_number"
            if kind not in found:
                answer = ex.samples.accept[0]
                found[kind] = (kind, f"{item.id}.{ex.id}", answer)
    return list(found.values())


async def _connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                request: bytes) -> tuple[int, bytes]:
    """One request on a kept-alive connection: a bare HTTP/1.1 client, so that the client's
    own work (a fraction of httpx's) does not crowd the server off the two cores."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


def _request(port: int, address: str, answer: Answer, prefix: str) -> bytes:
    body = json.dumps({"answer": answer if isinstance(answer, str) else list(answer)}).encode()
    return (f"POST {prefix}/exercises/{address}/check HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def load(port: int, seconds: float, clients: int, closed: bool) -> dict[str, Any]:
    targets = [(kind, _request(port, address, answer, "/api/v1/learning"))
               for kind, address, answer in http_targets()]
    targets.append(("floor", _request(port, "floor.e1", "1", "/floor")))
    latencies: dict[str, list[float]] = {kind: [] for kind, _ in targets}
    errors = 0
    stop = time.perf_counter() + seconds

    async def pupil(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        reader, writer = await _connection(port)
        await asyncio.sleep(rng.uniform(0, 1))
        while time.perf_counter() < stop:
            kind, request = rng.choice(targets)
            start = time.perf_counter()
            status, body = await _post(reader, writer, request)
            latencies[kind].append(time.perf_counter() - start)
            if status != 200 or b'"correct":true' not in body:
                errors += 1
            if not closed:
                await asyncio.sleep(rng.expovariate(1.0))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(pupil(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    total = sum(len(v) for v in latencies.values())
    rows: dict[str, Any] = {"requests": total, "per_s": total / elapsed, "errors": errors}
    for kind, values in latencies.items():
        if values:
            values.sort()
            rows[kind] = {"n": len(values), "p50_ms": 1000 * values[len(values) // 2],
                          "p99_ms": 1000 * values[min(len(values) - 1,
                                                      int(len(values) * 0.99))]}
    floor = rows["floor"]["p99_ms"]
    for kind in latencies:
        if kind != "floor" and kind in rows:
            rows[kind]["p99_to_floor"] = rows[kind]["p99_ms"] / floor
    return rows


def bench_http(seconds: float, clients: int, workers: int) -> dict[str, Any]:
    """The load against a server as the hub runs it (heap frozen once started) and, as the
    baseline of the same run, one that leaves the heap to the collector."""
    return {"frozen": _bench_http(seconds, clients, workers, freeze=True),
            "thawed": _bench_http(seconds, clients, workers, freeze=False)}


def _bench_http(seconds: float, clients: int, workers: int, *, freeze: bool) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, __file__, "serve", "--db",
                                   f"sqlite:///{tmp}/learning.db", "--port", str(port),
                                   "--workers", str(workers)] + (["--freeze"] if freeze else []),
                                  cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v1/learning/subjects").is_success:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            asyncio.run(load(port, 3, clients, closed=False))  # warm-up
            open_loop = asyncio.run(load(port, seconds, clients, closed=False))
            closed_loop = asyncio.run(load(port, min(seconds, 10), clients, closed=True))
        finally:
            server.terminate()
            server.wait(10)
    return {"open_loop": open_loop, "closed_loop": closed_loop}


# -- search ---------------------------------------------------------------------------------

QUERIES = ["Brüche kürzen", "Bruch", "binomische Formeln", "Prozent", "Satzglieder",
           "simple past", "Vokabeln Tiere", "Gleichung lösen", "Kommasetzung", "Wahrscheinlichkeit"]


def catalogue(count: int) -> Iterator[tuple[Item, dict[str, Any]]]:
    """``count`` items made from the starter items, with varied ids, titles and grades."""
    base = starter.items()
    rng = random.Random(7)
    for n in range(count):
        item, document = rng.choice(base)
        grade = rng.randint(1, 12)
        changes = {"id": f"{item.id}-{n}", "title": f"{item.title} ({n})", "grade_min": grade,
                   "grade_max": min(13, grade + rng.randint(0, 2))}
        yield replace(item, **changes), {**document, **changes}


@contextmanager
def postgres() -> Iterator[str]:
    """A private PostgreSQL cluster on a free port (as the tests start one)."""
    binary = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1].rsplit("/", 1)[0]
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data = root / "data"
    port = free_port()
    user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if user:
        shutil.chown(root, "postgres")
    subprocess.run([*user, f"{binary}/initdb", "-D", str(data), "-U", "hub", "-A", "trust",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*user, f"{binary}/pg_ctl", "-D", str(data), "-l", str(root / "log"), "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "-w", "start"],
                   check=True, capture_output=True)
    subprocess.run([*user, f"{binary}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U",
                    "hub", "hub"], check=True, capture_output=True)
    try:
        yield f"postgresql://hub@127.0.0.1:{port}/hub"
    finally:
        subprocess.run([*user, f"{binary}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def bench_search(count: int, repeats: int, databases: list[str]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres() as pg:
        for name, url in (("sqlite", f"sqlite:///{tmp}/search.db"), ("postgresql", pg)):
            if name not in databases:
                continue
            engine = make_engine(url, hub_schema=False)
            create_schema(engine)
            with engine.begin() as conn:
                for item, document in catalogue(count):
                    store.insert_item(conn, item, json.dumps(document), "bench", "in_review")
                    store.publish(conn, item, 1)
            if name == "postgresql":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            rng = random.Random(3)
            ours, like = [], []
            with engine.connect() as conn:
                for _ in range(repeats):
                    query = rng.choice(QUERIES)
                    grade = rng.choice([None, rng.randint(1, 13)])
                    subject = rng.choice([None, "mathematik", "deutsch", "englisch"])
                    start = time.perf_counter()
                    page = store.search(conn, grade=grade, subject=subject, query=query,
                                        limit=20, offset=0)
                    ours.append(time.perf_counter() - start)
                    word = query.split()[0]
                    start = time.perf_counter()
                    conn.execute(text(
                        "SELECT item_id, title FROM learning_search WHERE (lower(title) LIKE "
                        ":w OR lower(body) LIKE :w) ORDER BY title LIMIT 20"),
                        {"w": f"%{word.lower()}%"}).all()
                    like.append(time.perf_counter() - start)
                    assert page.total >= 0
            engine.dispose()
            ours.sort()
            like.sort()
            p99 = ours[int(len(ours) * 0.99)]
            rows[name] = {"items": count, "p50_ms": 1000 * statistics.median(ours),
                          "p99_ms": 1000 * p99, "like_p99_ms": 1000 * like[int(len(like) * 0.99)],
                          "ratio_to_like": p99 / like[int(len(like) * 0.99)]}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["checks", "http", "search", "all", "serve"])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--db")
    parser.add_argument("--port", type=int)
    parser.add_argument("--freeze", action="store_true")
    args = parser.parse_args()
    if args.what == "serve":
        serve(args.db, args.port, args.workers, args.freeze)
        return
    out: dict[str, Any] = {}
    if args.what in ("checks", "all"):
        out["checks"] = bench_checks(min(args.seconds, 3.0))
    if args.what in ("http", "all"):
        out["http"] = bench_http(args.seconds, args.clients, args.workers)
    if args.what in ("search", "all"):
        out["search"] = bench_search(args.items, args.repeats, args.databases.split(","))
    print(json.dumps(out, indent=1, default=lambda v: round(v, 4)))


if __name__ == "__main__":
    main()
