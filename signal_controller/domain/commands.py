"""Hub commands (``flash``, ``resume``, ``set_mode``, ``set_plan``) applied between ticks.

Why a module of its own: commands are the operator's way to change the running program. They
validate their arguments, refuse what cannot be done now (:class:`CommandError`, which the edge
agent reports back to the hub), and always enter the new program through a program change that
starts a new SPaT revision, so that published bounds never span two programs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from pydantic import ValidationError

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.errors import CommandRefusedError
from signal_controller.domain import safety
from signal_controller.domain.detectors import Detectors
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.plan_check import check_model
from signal_controller.domain.safety import Violation
from signal_controller.domain.state import (
    Clearing,
    ControllerState,
    Halted,
    Mode,
    halt,
    program_change,
    status_of,
)


class CommandError(CommandRefusedError):
    """A command's arguments are invalid or the command cannot be carried out now."""


def apply_command(
    state: ControllerState, name: str, args: Mapping[str, object], now: int
) -> tuple[ControllerState, dict[str, object]]:
    """Carry out a hub command between ticks; raise :class:`CommandError` to refuse it.

    ``now`` is the tick at which the command takes effect (the next tick): aspects changed by
    ``flash`` and ``resume`` start there.
    """
    if name == "flash":
        if isinstance(state.program, Halted):
            return state, {"status": "flashing", "changed": False}
        kernel = safety.fail_safe(
            state.kernel, state.model, Violation("operator", "flash command"), now
        )
        return halt(state, kernel, "flash"), {"status": "flashing"}
    if name == "resume":
        if not isinstance(state.program, Halted):
            return state, {"status": status_of(state.program), "changed": False}
        kernel = safety.start_up(state.kernel, state.model, now)
        new = program_change(state, kernel, Clearing(state.mode))
        return new, {"status": "starting", "all_red_until": kernel.hold_red_until}
    if name == "set_mode":
        mode = args.get("mode")
        if mode not in ("fixed_time", "actuated"):
            raise CommandError(f"set_mode: mode must be fixed_time or actuated, got {mode!r}")
        if mode == "fixed_time" and state.model.plan is None:
            raise CommandError("set_mode: the plan has no fixed-time program (cycle_s, greens)")
        if mode == "actuated" and not state.model.stages:
            raise CommandError("set_mode: the plan has no stages for actuated control")
        if mode == state.mode and not isinstance(state.program, Clearing):
            return state, {"mode": mode, "changed": False}
        new_state = replace(state, mode=mode)
        if isinstance(state.program, Halted):
            return new_state, {"mode": mode, "changed": True}
        return program_change(new_state, state.kernel, Clearing(mode)), {"mode": mode}
    if name == "set_plan":
        return _set_plan(state, args, now)
    raise CommandError(f"unknown command {name!r}")


def _set_plan(
    state: ControllerState, args: Mapping[str, object], now: int
) -> tuple[ControllerState, dict[str, object]]:
    """Validate a new ``control`` section like a config file, then change to its program.

    The plan's detectors get their full time to be heard from ``now`` (a renamed loop is not
    ``unheard`` at once; :mod:`.prediction_status`)."""
    control = args.get("control")
    if not isinstance(control, dict):
        raise CommandError("set_plan: args.control must be an object (the config's control)")
    data = state.config.model_dump(mode="python")
    data["control"] = control
    try:
        config = IntersectionConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommandError(f"set_plan: {where}: {first['msg']}") from exc
    model = Intersection.from_config(config)
    problems = check_model(model)
    if problems:
        raise CommandError("set_plan refused: " + "; ".join(f"{f}: {m}" for f, m in problems))
    mode: Mode = "actuated" if config.control.mode == "actuated" else "fixed_time"
    new = replace(
        state,
        config=config,
        model=model,
        mode=mode,
        detectors=Detectors(
            state.detectors.occupied,
            state.detectors.last_off,
            last_on=state.detectors.last_on,
            flow=state.detectors.flow,
        ),
        watch=replace(state.watch, since=now),
    )
    if isinstance(state.program, Halted):
        return new, {"mode": mode, "stages": len(model.stages)}
    return program_change(new, state.kernel, Clearing(mode)), {
        "mode": mode,
        "stages": len(model.stages),
    }
