"""The errors of the ETSI codecs, so callers catch ours and never the ASN.1 toolkit's.

Why two: decoding reads bytes from outside (a roadside unit, a vehicle, a broker) and its
failures are counted like any bad payload, so :class:`ItsMessageError` is a
:class:`PayloadError` with a reason label; encoding fails only when our own data cannot be
said in the standard's terms (a signal group without an ITS number, a value out of range),
which is a configuration problem, :class:`ItsEncodeError`.
"""

from __future__ import annotations

from typing import Literal

from edge_agent.errors import KasselError, PayloadError

#: the reasons a received ETSI message is refused (the label it is counted under).
ItsReason = Literal[
    "too_large", "empty", "malformed", "trailing_bytes", "wrong_protocol_version",
    "wrong_message_id",
    # a well-formed SREM that means nothing for this intersection (srem.srem_payloads)
    "wrong_intersection", "unknown_lane", "ambiguous_lane", "unknown_request", "future_ts",
]


class ItsMessageError(PayloadError):
    """Received bytes are not a message of the expected type: ``reason`` says why."""

    def __init__(self, reason: ItsReason, detail: str) -> None:
        super().__init__(reason, detail)


class ItsEncodeError(KasselError):
    """Our data cannot be put into the ETSI message (e.g. a group without ``its_sg``)."""
