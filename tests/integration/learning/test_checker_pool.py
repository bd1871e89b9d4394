"""The checker processes: answers checked in real worker processes; a worker that does not
answer within the deadline is killed and replaced, and the pupil is told."""

from __future__ import annotations

import asyncio

from central_hub.learning.checker_pool import TIMED_OUT, CheckerPool
from central_hub.learning.domain.exercises import read_exercise
from testbed.stuck_checker import never_answers

EXERCISE = read_exercise({
    "id": "binom", "type": "input", "title": "Binomische Formel", "prompt": "Multipliziere aus.",
    "solution": "...", "answer": {"kind": "expression", "value": "x^2-9", "form": "expanded"},
    "samples": {"accept": ["x^2-9"], "reject": ["(x+3)(x-3)"]}}, "test")


def test_workers_check_answers() -> None:
    async def scenario() -> None:
        pool = CheckerPool(2, 5.0)
        await pool.start()
        try:
            verdicts = await asyncio.gather(*(pool.check(EXERCISE, answer) for answer in
                                              ["-9+x²", "(x+3)(x-3)", "x^2+9", "9**9**9**9"]))
        finally:
            await pool.close()
        assert [v.outcome for v in verdicts] == ["correct", "form", "wrong", "unreadable"]

    asyncio.run(scenario())


def test_a_worker_past_the_deadline_is_killed_and_replaced() -> None:
    async def scenario() -> None:
        pool = CheckerPool(1, 0.5, serve=never_answers)
        await pool.start()
        await pool.ready()
        try:
            first = pool._workers[0].process
            assert await pool.check(EXERCISE, "x^2-9") == TIMED_OUT
            assert not first.is_alive()
            assert pool._workers[0].process is not first
            assert pool._workers[0].process.is_alive()
            assert await pool.check(EXERCISE, "x^2-9") == TIMED_OUT
            assert pool.counts == {"timed_out": 2}
        finally:
            await pool.close()
        assert pool._workers == []

    asyncio.run(scenario())
