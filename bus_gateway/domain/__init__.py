"""Pure decisions of the bus gateway: no I/O, no clock, no randomness of its own.

Why: the same code must drive a real router, the demo and the simulation, and be tested in
milliseconds. Time comes in as ``now_ms`` arguments, randomness as injected callables, and
every adapter (nftables, tc, scapy, serial, MQTT) lives outside this package (ruff TID251
enforces it).
"""
