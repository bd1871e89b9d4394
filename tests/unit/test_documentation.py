"""The project documents itself: generated references match the code, and nothing points
outside the repository (a user of the repository has no brief beside it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from central_hub.api.openapi_file import render as render_openapi

ROOT = Path(__file__).resolve().parents[2]
#: a reference to a document that lives beside the repository, not in it.
OUTSIDE = re.compile(r"CONTRACT\.md|CONTRACT\s*§|\.\./shared|STYLE\.md")
#: third-party files kept as their authors wrote them.
THIRD_PARTY = ("central_hub/static/vendor/",)
#: the tests that look for such references name them.
SELF_CHECKS = ("tests/unit/test_documentation.py", "tests/unit/edge_agent/test_interfaces_doc.py")


def test_the_committed_openapi_document_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "openapi" / "hub.json").read_text(encoding="utf-8")
    assert committed == render_openapi(), (
        "docs/openapi/hub.json is stale: python -m central_hub.api.openapi_file "
        "> docs/openapi/hub.json")


def test_no_file_points_outside_the_repository() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert "README.md" in files and "docs/interfaces.md" in files
    found = []
    for name in files:
        if name.startswith(THIRD_PARTY) or name in SELF_CHECKS:
            continue
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary files (PNG, protobuf fixtures)
        found += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in OUTSIDE.finditer(text)]
    assert not found, "\n".join(found)
