"""Commands are typed in the contract: one model per command, the same list in the docs, the
OpenAPI and the AsyncAPI documents, and refusals with the field named."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pytest
import yaml

from edge_agent.contract.commands import (
    COMMANDS,
    ROUTABLE,
    SetTripArgs,
    parse_args,
    render_reference,
)
from edge_agent.errors import CommandRefusedError, KasselError

ROOT = Path(__file__).resolve().parents[3]
NAMES = {c.name for c in COMMANDS}


def test_the_commands_reference_is_generated_from_the_contract() -> None:
    assert (ROOT / "docs" / "commands.md").read_text(encoding="utf-8") == render_reference()


def test_every_command_is_in_the_openapi_document_with_its_arguments() -> None:
    doc = json.loads((ROOT / "docs" / "openapi" / "hub.json").read_text(encoding="utf-8"))
    body = doc["paths"]["/api/v1/devices/{device_id}/commands"]["post"]["requestBody"]
    mapping = body["content"]["application/json"]["schema"]["discriminator"]["mapping"]
    # commands whose arguments the hub makes itself have a route of their own
    assert set(mapping) == {c.name for c in ROUTABLE} == NAMES - {"rotate_credentials"}
    assert "post" in doc["paths"]["/api/v1/devices/{device_id}/credentials/rotate"]
    for spec in ROUTABLE:
        schema = doc["components"]["schemas"][mapping[spec.name].rsplit("/", 1)[-1]]
        assert schema["properties"]["name"]["const"] == spec.name


def test_every_command_is_in_the_asyncapi_document() -> None:
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    variants = doc["components"]["messages"]["cmd"]["payload"]["oneOf"]
    assert {v["properties"]["name"]["const"] for v in variants} == NAMES


def test_arguments_are_validated_and_refusals_name_the_field() -> None:
    assert parse_args("set_trip", {"trip_id": "4-0815", "delay_s": 95}) == SetTripArgs(
        trip_id="4-0815", delay_s=95)
    assert parse_args("set_uplink_kbps", {"uplink_kbps": 4000}).kbps == 4000  # type: ignore[attr-defined]
    assert parse_args("resume", None) == parse_args("resume", {})
    for name, args, says in [
        ("set_delay", {"delay_s": "soon"}, "set_delay: invalid args: delay_s:"),
        ("set_mode", {"mode": "disco"}, "set_mode: invalid args: mode:"),
        ("resume", {"force": True}, "resume: invalid args: force: Extra inputs"),
        ("set_uplink_kbps", {"kbps": 1}, "greater than or equal to 8"),
        ("set_plan", {"control": {"mode": "actuated"}}, "set_plan: invalid args: control:"),
    ]:
        with pytest.raises(CommandRefusedError, match=says):
            parse_args(name, args)


def test_rotate_credentials_takes_only_a_strong_password_and_never_shows_it() -> None:
    good = "A" * 43
    args = parse_args("rotate_credentials", {"password": good})
    assert good not in repr(args) and good not in str(args)
    for bad, says in [("short", "at least 24"), ("x" * 30 + " ;", "pattern"),
                      (None, "password: Input should be a valid string")]:
        with pytest.raises(CommandRefusedError, match=says) as err:
            parse_args("rotate_credentials", {"password": bad})
        assert str(bad) not in str(err.value) or bad is None


def test_every_exception_the_project_defines_is_a_kassel_error() -> None:
    outside = []
    for package in ("edge_agent", "bus_gateway", "signal_controller", "central_hub",
                    "simulations"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith("__main__"):
                continue
            try:
                module = importlib.import_module(info.name)
            except ImportError:  # an extra that is not installed (never in CI)
                continue
            for name, obj in vars(module).items():
                if (inspect.isclass(obj) and issubclass(obj, BaseException)
                        and obj.__module__ == module.__name__
                        and not issubclass(obj, KasselError)):
                    outside.append(f"{module.__name__}.{name}")
    assert outside == []
