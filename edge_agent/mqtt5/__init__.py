"""MQTT 5 spoken by hand, for the hub's high-rate receive path.

WHY beside paho (:mod:`edge_agent.mqtt`): the field agents publish through paho, but a hub
session receives tens of thousands of messages a second and paho's per-message objects cost
more than validating and storing them. :mod:`.codec` holds the packets as bytes and the
stream splitter (pure, tested against the specification's byte layouts); :mod:`.session` the
subscriber session built on it (socket, TLS, reconnects, acknowledgements) that the hub's
ingest workers and live feed run. The codec's packet size limit and Last Will also serve the
paho connection, so every client announces the same limits.
"""
