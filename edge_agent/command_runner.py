"""Remote commands on a device: one handler per name, exactly one ack per command id.

Why a module of its own: the command path has guarantees of its own, kept here together.
Commands run one at a time; the ack of every executed command is recorded in the store with
the command's id, so a command the hub sends again (its ack was lost, or the device restarted)
is acked again with the recorded answer but not executed twice. A contract command's handler
gets its arguments validated (:mod:`edge_agent.contract.commands`); a
:class:`CommandRefusedError` is a deliberate no, any other exception a bug that is logged and
acked as an internal error: the command path never crashes the agent.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from edge_agent.contract.commands import COMMAND_BY_NAME, parse_args
from edge_agent.contract.payloads import Command, CommandAckFields
from edge_agent.contract.topics import TopicRef
from edge_agent.errors import CommandRefusedError, QueueError
from edge_agent.outbox import Outbox

# one logger for the whole agent runtime, as before it was split into modules
log = logging.getLogger("edge_agent.agent")

CommandResult = Mapping[str, object] | None
#: gets the command's validated arguments (a :class:`CommandArgs` for contract commands, the
#: raw dict for an application's own) and returns the ack's ``result``.
CommandHandler = Callable[[Any], Awaitable[CommandResult] | CommandResult]


class CommandRunner:
    """Runs the commands one agent receives and acks each exactly once."""

    def __init__(
        self,
        *,
        device_id: str,
        ack_topic: str,
        outbox: Outbox,
        publish_ack: Callable[[CommandAckFields], Awaitable[bytes]],
        now_ms: Callable[[], int],
    ) -> None:
        """``publish_ack`` publishes an ack and returns its payload (``EdgeAgent.publish``);
        ``outbox`` keeps the acks of executed commands."""
        self._device_id = device_id
        self._ack_topic = ack_topic
        self._outbox = outbox
        self._publish_ack = publish_ack
        self._now_ms = now_ms
        #: the handler of every command name this device takes.
        self.handlers: dict[str, CommandHandler] = {}
        self._lock = asyncio.Lock()

    async def on_command(self, _ref: TopicRef, cmd: Command) -> None:
        """The ``cmd`` topic's handler: run ``cmd`` unless it ran before, ack it."""
        async with self._lock:
            store = self._outbox.store
            earlier = await self._outbox.call(store.command_ack, cmd.id)
            if earlier is not None:
                await self._outbox.enqueue(self._ack_topic, earlier)
                return
            ok, error, result = await self.execute(cmd)
            payload = await self._publish_ack(
                CommandAckFields(id=cmd.id, ok=ok, error=error, result=result)
            )
            try:
                await self._outbox.call(store.record_command, cmd.id, payload, self._now_ms())
            except QueueError as exc:  # acked already; only its de-duplication is lost
                log.warning("%s: command %s not recorded: %s", self._device_id, cmd.id, exc)

    async def execute(self, cmd: Command) -> tuple[bool, str | None, dict[str, object] | None]:
        """Run the handler of ``cmd``: a contract command's handler gets its validated
        arguments (:mod:`edge_agent.contract.commands`), an application's own command the raw
        dict. A :class:`CommandRefusedError` is a deliberate no (acked with its message); any
        other exception is a bug: logged with its traceback and acked as an internal error."""
        handler = self.handlers.get(cmd.name)
        if handler is None:
            return False, f"unknown command {cmd.name!r}", None
        try:
            args: object = (parse_args(cmd.name, cmd.args) if cmd.name in COMMAND_BY_NAME
                            else dict(cmd.args))
            outcome = handler(args)
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except CommandRefusedError as exc:
            log.warning("%s: command %s refused: %s", self._device_id, cmd.name, exc)
            return False, str(exc), None
        except Exception as exc:
            log.exception("%s: command %s failed", self._device_id, cmd.name)
            return False, f"internal error ({type(exc).__name__}): {exc}", None
        return True, None, None if outcome is None else dict(outcome)
