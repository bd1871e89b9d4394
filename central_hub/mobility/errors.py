"""Errors of the mobility service, under the project's root so callers catch them as one.

    KasselError
    └── MobilityError
        ├── FeedError           a sharing (GBFS) or real-time (GTFS-RT) feed that was refused
        ├── PaymentError        the payment provider refused or could not be reached
        │   └── PaymentUnavailableError  502/503: unreachable, timed out, 5xx or 429: retry
        │                                later with the same idempotency key
        ├── WebhookError        400: a provider's webhook refused (unsigned, bad signature,
        │                       outside the time tolerance, malformed, wrong mode)
        └── MobilityServiceError  a use case refused a request
            ├── QueryError      400/422: a place, stop or time the planner cannot take
            ├── NotFoundError   404: no such stop or booking
            └── ConflictError   409: a booking transition that is not allowed

Errors of the pure rules are defined beside the rules that raise them, under this root
(``domain/fares.py``: ``FareError``).
"""

from __future__ import annotations

from edge_agent.errors import KasselError


class MobilityError(KasselError):
    """Root of every error of the mobility service."""


class FeedError(MobilityError, ValueError):
    """A sharing or real-time feed was refused (invalid, too large, unreachable)."""


class PaymentError(MobilityError):
    """The payment provider refused a request or could not be reached."""


class PaymentUnavailableError(PaymentError):
    """The provider could not be reached, timed out, failed (5xx) or asked us to slow down
    (429): the request may or may not have been carried out, so it is retried with the same
    idempotency key, which makes the provider answer the first outcome instead of acting
    twice."""


class WebhookError(MobilityError, ValueError):
    """A webhook that claims to come from the payment provider was refused: no or a wrong
    signature, a timestamp outside the tolerance, a malformed body, or a test-mode event for
    a live account. Its own class because it is the caller's fault (400), not the
    provider's (502), and because it may be an attack and is logged as one."""


class MobilityServiceError(MobilityError):
    """A use case refused a request (the message goes to the caller)."""


class QueryError(MobilityServiceError, ValueError):
    """A journey or departures query the planner cannot take: outside the network area, an
    unknown stop, a time outside the feed's validity."""


class NotFoundError(MobilityServiceError, LookupError):
    """No such stop or booking."""


class ConflictError(MobilityServiceError):
    """A booking transition that its state does not allow."""
