"""Every remote command of the platform in one place: its name, the devices that take it, and
its arguments as a model.

Why a model per command: the hub refuses a command with bad arguments before it is sent (422
naming the field), the agent validates the arguments again on arrival (a command may come
from anything that can write the topic) and hands the handler a typed, checked object, and the
OpenAPI and AsyncAPI documents list every command with its arguments from the same models, so
the published list cannot drift from what the devices understand.

An application may still register commands of its own (tests do); those are not in this table,
are not offered by the hub, and get their arguments as a plain dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from edge_agent.contract.configs import ControlConfig
from edge_agent.contract.payloads import MAX_DELAY_S
from edge_agent.errors import CommandRefusedError

Kind = Literal["bus", "intersection"]


class CommandArgs(BaseModel):
    """Arguments of a command: unknown keys are refused, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoArgs(CommandArgs):
    """The command takes no arguments (``{}``)."""


class SetModeArgs(CommandArgs):
    """``set_mode``: the control mode to run."""

    mode: Literal["fixed_time", "actuated"]


class SetPlanArgs(CommandArgs):
    """``set_plan``: a new signal plan (the ``control`` section of the intersection config),
    checked by the controller against its intergreens and minimum greens before it is used."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    control: ControlConfig


class SetUplinkArgs(CommandArgs):
    """``set_uplink_kbps``: the operator's cap on the uplink shared by the passengers."""

    kbps: Annotated[int, Field(ge=8, le=10_000_000,
                               validation_alias=AliasChoices("kbps", "uplink_kbps"),
                               description="kbit/s; `uplink_kbps` is accepted as a synonym")]


Delay = Annotated[int, Field(ge=-MAX_DELAY_S, le=MAX_DELAY_S,
                             description="seconds behind the timetable (negative: early)")]


class SetTripArgs(CommandArgs):
    """``set_trip``: the trip the bus now serves (``null``: none), with its deviation if known."""

    trip_id: Annotated[str, Field(min_length=1, max_length=128)] | None
    delay_s: Delay | None = None


class SetDelayArgs(CommandArgs):
    """``set_delay``: the schedule deviation the dispatch system reports (``null``: unknown)."""

    delay_s: Delay | None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command of the platform."""

    name: str
    kinds: frozenset[Kind]
    args: type[CommandArgs]
    summary: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("status", frozenset({"intersection"}), NoArgs,
                "report the controller's mode, program, fault and worst tick lag"),
    CommandSpec("flash", frozenset({"intersection"}), NoArgs,
                "put the junction into fail-safe flashing amber (an operator's decision)"),
    CommandSpec("resume", frozenset({"intersection"}), NoArgs,
                "leave fail-safe through the start-up sequence (amber, all red, program)"),
    CommandSpec("set_mode", frozenset({"intersection"}), SetModeArgs,
                "switch between fixed-time and actuated control, through all red"),
    CommandSpec("set_plan", frozenset({"intersection"}), SetPlanArgs,
                "load a new signal plan; refused if it breaks an intergreen or minimum green"),
    CommandSpec("set_uplink_kbps", frozenset({"bus"}), SetUplinkArgs,
                "cap the passengers' shared uplink (the measured rate never exceeds it)"),
    CommandSpec("set_trip", frozenset({"bus"}), SetTripArgs,
                "tell the bus which trip it serves now (priority requests start afresh)"),
    CommandSpec("set_delay", frozenset({"bus"}), SetDelayArgs,
                "the bus's schedule deviation, sent with its priority requests"),
)
COMMAND_BY_NAME: dict[str, CommandSpec] = {c.name: c for c in COMMANDS}


def parse_args(name: str, raw: object) -> CommandArgs:
    """The validated arguments of contract command ``name``; :class:`CommandRefusedError`
    naming the field and the problem when they are not acceptable."""
    spec = COMMAND_BY_NAME[name]
    if raw is None:
        raw = {}
    try:
        return spec.args.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "args"
        raise CommandRefusedError(
            f"{name}: invalid args: {where}: {first['msg']}") from exc


def command_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every command's arguments, by command name (for the API documents)."""
    return {c.name: c.args.model_json_schema() for c in COMMANDS}


_REFS = {"ControlConfig": "object, the `control` section of an intersection config"}


def _arg_lines(spec: CommandSpec) -> str:
    schema = spec.args.model_json_schema()
    props = schema.get("properties", {})
    if not props:
        return "none"
    required = set(schema.get("required", []))
    parts = []
    for name, prop in props.items():
        kind = prop.get("type") or " \\| ".join(
            str(alt.get("type", alt.get("$ref", "").rsplit("/", 1)[-1]))
            for alt in prop.get("anyOf", [])) or prop.get("$ref", "").rsplit("/", 1)[-1]
        kind = _REFS.get(kind, kind)
        if "enum" in prop:
            kind = " \\| ".join(f"`{v}`" for v in prop["enum"])
        bounds = [f"{k} {prop[k]}" for k in ("minimum", "maximum") if k in prop]
        optional = "" if name in required else ", optional"
        extra = f" ({', '.join(bounds)})" if bounds else ""
        parts.append(f"`{name}`: {kind}{extra}{optional}")
    return "; ".join(parts)


def render_reference() -> str:
    """``docs/commands.md``: every command as a table (a test keeps the file equal to this)."""
    lines = [
        "# Remote commands",
        "",
        "<!-- Generated from edge_agent/contract/commands.py by `python -m "
        "edge_agent.contract.commands`; do not edit by hand. -->",
        "",
        "The hub sends a command with `POST /api/v1/devices/{device_id}/commands` (role "
        "`engineer`), body `{\"name\": ..., \"args\": {...}, \"timeout_s\": ...}`, and "
        "answers with the device's acknowledgement. On MQTT a command is a `cmd` message "
        "`{v, id, name, args}` on `device/{device_id}/cmd`; the device answers exactly once on "
        "`device/{device_id}/cmd/ack` with `{v, ts, id, ok, error, result}`. A repeated `id` "
        "is answered again without running twice.",
        "",
        "Arguments are checked twice: by the hub before sending (bad ones: 422 naming the "
        "field; a command the device's kind does not take: 422) and by the device on arrival "
        "(acked `ok: false` with the field and the problem). Unknown names are acked "
        "`ok: false`. The OpenAPI document and `docs/asyncapi.yaml` carry the same commands "
        "with full schemas.",
        "",
        "| command | device | arguments | what it does |",
        "|---|---|---|---|",
    ]
    for spec in COMMANDS:
        lines.append(f"| `{spec.name}` | {', '.join(sorted(spec.kinds))} | "
                     f"{_arg_lines(spec)} | {spec.summary} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_reference())
