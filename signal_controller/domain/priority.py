"""Bus and emergency priority requests (SREM in, SSEM statuses out) and the priority policy.

Why a module of its own: requests arrive from the network and must never be trusted. This
module turns them into at most two bounded *wishes* for the stage logic — hold the current
green until a bus has passed (extension, up to ``max_extension``) or call and bring early the
stage of a bus (early green: conflicting stages truncated towards their minimum green, by at
most ``max_early``) — which the actuated logic grants only inside the bounds it has already
published, and which the safety kernel checks like everything else.

Identity: a request belongs to the vehicle that sent it, as named by its topic
(``signal/{id}/srem/{vehicle_id}``, which the broker's ACL lets only that vehicle's login
write; :attr:`PriorityMessage.sender_id`). A payload naming another vehicle is refused
(``vehicle_mismatch``); requests are keyed by ``(vehicle_id, request_id)``, so a vehicle can
only update or cancel its own, whatever ids it reads on SSEM. ``role: emergency`` is honoured
only for the intersection's ``priority.emergency_vehicles``; any other vehicle claiming it is
served as transit and counted (``downgraded_emergency``).

Policy (ranking of simultaneous requests, any number of them; at most :data:`MAX_ACTIVE`):
emergency before transit, then earliest ETA, then the later bus (larger ``delay_s``) on ties,
then the earlier request. The best-ranked request the controller can act on picks the target
stage; requests served by the same stage are granted with it, the others wait
(``watchOtherTraffic``). A transit request for an approach prioritised in the current or the
previous cycle gets ``reserviceLocked`` so that cross traffic is not starved (emergency
vehicles are never locked).

Rejected and counted (``PriorityState.counts``): a payload whose vehicle differs from its
topic's, unknown or non-priority groups, another intersection's id, stale or absurd ETAs, more
than :data:`FLOOD_MESSAGES` messages from one vehicle within :data:`FLOOD_WINDOW_MS`, more than
:data:`MAX_PER_VEHICLE` open requests of one vehicle, more than :data:`MAX_ACTIVE` open
requests, and requests while not in actuated mode. The table is bounded: at most
:data:`MAX_ACTIVE` open requests (:data:`MAX_PER_VEHICLE` per vehicle) plus at most
:data:`MAX_REJECTED_SHOWN` finished ones shown on SSEM (:data:`MAX_PER_VEHICLE` per vehicle,
so one vehicle's rejections cannot push others' off), :data:`MAX_TABLE` entries in all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from edge_agent.contract.payloads import RequestStatus
from signal_controller.domain.intersection import Intersection

MAX_ACTIVE = 64
MAX_PER_VEHICLE = 4
MAX_REJECTED_SHOWN = 32
#: every entry of the table (open plus finished ones still shown on SSEM).
MAX_TABLE = MAX_ACTIVE + MAX_REJECTED_SHOWN
FLOOD_WINDOW_MS = 10_000
FLOOD_MESSAGES = 20
MAX_TRACKED_VEHICLES = 4096
STALE_ETA_MS = 5_000
STALE_TS_MS = 30_000
MAX_ETA_AHEAD_MS = 600_000
ACTION_HORIZON_MS = 120_000
PASS_MARGIN_MS = 2_000
MAX_PRESENCE_MS = 30_000
SHOW_FINISHED_MS = 5_000

#: statuses of requests the controller still considers.
OPEN = frozenset({"requested", "processing", "watchOtherTraffic", "granted", "reserviceLocked"})

#: a request's identity: ``(vehicle_id, request_id)``, the vehicle as its topic names it.
RequestKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PriorityMessage:
    """A received SREM in domain form (the adapter builds it from the contract payload)."""

    request_id: str
    vehicle_id: str
    intersection_id: str
    type: Literal["request", "update", "cancel"]
    sg: str
    eta: int
    role: Literal["transit", "emergency"]
    ts: int
    #: the vehicle id of the topic it arrived on (enforced by the broker's ACL); the payload's
    #: ``vehicle_id`` must equal it.
    sender_id: str
    route_id: str | None = None
    #: how late the bus runs (s, negative when early): the srem's optional ``delay_s``
    #: (a contract addition); ``None`` when the bus does not send it, ranked as on time.
    delay_s: float | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One request the controller knows, with its current SSEM status."""

    request_id: str
    vehicle_id: str
    sg: str
    eta: int
    role: str
    delay_s: float
    received: int
    status: RequestStatus
    #: when a finished (rejected/maxPresence) entry leaves the SSEM list.
    expires: int | None = None

    @property
    def key(self) -> RequestKey:
        """Its key in the table: only its own vehicle can update or cancel it."""
        return (self.vehicle_id, self.request_id)

    def rank(self) -> tuple[int, int, float, int, str, str]:
        """Sort key of the policy: emergency, earliest ETA, latest bus, earliest request."""
        return (0 if self.role == "emergency" else 1, self.eta, -self.delay_s, self.received,
                self.request_id, self.vehicle_id)


