"""The authorisation matrix: for every HTTP operation, which principals may call it.

WHY one table: with several services on one hub, "who may do this" scattered over route
decorators cannot be reviewed, and a route added without a check is open. Here every
operation of the hub has one row, ``(method, path template) -> Rule``; the hub's single
authorisation dependency (:func:`central_hub.api.deps.authorize`) looks the request's route up
here and nowhere else, an operation without a row is refused to everybody (fail closed), and
``tests/integration/central_hub/test_authz_matrix.py`` walks every operation of the OpenAPI
document with every kind of principal over real HTTP and fails on a route without a row.
``docs/security.md`` carries the table as :func:`markdown_table` renders it (a test compares).

What the matrix decides is *route* access. Which record a caller may see within a route (a
family only its own applications) is the service's rule (e.g. :mod:`central_hub.kita.service`).

Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

from central_hub.core.identity import Kind, Principal, Role


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may call an operation: anyone (``public``), holders of any of ``roles``, and/or
    families, and/or pupils, and/or passengers. Rules combine with ``|``."""

    public: bool = False
    roles: frozenset[Role] = frozenset()
    families: bool = False
    pupils: bool = False
    passengers: bool = False

    def __or__(self, other: Rule) -> Rule:
        return Rule(self.public or other.public, self.roles | other.roles,
                    self.families or other.families, self.pupils or other.pupils,
                    self.passengers or other.passengers)

    def allows(self, principal: Principal | None) -> bool:
        """``principal`` (``None``: anonymous) may call the operation."""
        if self.public:
            return True
        if principal is None:
            return False
        if principal.kind is Kind.FAMILY:
            return self.families
        if principal.kind is Kind.PUPIL:
            return self.pupils
        if principal.kind is Kind.PASSENGER:
            return self.passengers
        return principal.kind is Kind.STAFF and bool(self.roles & principal.roles)

    def describe(self) -> str:
        """For people: ``anyone``, ``engineer``, ``kita_staff or family``."""
        if self.public:
            return "anyone"
        who = sorted(r.value for r in self.roles) + (["family"] if self.families else []) + (
            ["pupil"] if self.pupils else []) + (["passenger"] if self.passengers else [])
        return " or ".join(who) if who else "nobody"


PUBLIC = Rule(public=True)
FAMILY = Rule(families=True)
PUPIL = Rule(pupils=True)
PASSENGER = Rule(passengers=True)


def roles(*granted: Role) -> Rule:
    """Holders of any of ``granted``."""
    return Rule(roles=frozenset(granted))


ENGINEER = roles(Role.ENGINEER)
ADMIN = roles(Role.ADMIN)
KITA_STAFF = roles(Role.KITA_STAFF)
LEARNING_AUTHOR = roles(Role.LEARNING_AUTHOR)
LEARNING_REVIEWER = roles(Role.LEARNING_REVIEWER)
LEARNING_TEACHER = roles(Role.LEARNING_TEACHER)
OPENDATA_PUBLISHER = roles(Role.OPENDATA_PUBLISHER)
#: any staff principal, whatever its role: a booking made with an account belongs to it
ANY_STAFF = roles(*Role)

_KITA = "/api/v1/kita"
_LEARNING = "/api/v1/learning"
_OPENDATA = "/api/v1/opendata"

