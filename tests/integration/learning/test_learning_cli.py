"""``kassel learning check`` as an author runs it: the starter content, a good file, a file
whose sample the checker judges otherwise, a file that is not an item."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KASSEL = Path(sys.executable).parent / "kassel"

ITEM = """id: mathe-test
title: Test
kind: exercises
subject: mathematik
topic: Bruchrechnung
grade_min: 6
grade_max: 6
exercises:
  - id: e1
    type: input
    title: Kürzen
    prompt: Kürze 6/8.
    solution: 3/4
    answer: {kind: number, value: "3/4", form: reduced}
    samples:
      accept: ["3/4"]
      reject: [REJECTED]
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KASSEL), "learning", "check", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_starter_content_checks_clean() -> None:
    done = run()
    assert done.returncode == 0, done.stderr
    items, exercises, problems = (int(done.stdout.split()[i]) for i in (0, 2, 4))
    assert items >= 40 and exercises >= 150 and problems == 0


def test_an_authors_files(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(ITEM.replace("REJECTED", '"6/8"'), encoding="utf-8")
    assert run(str(good)).returncode == 0
    # the author lists 6/8 as accepted where the task asks for a reduced fraction: the
    # checker refuses it for its form, and the author is told which sample and why
    broken = tmp_path / "broken.yaml"
    broken.write_text(ITEM.replace("REJECTED", '"0,75", "6/8 "').replace(
        'accept: ["3/4"]', 'accept: ["3/4", "6/8"]'), encoding="utf-8")
    done = run(str(broken))
    assert done.returncode == 2
    assert "exercise e1: '6/8' should be accepted, got form" in done.stderr
    assert "1 problems" in done.stdout
    not_an_item = tmp_path / "list.yaml"
    not_an_item.write_text("- 1\n- 2\n", encoding="utf-8")
    done = run(str(not_an_item))
    assert done.returncode == 2 and "an item document is a mapping" in done.stderr
    not_yaml = tmp_path / "bad.yaml"
    not_yaml.write_text("id: [unclosed\n", encoding="utf-8")
    done = run(str(not_yaml))
    assert done.returncode == 2 and "not YAML" in done.stderr