@dataclass(frozen=True, slots=True)
class PriorityWish:
    """What priority asks of the stage logic this tick."""

    #: keep the current stage green until this instant (extension), within its deadline.
    hold_until: int | None = None
    #: index of the stage to bring early; other stages are truncated towards minimum green.
    early_stage: int | None = None
    #: stages called on behalf of buses (demand that may disappear with a cancel).
    calls: frozenset[int] = frozenset()


NO_WISH = PriorityWish()


@dataclass(frozen=True, slots=True)
class StageView:
    """What priority needs to know about the stage logic (read-only)."""

    stage: int
    cycle: int
    #: latest instant the current stage can still be held green to (deadline or max+extension).
    hold_limit: int
    #: groups green now or entering in the current stage.
    serving: frozenset[str]


@dataclass(frozen=True, slots=True)
class PriorityState:
    """Known requests, rejection counters, flood tracking and the reservice lock memory."""

    requests: Mapping[RequestKey, Request] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    recent: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    #: approach -> cycle number in which it was last prioritised.
    served_cycle: Mapping[str, int] = field(default_factory=dict)

    def ssem(self) -> tuple[tuple[str, str, str, RequestStatus], ...]:
        """``(request_id, vehicle_id, sg, status)`` of every listed request, sorted."""
        return tuple(
            (r.request_id, r.vehicle_id, r.sg, r.status)
            for r in sorted(self.requests.values(), key=lambda r: (r.request_id, r.vehicle_id))
        )


def _count(counts: Mapping[str, int], reason: str) -> dict[str, int]:
    out = dict(counts)
    out[reason] = out.get(reason, 0) + 1
    return out


def _reject(
    state: PriorityState, msg: PriorityMessage, role: str, reason: str, now: int
) -> PriorityState:
    counts = _count(state.counts, f"rejected_{reason}")
    requests = dict(state.requests)
    entry = Request(
        msg.request_id, msg.sender_id, msg.sg, msg.eta, role, msg.delay_s or 0.0, now,
        "rejected", now + SHOW_FINISHED_MS,
    )
    requests[entry.key] = entry
    return replace(state, requests=_trim_finished(requests), counts=counts)


def _trim_finished(requests: dict[RequestKey, Request]) -> dict[RequestKey, Request]:
    """Drop the oldest finished entries beyond :data:`MAX_PER_VEHICLE` per vehicle and
    :data:`MAX_REJECTED_SHOWN` in all (open requests are bounded on admission)."""
    finished = sorted(
        (r for r in requests.values() if r.status not in OPEN), key=lambda r: r.received
    )
    per_vehicle: dict[str, int] = {}
    kept: list[Request] = []
    for r in reversed(finished):  # newest first
        n = per_vehicle.get(r.vehicle_id, 0)
        if n >= MAX_PER_VEHICLE or len(kept) >= MAX_REJECTED_SHOWN:
            del requests[r.key]
        else:
            per_vehicle[r.vehicle_id] = n + 1
            kept.append(r)
    return requests


def _served(state: PriorityState, model: Intersection, req: Request, cycle: int) -> dict[str, int]:
    served = dict(state.served_cycle)
    if req.status == "granted":
        served[model.by_sg[req.sg].approach] = cycle
    return served


def receive(
    state: PriorityState,
    model: Intersection,
    msg: PriorityMessage,
    now: int,
    *,
    accepting: bool,
    cycle: int,
) -> PriorityState:
    """Take one SREM into account (validated at the contract level already)."""
    if msg.vehicle_id != msg.sender_id:  # another vehicle's id: never tracked or listed
        return replace(state, counts=_count(state.counts, "rejected_vehicle_mismatch"))
    recent = dict(state.recent)
    times = tuple(t for t in recent.get(msg.sender_id, ()) if now - t < FLOOD_WINDOW_MS)
    times = (*times[-FLOOD_MESSAGES:], now)
    recent[msg.sender_id] = times
    if len(recent) > MAX_TRACKED_VEHICLES:
        recent = {v: t for v, t in recent.items() if t and now - t[-1] < FLOOD_WINDOW_MS}
        if len(recent) > MAX_TRACKED_VEHICLES:  # still full: keep the most recent senders
            keep = sorted(recent, key=lambda v: recent[v][-1])[-MAX_TRACKED_VEHICLES:]
            recent = {v: recent[v] for v in keep}
    state = replace(state, recent=recent)
    if len(times) > FLOOD_MESSAGES:
        return replace(state, counts=_count(state.counts, "rejected_flood"))
    if msg.intersection_id != model.id:
        return replace(state, counts=_count(state.counts, "rejected_wrong_intersection"))
    key = (msg.sender_id, msg.request_id)
    existing = state.requests.get(key)
    if msg.type == "cancel":
        if existing is None:  # nothing of this vehicle's: another's id cannot reach it
            return state
        requests = dict(state.requests)
        del requests[key]
        served = _served(state, model, existing, cycle)
        return replace(state, requests=requests, served_cycle=served)
    role: str = msg.role
    if role == "emergency" and msg.sender_id not in model.priority.emergency_vehicles:
        role = "transit"
        state = replace(state, counts=_count(state.counts, "downgraded_emergency"))
    if msg.sg not in model.by_sg:
        return _reject(state, msg, role, "unknown_group", now)
    if not model.priority.enabled or msg.sg not in model.priority.groups:
        return _reject(state, msg, role, "not_priority_group", now)
    stale = msg.eta < now - STALE_ETA_MS or msg.ts < now - STALE_TS_MS
    if stale or msg.eta > now + MAX_ETA_AHEAD_MS:
        return _reject(state, msg, role, "stale_eta", now)
    if not accepting:
        return _reject(state, msg, role, "not_actuated", now)
    open_reqs = [r for r in state.requests.values() if r.status in OPEN]
    if existing is None or existing.status not in OPEN:
        if sum(1 for r in open_reqs if r.vehicle_id == msg.sender_id) >= MAX_PER_VEHICLE:
            return _reject(state, msg, role, "too_many_per_vehicle", now)
        if len(open_reqs) >= MAX_ACTIVE:
            return _reject(state, msg, role, "capacity", now)
    status: RequestStatus = "processing"
    if existing is not None and existing.status in OPEN:
        status = existing.status
    requests = dict(state.requests)
    requests[key] = Request(
        msg.request_id, msg.sender_id, msg.sg, msg.eta, role, msg.delay_s or 0.0,
        existing.received if existing else now, status,
    )
    return replace(state, requests=requests)


