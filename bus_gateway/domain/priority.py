"""Transit signal priority: when to send ``srem`` request, update and cancel.

Why a separate state machine: the controller plans green extensions around the bus's ETA, so
the bus must ask early enough (ETA under ``request_eta_s``), keep the ETA honest while it
approaches (an update whenever it moved by ``update_eta_change_s``, not on every fix, to keep
the controller's input stable), and withdraw the request as soon as the green is no longer
needed: once the stop line is passed, while the bus dwells at a stop (the door time is
unknown, a held green would only delay cross traffic), or when it fell far behind its ETA.
The controller's answers (``ssem``) are followed: a rejected request is not repeated for the
same approach, and the last status is shown to the driver. An ``ssem`` lists every vehicle's
requests, and request ids are only unique per vehicle, so only rows with this vehicle's id are
ours (another bus may reuse our request id for its own request, never act on ours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bus_gateway.domain.geo import angle_between_deg, bearing_deg, distance_m
from edge_agent.contract.configs import PriorityPoint
from edge_agent.contract.payloads import SsemRequest

SremType = Literal["request", "update", "cancel"]


@dataclass(frozen=True, slots=True)
class SremAction:
    """One message to send on ``signal/{intersection_id}/srem/{our vehicle id}``."""

    type: SremType
    request_id: str
    intersection_id: str
    sg: str
    eta_ms: int


@dataclass(frozen=True, slots=True)
class PriorityRules:
    """Tuning of the requester."""

    request_eta_s: float = 30.0
    update_eta_change_s: float = 2.0
    #: withdraw when the ETA grew beyond this factor of ``request_eta_s`` (stuck in traffic).
    cancel_eta_factor: float = 2.0
    #: the stop line counts as passed within this distance or once it is behind the bus.
    passed_within_m: float = 12.0
    #: speed assumed for the ETA when the bus crawls in a queue (m/s).
    min_speed_mps: float = 2.0
    #: a point is "ahead" when the bearing to it is within this angle of the course.
    ahead_within_deg: float = 80.0


@dataclass(slots=True)
class _Approach:
    """Book-keeping for one priority point."""

    point: PriorityPoint
    request_id: str | None = None
    sent_eta_ms: int = 0
    status: str | None = None
    #: set once passed or rejected; cleared when the point lies ahead at a distance again.
    done: bool = False
    #: whether the point lies ahead, as last seen while moving (unknown = not ahead).
    ahead: bool = False


class PriorityRequester:
    """Decides srem messages from fixes, the dwell state and ssem answers."""

    def __init__(
        self,
        vehicle_id: str,
        points: Sequence[PriorityPoint],
        rules: PriorityRules = PriorityRules(),
        *,
        numeric_ids: bool = False,
    ) -> None:
        """``numeric_ids``: request ids are RequestIDs 0..255 in decimal, as a request sent
        also as SREM needs (its JSON and UPER forms then name the same request)."""
        self.vehicle_id = vehicle_id
        self.rules = rules
        self.numeric_ids = numeric_ids
        self._number: int | None = None
        self._approaches = [_Approach(p) for p in points]

    def update(
        self,
        now_ms: int,
        lat: float,
        lon: float,
        speed_mps: float,
        *,
        course_deg: float | None,
        dwelling: bool,
    ) -> list[SremAction]:
        """Advance with one fix; return the srem messages to send now."""
        r = self.rules
        out: list[SremAction] = []
        for a in self._approaches:
            p = a.point
            d = distance_m(lat, lon, p.lat, p.lon)
            if course_deg is not None and speed_mps >= 1.0:
                bearing = bearing_deg(lat, lon, p.lat, p.lon)
                a.ahead = angle_between_deg(course_deg, bearing) <= r.ahead_within_deg
            # standing still the course is noise: keep what we knew while moving
            ahead = a.ahead
            passed = d <= r.passed_within_m or not ahead
            eta_ms = now_ms + round(1000 * d / max(speed_mps, r.min_speed_mps))
            eta_s = (eta_ms - now_ms) / 1000
            if a.request_id is not None:
                if passed or dwelling or eta_s > r.request_eta_s * r.cancel_eta_factor:
                    out.append(self._action("cancel", a, a.sent_eta_ms if passed else eta_ms))
                    a.done = passed
                    a.request_id = None
                elif (
                    abs(eta_ms - a.sent_eta_ms) >= 1000 * r.update_eta_change_s
                    and a.status != "rejected"
                ):
                    a.sent_eta_ms = eta_ms
                    out.append(self._action("update", a, eta_ms))
                continue
            if a.done:
                if ahead and d > 4 * r.passed_within_m:
                    a.done = False  # a later lap of the route
                else:
                    continue
            if ahead and not passed and not dwelling and eta_s <= r.request_eta_s:
                a.request_id = self._new_id(p, now_ms)
                a.status = None
                a.sent_eta_ms = eta_ms
                out.append(self._action("request", a, eta_ms))
        return out

    def _new_id(self, p: PriorityPoint, now_ms: int) -> str:
        """A new request id; the time makes it unique across restarts without persisted
        state (numbered ids: counted on from the first request's second, modulo 256)."""
        if not self.numeric_ids:
            return f"{self.vehicle_id}-{p.intersection_id}-{p.sg}-{now_ms}"
        self._number = (now_ms // 1000 if self._number is None else self._number + 1) % 256
        return str(self._number)

    def cancel_all(self, now_ms: int) -> list[SremAction]:
        """Withdraw every open request (trip ended, shutdown)."""
        out = []
        for a in self._approaches:
            if a.request_id is not None:
                out.append(self._action("cancel", a, max(a.sent_eta_ms, now_ms)))
                a.request_id = None
        return out

    def on_ssem(self, intersection_id: str, requests: Iterable[SsemRequest]) -> None:
        """Record the controller's status of our requests at ``intersection_id`` (rows of
        other vehicles are not ours, whatever their request id)."""
        mine = {r.request_id: r.status for r in requests if r.vehicle_id == self.vehicle_id}
        for a in self._approaches:
            if a.point.intersection_id != intersection_id or a.request_id is None:
                continue
            if a.request_id in mine:
                a.status = mine[a.request_id]

    def statuses(self) -> dict[str, str | None]:
        """Latest controller status per open request id (for the driver display)."""
        return {a.request_id: a.status for a in self._approaches if a.request_id is not None}

    def _action(self, kind: SremType, a: _Approach, eta_ms: int) -> SremAction:
        assert a.request_id is not None
        return SremAction(kind, a.request_id, a.point.intersection_id, a.point.sg, eta_ms)
