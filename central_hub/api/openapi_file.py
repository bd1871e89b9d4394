"""The hub's OpenAPI document as committed in ``docs/openapi/hub.json``.

WHY a committed copy: an app developer reads the API without starting a hub, and a review sees
every change of the HTTP interface as a diff of this file. It is generated, never written by
hand: ``python -m central_hub.api.openapi_file > docs/openapi/hub.json``; a unit test fails
when the committed copy and the code disagree.
"""

from __future__ import annotations

import json
import sys

from central_hub.app import create_app
from edge_agent.contract.configs import HubConfig


def render() -> str:
    """The document, as the committed file holds it (two-space indent, UTF-8, final newline)."""
    doc = create_app(HubConfig(device_id="hub-1", kind="hub")).openapi()
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
