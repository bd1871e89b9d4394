"""Schemathesis against the whole hub's OpenAPI document with every kind of caller's token:
no operation answers with a server error, whoever calls it and with whatever input.

Bounded in time: a few examples per operation and caller (the admin's thorough run is
``test_robustness.py::test_schemathesis_finds_no_server_error``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.central_hub.helpers import HubServer
from tests.integration.central_hub.principals import Caller, callers, unthrottled_hub

hub = pytest.fixture(unthrottled_hub)

EXAMPLES = 5
#: schemathesis 4.32 on Python 3.11 sometimes fails in its own code (hypothesis describing a
#: lambda: an AST recursion error); such a run is repeated once, nothing else is
OWN_BUG = "lambda_sources"
#: callers whose runs go on at the same time (each with 2 workers of its own)
CONCURRENT = 2


@pytest.mark.slow
def test_no_server_error_for_any_caller(hub: HubServer, tmp_path: Path) -> None:
    st = shutil.which("st") or str(Path(__file__).resolve().parents[3] / ".venv/bin/st")

    def run(n: int, caller: Caller) -> str | None:
        """One caller's schemathesis run; what went wrong, or ``None``."""
        auth = [] if caller.token is None else ["-H", f"Authorization: Bearer {caller.token}"]
        command = [
            st, "run", f"{hub.url}/openapi.json", "--checks", "not_a_server_error",
            "--max-examples", str(EXAMPLES), "--workers", "2", *auth,
            # commands wait for a device's ack (there is none here): covered elsewhere
            "--exclude-path-regex", "/commands$", "--seed", str(10 + n),
            # the coverage phase trips over an AST recursion bug of schemathesis on 3.11
            "--phases", "examples,fuzzing",
            "--report-junit-path", str(tmp_path / f"junit-{n}.xml")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                check=False)
        if result.returncode != 0 and OWN_BUG in result.stdout + result.stderr:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                    check=False)
        counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
        if result.returncode != 0 or counts is None or counts[1] != counts[2]:
            return f"--- {caller.name}:\n{result.stdout[-3000:]}{result.stderr[-1000:]}"
        return None

    # the callers' runs are independent (each its own token, seed and report): CONCURRENT of
    # them at a time, so that one run's data generation overlaps another's requests
    everyone = callers(hub)
    with ThreadPoolExecutor(CONCURRENT) as pool:
        outcomes = list(pool.map(run, range(len(everyone)), everyone))
    failures = [f for f in outcomes if f is not None]
    assert failures == [], "\n".join(failures)
