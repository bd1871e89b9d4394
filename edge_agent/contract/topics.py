"""Every MQTT topic (docs/interfaces.md, "Topics"), built and parsed in one place.

No other module assembles a topic string. :class:`Topics` turns ids into topics under the
configured root, and :meth:`Topics.parse` turns a received topic back into a
:class:`TopicRef` that names its :class:`TopicSpec` (payload model, QoS, retain flag).

Why some topics carry a second id: a message addressed to another entity (``srem``: a bus
asking an intersection for priority) ends in the *sender's* id, ``{vehicle_id}``. The broker's
ACL lets each login write only its own id there, so the receiver learns who sent a message
from something the broker enforces, not from the payload (issue 13).

Why some rows have no model: the ``etsi_*`` rows carry the raw UPER bytes of an ETSI C-ITS
message (docs/c-its.md), not JSON. Such a row names its message type (``etsi``) instead of a
payload model; :attr:`TopicSpec.binary` is the one test for it, so the agent, the hub and the
generated AsyncAPI document treat both kinds from this table (issue 17).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.payloads import (
    Command,
    CommandAck,
    Detector,
    Health,
    Map,
    Occupancy,
    PayloadFields,
    Position,
    SequencedPayload,
    Spat,
    Srem,
    Ssem,
    Status,
    Wlan,
)

DEFAULT_ROOT = "kassel/v1"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: placeholder of the entity a topic is about (device, vehicle or intersection).
ENTITY = "{id}"
#: placeholder of the sender's id at the end of a topic addressed to another entity.
SENDER = "{vehicle_id}"

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
    "etsi_spatem",
    "etsi_mapem",
    "etsi_ssem",
    "etsi_srem",
]
#: content type of a row's payload: UTF-8 JSON, or the raw UPER bytes of an ETSI message.
JSON_CONTENT = "application/json"
BINARY_CONTENT = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One row of the contract's topic table."""

    name: TopicName
    #: pattern relative to the root; ``{id}`` is the device, vehicle or intersection id, a
    #: trailing ``{vehicle_id}`` the sending vehicle's (see the module docstring).
    pattern: str
    #: the JSON payload's model; ``None`` for a row of ETSI bytes (then ``etsi`` is set).
    model: type[BaseModel] | None
    qos: Literal[0, 1]
    retain: bool
    sender: str
    receiver: str
    when: str
    #: the ETSI C-ITS message a binary row carries (UPER bytes, docs/c-its.md).
    etsi: MessageId | None = None

    def __post_init__(self) -> None:
        if (self.model is None) == (self.etsi is None):
            raise ValueError(f"topic {self.name}: give a payload model or an ETSI message")

    @property
    def binary(self) -> bool:
        """Whether the payload is raw ETSI bytes (no JSON, no ``v``/``ts``/``seq``)."""
        return self.model is None

    @property
    def content_type(self) -> str:
        """``application/json`` or ``application/octet-stream`` (ETSI UPER bytes)."""
        return BINARY_CONTENT if self.binary else JSON_CONTENT

    @property
    def sequenced(self) -> bool:
        """Whether the payload carries the sender's ``seq`` (a JSON row only)."""
        return self.model is not None and issubclass(self.model, SequencedPayload)

    def json_model(self) -> type[BaseModel]:
        """The payload model of a JSON row; ``TypeError`` for a binary row."""
        if self.model is None:
            raise TypeError(f"topic {self.name} carries ETSI bytes, not JSON")
        return self.model

    @property
    def prefix(self) -> str:
        return self.pattern.split("/", 1)[0]

    @property
    def suffix(self) -> str:
        """The fixed part after the entity id (without a trailing sender placeholder); may
        hold a ``/`` (``etsi/spatem``)."""
        rest = self.pattern.split("/", 2)[2]
        return rest.removesuffix("/" + SENDER)

    @property
    def has_sender(self) -> bool:
        """Whether the topic ends in the sender's id (``{vehicle_id}``)."""
        return self.pattern.endswith("/" + SENDER)


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
        "signal/{id}/srem/{vehicle_id}",
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
    # ETSI C-ITS messages (docs/c-its.md): raw UPER bytes, beside the JSON rows they mirror
    TopicSpec("etsi_spatem", "signal/{id}/etsi/spatem", None, 0, False, "controller", "all",
              "with every spat", MessageId.SPATEM),
    TopicSpec("etsi_mapem", "signal/{id}/etsi/mapem", None, 1, True, "controller", "all",
              "with every map", MessageId.MAPEM),
    TopicSpec("etsi_ssem", "signal/{id}/etsi/ssem", None, 1, False, "controller", "vehicles",
              "with every ssem", MessageId.SSEM),
    TopicSpec("etsi_srem", "signal/{id}/etsi/srem/{vehicle_id}", None, 1, False, "vehicle",
              "controller", "priority request/update/cancel", MessageId.SREM),
)
SPEC_BY_NAME: dict[str, TopicSpec] = {s.name: s for s in SPECS}


