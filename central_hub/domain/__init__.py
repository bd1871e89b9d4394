"""The hub's pure logic: de-duplication, gap counting, roll-ups, alarms, ACLs, GTFS-Realtime.

Nothing here does I/O (ruff's TID251 bans asyncio, paho, SQLAlchemy, FastAPI...), so every rule
is unit-tested in milliseconds and the adapters around it (MQTT, SQL, HTTP) stay thin.
"""
