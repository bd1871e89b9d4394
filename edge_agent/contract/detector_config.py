"""The ``detectors`` section of an intersection config: stop-line loops, upstream loops, buttons.

Why a module of its own: detectors are what actuated control and the SPaT prediction read, and
their rules (which detector calls a stage, which only counts traffic for the prediction) grow
with the prediction, not with the rest of the intersection config.

German practice (RiLSA, HBS) places two kinds of loops per approach: a short loop at the stop
line, which calls and extends the green (``placement: stop_line``, the default), and an
upstream loop some 30-40 m before it (``placement: upstream``, with ``distance_m``) or at the
end of a left-turn bay. The upstream loop counts the vehicles that will reach the stop line
in the current green or red; the controller uses it only for its predictions (the queue
between the two loops), never to call or extend a green, so adding one cannot change how the
junction runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.contract.ids import Id

#: how far before the stop line an upstream loop may lie (m): beyond 80 m the vehicles it
#: counts no longer reach the stop line within the green it predicts.
UPSTREAM_DISTANCE_M = (10.0, 80.0)


class DetectorConfig(BaseModel):
    """A loop or push button of signal group ``sg``.

    ``kind: loop`` with ``placement: stop_line`` calls and extends the stage serving ``sg``;
    ``placement: upstream`` (loops only, ``distance_m`` before the stop line) counts arriving
    vehicles for the prediction; ``kind: button`` is a pedestrian or cyclist push button.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: Id
    sg: Id
    kind: Literal["loop", "button"]
    placement: Literal["stop_line", "upstream"] = "stop_line"
    distance_m: float | None = Field(
        default=None, ge=UPSTREAM_DISTANCE_M[0], le=UPSTREAM_DISTANCE_M[1]
    )

    @model_validator(mode="after")
    def _placement(self) -> DetectorConfig:
        if self.placement == "upstream":
            if self.kind != "loop":
                raise ValueError("only a loop can be placed upstream")
            if self.distance_m is None:
                raise ValueError("an upstream loop needs distance_m (m before the stop line)")
        elif self.distance_m is not None:
            raise ValueError("distance_m is only for upstream loops")
        return self

    @property
    def upstream(self) -> bool:
        """Whether this loop only counts vehicles for the prediction."""
        return self.placement == "upstream"


def detector_problems(detectors: Iterable[DetectorConfig], groups: set[str]) -> list[str]:
    """Cross-checks of the detectors against the signal groups and each other."""
    dets = list(detectors)
    ids = [d.id for d in dets]
    stop_line = {d.sg for d in dets if d.kind == "loop" and not d.upstream}
    problems = []
    for det in dets:
        if det.sg not in groups:
            problems.append(f"detectors.{det.id}.sg: unknown signal group {det.sg}")
        if ids.count(det.id) > 1:
            problems.append(f"detectors.{det.id}: duplicate detector id")
        if det.upstream and det.sg in groups and det.sg not in stop_line:
            problems.append(
                f"detectors.{det.id}: an upstream loop needs a stop-line loop of {det.sg} "
                "(the prediction counts the vehicles between the two)"
            )
    return problems
