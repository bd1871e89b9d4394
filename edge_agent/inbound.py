"""Inbound messages of an agent: subscriptions, contract validation, handlers, rejections.

Why a module of its own: a field device must survive whatever arrives. A payload is validated
against the contract (strict JSON, ``ts`` at most ``MAX_FUTURE_MS`` ahead of this device's
clock) before any handler sees it; a bad one is counted per topic and reason, logged at most
once a minute per key, and never reaches a handler or crashes the agent; a handler that raises
is logged and counted, never fatal.

The ETSI rows (raw UPER bytes, no JSON model) reach their handler as the received ``bytes``
with the topic's ids in the :class:`TopicRef` (``sender_id``: the vehicle of an
``etsi/srem``); the handler decodes them (``edge_agent.contract.etsi``), and a
:class:`PayloadError` it raises (an ``ItsMessageError``) is counted and logged as a rejected
payload, exactly like a JSON payload that fails validation.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import paho.mqtt.client as paho

from edge_agent.contract.payloads import decode
from edge_agent.contract.topics import SPEC_BY_NAME, TopicName, TopicRef, Topics
from edge_agent.errors import PayloadError
from edge_agent.tasks import Spawn

# one logger for the whole agent runtime, as before it was split into modules
log = logging.getLogger("edge_agent.agent")

Handler = Callable[[TopicRef, Any], Awaitable[None] | None]
REJECT_LOG_INTERVAL_S = 60.0


class Inbound:
    """The handlers of one agent and the subscription filters they need."""

    def __init__(
        self, topics: Topics, *, device_id: str, now_ms: Callable[[], int], spawn: Spawn
    ) -> None:
        self._topics = topics
        self._device_id = device_id
        self._now_ms = now_ms
        self._spawn = spawn
        #: inbound payloads rejected, by (topic name, reason).
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.handler_errors = 0
        self._last_reject_log: dict[tuple[str, str], float] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        #: every subscription filter with its QoS (what each new session subscribes).
        self.filters: dict[str, int] = {}

    def add(self, name: TopicName, entity_id: str, handler: Handler) -> tuple[str, int]:
        """Register ``handler`` for row ``name`` of ``entity_id`` (``+``: all); returns the
        filter and QoS to subscribe. A handler of an ETSI row gets the raw bytes (see the
        module docstring)."""
        self._handlers[(name, entity_id)] = handler
        sub = (self._topics.filter(name, entity_id), SPEC_BY_NAME[name].qos)
        self.filters[sub[0]] = sub[1]
        return sub

    def on_message(self, msg: paho.MQTTMessage) -> None:
        """Validate a received message and hand it to its handler (see the module docstring)."""
        ref = self._topics.parse(msg.topic)
        if ref is None:
            self._reject("unknown", "unknown_topic", msg.topic)
            return
        handler = self._handlers.get((ref.spec.name, ref.entity_id)) or self._handlers.get(
            (ref.spec.name, "+")
        )
        if handler is None:
            self._reject(ref.spec.name, "not_subscribed", msg.topic)
            return
        payload: Any = bytes(msg.payload)
        if not ref.spec.binary:
            try:
                payload = decode(ref.spec.json_model(), msg.payload, now_ms=self._now_ms())
            except PayloadError as exc:
                self._reject(ref.spec.name, exc.reason, f"{msg.topic}: {exc.detail}")
                return
        try:
            result = handler(ref, payload)
        except PayloadError as exc:
            if not ref.spec.binary:  # a JSON handler's own failure, not the sender's
                self.handler_errors += 1
                log.exception("%s: handler for %s failed", self._device_id, msg.topic)
                return
            # ETSI bytes the handler could not read: the sender's, counted like bad JSON
            self._reject(ref.spec.name, exc.reason, f"{msg.topic}: {exc.detail}")
            return
        except Exception:
            self.handler_errors += 1
            log.exception("%s: handler for %s failed", self._device_id, msg.topic)
            return
        if inspect.isawaitable(result):
            self._spawn(self._guard(result, msg.topic), "handler")

    async def _guard(self, awaitable: Awaitable[Any], topic: str) -> None:
        try:
            await awaitable
        except Exception:
            self.handler_errors += 1
            log.exception("%s: handler for %s failed", self._device_id, topic)

    def _reject(self, topic_name: str, reason: str, detail: str) -> None:
        key = (topic_name, reason)
        self.rejected[key] += 1
        now = time.monotonic()
        if now - self._last_reject_log.get(key, -REJECT_LOG_INTERVAL_S) >= REJECT_LOG_INTERVAL_S:
            self._last_reject_log[key] = now
            log.warning(
                "%s: rejected %s payload (%s, %d so far): %s",
                self._device_id,
                topic_name,
                reason,
                self.rejected[key],
                detail[:200],
            )
