"""``docs/interfaces.md`` is the project's own description of its MQTT interface: its topic
table and the required fields it lists agree with the contract code, so neither can drift."""

from __future__ import annotations

import re
from pathlib import Path

from edge_agent.contract.topics import SPECS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "interfaces.md").read_text(encoding="utf-8")
PLACEHOLDER = re.compile(r"\{(device_id|vehicle_id|intersection_id)\}")


def test_the_topic_table_lists_every_topic_with_its_qos_and_retain_flag() -> None:
    rows = {}
    for line in DOC.splitlines():
        m = re.match(r"\| `([^`]+)` \| [^|]+ \| ([01]) \| (yes|no) \|", line)
        if m:
            pattern = PLACEHOLDER.sub("{id}", m.group(1), count=1)
            rows[pattern] = (int(m.group(2)), m.group(3) == "yes")
    assert rows == {s.pattern: (s.qos, s.retain) for s in SPECS}


def test_the_required_fields_of_every_payload_are_those_of_its_model() -> None:
    documented = {}
    for m in re.finditer(r"\*\*([a-z_/]+)\*\* —\s+required:\s+([^.;]*)[.;]", DOC):
        fields = re.sub(r"\([^)]*\)", "", m.group(2))  # what a field may hold is in brackets
        documented[m.group(1).replace("/", "_")] = set(re.findall(r"`(\w+)`", fields))
    for spec in SPECS:
        if spec.model is None:  # ETSI bytes: docs/c-its.md describes them
            continue
        required = set(spec.model.model_json_schema().get("required", [])) - {"v"}
        assert documented.get(spec.name) == required, spec.name


def test_no_reference_to_documents_outside_the_repository() -> None:
    assert "CONTRACT" not in DOC and "../shared" not in DOC
