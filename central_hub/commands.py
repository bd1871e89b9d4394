"""Remote commands: publish ``cmd``, wait for the matching ``cmd/ack``.

WHY futures keyed by command id: acks arrive on the live subscription, in any order and from
any device; the HTTP request that sent a command awaits exactly its own ack or times out, and
nothing is left behind after either.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

from edge_agent.contract.payloads import Command, CommandAck, encode
from edge_agent.contract.topics import Topics
from edge_agent.errors import KasselError

Publish = Callable[[str, bytes, int], None]


class CommandTimeoutError(KasselError, TimeoutError):
    """No ack arrived in time (the device may be offline)."""


class CommandBus:
    """Sends commands through ``publish`` and matches acks by ``(device_id, command id)``."""

    def __init__(self, topics: Topics, publish: Publish) -> None:
        self.topics = topics
        self.publish = publish
        self._pending: dict[tuple[str, str], asyncio.Future[CommandAck]] = {}

    async def send(self, device_id: str, name: str, args: dict[str, object],
                   timeout_s: float) -> tuple[str, CommandAck]:
        """Send and wait; :class:`CommandTimeoutError` when no ack arrives in ``timeout_s``."""
        cmd_id = secrets.token_hex(8)
        fut: asyncio.Future[CommandAck] = asyncio.get_running_loop().create_future()
        key = (device_id, cmd_id)
        self._pending[key] = fut
        try:
            self.publish(self.topics.topic("cmd", device_id),
                         encode(Command(id=cmd_id, name=name, args=args)), 1)
            try:
                return cmd_id, await asyncio.wait_for(fut, timeout_s)
            except TimeoutError as exc:
                raise CommandTimeoutError(cmd_id) from exc
        finally:
            self._pending.pop(key, None)

    def on_ack(self, device_id: str, ack: CommandAck) -> bool:
        """Resolve the waiting request, if any; ``True`` when one was waiting."""
        fut = self._pending.get((device_id, ack.id))
        if fut is None or fut.done():
            return False
        fut.set_result(ack)
        return True
