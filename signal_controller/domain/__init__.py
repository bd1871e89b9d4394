"""Pure signal-control domain: no I/O, time injected as integer milliseconds.

Why pure: the same code must drive lamps on a Pi, SUMO through TraCI, the demo and hundreds of
thousands of simulated seconds in property tests. The public entry points are
:func:`signal_controller.domain.controller.step` (the transducer),
:func:`signal_controller.domain.commands.apply_command` and
:func:`signal_controller.domain.plan_check.check_intersection`.
"""
