"""paho-mqtt client construction for the hub's two connections (ingest and live).

WHY paho and not aiomqtt for ingest: aiomqtt runs on paho too, so it can only add cost per
message (a future per message, an unbounded asyncio queue unless capped); the hub needs paho's
network thread reading the socket while another thread validates and writes a batch, and
``manual_ack`` so a QoS 1 message is acknowledged only after its batch is committed. Callbacks
only enqueue (STYLE.md); all logic runs outside paho's thread.
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
