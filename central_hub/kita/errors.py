"""Errors of the Kita allocation, under the project's root so callers catch them as one family.

    KasselError
    └── KitaError
        ├── RecordsError              records handed to the domain break a rule (record, field)
        ├── KitaInputError            input files break the format or a rule (file, line, field)
        ├── DecisionError             accept/decline decisions do not fit the round's offers
        ├── UnstableAllocationError   the stability check found a blocking pair (a bug)
        └── KitaServiceError          a use case of the hub's service refused a request
            ├── NotFoundError          404: no such record, or not the caller's (never told apart)
            ├── ConflictError          409: not now (deadline passed, allocation started, ...)
            ├── InvalidRequestError    422: a rule of the domain is broken, per field
            ├── RateLimitedError       429: too many registrations from this address, retry later
            └── AllocationFailedError  500: the stability check or the replay failed (a bug)

The domain reports rule violations as :class:`~central_hub.kita.domain.validation.Problem`
values; the CSV adapter turns them into :class:`KitaInputError` with the file's line numbers,
so a clerk can fix the file without knowing the code. The service's errors carry what the
HTTP routes answer (one status code each, :mod:`central_hub.kita.api`) and never a child's
personal data beyond what the caller sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_agent.errors import KasselError

#: at most this many problems are spelled out in ``str()``; the rest are counted.
SHOWN_PROBLEMS = 25


class KitaError(KasselError):
    """Root of every error of the Kita allocation."""


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One problem in an input file: where it is (file, line, field) and what is wrong.

    ``line`` is 1 for the header and 0 when the problem concerns the whole file; ``field`` is
    the column name, or empty when no single column is at fault.
    """

    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


def _summarise(lines: Sequence[str]) -> str:
    shown = list(lines[:SHOWN_PROBLEMS])
    if len(lines) > SHOWN_PROBLEMS:
        shown.append(f"... and {len(lines) - SHOWN_PROBLEMS} more problems")
    return "\n".join(shown)


class KitaInputError(KitaError):
    """An input file is missing, malformed or breaks an allocation rule.

    ``problems`` holds every problem found (not just the first), so a clerk fixes a file in
    one pass; nothing is allocated while any problem remains.
    """

    def __init__(self, problems: Sequence[InputProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(_summarise([str(p) for p in self.problems]))


class RecordsError(KitaError):
    """Kitas or applications handed to the domain break a rule.

    Raised when a caller skipped validation; adapters validate first and report positions in
    their own terms (file lines, form fields). ``problems`` are rendered ``record #i: field``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(_summarise(self.problems))


class DecisionError(KitaError):
    """Decisions for a further round do not fit the previous round.

    Every offered child needs exactly one decision, and only offered children may decide;
    guessing a missing answer would either lose a family its place or block one for others.
    """


class UnstableAllocationError(KitaError):
    """The stability check found a blocking pair or an over-full Kita.

    Deferred acceptance cannot produce one, so this means a bug; the allocation is withheld
    rather than published, because an unstable result passes a child over unfairly.
    """


class KitaServiceError(KitaError):
    """A use case refused a request; the subclass says why."""


class NotFoundError(KitaServiceError):
    """No such record for this caller — also when it exists but belongs to another family."""


class ConflictError(KitaServiceError):
    """The request is well-formed but not allowed in the procedure's current state."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One broken rule in a request: the domain's field name and a message for people.

    Field names are those of the domain and the CSV formats (``choice2``, ``lat``,
    ``capacity``), so the same words appear in files, forms and documentation.
    """

    field: str
    message: str


class InvalidRequestError(KitaServiceError):
    """A Kita or application breaks a rule of the domain; ``problems`` names every field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


class AllocationFailedError(KitaServiceError):
    """The stability check or the replay of a stored round failed: a bug, nothing is published."""


class RateLimitedError(KitaServiceError):
    """Too many registrations from one client address; ``retry_after`` seconds until the next."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many registrations from your network; try again in {retry_after_s} s"
        )
        self.retry_after = retry_after_s
