"""Typed answers are checked in worker processes, each check stopped after a deadline.

WHY processes: the checker bounds every answer before it computes (``domain/limits.py``),
so a check takes milliseconds. But sympy is large, and a public route must not trust that no
expression within those bounds makes it think for minutes. A thread cannot be stopped; a
process can. Each worker checks one answer at a time; the hub waits for it at most
``deadline`` seconds, then kills it, starts a fresh one, and tells the pupil the answer
could not be checked. The event loop never blocks: a worker's reply is awaited on its pipe.

Choices, orderings, matchings and text answers need no sympy and are bounded by their size:
:func:`needs_worker` keeps them in the hub's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from central_hub.learning.domain.algebra import equivalent
from central_hub.learning.domain.checking import AnswerShapeError, Verdict, check
from central_hub.learning.domain.exercises import Answer, Exercise
from central_hub.learning.domain.notation import parse

TIMED_OUT = Verdict(False, "Diese Antwort konnte nicht rechtzeitig geprüft werden. "
                           "Schreibe sie einfacher.", "unreadable")


def needs_worker(exercise: Exercise) -> bool:
    """Whether checking this exercise may use sympy (numbers, terms, quantities)."""
    specs = (exercise.answer,) if exercise.answer is not None else exercise.gaps
    return any(spec.kind != "text" for spec in specs)


def serve(conn: Connection) -> None:  # pragma: no cover - runs in the worker process
    """A worker's loop: check each ``(exercise, answer)`` received, until ``None``."""
    check_warm()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        exercise, answer = task
        try:
            conn.send(("ok", check(exercise, answer)))
        except AnswerShapeError as exc:
            conn.send(("shape", str(exc)))


def check_warm() -> None:
    """Import and run sympy once, so that the first pupil does not wait for it."""
    equivalent(parse("(x+1)^2"), parse("x^2+2x+1"))


def _settle(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection


@dataclass
class CheckerPool:
    """``size`` worker processes; :meth:`check` waits at most ``deadline`` for one."""

    size: int
    deadline: float
    #: what a worker runs (a test gives one that never answers)
    serve: Callable[[Connection], None] = serve
    counts: Counter[str] = field(default_factory=Counter)
    _idle: asyncio.Queue[_Worker] | None = None
    _workers: list[_Worker] = field(default_factory=list)
    _starting: asyncio.Task[None] | None = None

    def _spawn(self) -> _Worker:
        context = multiprocessing.get_context("forkserver")
        # the fork server imports the checker (and sympy) once; each worker forks from it
        context.set_forkserver_preload(["central_hub.learning.checker_pool"])
        parent, child = context.Pipe()
        process = context.Process(target=self.serve, args=(child,), daemon=True,
                                  name="learning-checker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    async def start(self) -> None:
        """Start the workers in the background (in a thread: starting a process blocks, and
        the fork server imports sympy first); a check waits for the first one ready."""
        self._idle = asyncio.Queue()
        self._starting = asyncio.create_task(self._start_all(self._idle),
                                             name="learning-checkers")

    async def ready(self) -> None:
        """Wait until every worker has started."""
        if self._starting is not None:
            await self._starting

    async def _start_all(self, idle: asyncio.Queue[_Worker]) -> None:
        for _ in range(self.size):
            idle.put_nowait(await asyncio.to_thread(self._spawn))

    async def close(self) -> None:
        """Stop every worker (after those still starting have started)."""
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.conn.close()
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 2.0)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers.clear()

    async def check(self, exercise: Exercise, answer: Answer) -> Verdict:
        """The verdict of a worker, or :data:`TIMED_OUT` after the deadline (the worker is
        replaced). Raises :class:`AnswerShapeError` like :func:`check`."""
        if self._idle is None:
            raise RuntimeError("the checker pool is not started")
        worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        try:
            worker.conn.send((exercise, answer))
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(worker.conn.fileno(), _settle, ready)
            try:
                await asyncio.wait_for(ready, self.deadline)
            finally:
                loop.remove_reader(worker.conn.fileno())
            status, value = worker.conn.recv()
        except TimeoutError:
            self.counts["timed_out"] += 1
            await self._replace(worker)
            return TIMED_OUT
        except (EOFError, OSError):
            self.counts["worker_died"] += 1
            await self._replace(worker)
            return TIMED_OUT
        self._idle.put_nowait(worker)
        if status == "shape":
            raise AnswerShapeError(value)
        verdict: Verdict = value
        return verdict

    async def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.conn.close()
        await asyncio.to_thread(worker.process.join, 2.0)
        self._workers.remove(worker)
        assert self._idle is not None
        self._idle.put_nowait(await asyncio.to_thread(self._spawn))