def reject_all(state: PriorityState, reason: str) -> PriorityState:
    """Every open request becomes ``rejected`` (the controller left actuated mode)."""
    if not any(r.status in OPEN for r in state.requests.values()):
        return state
    requests = {}
    counts = dict(state.counts)
    for key, r in state.requests.items():
        if r.status in OPEN:
            counts[f"rejected_{reason}"] = counts.get(f"rejected_{reason}", 0) + 1
            requests[key] = replace(r, status="rejected", expires=r.received + SHOW_FINISHED_MS)
        else:
            requests[key] = r
    return replace(state, requests=requests, counts=counts)


def evaluate(
    state: PriorityState,
    model: Intersection,
    view: StageView | None,
    now: int,
) -> tuple[PriorityState, PriorityWish]:
    """Re-rank open requests, give each its status and derive this tick's wish.

    ``view`` is ``None`` when the controller is not running actuated control; open requests
    then keep waiting as ``processing``.
    """
    if not any(r.status in OPEN for r in state.requests.values()) and all(
        r.expires is None or r.expires > now for r in state.requests.values()
    ):
        return state, NO_WISH
    requests = dict(state.requests)
    served = state.served_cycle
    changed = False
    for key, r in state.requests.items():
        if r.expires is not None and r.expires <= now:
            del requests[key]
            changed = True
        elif r.status in OPEN and now > r.eta + MAX_PRESENCE_MS:
            if view is not None:
                served = _served(replace(state, served_cycle=served), model, r, view.cycle)
            requests[key] = replace(r, status="maxPresence", expires=now + SHOW_FINISHED_MS)
            changed = True
    open_reqs = sorted((r for r in requests.values() if r.status in OPEN), key=Request.rank)
    if not open_reqs:
        new = replace(state, requests=requests, served_cycle=served) if changed else state
        return new, NO_WISH
    hold_until: int | None = None
    target: int | None = None
    target_groups: frozenset[str] = frozenset()
    early = False
    for r in open_reqs:
        status: RequestStatus
        if view is None:
            status = "processing"
        elif (
            r.role != "emergency"
            and r.status != "granted"
            and served.get(model.by_sg[r.sg].approach, -10) >= view.cycle - 1
        ):
            status = "reserviceLocked"
        elif r.eta - now > ACTION_HORIZON_MS:
            status = "processing"
        elif target is None:
            if r.sg in view.serving:
                want = r.eta + PASS_MARGIN_MS
                if want <= view.hold_limit:
                    target, target_groups = view.stage, model.stages[view.stage].groups
                    hold_until = want
                    status = "granted"
                else:
                    status = "watchOtherTraffic"
            else:
                nxt = model.next_stage_with(view.stage, r.sg)
                if nxt is None:
                    status = "watchOtherTraffic"
                else:
                    target, target_groups, early = nxt, model.stages[nxt].groups, True
                    status = "granted"
        elif r.sg in target_groups:
            status = "granted"
            if not early:
                want = r.eta + PASS_MARGIN_MS
                if want <= view.hold_limit:
                    hold_until = max(hold_until or want, want)
                else:
                    status = "watchOtherTraffic"
        else:
            status = "watchOtherTraffic"
        if status != r.status:
            requests[r.key] = replace(r, status=status)
            changed = True
    new = replace(state, requests=requests, served_cycle=served) if changed else state
    if target is None:
        return new, NO_WISH
    if early:
        return new, PriorityWish(early_stage=target, calls=frozenset({target}))
    return new, PriorityWish(hold_until=hold_until)
