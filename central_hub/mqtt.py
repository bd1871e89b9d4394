"""paho-mqtt client construction for the hub's live connection.

WHY paho here (and not for ingest): the live connection publishes commands, waits for their
acks and needs reconnect handling with callbacks; its rate is what the dashboards and apps see
(SPaT at 10 Hz per intersection), which paho handles with room to spare (BENCHMARKS.md). The
ingest workers, which must outrun a bare paho subscriber, use their own receive path
(:mod:`central_hub.ingest.subscriber`). Callbacks only enqueue (STYLE.md); all logic runs
outside paho's thread.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.contract.configs import TlsConfig
from edge_agent.mqtt import BrokerAddress, tls_context


def make_client(address: BrokerAddress, client_id: str, *, manual_ack: bool = False,
                tls: TlsConfig | None = None) -> mqtt.Client:
    """An MQTT 5 paho client with credentials and TLS from ``address``/``tls``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set_context(tls_context(tls))
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(10_000)
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int | None = None) -> Properties:
    """CONNECT properties: a persistent session (expiry > 0) and our Receive Maximum."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props
