"""What the privacy gate did to a table, for the version's provenance and the public portal.

WHY a report of its own: a publication is only trustworthy if anyone can see how it was
protected. The same record is stored as the version's provenance (:meth:`GateReport.as_dict`,
JSON) and read out on the portal in plain German (:meth:`GateReport.plain_words`), so the
two cannot tell different stories.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a table: its row index (0-based, as in ``Table.rows``) and column name."""

    row: int
    column: str

    def as_dict(self) -> dict[str, object]:
        """The cell as JSON."""
        return {"row": self.row, "column": self.column}


@dataclass(frozen=True, slots=True)
class NoiseReport:
    """The differential-privacy noise put on the people counts.

    ``privacy_loss``: what OpenDP's own privacy map gives for ``sensitivity`` with this
    ``scale`` (never above ``epsilon``: the gate checks it before any noise is drawn).
    """

    mechanism: str
    epsilon: float
    sensitivity: int
    scale: float
    privacy_loss: float
    library: str

    def as_dict(self) -> dict[str, object]:
        """The parameters as JSON."""
        return {"mechanism": self.mechanism, "epsilon": self.epsilon,
                "sensitivity": self.sensitivity, "scale": self.scale,
                "privacy_loss": self.privacy_loss, "library": self.library}


@dataclass(frozen=True, slots=True)
class GateReport:
    """The gate's account of one table.

    ``primary``: cells suppressed because they count 1 to ``threshold - 1`` people;
    ``secondary``: cells suppressed so that the primary ones cannot be computed from totals.
    ``noise``: ``None`` if no noise was added. ``k``: the least number of people a published
    combination of ``quasi_identifiers`` stands for (``None``: no quasi-identifiers, or no
    combination published with people in it). ``refused``: why the table was not published
    (German, for the portal and the reviewers), ``None`` if it passed.
    """

    threshold: int
    primary: tuple[Cell, ...]
    secondary: tuple[Cell, ...]
    noise: NoiseReport | None
    k: int | None
    k_required: int
    quasi_identifiers: tuple[str, ...]
    quasi_identifier_titles: tuple[str, ...]
    population: str | None
    refused: str | None

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-able data (the version's provenance)."""
        return {
            "threshold": self.threshold,
            "suppressed": {
                "primary": {"count": len(self.primary),
                            "cells": [c.as_dict() for c in self.primary]},
                "secondary": {"count": len(self.secondary),
                              "cells": [c.as_dict() for c in self.secondary]},
            },
            "noise": None if self.noise is None else self.noise.as_dict(),
            "k_anonymity": {"k": self.k, "k_required": self.k_required,
                            "quasi_identifiers": list(self.quasi_identifiers),
                            "population": self.population},
            "refused": self.refused,
        }

    def plain_words(self) -> tuple[str, ...]:
        """Short German sentences for the public portal, one fact each."""
        words: list[str] = []
        if self.refused is not None:
            words.append(f"Die Tabelle wurde nicht veröffentlicht: {self.refused}")
        if self.noise is not None:
            words.append(
                "Auf die Personenzahlen wurde Rauschen nach Differential Privacy gelegt "
                f"(ε = {german_number(self.noise.epsilon)} je Veröffentlichung, "
                f"diskreter Laplace-Mechanismus, Skala {german_number(self.noise.scale)}).")
        n = len(self.primary)
        if n == 0:
            words.append(f"Keine Zelle hatte 1 bis {self.threshold - 1} Personen; "
                         "keine musste unterdrückt werden.")
        else:
            cells = "Zelle" if n == 1 else "Zellen"
            verb = "wurde" if n == 1 else "wurden"
            words.append(f"{n} {cells} mit weniger als {self.threshold} Personen {verb} "
                         "unterdrückt.")
        m = len(self.secondary)
        if m:
            cells = "weitere Zelle wurde" if m == 1 else "weitere Zellen wurden"
            words.append(f"{m} {cells} unterdrückt, damit die unterdrückten nicht aus Summen "
                         "errechnet werden können.")
        if self.noise is None:
            words.append("Zellen mit 0 Personen werden gezeigt: dass niemand darin ist, "
                         "verrät über niemanden etwas.")
        if self.quasi_identifiers:
            names = ", ".join(self.quasi_identifier_titles)
            if self.k is None:
                words.append(f"Keine Kombination aus {names} wird mit Personen darin "
                             "veröffentlicht.")
            elif self.k >= self.k_required:
                words.append(f"Jede veröffentlichte Kombination aus {names} steht für "
                             f"mindestens {self.k_required} Personen (k = {self.k}).")
        return tuple(words)


def german_number(value: float) -> str:
    """``value`` with a decimal comma: at least one decimal, at most two (1,0; 0,25; 6,67),
    four below 0.1 so that a small epsilon does not read as 0 (0,05; 0,0125)."""
    text = f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.4f}"
    text = text.rstrip("0")
    if text.endswith("."):
        text += "0"
    return text.replace(".", ",")
