"""An author's item document as YAML (or JSON, which is YAML): read with bounds, written back.

WHY one reader: the starter files, ``kassel learning check`` and the authors' drafts over
HTTP all arrive as YAML text. The text is bounded before it is parsed, parsed by PyYAML's safe
loader, and refused with its line when it is no YAML mapping. Aliases are refused: a few
lines of anchors and aliases ("billion laughs") build a tree that is small in memory but
explodes when stored as JSON. No author needs them.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node

from central_hub.learning.errors import ContentError

#: the most bytes one document may have
MAX_DOCUMENT_BYTES = 512 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ContentError(f"line {mark.line + 1}: aliases (*name) are not allowed")
        return super().compose_node(parent, index)


def load_document(raw: bytes, where: str) -> dict[str, Any]:
    """The mapping a YAML document holds; :class:`ContentError` names the place and line."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ContentError(f"{where}: larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ContentError(f"{where}: not UTF-8") from None
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else "?"
        raise ContentError(f"{where}: line {line}: not YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ContentError(f"{where}: not YAML: {exc}") from None
    except ContentError as exc:
        raise ContentError(f"{where}: {exc}") from None
    if not isinstance(document, dict):
        raise ContentError(f"{where}: an item document is a mapping (id, title, kind, ...)")
    return document


def dump_document(document: dict[str, Any]) -> str:
    """A document as YAML for an author to edit: keys in the author's order, umlauts as
    they are, long texts as block scalars."""
    return yaml.dump(document, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False,
                     width=100)


class _BlockDumper(yaml.SafeDumper):
    """Texts with line breaks as ``|`` blocks, as authors write them."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _text)
