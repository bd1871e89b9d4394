"""``kassel demo``: a private broker, the hub, signal controllers and buses on one machine.

What a new user sees first, so it uses only the real parts: the hub's app, the real
``signal_controller`` and ``bus_gateway`` code (WLAN on the simulated backend, simulated GPS
and doors) and a real Mosquitto; only the street (detector calls, passengers) is simulated.
"""