#: (HTTP method, path template as in the OpenAPI document) -> who may call it.
MATRIX: dict[tuple[str, str], Rule] = {
    # -- public feeds and pages (read-only, no personal data) --
    ("GET", "/"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/gtfs-rt/vehicle-positions"): PUBLIC,
    ("GET", "/gtfs-rt/trip-updates"): PUBLIC,
    ("GET", "/api/v1/vehicles"): PUBLIC,
    ("GET", "/api/v1/vehicles/punctuality"): PUBLIC,
    ("GET", "/api/v1/intersections"): PUBLIC,
    ("GET", "/api/v1/intersections/health"): PUBLIC,
    ("GET", "/api/v1/intersections/{intersection_id}/spat"): PUBLIC,
    ("GET", "/api/v1/intersections/{intersection_id}/spatem"): PUBLIC,
    ("GET", "/api/v1/intersections/{intersection_id}/mapem"): PUBLIC,
    ("GET", "/api/v1/intersections/{intersection_id}/history"): PUBLIC,
    ("GET", "/api/v1/network"): PUBLIC,
    ("GET", "/api/v1/dashboard/config"): PUBLIC,
    ("GET", "/api/v1/alarms"): PUBLIC,
    ("GET", "/api/v1/devices"): PUBLIC,
    ("GET", "/api/v1/ingest"): PUBLIC,
    # tells anybody what their own token grants ("public" without one)
    ("GET", "/api/v1/whoami"): PUBLIC,
    # -- traffic operations --
    ("POST", "/api/v1/alarms/{alarm_id}/ack"): ENGINEER,
    ("POST", "/api/v1/devices/{device_id}/commands"): ENGINEER,
    ("POST", "/api/v1/devices"): ADMIN,
    ("POST", "/api/v1/devices/{device_id}/credentials"): ADMIN,
    ("POST", "/api/v1/devices/{device_id}/credentials/rotate"): ADMIN,
    ("DELETE", "/api/v1/devices/{device_id}"): ADMIN,
    # -- Kita: public information and registration --
    ("GET", f"{_KITA}/kitas"): PUBLIC,
    ("GET", f"{_KITA}/period"): PUBLIC,
    ("POST", f"{_KITA}/families"): PUBLIC,
    # -- Kita: a family's own applications (staff may read them and record an answer) --
    ("POST", f"{_KITA}/applications"): FAMILY,
    ("PUT", f"{_KITA}/applications/{{child_id}}"): FAMILY,
    ("DELETE", f"{_KITA}/applications/{{child_id}}"): FAMILY,
    ("GET", f"{_KITA}/applications"): FAMILY | KITA_STAFF,
    ("GET", f"{_KITA}/applications/{{child_id}}"): FAMILY | KITA_STAFF,
    ("GET", f"{_KITA}/applications/{{child_id}}/result"): FAMILY | KITA_STAFF,
    ("PUT", f"{_KITA}/applications/{{child_id}}/decision"): FAMILY | KITA_STAFF,
    # -- Kita: the city's caseworkers --
    ("PUT", f"{_KITA}/kitas/{{kita_id}}/{{age_group}}"): KITA_STAFF,
    ("DELETE", f"{_KITA}/kitas/{{kita_id}}/{{age_group}}"): KITA_STAFF,
    ("PUT", f"{_KITA}/period"): KITA_STAFF,
    ("GET", f"{_KITA}/duplicates"): KITA_STAFF,
    ("PUT", f"{_KITA}/applications/{{child_id}}/claims/{{claim}}"): KITA_STAFF,
    ("PUT", f"{_KITA}/applications/{{child_id}}/withdrawal"): KITA_STAFF,
    ("GET", f"{_KITA}/results"): KITA_STAFF,
    ("GET", f"{_KITA}/rounds"): KITA_STAFF,
    ("POST", f"{_KITA}/rounds"): KITA_STAFF,
    ("GET", f"{_KITA}/rounds/{{number}}/cutoffs"): KITA_STAFF,
    ("GET", f"{_KITA}/rounds/{{number}}/results.csv"): KITA_STAFF,
    # -- learning platform: the public catalogue and answer checks (rate-limited) --
    ("GET", f"{_LEARNING}/subjects"): PUBLIC,
    ("GET", f"{_LEARNING}/items"): PUBLIC,
    ("GET", f"{_LEARNING}/items/{{item_id}}"): PUBLIC,
    ("GET", f"{_LEARNING}/items/{{item_id}}/amb"): PUBLIC,
    ("GET", f"{_LEARNING}/items/{{item_id}}/offline"): PUBLIC,
    ("POST", f"{_LEARNING}/exercises/{{exercise_id}}/check"): PUBLIC,
    # -- learning platform: volunteers write, others review (four eyes, in the service) --
    ("POST", f"{_LEARNING}/import"): LEARNING_AUTHOR,
    ("POST", f"{_LEARNING}/drafts"): LEARNING_AUTHOR,
    ("PUT", f"{_LEARNING}/drafts/{{item_id}}"): LEARNING_AUTHOR,
    ("GET", f"{_LEARNING}/drafts/{{item_id}}"): LEARNING_AUTHOR | LEARNING_REVIEWER,
    ("GET", f"{_LEARNING}/items/{{item_id}}/export"): LEARNING_AUTHOR | LEARNING_REVIEWER,
    ("GET", f"{_LEARNING}/review-queue"): LEARNING_REVIEWER,
    ("POST", f"{_LEARNING}/items/{{item_id}}/review"): LEARNING_REVIEWER,
    # -- learning platform: teachers' classes; pupils opt in under a drawn pseudonym --
    ("POST", f"{_LEARNING}/classes"): LEARNING_TEACHER,
    ("GET", f"{_LEARNING}/classes"): LEARNING_TEACHER,
    ("GET", f"{_LEARNING}/classes/{{code}}/summary"): LEARNING_TEACHER,
    ("DELETE", f"{_LEARNING}/classes/{{code}}"): LEARNING_TEACHER,
    ("POST", f"{_LEARNING}/classes/{{code}}/members"): PUBLIC,
    ("GET", f"{_LEARNING}/membership"): PUPIL,
    ("DELETE", f"{_LEARNING}/membership"): PUPIL,
    # -- open data: CKAN's Action API, the DCAT-AP.de catalogue and the files, for everyone --
    ("GET", "/opendata/api/3/action/{name}"): PUBLIC,
    ("POST", "/opendata/api/3/action/{name}"): PUBLIC,
    ("GET", "/opendata/api/action/{name}"): PUBLIC,
    ("POST", "/opendata/api/action/{name}"): PUBLIC,
    ("GET", "/opendata/catalog.{fmt}"): PUBLIC,
    ("GET", "/opendata/datasets/{dataset_id}/versions/{version}/{name}"): PUBLIC,
    # -- mobility: planning and departures, for everyone, without an account --
    ("GET", "/api/v1/journeys"): PUBLIC,
    ("GET", "/api/v1/stops/{stop_id}/departures"): PUBLIC,
    ("GET", "/api/v1/mobility/network"): PUBLIC,
    ("GET", "/api/v1/mobility/cyclist-advice"): PUBLIC,
    # the passenger app: its page (its own policy) and what it is told about this hub
    ("GET", "/app/"): PUBLIC,
    ("GET", "/api/v1/mobility/app-config"): PUBLIC,
    # -- mobility: tickets. Booking needs an e-mail (anonymous: a passenger token comes
    # back) or an account; a booking is its owner's only (others get 404, in the service).
    # The provider's webhook is signed, and the signature is its authentication.
    ("POST", "/api/v1/bookings"): PUBLIC,
    ("GET", "/api/v1/bookings/{booking_id}"): PASSENGER | ANY_STAFF,
    ("POST", "/api/v1/bookings/{booking_id}/checkout"): PASSENGER | ANY_STAFF,
    ("POST", "/api/v1/bookings/{booking_id}/events"): PASSENGER | ANY_STAFF,
    ("GET", "/api/v1/bookings/{booking_id}/ticket"): PASSENGER | ANY_STAFF,
    ("GET", "/api/v1/tickets/key"): PUBLIC,
    ("POST", "/api/v1/payments/webhook"): PUBLIC,
    # -- open data: the publisher runs producers, reviews the gate's report, publishes --
    ("GET", f"{_OPENDATA}/datasets"): OPENDATA_PUBLISHER,
    ("GET", f"{_OPENDATA}/datasets/{{dataset_id}}/versions"): OPENDATA_PUBLISHER,
    ("GET", f"{_OPENDATA}/datasets/{{dataset_id}}/versions/{{version}}"): OPENDATA_PUBLISHER,
    ("POST", f"{_OPENDATA}/datasets/{{dataset_id}}/runs"): OPENDATA_PUBLISHER,
    ("POST", f"{_OPENDATA}/datasets/{{dataset_id}}/versions/{{version}}/publish"):
        OPENDATA_PUBLISHER,
    ("POST", f"{_OPENDATA}/datasets/{{dataset_id}}/withdraw"): OPENDATA_PUBLISHER,
}

#: WebSocket routes (not in the OpenAPI document): the live feeds, public like their HTTP twins.
WEBSOCKETS: dict[str, Rule] = {"/ws/spat": PUBLIC, "/ws/live": PUBLIC}


class Decision(Enum):
    """The outcome of an authorisation check, as the HTTP layer answers it."""

    ALLOW = 200
    #: no (valid) credential where one is needed: 401 with ``WWW-Authenticate``
    UNAUTHENTICATED = 401
    #: a valid credential that does not grant this operation: 403
    FORBIDDEN = 403


def rule_for(method: str, path: str) -> Rule | None:
    """The row of an operation; ``None`` when it has none."""
    return MATRIX.get((method.upper(), path))


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def rule_for_request(method: str, route_template: str, path: str) -> Rule | None:
    """The row of the operation a request was routed to.

    ``route_template`` is the path template of the route as its router declared it (without
    the prefix it was included under, e.g. ``/kitas/{kita_id}``), ``path`` the request's path.
    The row is the one whose template ends with the route's and matches the path; ``None``
    when not exactly one does (refused).
    """
    method = method.upper()
    found = [rule for (m, template), rule in MATRIX.items()
             if m == method and template.endswith(route_template)
             and _pattern(template).match(path)]
    return found[0] if len(found) == 1 else None


def websocket_rule(route_template: str, path: str) -> Rule | None:
    """The rule of a WebSocket route (see :func:`rule_for_request`)."""
    found = [rule for template, rule in WEBSOCKETS.items()
             if template.endswith(route_template) and _pattern(template).match(path)]
    return found[0] if len(found) == 1 else None


def decide(rule: Rule | None, principal: Principal | None) -> Decision:
    """Allow, or refuse as 401 (anonymous) or 403 (known but not allowed).

    An operation without a row (``rule`` ``None``) is refused to everybody.
    """
    if rule is not None and rule.allows(principal):
        return Decision.ALLOW
    return Decision.UNAUTHENTICATED if principal is None else Decision.FORBIDDEN


#: the columns of :func:`markdown_table`: anonymous, each role alone, a family, a pupil, a
#: passenger.
COLUMNS: tuple[tuple[str, Principal | None], ...] = (
    ("anonymous", None),
    *((r.value, Principal.staff(r.value, {r})) for r in Role),
    ("family", Principal.family("F-0")),
    ("pupil", Principal.pupil("M-0")),
    ("passenger", Principal.passenger("P-0")),
)


def markdown_table() -> str:
    """The matrix as a Markdown table (``docs/security.md`` holds it; a test compares)."""
    head = "| method | path | " + " | ".join(f"`{name}`" for name, _ in COLUMNS) + " |"
    rule = "|---|---|" + "---|" * len(COLUMNS)
    rows = [
        f"| {method} | `{path}` | "
        + " | ".join("✓" if MATRIX[method, path].allows(p) else "–" for _, p in COLUMNS) + " |"
        for method, path in sorted(MATRIX, key=lambda k: (k[1], k[0]))
    ]
    return "\n".join([head, rule, *rows]) + "\n"
