"""Edge-agent runtime shared by every bus router and signal controller.

It owns what all field devices have in common: the MQTT session, birth/death status, the durable
store-and-forward queue, health telemetry and remote commands. The interface contract (topics,
payloads, config files) lives in :mod:`edge_agent.contract` so that every package, the hub
included, speaks exactly the same language.
"""

__version__ = "0.1.0"
