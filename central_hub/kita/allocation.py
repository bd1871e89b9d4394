"""The allocation run on the stored input: the next round, the replay of the rounds run so
far, and each child's standing read from them.

WHY replay instead of storing explanations: the domain is deterministic and its input is
frozen once round 1 ran, so every round can be recomputed from the stored Kitas,
applications, verified claims, lottery, answers and withdrawals. The replay is compared
with the stored placements, so a mismatch (a bug, or data changed behind the service's
back) is caught instead of published; explanations are never stored twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ParamSpec

from sqlalchemy import Connection

from central_hub.kita import store
from central_hub.kita.checks import describe
from central_hub.kita.claims import verified_claims
from central_hub.kita.domain import (
    Application,
    Decision,
    Explanation,
    Placement,
    Round,
    draw_lottery,
    explain,
    find_problems,
    first_round,
    next_round,
)
from central_hub.kita.domain.limits import MAX_SEED
from central_hub.kita.errors import AllocationFailedError, ConflictError, KitaError
from central_hub.kita.model import (
    ChildResult,
    Claim,
    RoundOutcome,
    RoundRow,
    Status,
    StoredApplication,
    Withdrawal,
)

log = logging.getLogger(__name__)

_P = ParamSpec("_P")


@dataclass(frozen=True, slots=True)
class History:
    """Every round replayed from the stored input, indexed by child for quick answers."""

    rounds: tuple[Round, ...]
    placements: tuple[dict[str, Placement], ...]
    explanations: tuple[dict[str, tuple[Explanation, ...]], ...]

    def extend(self, round_: Round) -> History:
        """These rounds and ``round_``."""
        by_child: dict[str, list[Explanation]] = {}
        for row in explain(round_):
            by_child.setdefault(row.child_id, []).append(row)
        return History(
            (*self.rounds, round_),
            (*self.placements, {p.child_id: p for p in round_.placements}),
            (*self.explanations, {child: tuple(rows) for child, rows in by_child.items()}),
        )


NO_HISTORY = History((), (), ())


_ALL_CLAIMS = frozenset(Claim)


def allocation_record(
    app: StoredApplication, lottery: int, verified: Collection[Claim] = _ALL_CLAIMS
) -> Application:
    """The domain's record of a stored application: with every claim to check the rules,
    with the verified ones to allocate."""
    return Application(
        app.child_id,
        app.family_id,
        app.age_group,
        app.choices,
        app.sibling_kita if Claim.SIBLING in verified else None,
        app.hardship and Claim.HARDSHIP in verified,
        app.lat,
        app.lon,
        lottery,
        home_verified=Claim.HOME in verified,
    )


def allocate(run: Callable[_P, Round], *args: _P.args, **kwargs: _P.kwargs) -> Round:
    """Run a domain allocation; its errors become :class:`AllocationFailedError`.

    The domain's messages name children, so they are neither logged nor chained: the log
    gets the kind of failure only.
    """
    try:
        return run(*args, **kwargs)
    except KitaError as exc:
        log.error("kita: allocation withheld (%s)", type(exc).__name__)
        raise AllocationFailedError(
            f"allocation withheld: {type(exc).__name__}; see the stability check"
        ) from None


def withdrawn_before(withdrawals: Mapping[str, Withdrawal], number: int) -> frozenset[str]:
    """Children withdrawn after round ``number - 1`` ran and before round ``number``."""
    return frozenset(w.child_id for w in withdrawals.values() if w.before_round == number)


def child_result(
    child_id: str,
    history: History,
    decisions: Mapping[int, Decision],
    withdrawal: Withdrawal | None = None,
) -> ChildResult:
    """A child's status, offer and lottery number, and its outcome in every round."""
    outcomes = []
    for round_, placements, explanations in zip(
        history.rounds, history.placements, history.explanations, strict=True
    ):
        placement = placements.get(child_id)
        if placement is not None:
            outcomes.append(
                RoundOutcome(
                    round_.number,
                    placement.kita_id,
                    placement.choice_rank,
                    decisions.get(round_.number),
                    explanations.get(child_id, ()),
                )
            )
    lottery = history.placements[0][child_id].lottery if outcomes else None
    if withdrawal is not None:
        return ChildResult(child_id, Status.WITHDRAWN, None, None, lottery, tuple(outcomes))
    if not outcomes:
        return ChildResult(child_id, Status.PENDING, None, None, None, ())
    last = outcomes[-1]
    if last.kita_id is None:
        status = Status.WAITING
    elif last.decision is None:
        status = Status.OFFERED
    else:
        status = Status.ACCEPTED if last.decision is Decision.ACCEPT else Status.DECLINED
    return ChildResult(child_id, status, last.kita_id, last.choice_rank, lottery, tuple(outcomes))


