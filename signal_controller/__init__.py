"""The talking traffic light: safety kernel, fixed-time and actuated control, SPaT, bus priority.

Why a package of its own: it runs on the intersection's Pi-class controller, which installs no
hub or bus code. The pure :mod:`signal_controller.domain` holds every decision; :mod:`.app`
wires it to the edge agent (MQTT) and to the lamp hardware port in :mod:`.heads`.
"""
