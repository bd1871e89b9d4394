"""The starter content shipped with the platform: one YAML file per item, per subject.

WHY shipped as files: the city's first exercises were written for this project and are
reviewed like code (``central_hub/learning/content/<subject>/*.yaml``): every exercise's
sample answers run in the test suite, and the hub loads them into an empty catalogue when
it starts (``learning.seed_starter_content``), so the demo and a new city start with 150+
exercises. All of it is licensed CC BY-SA 4.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

from central_hub.learning.documents import MAX_DOCUMENT_BYTES, load_document
from central_hub.learning.domain.exercises import Item, read_item

#: who the starter content is by, in the catalogue and its metadata
STARTER_AUTHOR = "Digitale Lernhilfe Kassel"
#: the licence of every starter item
STARTER_LICENSE = "https://creativecommons.org/licenses/by-sa/4.0/"
#: the most bytes one content file may have
MAX_FILE_BYTES = MAX_DOCUMENT_BYTES


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file name, document)`` of every starter file, in a stable order."""
    root = resources.files("central_hub.learning").joinpath("content")
    for subject in sorted(root.iterdir(), key=lambda p: p.name):
        if not subject.is_dir():
            continue
        for path in sorted(subject.iterdir(), key=lambda p: p.name):
            if not path.name.endswith(".yaml"):
                continue
            name = f"{subject.name}/{path.name}"
            document = load_document(path.read_bytes(), name)
            yield name, document


def items() -> list[tuple[Item, dict[str, Any]]]:
    """Every starter item, read and checked, with its document."""
    return [(read_item(document, name), document) for name, document in documents()]
