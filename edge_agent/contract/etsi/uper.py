"""The one boundary to the ASN.1 toolkit (pycrate's compiled ETSI TS 103 301 modules).

Why here and nowhere else: the toolkit is untyped, keeps its values in module-level objects
(not thread-safe) and raises its own exceptions. This module bounds the input before decoding,
refuses a wrong protocol version or message type from the header's two leading octets (both
fields are whole octets at the start of every message), decodes under a lock, refuses
trailing bytes, and maps every toolkit failure to :class:`ItsMessageError` or
:class:`ItsEncodeError`. Message modules hand it plain values and get plain values back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pycrate_asn1dir import ITS_IS
from pycrate_core.charpy import Charpy

from edge_agent.contract.etsi.errors import ItsEncodeError, ItsMessageError
from edge_agent.contract.etsi.header import PROTOCOL_VERSION, MessageId

T = TypeVar("T")

#: the compiled PDU of each message type (ISO TS 19091 ed. 2 DSRC, ETSI TS 102 894-2 header).
_PDUS: dict[MessageId, Any] = {
    MessageId.SPATEM: ITS_IS.SPATEM_PDU_Descriptions.SPATEM,
    MessageId.MAPEM: ITS_IS.MAPEM_PDU_Descriptions.MAPEM,
    MessageId.SREM: ITS_IS.SREM_PDU_Descriptions.SREM,
    MessageId.SSEM: ITS_IS.SSEM_PDU_Descriptions.SSEM,
}
_LOCK = threading.Lock()


def encode(message_id: MessageId, value: dict[str, Any]) -> bytes:
    """UPER bytes of ``value`` (the toolkit's value notation) as a ``message_id`` message."""
    pdu = _PDUS[message_id]
    with _LOCK:
        try:
            pdu.set_val(value)
            return bytes(pdu.to_uper())
        except Exception as exc:  # the toolkit's range and structure checks
            raise ItsEncodeError(f"{message_id.name}: cannot encode: {exc}") from exc


def check_header(message_id: MessageId, data: bytes | bytearray | memoryview,
                 max_bytes: int) -> bytes:
    """The checks that need no decoding: at most ``max_bytes``, not empty, and the header's
    two leading octets name protocol version 2 and ``message_id``. Returns the bytes; raises
    :class:`ItsMessageError` (``too_large``, ``empty``, ``wrong_protocol_version``,
    ``wrong_message_id``). A receiver that keeps bytes without decoding them (the hub between
    its samples) refuses with this what it can refuse cheaply."""
    size = len(data)
    if size > max_bytes:
        raise ItsMessageError("too_large", f"{size} bytes > {max_bytes}")
    raw = bytes(data)
    if not raw:
        raise ItsMessageError("empty", "no bytes")
    if raw[0] != PROTOCOL_VERSION:
        raise ItsMessageError("wrong_protocol_version",
                              f"protocolVersion {raw[0]}, expected {PROTOCOL_VERSION}")
    if len(raw) > 1 and raw[1] != message_id:
        raise ItsMessageError("wrong_message_id",
                              f"messageID {raw[1]}, expected {int(message_id)} "
                              f"({message_id.name})")
    return raw


def to_jer(message_id: MessageId, data: bytes | bytearray | memoryview, max_bytes: int) -> str:
    """The JSON encoding rules (ITU-T X.697) text of ``data`` read as a ``message_id``
    message, for people debugging; refuses what :func:`decode` refuses, with its reasons."""
    return decode(message_id, data, max_bytes, lambda _value: str(_PDUS[message_id].to_jer()))


def decode(message_id: MessageId, data: bytes | bytearray | memoryview, max_bytes: int,
           convert: Callable[[Any], T]) -> T:
    """Decode ``data`` as a ``message_id`` message of at most ``max_bytes`` and return
    ``convert`` of its value (called under the lock: the toolkit reuses its objects).

    Raises :class:`ItsMessageError`: ``too_large``, ``empty``, ``wrong_protocol_version``,
    ``wrong_message_id``, ``malformed`` (truncated or not UPER of the type) or
    ``trailing_bytes``.
    """
    raw = check_header(message_id, data, max_bytes)
    size = len(raw)
    pdu = _PDUS[message_id]
    with _LOCK:
        char = Charpy(raw)
        try:
            pdu.from_uper(char)
            value = pdu.get_val()
        # the toolkit raises its own errors, and IndexError, AssertionError... on some
        # truncations: any failure to decode untrusted bytes is the sender's
        except Exception as exc:
            raise ItsMessageError("malformed",
                                  f"not a {message_id.name} in UPER ({size} bytes): {exc}"
                                  ) from exc
        rest = char.len_bit()
        if rest:
            raise ItsMessageError("trailing_bytes",
                                  f"{rest // 8} bytes after the {message_id.name}")
        return convert(value)
