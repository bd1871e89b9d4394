"""From raw MQTT (topic, bytes) to a storable row, a rejection or a duplicate.

WHY one pure function for the whole decision: every ingest worker, the fuzz tests and the
benchmark call the same code; validation uses the contract's :func:`decode` (so the reasons
are the contract's: ``too_large``, ``not_json``, ``missing_field``, ``wrong_type``,
``invalid_value``, ``future_ts``) plus the hub's own checks: ``unknown_topic``, ``id_mismatch``
(a payload whose id differs from its topic's, which the broker ACL alone cannot prevent; for
``srem`` also a ``vehicle_id`` that differs from the sender id the topic ends in) and
``before_birth``.

The birth rule (docs/hub.md, "Timestamps"): a device stamps every message after the birth of
its current connection (the ``online`` status, whose ``ts`` is the moment the connection was
established) with a ``ts`` at or after that birth, and marks what it queued before as
``historical``. So a message that is not historical and is dated before the newest birth this
intake has seen from its device is refused (``before_birth``); historical replays keep their old
``ts`` and are taken. Births are taken from the status messages of the same ordered stream
(never from another session, which may be ahead of this one during a backlog); retained
messages (status, MAP) carry no such rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from central_hub.domain.streams import SeqTracker, Verdict
from edge_agent.contract.payloads import decode
from edge_agent.contract.topics import TopicName, Topics
from edge_agent.errors import PayloadError

#: topics whose payloads carry ``seq`` and go to the time-series table.
SEQUENCED = frozenset({"position", "occupancy", "wlan", "health", "ssem"})
#: topics stored as events, de-duplicated by a natural key instead of ``seq``.
EVENTS = frozenset({"status", "map", "srem", "cmd_ack"})
#: what the ingest worker subscribes to (SPaT is handled by the live path: 10 Hz x 300).
INGESTED: tuple[TopicName, ...] = ("position", "occupancy", "wlan", "health", "ssem",
                             "status", "map", "srem", "cmd_ack")
MAX_SEQ = 2**63 - 1  # a signed 64-bit column; a counter at 10 Hz never gets there

#: streamed topics whose ``ts`` must not lie before the device's birth (unless historical);
#: not cmd/ack (matched by command id, its ``ts`` decides nothing) nor retained topics.
BIRTH_BOUND = frozenset({"position", "occupancy", "wlan", "health", "ssem", "srem", "spat"})

_ID_FIELD = {"position": "vehicle_id", "occupancy": "vehicle_id", "wlan": "vehicle_id",
             "status": "device_id", "spat": "intersection_id", "map": "intersection_id",
             "ssem": "intersection_id", "srem": "intersection_id"}
#: the payload field that must equal the sender id at the end of the topic.
_SENDER_FIELD = {"srem": "vehicle_id"}


@dataclass(frozen=True, slots=True)
class Row:
    """A validated message ready for storage: ``table`` is ``samples`` or ``events``."""

    table: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that breaks the contract, with the counted reason."""

    topic: str
    reason: str
    detail: str


class Intake:
    """Validates, de-duplicates (in memory, first line) and counts per topic and reason."""

    def __init__(self, topics: Topics, tracker: SeqTracker | None = None, *,
                 entity_device: Mapping[str, str] | None = None) -> None:
        self.topics = topics
        self.tracker = tracker if tracker is not None else SeqTracker()
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.accepted = 0
        self.duplicates = 0
        #: entity id (vehicle) -> device id, from the registry (read only here)
        self.entity_device: Mapping[str, str] = entity_device if entity_device is not None \
            else {}
        #: device id -> (bdseq, ts) of the newest ``online`` status seen in this stream
        self.births: dict[str, tuple[int, int]] = {}

    def accept(self, topic: str, payload: bytes | bytearray,
               received_ms: int) -> Row | Rejected | None:
        """Classify one message; ``None`` means a duplicate already seen."""
        ref = self.topics.parse(topic)
        if ref is None or ref.spec.name not in SEQUENCED | EVENTS:
            return self._reject("unknown" if ref is None else ref.spec.name, "unknown_topic",
                                topic)
        name = ref.spec.name
        try:
            msg = decode(ref.spec.json_model(), payload, now_ms=received_ms)
        except PayloadError as exc:
            return self._reject(name, exc.reason, exc.detail)
        id_field = _ID_FIELD.get(name)
        if id_field is not None and getattr(msg, id_field) != ref.entity_id:
            return self._reject(name, "id_mismatch",
                                f"{id_field} {getattr(msg, id_field)!r} != {ref.entity_id!r}")
        sender_field = _SENDER_FIELD.get(name)
        if sender_field is not None and getattr(msg, sender_field) != ref.sender_id:
            return self._reject(name, "id_mismatch", f"{sender_field} "
                                f"{getattr(msg, sender_field)!r} != {ref.sender_id!r}")
        if name in BIRTH_BOUND and not getattr(msg, "historical", False):
            sender = ref.sender_id or ref.entity_id  # an SREM is the bus's, not the junction's
            device = self.entity_device.get(sender, sender)
            born = self.births.get(device)
            ts: int = getattr(msg, "ts")  # noqa: B009 - every birth-bound model has it
            if born is not None and ts < born[1]:
                return self._reject(name, "before_birth",
                                    f"ts {ts} < birth {born[1]} of {device}")
        elif name == "status" and getattr(msg, "state") == "online":  # noqa: B009
            self._birth(msg.device_id, msg.bdseq, msg.ts)  # type: ignore[attr-defined]
        text = bytes(payload).decode("utf-8")
        if name in SEQUENCED:
            seq: int = getattr(msg, "seq")  # noqa: B009 - the sequenced models all have it
            if seq > MAX_SEQ:
                return self._reject(name, "invalid_value", f"seq {seq} > {MAX_SEQ}")
            if self.tracker.observe(ref.entity_id, name, seq).verdict is Verdict.DUPLICATE:
                self.duplicates += 1
                return None
            self.accepted += 1
            return Row("samples", {
                "device_id": ref.entity_id, "topic": name, "seq": seq,
                "ts": getattr(msg, "ts"), "received_ms": received_ms,  # noqa: B009
                "historical": getattr(msg, "historical", False), "payload": text})
        self.accepted += 1
        return Row("events", {"device_id": ref.entity_id, "topic": name,
                              "key": _event_key(name, msg), "ts": getattr(msg, "ts", 0),
                              "received_ms": received_ms, "payload": text})

    def _birth(self, device_id: str, bdseq: int, ts: int) -> None:
        known = self.births.get(device_id)
        if known is None or bdseq >= known[0]:
            self.births[device_id] = (bdseq, ts)

    def reject_error(self, topic: str) -> Rejected:
        """Count a message whose handling raised (a bug): rejected as ``internal_error``."""
        ref = self.topics.parse(topic)
        return self._reject(ref.spec.name if ref is not None else "unknown", "internal_error",
                            "see the log")

    def _reject(self, topic: str, reason: str, detail: str) -> Rejected:
        self.rejected[(topic, reason)] += 1
        return Rejected(topic, reason, detail)


def _event_key(name: str, msg: Any) -> str:
    if name == "status":
        return f"{msg.bdseq}:{msg.state}:{msg.ts}"
    if name == "map":
        return f"{msg.revision}:{msg.ts}"
    if name == "srem":  # request ids are per vehicle; the long free-form id goes last
        return f"{msg.ts}:{msg.type}:{msg.vehicle_id}:{msg.request_id}"[:200]
    return str(msg.id)[:200]  # cmd_ack: one per command id
