"""A checker worker that never answers: the stand-in for a computation that does not end.

WHY in the testbed: the learning platform's checker pool runs its workers in processes
started by a fork server, which must import a worker's function by its module's name; a test
module's name depends on how pytest imported it, this module's does not.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection


def never_answers(conn: Connection) -> None:
    """Read the task and never reply, as a check stuck in sympy would."""
    conn.recv()
    time.sleep(3600)
