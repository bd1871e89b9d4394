"""Every MQTT topic of CONTRACT §2, built and parsed in one place.

No other module assembles a topic string. :class:`Topics` turns ids into topics under the
configured root, and :meth:`Topics.parse` turns a received topic back into a
:class:`TopicRef` that names its :class:`TopicSpec` (payload model, QoS, retain flag).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from edge_agent.contract.payloads import (
    Command,
    CommandAck,
    Detector,
    Health,
    Map,
    Occupancy,
    Position,
    Spat,
    Srem,
    Ssem,
    Status,
    Wlan,
)

DEFAULT_ROOT = "kassel/v1"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TopicName = Literal[
    "status",
    "health",
    "cmd",
    "cmd_ack",
    "position",
    "occupancy",
    "wlan",
    "spat",
    "map",
    "srem",
    "ssem",
    "detector",
]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One row of the contract's topic table."""

    name: TopicName
    #: pattern relative to the root; ``{id}`` is the device, vehicle or intersection id.
    pattern: str
    model: type[BaseModel]
    qos: Literal[0, 1]
    retain: bool
    sender: str
    receiver: str
    when: str

    @property
    def prefix(self) -> str:
        return self.pattern.split("/", 1)[0]

    @property
    def suffix(self) -> str:
        return self.pattern.split("/", 2)[2]


SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "status",
        "device/{id}/status",
        Status,
        1,
        True,
        "any agent",
        "all",
        "on connect (online); as Last Will (offline)",
    ),
    TopicSpec("health", "device/{id}/health", Health, 0, False, "agent", "hub", "every 30 s"),
    TopicSpec("cmd", "device/{id}/cmd", Command, 1, False, "hub", "agent", "on demand"),
    TopicSpec(
        "cmd_ack", "device/{id}/cmd/ack", CommandAck, 1, False, "agent", "hub", "once per command"
    ),
    TopicSpec("position", "bus/{id}/position", Position, 1, False, "bus", "hub", "1 Hz"),
    TopicSpec(
        "occupancy",
        "bus/{id}/occupancy",
        Occupancy,
        1,
        False,
        "bus",
        "hub",
        "on change, at least every 30 s",
    ),
    TopicSpec("wlan", "bus/{id}/wlan", Wlan, 1, False, "bus", "hub", "every 60 s"),
    TopicSpec("spat", "signal/{id}/spat", Spat, 0, False, "controller", "all", "10 Hz"),
    TopicSpec(
        "map", "signal/{id}/map", Map, 1, True, "controller", "all", "on start and on change"
    ),
    TopicSpec(
        "srem",
        "signal/{id}/srem",
        Srem,
        1,
        False,
        "bus",
        "controller",
        "priority request/update/cancel",
    ),
    TopicSpec(
        "ssem",
        "signal/{id}/ssem",
        Ssem,
        1,
        False,
        "controller",
        "buses",
        "on any change of a request's status",
    ),
    TopicSpec(
        "detector",
        "signal/{id}/detector",
        Detector,
        0,
        False,
        "field bus / simulation",
        "controller",
        "on change",
    ),
)
SPEC_BY_NAME: dict[str, TopicSpec] = {s.name: s for s in SPECS}
_BY_PREFIX_SUFFIX: dict[tuple[str, str], TopicSpec] = {(s.prefix, s.suffix): s for s in SPECS}


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A parsed topic: which contract row, and for which id."""

    spec: TopicSpec
    entity_id: str


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic builder and parser for one topic root (``mqtt.topic_root``)."""

    root: str = DEFAULT_ROOT

    def topic(self, name: TopicName, entity_id: str) -> str:
        """The concrete topic of contract row ``name`` for ``entity_id``."""
        if not _ID.match(entity_id):
            raise ValueError(f"invalid id for a topic: {entity_id!r}")
        return f"{self.root}/{SPEC_BY_NAME[name].pattern.replace('{id}', entity_id)}"

    def filter(self, name: TopicName, entity_id: str = "+") -> str:
        """A subscription filter for row ``name``; ``+`` matches every id."""
        if entity_id != "+" and not _ID.match(entity_id):
            raise ValueError(f"invalid id for a topic filter: {entity_id!r}")
        return f"{self.root}/{SPEC_BY_NAME[name].pattern.replace('{id}', entity_id)}"

    def shared(self, group: str, name: TopicName) -> str:
        """An MQTT 5 shared subscription (``$share/group/...``) over every id of ``name``."""
        return f"$share/{group}/{self.filter(name)}"

    def parse(self, topic: str) -> TopicRef | None:
        """The contract row and id of ``topic``, or ``None`` when it is not a contract topic."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/", 2)
        if len(parts) != 3 or not _ID.match(parts[1]):
            return None
        spec = _BY_PREFIX_SUFFIX.get((parts[0], parts[2]))
        return None if spec is None else TopicRef(spec, parts[1])
