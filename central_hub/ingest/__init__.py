"""MQTT ingest: shared subscription -> bounded inbox -> validate -> batched commit -> ack."""
