"""The allocation rules as pure code: no files, no clock, no network.

The same functions serve the CLI today and the hub's API later, and property tests can run
thousands of random instances in seconds. Entry points: :func:`first_round`,
:func:`next_round`, :func:`explain`, :func:`cutoffs`.
"""

from central_hub.kita.domain.explanations import Cutoff, Explanation, Reason, cutoffs, explain
from central_hub.kita.domain.lottery import draw_lottery
from central_hub.kita.domain.priorities import Priority
from central_hub.kita.domain.records import MAX_CHOICES, Application, KitaPlaces
from central_hub.kita.domain.rounds import Decision, Placement, Round, first_round, next_round
from central_hub.kita.domain.validation import Problem, find_problems

__all__ = [
    "MAX_CHOICES",
    "Application",
    "Cutoff",
    "Decision",
    "Explanation",
    "KitaPlaces",
    "Placement",
    "Priority",
    "Problem",
    "Reason",
    "Round",
    "cutoffs",
    "draw_lottery",
    "explain",
    "find_problems",
    "first_round",
    "next_round",
]
