"""``kassel learning check``: an author's item files checked as the platform will check them.

WHY a command: volunteers write exercises as YAML files (the starter content is such files).
Before a file is imported or reviewed, its author runs this: every item is read as the hub
reads it, and every exercise's sample answers are judged by the real checker, so a
mis-typed answer or a form the checker reads differently is found at the author's desk.
Exit codes follow the ``kassel`` convention: 0 all good, 2 a file or sample is wrong (each
problem on stderr, named by file, exercise and answer).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from central_hub.learning.errors import ContentError
from edge_agent.cli import EXIT_OK, EXIT_USAGE

# The content and checker modules (sympy, pint: half a second) are imported by the command
# only: every ``kassel`` process registers this command, and a controller or a bus gateway
# must not pay for the learning platform's checker at its start.


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``learning`` command group."""
    parser = sub.add_parser("learning", help="the learning platform's content")
    cmds = parser.add_subparsers(dest="learning_command", required=True, metavar="ACTION")
    check = cmds.add_parser(
        "check", help="read item files and run every exercise's sample answers (exit 2 on a "
        "problem)", description="Read learning items (YAML, one item per file) and judge each "
        "exercise's accepted and rejected sample answers with the platform's checker. Without "
        "files: the starter content. Format: docs/learning.md.")
    check.add_argument("files", nargs="*", type=Path, metavar="ITEM.yaml",
                       help="item files (YAML, one item each); none: the starter content")
    check.set_defaults(handler=_check)


def _documents(files: list[Path]) -> Iterator[tuple[str, Any]]:
    from central_hub.learning import starter  # noqa: PLC0415
    from central_hub.learning.documents import load_document  # noqa: PLC0415

    if not files:
        yield from starter.documents()
        return
    for path in files:
        if path.stat().st_size > starter.MAX_FILE_BYTES:
            raise ContentError(f"{path}: larger than {starter.MAX_FILE_BYTES} bytes")
        yield str(path), load_document(path.read_bytes(), str(path))


def _check(args: argparse.Namespace) -> int:
    from central_hub.learning.domain.checking import sample_failures  # noqa: PLC0415
    from central_hub.learning.domain.exercises import read_item  # noqa: PLC0415

    problems = items = exercises = 0
    try:
        for name, document in _documents(args.files):
            try:
                item = read_item(document, name)
            except ContentError as exc:
                print(exc, file=sys.stderr)
                problems += 1
                continue
            items += 1
            exercises += len(item.exercises)
            for exercise in item.exercises:
                for failure in sample_failures(exercise):
                    print(f"{name}: {failure}", file=sys.stderr)
                    problems += 1
    except (ContentError, OSError) as exc:
        print(f"kassel learning check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{items} items, {exercises} exercises, {problems} problems")
    return EXIT_USAGE if problems else EXIT_OK
