"""Simulations of the Kassel edge platform: the whole city on one machine (``kassel demo``)
and the SUMO evaluation of the talking traffic lights (``kassel sim evaluate``).

Why a package of its own: traffic engineers and the city must be able to see what the real
controller code does to buses, cars and pedestrians before it goes on the street. Everything
here drives the *same* code that runs on the devices (``signal_controller``, ``bus_gateway``,
the hub); the simulator and the demo's street are just other adapters around it.
"""
