"""The live subscription: every hub process sees every message (no shared group).

WHY a second, non-shared connection: the shared ingest subscription gives each worker only a
part of the stream, but each HTTP process must serve the latest SPaT of every intersection,
forward every SPaT to its WebSocket clients, see every command ack it waits for, and the
primary must see every status, SPaT and health message to raise alarms. The session is not
persistent: after a restart the retained status and MAP messages rebuild the picture and
live data catches up within a second. The C-ITS messages (SPATEM, MAPEM) are kept as
received after a size and header check; one SPATEM per intersection and second is decoded and
compared with its SPaT (:mod:`central_hub.domain.etsi_feed`).

Latency path: the session thread (:class:`~edge_agent.mqtt5.session.WireSubscriber`) appends each
socket read's messages to a bounded deque at once and wakes the event loop only when the deque
was empty; the drain task validates and fans out. No per-message thread hop. QoS 1 messages
(status, MAP, acks) are acknowledged as soon as they are queued: this path stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable

from central_hub.alarms import AlarmService
from central_hub.commands import CommandBus
from central_hub.core.config import HubRuntime
from central_hub.domain.etsi_feed import EtsiRow
from central_hub.domain.intake import BIRTH_BOUND
from central_hub.domain.live_state import LiveState, SignalChange
from central_hub.live.broadcast import Broadcaster
from central_hub.live.dashboard_feed import DashboardFeed
from edge_agent.contract.payloads import (
    CommandAck,
    Detector,
    Health,
    Map,
    Occupancy,
    Position,
    Spat,
    Status,
    decode,
)
from edge_agent.contract.topics import TopicName, Topics
from edge_agent.errors import PayloadError
from edge_agent.mqtt5.codec import POISON
from edge_agent.mqtt5.session import Message, SessionOptions, WireSubscriber

log = logging.getLogger(__name__)

#: (topic name, QoS) of the live subscription.
LIVE_TOPICS: tuple[tuple[TopicName, int], ...] = (
    ("status", 1), ("health", 0), ("position", 0), ("occupancy", 0), ("spat", 0),
    ("map", 1), ("cmd_ack", 1), ("detector", 0), ("etsi_spatem", 0), ("etsi_mapem", 1),
)
_ID_FIELD = {"position": "vehicle_id", "occupancy": "vehicle_id", "spat": "intersection_id",
             "map": "intersection_id", "status": "device_id"}


class LiveFeed:
    """Non-shared MQTT subscription -> :class:`LiveState`, WebSockets, alarms, commands."""

    def __init__(self, runtime: HubRuntime, state: LiveState, spat: Broadcaster,
                 dashboard: DashboardFeed, *, commands_factory: Callable[[Topics], CommandBus]
                 | None = None, alarms: AlarmService | None = None,
                 on_signal_changes: Callable[[list[SignalChange]], None] | None = None) -> None:
        self.runtime = runtime
        self.topics = Topics(runtime.topic_root)
        self.state = state
        self.spat = spat
        self.dashboard = dashboard
        self.alarms = alarms
        self.on_signal_changes = on_signal_changes
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.received = 0
        self.dropped = 0
        self.capacity = runtime.settings.live_queue_size
        self._inbox: deque[Message] = deque()  # (qos, packet id, topic, payload) as read
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        client_id = f"{runtime.config.device_id}-live-{uuid.uuid4().hex[:8]}"
        mc = runtime.config.mqtt
        self._session = WireSubscriber(
            runtime.broker,
            SessionOptions(client_id=client_id,
                           filters=tuple((self.topics.filter(n), q) for n, q in LIVE_TOPICS),
                           keepalive_s=mc.keepalive_s, session_expiry_s=0, clean_start=True,
                           receive_maximum=65535, auto_ack=True, label="live",
                           reconnect_min_s=runtime.settings.reconnect_min_s,
                           reconnect_max_s=runtime.settings.reconnect_max_s),
            on_messages=self._on_messages, on_connected=self._on_connected, tls=mc.tls)
        #: set once the broker acknowledged the subscriptions (``connected`` comes earlier:
        #: messages published between the two do not reach the live path).
        self.subscribed = self._session.subscribed
        self.commands = (commands_factory or (lambda t: CommandBus(t, self.publish)))(self.topics)

    # --- session thread -----------------------------------------------------------------

    def _on_connected(self, _generation: int) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.connected.set)

    def _on_messages(self, _generation: int, messages: list[Message]) -> None:
        inbox = self._inbox
        room = self.capacity - len(inbox)
        if room < len(messages):
            self.dropped += len(messages) - max(0, room)
            messages = messages[:max(0, room)]
        was_empty = not inbox
        inbox.extend(messages)
        if was_empty and inbox and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # --- event loop ----------------------------------------------------------------------

    async def _drain_loop(self) -> None:
        inbox = self._inbox
        while True:
            await self._wake.wait()
            self._wake.clear()
            n = 0
            while inbox:
                _qos, _mid, topic, payload = inbox.popleft()
                if payload is POISON:  # skipped and counted by the session, acked there
                    continue
                try:
                    self.handle(topic, payload, int(time.time() * 1000))
                except Exception:  # a bug must not stop the live path
                    log.exception("live: failed to handle a message on %r", topic)
                n += 1
                if n % 256 == 0:
                    await asyncio.sleep(0)

    def handle(self, topic: str, payload: bytes, now: int) -> None:
        """Validate one message and apply it everywhere it matters."""
        self.received += 1
        ref = self.topics.parse(topic)
        if ref is None:
            self.rejected[("unknown", "unknown_topic")] += 1
            return
        name = ref.spec.name
        if name in ("etsi_spatem", "etsi_mapem"):
            self._etsi(name, ref.entity_id, payload, now)
            return
        try:
            msg = decode(ref.spec.json_model(), payload, now_ms=now)
        except PayloadError as exc:
            self.rejected[(name, exc.reason)] += 1
            return
        id_field = _ID_FIELD.get(name)
        if id_field is not None and getattr(msg, id_field) != ref.entity_id:
            self.rejected[(name, "id_mismatch")] += 1
            return
        st = self.state
        # the birth rule (domain/intake.py)
        if name in BIRTH_BOUND and not getattr(msg, "historical", False):
            born = st.birth_of(ref.entity_id)
            if born is not None and getattr(msg, "ts") < born:  # noqa: B009
                self.rejected[(name, "before_birth")] += 1
                return
        alarms = self.alarms
        if name == "spat":
            assert isinstance(msg, Spat)
            text = payload.decode()
            self.spat.publish(msg.intersection_id, text)
            changes = st.apply_spat(msg, payload, now)
            self.dashboard.spat(msg.intersection_id)
            if changes and self.on_signal_changes is not None:
                self.on_signal_changes(changes)
            if alarms is not None:
                alarms.submit(alarms.engine.on_spat(msg.intersection_id, msg.status, now))
        elif name == "position":
            assert isinstance(msg, Position)
            st.apply_position(msg, payload, now)
            self.dashboard.vehicle(msg.vehicle_id)
        elif name == "occupancy":
            assert isinstance(msg, Occupancy)
            st.apply_occupancy(msg, payload, now)
            self.dashboard.vehicle(msg.vehicle_id)
        elif name == "status":
            assert isinstance(msg, Status)
            if st.apply_status(msg, now):
                self.dashboard.device(msg.device_id)
                if alarms is not None:
                    alarms.submit(alarms.engine.on_status(msg.device_id, msg.state, now))
        elif name == "health":
            assert isinstance(msg, Health)
            st.apply_health(ref.entity_id, msg, now)
            self.dashboard.device(ref.entity_id)
            if alarms is not None:
                alarms.submit(alarms.engine.on_health(ref.entity_id, msg, now))
        elif name == "map":
            assert isinstance(msg, Map)
            st.apply_map(msg, now)
            self.dashboard.map(msg.intersection_id)
        elif name == "detector":  # the controller reports no detector faults: judge them here
            assert isinstance(msg, Detector)
            st.apply_detector(ref.entity_id, msg, now)
        elif name == "cmd_ack":
            assert isinstance(msg, CommandAck)
            self.commands.on_ack(ref.entity_id, msg)

    def _etsi(self, name: EtsiRow, intersection_id: str, payload: bytes, now: int) -> None:
        """Keep the latest SPATEM/MAPEM bytes (size and header checked, SPATEM decoded and
        compared with the JSON SPaT once a second: :mod:`central_hub.domain.etsi_feed`)."""
        i = self.state.intersections.get(intersection_id)
        feed = self.state.etsi
        agreed = feed.agrees(intersection_id)
        try:
            feed.accept(name, intersection_id, payload, now,
                        spat=None if i is None else i.spat,
                        map_revision=None if i is None or i.map is None else i.map.revision)
        except PayloadError as exc:  # an ItsMessageError: counted like a bad JSON payload
            self.rejected[(name, exc.reason)] += 1
            return
        if feed.agrees(intersection_id) is False and agreed is not False:  # once per change
            log.warning("live: %s SPATEM and SPaT disagree: %s", intersection_id,
                        feed.intersections[intersection_id].difference)

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Publish through the live connection (commands); ``ConnectionError`` when it is down."""
        if not self._session.publish(topic, payload, qos):
            raise ConnectionError("the hub is not connected to the broker")

    @property
    def depth(self) -> int:
        return len(self._inbox)

    @property
    def session_connected(self) -> bool:
        """The live session is connected to the broker right now."""
        return self._session.connected

    @property
    def last_error(self) -> str | None:
        """Why the live session's last connection attempt or connection ended, if it did."""
        return self._session.last_error

    @property
    def poison(self) -> Counter[str]:
        """Messages the session skipped as poison, by reason (acknowledged, never applied)."""
        return self._session.poison

    @property
    def last_poison(self) -> str | None:
        """The newest poison message, described."""
        return self._session.last_poison

    async def start(self) -> None:
        """Connect and start draining (returns at once; see :attr:`connected`)."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._drain_loop(), name="live_drain_loop")
        self._session.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._session.stop)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
