"""Central hub: ingests what buses and controllers send, stores it, raises alarms and serves
the dashboard, the mobility app's feeds and the city's thin APIs.

It also operates the broker: the device registry generates Mosquitto's password and ACL files,
and :mod:`central_hub.broker` runs a private Mosquitto for the demo and the tests.
"""
