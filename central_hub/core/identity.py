"""Who is calling: one :class:`Principal` for every service of the hub, whatever the credential.

WHY one model: the hub carries several services (traffic operations, Kita, and next the
learning platform, the open-data portal and the mobility app). Each used to bring its own
tokens and its own idea of a caller; a new service would have added another. Here a caller is
a principal of one :class:`Kind` holding a *set* of :class:`Role` s, whether the credential was
a static machine token, a token issued with ``kassel hub token issue``, an OpenID Connect JWT
a Kita family's token, a pupil's class membership or a passenger's booking token
(:mod:`central_hub.core.resolver` turns each into a principal).

WHY sets, not a ladder: a Kita caseworker has no business with signal commands, and a traffic
admin none with children's data. Roles are additive: ``admin`` does *not* imply ``engineer``
or ``kita_staff``; a principal may do what one of its roles may (the table is
:mod:`central_hub.core.authz`).

Devices are principals too (:attr:`Kind.DEVICE`), but only on MQTT, where the broker's
password and ACL files (:mod:`central_hub.registry`) say what they may do; no HTTP credential
resolves to a device.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a staff principal may do; each role is granted on its own."""

    #: traffic engineers: acknowledge alarms, send commands to devices
    ENGINEER = "engineer"
    #: operators of the platform: register, re-key and remove devices
    ADMIN = "admin"
    #: the city's Kita caseworkers: Kitas, deadline, claims, rounds, every application
    KITA_STAFF = "kita_staff"
    #: authors of the learning platform: import and export items, read their drafts
    LEARNING_AUTHOR = "learning_author"
    #: reviewers of the learning platform: the review queue, approving others' items
    LEARNING_REVIEWER = "learning_reviewer"
    #: teachers on the learning platform: class codes and their classes' aggregates
    LEARNING_TEACHER = "learning_teacher"
    #: publishers of the open-data portal: run producers, review the privacy gate's report,
    #: publish and withdraw datasets
    OPENDATA_PUBLISHER = "opendata_publisher"


class Kind(StrEnum):
    """What sort of party a principal is."""

    #: city staff and operators, and the machines acting for them (static tokens)
    STAFF = "staff"
    #: a family that registered for a Kita place: sees only its own applications
    FAMILY = "family"
    #: a pupil who joined a class on the learning platform with its code: sends its own
    #: progress under a pseudonym, and may leave (its token is its only identity)
    PUPIL = "pupil"
    #: a passenger who bought a ticket without an account: reads and changes only its own
    #: bookings (the token the first booking returned is its only identity)
    PASSENGER = "passenger"
    #: a bus or a controller; MQTT only (the broker's ACL), never an HTTP caller
    DEVICE = "device"


class CredentialSource(StrEnum):
    """Where a principal's credential was checked (for ``whoami`` and audits, never secrets)."""

    STATIC = "static"
    ISSUED = "issued"
    OIDC = "oidc"
    FAMILY = "family"
    PUPIL = "pupil"
    PASSENGER = "passenger"


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Role names to roles; ``ValueError`` names the first unknown one and the allowed ones."""
    out = set()
    for value in values:
        try:
            out.add(Role(value.strip()))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {value!r} (one of: {allowed})") from None
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Principal:
    """A recognised caller.

    ``name`` says who it is for people and audits (a token's name, the OIDC subject, the
    family id); it is never a secret. ``family_id`` is set for families and only for them.
    """

    kind: Kind
    name: str
    roles: frozenset[Role] = frozenset()
    family_id: str | None = None
    source: CredentialSource = CredentialSource.STATIC

    def __post_init__(self) -> None:
        if (self.kind is Kind.FAMILY) != (self.family_id is not None):
            raise ValueError("a family principal, and only one, has a family_id")
        if self.kind in (Kind.FAMILY, Kind.PUPIL, Kind.PASSENGER) and self.roles:
            raise ValueError(f"a {self.kind.value} holds no staff roles")

    def has(self, role: Role) -> bool:
        """The principal holds ``role`` (no role implies another)."""
        return role in self.roles

    @classmethod
    def staff(cls, name: str, roles: Iterable[Role],
              source: CredentialSource = CredentialSource.STATIC) -> Principal:
        """A staff or machine principal with these roles."""
        return cls(Kind.STAFF, name, frozenset(roles), None, source)

    @classmethod
    def family(cls, family_id: str) -> Principal:
        """A Kita family."""
        return cls(Kind.FAMILY, family_id, frozenset(), family_id, CredentialSource.FAMILY)

    @classmethod
    def pupil(cls, member_id: str) -> Principal:
        """A pupil in a class of the learning platform, known only by its membership."""
        return cls(Kind.PUPIL, member_id, frozenset(), None, CredentialSource.PUPIL)

    @classmethod
    def passenger(cls, passenger_id: str) -> Principal:
        """A passenger of the mobility service, known only by the token of its booking."""
        return cls(Kind.PASSENGER, passenger_id, frozenset(), None,
                   CredentialSource.PASSENGER)


#: the roles of the static tokens from the settings. The admin token is the operator's and the
#: demo's key to the traffic side (it did everything an engineer could before roles were sets),
#: but not to children's data: Kita staff have their own token or role.
ADMIN_TOKEN_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.ENGINEER})
ENGINEER_TOKEN_ROLES: frozenset[Role] = frozenset({Role.ENGINEER})
KITA_STAFF_TOKEN_ROLES: frozenset[Role] = frozenset({Role.KITA_STAFF})