def replay(conn: Connection, rows: Sequence[RoundRow]) -> History:
    """Every stored round recomputed from the stored input and checked against its placements.

    Raises :class:`AllocationFailedError` when a stored round differs from its replay.
    """
    history = NO_HISTORY
    if not rows:
        return history
    kitas = store.load_kitas(conn)
    lottery = store.load_lottery(conn)
    checks = store.latest_claim_checks(conn)
    withdrawals = store.load_withdrawals(conn)
    records = [
        allocation_record(
            app, lottery[app.child_id], verified_claims(app, checks.get(app.child_id, {}))
        )
        for app in store.load_applications(conn)
        if app.child_id in lottery
    ]
    history = history.extend(allocate(first_round, kitas, records))
    for row in rows[1:]:
        decisions = store.load_decisions(conn, row.number - 1)
        withdrawn = withdrawn_before(withdrawals, row.number)
        history = history.extend(allocate(next_round, history.rounds[-1], decisions, withdrawn))
    for row, round_ in zip(rows, history.rounds, strict=True):
        if store.load_placements(conn, row.number) != list(round_.placements):
            log.error("kita round %d: the stored result differs from its replay", row.number)
            raise AllocationFailedError(f"round {row.number} as stored differs from its replay")
    return history


def first_round_of(conn: Connection, seed: int | None, now: datetime) -> tuple[Round, int]:
    """Round 1 on the stored input, after the deadline: draws and stores the lottery from
    ``seed`` (a random one when ``None``); returns the round and the seed used."""
    deadline = store.read_period(conn).deadline
    if deadline is None:
        raise ConflictError("no application deadline is set: the first round runs after it")
    if now < deadline:
        raise ConflictError(
            f"applications are open until {deadline.isoformat()}: "
            "the first round runs after the deadline"
        )
    used_seed = secrets.randbelow(MAX_SEED + 1) if seed is None else seed
    withdrawn = store.load_withdrawals(conn)
    apps = [app for app in store.load_applications(conn) if app.child_id not in withdrawn]
    numbers = draw_lottery([app.child_id for app in apps], used_seed)
    checks = store.latest_claim_checks(conn)
    records = [
        allocation_record(app, number, verified_claims(app, checks.get(app.child_id, {})))
        for app, number in zip(apps, numbers, strict=True)
    ]
    kitas = store.load_kitas(conn)
    problems = find_problems(kitas, records)
    if problems:
        shown = "; ".join(describe(p, kitas, records) for p in problems[:25])
        raise ConflictError(f"the stored data break {len(problems)} rules: {shown}")
    round_ = allocate(first_round, kitas, records)
    store.save_lottery(
        conn, ((app.child_id, number) for app, number in zip(apps, numbers, strict=True))
    )
    return round_, used_seed

def next_round_of(conn: Connection, last: Round) -> Round:
    """The round after ``last``, once every offer of ``last`` is answered or withdrawn and a
    child is still waiting."""
    decisions = store.load_decisions(conn, last.number)
    withdrawn = withdrawn_before(store.load_withdrawals(conn), last.number + 1)
    offers = last.offers()
    missing = sum(1 for c in offers if c not in decisions and c not in withdrawn)
    if missing:
        raise ConflictError(
            f"{missing} of {len(offers)} offers of round {last.number} await an answer"
        )
    if all(p.kita_id is not None or p.child_id in withdrawn for p in last.placements):
        raise ConflictError(f"no child is waiting for a place after round {last.number}")
    return allocate(next_round, last, decisions, withdrawn)