def fields_model(model: type[BaseModel]) -> type[PayloadFields] | None:
    """The fields model a wire model is built from (``PositionFields`` for ``Position``), or
    ``None`` for a row no device publishes through :meth:`EdgeAgent.publish` (``status``,
    which the agent's session sends itself, and ``cmd``, the hub's)."""
    found = [b for b in model.__bases__ if issubclass(b, PayloadFields)]
    if len(found) > 1:
        raise TypeError(f"{model.__name__} has more than one fields model: {found}")
    return found[0] if found else None


#: the row a fields model is published on: what ``EdgeAgent.publish(fields)`` looks up by the
#: exact class of ``fields`` (a wire model, itself a subclass of its fields model, is not in it).
SPEC_BY_FIELDS: dict[type[PayloadFields], TopicSpec] = {
    f: s for s in SPECS if s.model is not None and (f := fields_model(s.model)) is not None
}
_BY_PREFIX_SUFFIX: dict[tuple[str, str], TopicSpec] = {
    (s.prefix, s.suffix): s for s in SPECS if not s.has_sender
}
_WITH_SENDER: dict[tuple[str, str], TopicSpec] = {
    (s.prefix, s.suffix): s for s in SPECS if s.has_sender
}


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A parsed topic: which contract row, for which id, and (for rows that end in it) from
    which sender, as the broker's ACL enforces it."""

    spec: TopicSpec
    entity_id: str
    #: the sender's id of a row that ends in ``{vehicle_id}`` (``srem``), else ``None``.
    sender_id: str | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic builder and parser for one topic root (``mqtt.topic_root``)."""

    root: str = DEFAULT_ROOT

    def topic(self, name: TopicName, entity_id: str, sender_id: str | None = None) -> str:
        """The concrete topic of contract row ``name`` for ``entity_id``.

        ``sender_id`` is required for a row that ends in the sender's id (``srem``) and
        refused for every other row.
        """
        spec = SPEC_BY_NAME[name]
        if not _ID.fullmatch(entity_id):
            raise ValueError(f"invalid id for a topic: {entity_id!r}")
        if spec.has_sender != (sender_id is not None):
            need = "needs a" if spec.has_sender else "takes no"
            raise ValueError(f"topic {name} {need} sender id")
        if sender_id is not None and not _ID.fullmatch(sender_id):
            raise ValueError(f"invalid sender id for a topic: {sender_id!r}")
        return self._fill(spec, entity_id, sender_id or "")

    def filter(self, name: TopicName, entity_id: str = "+", sender_id: str = "+") -> str:
        """A subscription (or ACL) filter for row ``name``; ``+`` matches every id.

        ``sender_id`` narrows a row that ends in the sender's id; other rows have none.
        """
        spec = SPEC_BY_NAME[name]
        for value in (entity_id, sender_id):
            if value != "+" and not _ID.fullmatch(value):
                raise ValueError(f"invalid id for a topic filter: {value!r}")
        if sender_id != "+" and not spec.has_sender:
            raise ValueError(f"topic {name} takes no sender id")
        return self._fill(spec, entity_id, sender_id)

    def _fill(self, spec: TopicSpec, entity_id: str, sender_id: str) -> str:
        pattern = spec.pattern.replace(ENTITY, entity_id).replace(SENDER, sender_id)
        return f"{self.root}/{pattern}"

    def shared(self, group: str, name: TopicName) -> str:
        """An MQTT 5 shared subscription (``$share/group/...``) over every id of ``name``."""
        return f"$share/{group}/{self.filter(name)}"

    def parse(self, topic: str) -> TopicRef | None:
        """The contract row and ids of ``topic``, or ``None`` when it is not a contract topic
        (a row that ends in the sender's id is only recognised with a valid one)."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/", 2)
        if len(parts) != 3 or not _ID.fullmatch(parts[1]):
            return None
        spec = _BY_PREFIX_SUFFIX.get((parts[0], parts[2]))
        if spec is not None:
            return TopicRef(spec, parts[1])
        suffix, _, sender = parts[2].rpartition("/")
        spec = _WITH_SENDER.get((parts[0], suffix))
        if spec is None or not _ID.fullmatch(sender):
            return None
        return TopicRef(spec, parts[1], sender)
