"""Build the AsyncAPI 3.0 document of the MQTT API from the contract's models.

``docs/asyncapi.yaml`` is this document written out (``python -m edge_agent.contract.asyncapi
> docs/asyncapi.yaml``); a test checks that the file and the models agree, so the published
API description cannot drift from the code.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from edge_agent import __version__
from edge_agent.contract.commands import COMMANDS
from edge_agent.contract.etsi.header import PROTOCOL_VERSION
from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES
from edge_agent.contract.topics import DEFAULT_ROOT, SPECS, TopicSpec

_ID_PARAM = {
    "description": "device, vehicle or intersection id: [A-Za-z0-9_-]{1,64}",
}
_SENDER_PARAM = {
    "description": (
        "the sending vehicle's id: [A-Za-z0-9_-]{1,64}; the broker's ACL lets a bus write only "
        "its own, and receivers refuse a payload whose vehicle_id differs"
    ),
}


def build_asyncapi() -> dict[str, Any]:
    """The AsyncAPI document as plain data."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for spec in SPECS:
        title, schema = _payload_schema(spec, schemas)
        schemas[title] = schema
        messages[spec.name] = {
            "name": title,
            "contentType": spec.content_type,
            "payload": {"$ref": f"#/components/schemas/{title}"},
            "bindings": {"mqtt": {"qos": spec.qos, "retain": spec.retain}},
        }
        channels[spec.name] = {
            "address": f"{DEFAULT_ROOT}/{spec.pattern}",
            "description": f"{spec.sender} → {spec.receiver}; {spec.when}",
            "parameters": {"id": dict(_ID_PARAM),
                           **({"vehicle_id": dict(_SENDER_PARAM)} if spec.has_sender else {})},
            "messages": {spec.name: {"$ref": f"#/components/messages/{spec.name}"}},
        }
        operations[f"publish_{spec.name}"] = {
            "action": "send",
            "summary": f"{spec.sender} publishes ({spec.when})",
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "bindings": {"mqtt": {"qos": spec.qos, "retain": spec.retain}},
        }
    _add_commands(schemas, messages)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kassel edge platform MQTT API",
            "version": __version__,
            "description": (
                "Topics and payloads of the Kassel platform. Payloads are UTF-8 JSON objects with "
                '"v": 1, except on the etsi/ topics, which carry the raw UPER bytes of ETSI '
                "C-ITS messages (application/octet-stream). JSON consumers ignore unknown "
                "fields and reject payloads over "
                f"{MAX_PAYLOAD_BYTES} bytes, invalid JSON, missing fields or wrong types. "
                "Times are integer milliseconds since the Unix epoch (UTC). The topic root "
                f"is configurable (mqtt.topic_root, default {DEFAULT_ROOT})."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def _payload_schema(spec: TopicSpec, schemas: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name and schema of a row's payload: the JSON model's (its nested models go to
    ``schemas``), or for an ETSI row binary bytes (AsyncAPI's ``type: string, format:
    binary`` with ``contentType: application/octet-stream``) described by their message."""
    if spec.etsi is not None:
        return spec.etsi.name, {
            "type": "string", "format": "binary",
            "description": (
                f"The raw UPER bytes of one ETSI TS 103 301 {spec.etsi.name} (ITS PDU header "
                f"protocolVersion {PROTOCOL_VERSION}, messageID {int(spec.etsi)}) with ISO TS "
                "19091 DSRC data; no JSON envelope, no v, ts or seq (docs/c-its.md)."
            ),
        }
    model = spec.json_model()
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    # ``v`` has a default for producers but is required on the wire.
    schema["required"] = ["v", *[f for f in schema.get("required", []) if f != "v"]]
    return model.__name__, schema


def _add_commands(schemas: dict[str, Any], messages: dict[str, Any]) -> None:
    """The ``cmd`` message as one variant per command of the contract (``name`` fixed, ``args``
    its model), so a device developer reads every command and its arguments here."""
    variants = []
    for spec in COMMANDS:
        args = spec.args.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in args.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[spec.args.__name__] = args
        variants.append({
            "title": spec.name,
            "description": f"for a {' or '.join(sorted(spec.kinds))}: {spec.summary}",
            "allOf": [{"$ref": "#/components/schemas/Command"}],
            "properties": {"name": {"const": spec.name},
                           "args": {"$ref": f"#/components/schemas/{spec.args.__name__}"}},
        })
    messages["cmd"]["payload"] = {
        "description": "A command of the table below (an application may also register its "
                       "own); unknown names are acked with ok: false.",
        "oneOf": variants,
    }


def render() -> str:
    """The document as YAML text, exactly as committed in ``docs/asyncapi.yaml``."""
    header = "# Generated by `python -m edge_agent.contract.asyncapi`; do not edit by hand.\n"
    body = yaml.safe_dump(build_asyncapi(), sort_keys=False, allow_unicode=True, width=100)
    return header + body


if __name__ == "__main__":
    sys.stdout.write(render())
