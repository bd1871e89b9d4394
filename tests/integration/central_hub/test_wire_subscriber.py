"""The ingest session's own MQTT 5 receive path against a real Mosquitto.

What a broker really sends (properties on forwarded PUBLISHes, a persistent session's backlog
right after CONNACK, redelivery of what was not acknowledged, a restart, TLS with a password
file) goes through :class:`WireSubscriber` exactly as in the hub.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central_hub.broker import BrokerTls, MosquittoBroker
from edge_agent.contract.configs import TlsConfig
from edge_agent.mqtt import BrokerAddress
from edge_agent.mqtt5.session import Message, SessionOptions, WireSubscriber
from tests.integration.central_hub.helpers import client, wait_for
from tests.support.pki import make_ca_and_server_cert


class Received:
    """Collects what the session hands over, per connection generation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[int, Message]] = []

    def __call__(self, generation: int, messages: list[Message]) -> None:
        with self.lock:
            self.items += [(generation, m) for m in messages]

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [m[3] for _g, m in self.items]


def _session(address: BrokerAddress, received: Received, client_id: str = "hub-ingest-t",
             **kw: object) -> WireSubscriber:
    opts = SessionOptions(client_id=client_id, filters=(("$share/hub/kassel/v1/bus/+/#", 1),),
                          keepalive_s=5, session_expiry_s=600)
    return WireSubscriber(address, opts, on_messages=received, **kw)  # type: ignore[arg-type]


def _address(broker: MosquittoBroker) -> BrokerAddress:
    return BrokerAddress.parse(broker.url)


def test_receives_qos0_and_qos1_with_properties(broker: MosquittoBroker) -> None:
    got = Received()
    sub = _session(_address(broker), got)
    sub.start()
    try:
        assert sub.subscribed.wait(10)
        pub = client(broker, "pub")
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ContentType = "application/json"
        props.UserProperty = ("k", "v")
        pub.publish("kassel/v1/bus/1/position", b'{"n":0}', qos=0, properties=props)
        pub.publish("kassel/v1/bus/2/wlan", b'{"n":1}', qos=1, properties=props).wait_for_publish()
        wait_for(lambda: len(got.payloads()) == 2, what="two messages")
        by_topic = {m[2]: m for _g, m in got.items}
        assert by_topic["kassel/v1/bus/1/position"][3] == b'{"n":0}'
        qos, mid, _t, payload = by_topic["kassel/v1/bus/2/wlan"]
        assert (qos, payload) == (1, b'{"n":1}') and mid > 0
        pub.disconnect()
    finally:
        sub.stop()


def test_unacknowledged_messages_come_back_acknowledged_ones_do_not(
        broker: MosquittoBroker) -> None:
    pub = client(broker, "pub")
    got = Received()
    sub = _session(_address(broker), got)
    sub.start()
    assert sub.subscribed.wait(10)
    for i in range(20):
        pub.publish(f"kassel/v1/bus/{i}/position", str(i).encode(), qos=1).wait_for_publish()
    wait_for(lambda: len(got.payloads()) == 20, what="20 messages")
    gen = got.items[0][0]
    assert sub.ack(gen, [m[1] for _g, m in got.items[:10]])
    assert not sub.ack(gen + 1, [1])  # a packet id of another connection is never acked
    sub.stop()  # normal DISCONNECT: the session (and 10 unacknowledged) stays at the broker
    for i in range(20, 25):  # queued for the offline session
        pub.publish(f"kassel/v1/bus/{i}/position", str(i).encode(), qos=1).wait_for_publish()
    again = Received()
    sub2 = _session(_address(broker), again)
    sub2.start()
    try:
        wait_for(lambda: len(again.payloads()) >= 15, what="redelivery and backlog")
        assert sorted(int(p) for p in again.payloads()) == list(range(10, 25))
    finally:
        sub2.stop()
        pub.disconnect()


def test_reconnects_after_a_broker_restart(broker: MosquittoBroker) -> None:
    got = Received()
    states: list[str] = []
    sub = _session(_address(broker), got, on_disconnected=states.append)
    sub.start()
    try:
        assert sub.subscribed.wait(10)
        broker.restart()
        wait_for(lambda: bool(states) and sub.generation >= 2 and sub.connected,
                 what="reconnected")
        pub = client(broker, "pub")
        pub.publish("kassel/v1/bus/9/position", b"after", qos=1).wait_for_publish()
        wait_for(lambda: b"after" in got.payloads(), what="message after the restart")
        assert got.items[-1][0] == sub.generation
        pub.disconnect()
    finally:
        sub.stop()


def test_tls_with_password_and_a_refused_login(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_ca_and_server_cert(pki)
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "hub", "s3cret"], check=True,
                   capture_output=True)
    broker = MosquittoBroker(tmp_path / "mosq", password_file=passwd, extra_conf=(
        f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"))
    tls = TlsConfig(ca_file=str(pki / "ca.crt"))
    with broker:
        got = Received()
        good = _session(BrokerAddress.parse(f"mqtts://hub:s3cret@127.0.0.1:{broker.port}"), got,
                        tls=tls)
        good.start()
        bad = _session(BrokerAddress.parse(f"mqtts://hub:wrong@127.0.0.1:{broker.port}"),
                       Received(), client_id="intruder", tls=tls)
        bad.start()
        try:
            assert good.subscribed.wait(10)
            wait_for(lambda: bad.last_error is not None, what="refused login")
            assert "reason 0x87" in str(bad.last_error)  # Not authorized
            assert bad.generation == 0 and not bad.subscribed.is_set()
        finally:
            good.stop()
            bad.stop()


def test_the_hub_refuses_a_broker_certificate_from_another_ca(tmp_path: Path) -> None:
    ours, impostor = tmp_path / "city-ca", tmp_path / "impostor-ca"
    for d in (ours, impostor):
        d.mkdir()
        make_ca_and_server_cert(d, ca_name=d.name)
    tls = BrokerTls(impostor / "ca.crt", impostor / "server.crt", impostor / "server.key")
    with MosquittoBroker(tmp_path / "mosq", tls=tls) as broker:
        session = _session(BrokerAddress.parse(f"mqtts://hub:s3cret@127.0.0.1:{broker.port}"),
                           Received(), tls=TlsConfig(ca_file=str(ours / "ca.crt")))
        session.start()
        try:
            wait_for(lambda: session.last_error is not None, what="refused handshake")
            assert "CERTIFICATE_VERIFY_FAILED" in str(session.last_error)
            assert session.generation == 0 and not session.connected
        finally:
            session.stop()
        # the handshake failed before CONNECT: the impostor never saw a login
        assert "New client connected" not in broker.log_path.read_text()
