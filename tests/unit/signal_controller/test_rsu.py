"""The roadside unit output (signal_controller/rsu.py, docs/c-its.md): its config, and that a
datagram the kernel does not take is counted, never raised, with real UDP sockets."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from edge_agent.contract.configs import IntersectionConfig, load_config
from edge_agent.contract.its_config import RsuConfig
from edge_agent.errors import ConfigError
from signal_controller.rsu import RsuOutput
from tests.unit.edge_agent.test_configs import INTERSECTION


def _config(tmp_path: Path, rsu: object) -> IntersectionConfig:
    data = json.loads(json.dumps(INTERSECTION))
    data["its"] = {"station_id": 561000042, "intersection_id": 42, "rsu": rsu}
    for n, group in enumerate(data["signal_groups"], start=1):
        group["its_sg"] = n
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    cfg = load_config(path)
    assert isinstance(cfg, IntersectionConfig)
    return cfg


def test_the_rsu_section_loads_with_all_messages_by_default(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"host": "rsu-42.local", "port": 4400})
    assert cfg.its is not None
    assert cfg.its.rsu == RsuConfig(host="rsu-42.local", port=4400,
                                    messages=["spatem", "mapem", "ssem"])
    only = _config(tmp_path, {"host": "10.0.0.7", "port": 1, "messages": ["spatem"]})
    assert only.its is not None and only.its.rsu is not None
    assert only.its.rsu.messages == ["spatem"]


@pytest.mark.parametrize(("rsu", "field"), [
    ({"host": "rsu", "port": 0}, "its.rsu.port"),
    ({"host": "rsu", "port": 65536}, "its.rsu.port"),
    ({"host": "", "port": 4400}, "its.rsu.host"),
    ({"host": " rsu", "port": 4400}, "its.rsu.host"),
    ({"host": "rsu", "port": 4400, "messages": []}, "its.rsu.messages"),
    ({"host": "rsu", "port": 4400, "messages": ["spatem", "srem"]}, "its.rsu.messages"),
    ({"host": "rsu", "port": 4400, "messages": ["spatem", "spatem"]}, "its.rsu.messages"),
    ({"host": "rsu", "port": 4400, "broadcast": True}, "its.rsu.broadcast"),
])
def test_a_wrong_rsu_section_is_refused_naming_the_field(tmp_path: Path, rsu: object,
                                                         field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _config(tmp_path, rsu)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def test_selected_messages_are_datagrams_of_their_bytes(receiver: socket.socket) -> None:
    out = RsuOutput("127.0.0.1", receiver.getsockname()[1], ["spatem", "ssem"])
    out.open()
    out.send("spatem", b"\x02\x04spatem")
    out.send("mapem", b"\x02\x05not selected")
    out.send("ssem", b"\x02\x0assem")
    assert receiver.recv(2048) == b"\x02\x04spatem"
    assert receiver.recv(2048) == b"\x02\x0assem"
    assert out.sent == {"spatem": 1, "ssem": 1} and not out.dropped
    assert out.wants("spatem") and not out.wants("mapem")
    out.close()


def test_a_closed_port_neither_raises_nor_blocks() -> None:
    """Nobody listens: an unconnected socket gets no ICMP refusal back (Linux reports it only
    to connected sockets), so the tick never sees one; the datagrams count as sent."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # the port is closed now
    out = RsuOutput("127.0.0.1", port, ["spatem"])
    out.open()
    for _ in range(50):
        out.send("spatem", b"\x02\x04" + bytes(100))
    assert out.sent["spatem"] == 50 and not out.dropped
    out.close()


def test_a_datagram_the_kernel_refuses_is_counted_not_raised(
        receiver: socket.socket, caplog: pytest.LogCaptureFixture) -> None:
    out = RsuOutput("127.0.0.1", receiver.getsockname()[1], ["spatem", "mapem"], label="ks-1")
    out.open()
    out.send("mapem", bytes(70_000))  # over a UDP datagram's size: EMSGSIZE from sendto
    out.send("mapem", bytes(70_000))
    out.send("spatem", b"\x02\x04ok")
    assert out.dropped == {"mapem_emsgsize": 2}
    assert out.sent == {"spatem": 1}
    assert receiver.recv(2048) == b"\x02\x04ok"
    assert [r.message for r in caplog.records].count(
        caplog.records[0].message) == 1  # logged once per reason
    assert "mapem_emsgsize" in caplog.records[0].message
    out.close()


class _Refusing:
    """A socket whose kernel does not take the datagram: a full buffer, a refusal, no route."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def sendto(self, _data: bytes, _addr: object) -> int:
        raise self.error

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("error", "reason"), [
    (BlockingIOError(errno.EAGAIN, "busy"), "eagain"),
    (OSError(errno.ENOBUFS, "no buffer space"), "enobufs"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "econnrefused"),
    (OSError(errno.EHOSTUNREACH, "no route"), "ehostunreach"),
    (OSError(errno.ENETUNREACH, "network unreachable"), "enetunreach"),
])
def test_every_send_error_is_a_counted_drop(error: OSError, reason: str) -> None:
    out = RsuOutput("127.0.0.1", 9, ["spatem"])
    out.open()
    real = out._sock
    assert real is not None
    real.close()
    out._sock = _Refusing(error)  # type: ignore[assignment]
    out.send("spatem", b"\x02\x04")
    out.send("spatem", b"\x02\x04")
    assert out.dropped == {f"spatem_{reason}": 2} and not out.sent


def test_an_unresolvable_host_or_a_closed_output_drops_and_counts() -> None:
    out = RsuOutput("no-such-host.invalid", 4400, ["spatem"])
    out.send("spatem", b"x")  # not opened yet
    out.open()
    out.send("spatem", b"x")
    assert out.dropped == {"spatem_closed": 1, "spatem_unresolved": 1}
    assert out.counters() == {"host": "no-such-host.invalid", "port": 4400, "sent": {},
                              "dropped": {"spatem_closed": 1, "spatem_unresolved": 1}}
