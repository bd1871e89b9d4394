"""Errors of the Kita allocation, under the project's root so callers catch them as one family.

    KasselError
    └── KitaError
        ├── RecordsError              records handed to the domain break a rule (record, field)
        ├── KitaInputError            input files break the format or a rule (file, line, field)
        ├── DecisionError             accept/decline decisions do not fit the round's offers
        └── UnstableAllocationError   the stability check found a blocking pair (a bug)

The domain reports rule violations as :class:`~central_hub.kita.domain.validation.Problem`
values; the CSV adapter turns them into :class:`KitaInputError` with the file's line numbers,
so a clerk can fix the file without knowing the code.
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
