"""The project's exception tree, so callers can catch our failures without catching everything.

    KasselError
    ├── ConfigError            a config file is unreadable or breaks its model (names file+field)
    ├── PayloadError           an MQTT payload breaks the contract (carries a counted reason)
    ├── QueueError             the durable store-and-forward queue cannot be used
    ├── BrokerError            a private Mosquitto could not be started or stopped
    └── CommandRefusedError    a remote command's arguments or moment are not acceptable
                               (acked ``ok: false``; any other exception in a handler is a bug)

Each package adds its own branch under :class:`KasselError` (``GatewayError``, ``KitaError``,
``ProtocolError``, ``MqttError``...); a test checks that every exception class the project
defines is a :class:`KasselError`.

Third-party exceptions are mapped at the adapter boundary and chained with ``from exc``.
"""

from __future__ import annotations


class KasselError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(KasselError):
    """A config file is missing, not YAML, or breaks its model.

    ``problems`` holds one ``(field, message)`` pair per problem; ``str()`` names the file too.
    """

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}: {field}: {msg}" if field else f"{path}: {msg}" for field, msg in problems
        ]
        super().__init__("\n".join(lines))


class PayloadError(KasselError):
    """An inbound payload breaks the contract; ``reason`` is the label it is counted under."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class QueueError(KasselError):
    """The durable queue's database cannot be opened or written (``full``: the disk is full)."""

    def __init__(self, message: str, *, full: bool = False) -> None:
        self.full = full
        super().__init__(message)


class BrokerError(KasselError):
    """A private Mosquitto broker could not be started, reloaded or stopped."""


class CommandRefusedError(KasselError):
    """A remote command is refused on purpose: bad arguments, or not possible right now. The
    agent acks it ``ok: false`` with this message; any other exception from a handler is a
    bug, logged with its traceback."""
