"""Mosquitto password format and the documented ACL grants."""

from __future__ import annotations

import base64

from central_hub.domain.acl import AclDevice, acl_file, grants, hash_password, verify_password
from edge_agent.contract.topics import Topics

#: produced by ``mosquitto_passwd -b -c f bus-1 secret`` (Mosquitto 2.0.11)
MOSQUITTO_LINE = ("bus-1:$7$101$p9S5UW89gILrcc4G$4froQcdkQVASYdqLZmZ4aeqcqZQUHLZZmtH4Tgndpg9GW"
                  "LO2u7dhbGAC1jKbpJBTLaygTeXFcGZ1MJnI6A4j1Q==")
T = Topics()


def test_hash_is_byte_identical_to_mosquitto_passwd() -> None:
    stored = MOSQUITTO_LINE.split(":", 1)[1]
    salt = base64.b64decode(stored.split("$")[3])
    assert hash_password("secret", salt) == stored
    assert verify_password("secret", stored)
    assert not verify_password("Secret", stored)
    assert not verify_password("secret", "plain")


def _dev(kind: str, device: str, entity: str) -> AclDevice:
    return AclDevice(device, kind, entity, "$7$x")  # type: ignore[arg-type]


def test_bus_grants() -> None:
    write, read = grants(_dev("bus", "bus-1234", "1234"), T)
    assert T.topic("position", "1234") in write and T.topic("status", "bus-1234") in write
    # priority requests to any intersection, but only under its own vehicle id
    assert T.filter("srem", "+", "1234") == "kassel/v1/signal/+/srem/1234"
    assert [w for w in write if "/signal/" in w] == [T.filter("srem", "+", "1234"),
                                                      T.filter("etsi_srem", "+", "1234")]
    assert T.filter("etsi_srem", "+", "1234") == "kassel/v1/signal/+/etsi/srem/1234"
    assert T.filter("srem") not in write
    assert T.topic("cmd", "bus-1234") in read and T.filter("spat") in read
    assert T.filter("cmd") not in write
    # issue 17: the C-ITS messages of every intersection, beside their JSON twins
    assert sorted(read) == sorted([
        T.topic("cmd", "bus-1234"), T.filter("spat"), T.filter("map"), T.filter("ssem"),
        "kassel/v1/signal/+/etsi/spatem", "kassel/v1/signal/+/etsi/mapem",
        "kassel/v1/signal/+/etsi/ssem"])
    assert not any("/etsi/" in w for w in write if "/etsi/srem/" not in w)


def test_controller_grants() -> None:
    write, read = grants(_dev("intersection", "ks-0042", "ks-0042"), T)
    assert T.topic("spat", "ks-0042") in write and T.topic("map", "ks-0042") in write
    assert not any("/bus/" in w for w in write)
    # every vehicle's priority requests to this intersection (the sender is the last level)
    assert sorted(read) == sorted([T.filter("srem", "ks-0042"), T.topic("detector", "ks-0042"),
                                   T.filter("etsi_srem", "ks-0042"), T.topic("cmd", "ks-0042")])
    assert T.filter("srem", "ks-0042") == "kassel/v1/signal/ks-0042/srem/+"
    assert T.filter("etsi_srem", "ks-0042") == "kassel/v1/signal/ks-0042/etsi/srem/+"
    assert not any("/srem" in w for w in write)
    # its own C-ITS messages (issue 17), no other intersection's
    etsi = {"kassel/v1/signal/ks-0042/etsi/spatem", "kassel/v1/signal/ks-0042/etsi/mapem",
            "kassel/v1/signal/ks-0042/etsi/ssem"}
    assert {w for w in write if "/etsi/" in w} == etsi


def test_hub_reads_everything_and_writes_only_commands() -> None:
    assert grants(_dev("hub", "hub-1", "hub-1"), T) == ([T.filter("cmd")], ["kassel/v1/#"])
    text = acl_file([_dev("hub", "hub-1", "hub-1"), _dev("bus", "b", "1")], T)
    assert text.index("user b\n") < text.index("user hub-1\n")
    assert "topic read kassel/v1/#" in text
