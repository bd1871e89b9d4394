"""The hub's per-client rate limits: which routes, which limiter, and a dependency for new ones.

WHY here, apart from the routes: the limits are a property of the HTTP surface, configured in
one settings object (:class:`~central_hub.core.config.RateLimitsSettings`) and enforced by the
shared middleware (:mod:`edge_agent.http_ratelimit`) before any handler or identity code
runs:

* every 401 the hub answers counts against its client (:data:`AUTH_FAILURE_STATUSES`),
  whatever the identity code that answered it;
* a Kita family's application writes (:data:`KITA_WRITE_ROUTES`);
* for routes that need a limit of their own inside the app (the learning platform's answer
  checks and class joins): :data:`LearningAnswerDep`, :data:`LearningJoinDep`, dependencies
  that answer the same 429.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from central_hub.core.config import RateLimitsSettings
from edge_agent.http_ratelimit import FailureRule, RouteRule, client_address
from edge_agent.ratelimit import RateLimiter, retry_after

#: answers that count as a failed authentication.
AUTH_FAILURE_STATUSES = frozenset({401})
#: a family's writes to its applications (registration has its own limit in the Kita service;
#: staff's checks, withdrawals and rounds are not limited here).
KITA_WRITE_ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/api/v1/kita/applications"),
    ("PUT", "/api/v1/kita/applications/{child_id}"),
    ("DELETE", "/api/v1/kita/applications/{child_id}"),
    ("PUT", "/api/v1/kita/applications/{child_id}/decision"),
)


@dataclass(frozen=True, slots=True)
class HubLimiters:
    """One limiter per kind of limit, built per app (tests build many apps)."""

    auth_failures: RateLimiter
    kita_writes: RateLimiter
    learning_answers: RateLimiter
    learning_joins: RateLimiter
    journeys: RateLimiter
    bookings: RateLimiter

    @classmethod
    def of(cls, settings: RateLimitsSettings) -> HubLimiters:
        """Fresh limiters with the configured numbers."""
        n = settings.max_clients
        return cls(settings.auth_failures.limiter(n), settings.kita_writes.limiter(n),
                   settings.learning_answers.limiter(n), settings.learning_joins.limiter(n),
                   settings.journeys.limiter(n), settings.bookings.limiter(n))

    def route_rules(self) -> list[RouteRule]:
        """The rules for :class:`~edge_agent.http_ratelimit.RateLimit`'s ``routes``."""
        return [rule for method, template in KITA_WRITE_ROUTES
                for rule in RouteRule.templates(method, [template], self.kita_writes)]

    def failure_rules(self) -> list[FailureRule]:
        """The rules for :class:`~edge_agent.http_ratelimit.RateLimit`'s ``failures``."""
        return [FailureRule(AUTH_FAILURE_STATUSES, self.auth_failures)]


def _take(limiter: RateLimiter, request: Request) -> None:
    wait = limiter.take(client_address(request.scope))
    if wait > 0:
        seconds = retry_after(wait)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many requests; try again in {seconds} s",
                            headers={"Retry-After": str(seconds)})


async def _learning_answer(request: Request) -> None:
    limiters: HubLimiters = request.app.state.limiters
    _take(limiters.learning_answers, request)


async def _learning_join(request: Request) -> None:
    limiters: HubLimiters = request.app.state.limiters
    _take(limiters.learning_joins, request)


async def _booking(request: Request) -> None:
    limiters: HubLimiters = request.app.state.limiters
    _take(limiters.bookings, request)


async def _journey(request: Request) -> None:
    limiters: HubLimiters = request.app.state.limiters
    _take(limiters.journeys, request)


#: add ``_: LearningAnswerDep`` to a learning route's parameters to limit it per client.
LearningAnswerDep = Annotated[None, Depends(_learning_answer)]
#: the same for joining a class (``POST /classes/{code}/members``).
LearningJoinDep = Annotated[None, Depends(_learning_join)]
#: the same for journey queries (``GET /api/v1/journeys``): each costs a search.
JourneyDep = Annotated[None, Depends(_journey)]
#: the same for new bookings (``POST /api/v1/bookings``): each holds a fare and a checkout.
BookingDep = Annotated[None, Depends(_booking)]
