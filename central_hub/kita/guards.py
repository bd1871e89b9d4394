"""What must hold before a Kita use case reads or writes a record: the caller may see it,
it is not withdrawn, the procedure is in the right state.

WHY apart from the use cases: each guard is one rule that several use cases share (a
family's change and its withdrawal both need the period open; every read by a family needs
the record to be its own), so each is written once. They read through the caller's
connection, inside its transaction, so the state they check cannot change before it writes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from central_hub.kita import store
from central_hub.kita.claims import claim_statuses
from central_hub.kita.errors import ConflictError, NotFoundError
from central_hub.kita.model import ApplicationView, Family, Period, StoredApplication, Viewer


def visible(conn: Connection, viewer: Viewer, child_id: str) -> StoredApplication:
    """The application, if ``viewer`` may see it; another family's is "not found", like a
    missing one, so nobody learns that it exists."""
    app = store.load_application(conn, child_id)
    if app is None or (isinstance(viewer, Family) and app.family_id != viewer.family_id):
        raise NotFoundError("no such application")
    return app


def view_of(conn: Connection, viewer: Viewer, child_id: str) -> ApplicationView:
    """:func:`visible` with the state of its claims and staff's withdrawal."""
    app = visible(conn, viewer, child_id)
    checks = store.latest_claim_checks(conn, child_id).get(child_id, {})
    withdrawal = store.load_withdrawals(conn, child_id).get(child_id)
    return ApplicationView(app, claim_statuses(app, checks), withdrawal)


def require_not_withdrawn(conn: Connection, child_id: str) -> None:
    """Refuse a change to an application staff withdrew."""
    if store.load_withdrawals(conn, child_id):
        raise ConflictError("the application was withdrawn by the city")


def require_new_child(conn: Connection, app: StoredApplication) -> None:
    """Refuse a second application of one family for the same child."""
    other = store.application_with_key(conn, app.family_id, app.child_key)
    if other is not None and other != app.child_id:
        raise ConflictError(
            f"this child (same name and date of birth) already has an application: {other}"
        )


def require_no_rounds(conn: Connection, what: str) -> None:
    """Refuse a change to what the rounds are replayed from, once round 1 ran."""
    if store.load_rounds(conn):
        raise ConflictError(f"the allocation has started: {what}")


def require_open(conn: Connection, period: Period, now: datetime) -> None:
    """Refuse a family's write outside the application period."""
    deadline = period.deadline
    if deadline is None:
        raise ConflictError("no application period is open")
    if now >= deadline or store.load_rounds(conn):
        raise ConflictError(
            f"the application deadline {deadline.isoformat()} has passed: "
            "applications can no longer be submitted, changed or withdrawn"
        )
