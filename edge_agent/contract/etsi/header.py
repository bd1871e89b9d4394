"""The ITS PDU header (ETSI TS 102 894-2 ItsPduHeader) that starts every C-ITS message.

Why a module: every message type checks the same three fields, and a receiver must refuse
bytes of another protocol version or another message type before trusting the rest; the
message ids of the types this platform speaks are kept in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

#: ``protocolVersion`` of ETSI TS 103 301 messages with ISO TS 19091 (2018) DSRC data.
PROTOCOL_VERSION = 2
MAX_STATION_ID = 2**32 - 1


class MessageId(IntEnum):
    """``messageID`` of the C-ITS messages the platform sends or reads."""

    SPATEM = 4
    MAPEM = 5
    SREM = 9
    SSEM = 10


@dataclass(frozen=True, slots=True)
class ItsHeader:
    """A decoded header: who sent which message in which protocol version."""

    protocol_version: int
    message_id: int
    station_id: int

    def as_value(self) -> dict[str, int]:
        """The header as the ASN.1 toolkit takes it."""
        return {"protocolVersion": self.protocol_version, "messageID": self.message_id,
                "stationID": self.station_id}


def header_for(message_id: MessageId, station_id: int) -> ItsHeader:
    """The header we send: protocol version 2, ``message_id``, our ``station_id``."""
    return ItsHeader(PROTOCOL_VERSION, int(message_id), station_id)
