"""The ``its`` section of an intersection config: the C-ITS identity and the roadside unit
output (docs/c-its.md).

Why a module of its own: configs.py holds every config model and keeps under its size limit;
the C-ITS section grows with the messages the platform sends (SPATEM, MAPEM, SSEM) and where
it sends them (MQTT, a roadside unit's UDP forwarding port).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: the messages a controller can hand a roadside unit, as the config names them
RsuMessage = Literal["spatem", "mapem", "ssem"]


class _Model(BaseModel):
    """Unknown keys are errors, values are immutable (as configs.ConfigModel)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RsuConfig(_Model):
    """A roadside unit that broadcasts over ITS-G5 the UPER payloads it receives on a UDP
    forwarding port: each selected message is sent to ``host``:``port`` as one datagram."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)]
    messages: Annotated[list[RsuMessage], Field(min_length=1)] = ["spatem", "mapem", "ssem"]

    @field_validator("host")
    @classmethod
    def _host_not_blank(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError("a host name or address without spaces")
        return value

    @field_validator("messages")
    @classmethod
    def _messages_once(cls, value: list[RsuMessage]) -> list[RsuMessage]:
        twice = sorted({m for m in value if value.count(m) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed more than once")
        return value


class ItsConfig(_Model):
    """The intersection's identity in C-ITS messages (ETSI TS 103 301, docs/c-its.md).

    ``station_id``: the ITS station id the controller sends as; ``intersection_id`` and the
    optional ``region`` (road regulator id): the IntersectionReferenceID that SPATEM and
    MAPEM of this intersection carry.
    """

    station_id: Annotated[int, Field(ge=0, le=2**32 - 1)]
    region: Annotated[int, Field(ge=0, le=65535)] | None = None
    intersection_id: Annotated[int, Field(ge=0, le=65535)]
    #: send the C-ITS messages (SPATEM with every SPaT); ``false`` keeps the identity only.
    publish: bool = True
    #: also hand the messages to a roadside unit over UDP (besides MQTT), if set.
    rsu: RsuConfig | None = None
