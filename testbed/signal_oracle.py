"""An independent safety and honesty checker for controller runs (the tests' oracle).

It re-derives every rule from the *config* (seconds), not from the controller's model, and
watches the lamp aspects and SPaT rows tick by tick:

* lamp sequences, minimum green, amber and red-amber durations;
* no two conflicting groups green at the same tick;
* intergreens from the last green instant of the clearing group (flashing amber and dark count
  as green: traffic may be anywhere) to the first green of the entering group;
* after leaving fail-safe, all red for the longest intergreen before any green;
* every change while operational happens inside the intersection of all ``[min_end,
  max_end]`` announced for that aspect within the same revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.state import GroupTiming, Outputs

FAIL = {Lamp.FLASHING_AMBER, Lamp.DARK}
OPERATING = {"operational", "fixed_time"}


@dataclass
class _Track:
    lamp: Lamp
    since: int
    last_green: int | None
    lo: int | None = None
    hi: int | None = None
    revision: int = -1
    announced: bool = False
    #: False for the aspect seen at the first tick (its start is unknown).
    timed: bool = True


@dataclass
class Oracle:
    """Feed it every tick's :class:`Outputs`; it collects violations."""

    cfg: IntersectionConfig
    violations: list[str] = field(default_factory=list)
    switches: int = 0
    honest_checks: int = 0
    ticks: int = 0

    def __post_init__(self) -> None:
        self.groups = {g.sg: g for g in self.cfg.signal_groups}
        self.ig = {a: {b: round(s * 1000) for b, s in row.items()}
                   for a, row in self.cfg.intergreen_s.items()}
        self.max_ig = max((v for row in self.ig.values() for v in row.values()), default=0)
        self.track: dict[str, _Track] = {}
        self.resumed_at: int | None = None
        self.prev_status: str | None = None
        self._last_rows: object = None
        self._last_revision = -1

    def rebind(self, cfg: IntersectionConfig) -> None:
        """A new plan (same groups and intergreens) after ``set_plan``."""
        self.cfg = cfg

    def _fail(self, now: int, msg: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(f"t={now}: {msg}")

    def feed(self, out: Outputs) -> None:
        now = out.now
        self.ticks += 1
        status = out.status
        if (
            not out.changed
            and out.groups is self._last_rows
            and status == self.prev_status
            and out.revision == self._last_revision
            and Lamp.FLASHING_AMBER not in out.lamps.values()
            and Lamp.DARK not in out.lamps.values()
        ):
            return  # nothing new: same aspects, same announcements
        self._last_rows = out.groups
        self._last_revision = out.revision
        if self.prev_status == "flashing" and status != "flashing":
            self.resumed_at = now
        rows = {g.sg: g for g in out.groups}
        greens = [sg for sg, lamp in out.lamps.items() if lamp is Lamp.GREEN]
        for i, a in enumerate(greens):
            for b in greens[i + 1:]:
                if b in self.ig.get(a, {}) or a in self.ig.get(b, {}):
                    self._fail(now, f"conflicting {a} and {b} both green")
        for sg, lamp in out.lamps.items():
            tr = self.track.get(sg)
            if tr is None:
                self.track[sg] = _Track(lamp, now, now if lamp in FAIL else None, timed=False)
                self._announce(self.track[sg], rows[sg], out)
                continue
            if lamp is not tr.lamp:
                self._change(sg, tr, lamp, now, out)
                last = tr.last_green
                if tr.lamp is Lamp.GREEN or tr.lamp in FAIL:
                    last = now
                self.track[sg] = _Track(lamp, now, last)
            elif lamp in FAIL:
                tr.last_green = now
            self._announce(self.track[sg], rows[sg], out)
        self.prev_status = status

    def _announce(self, tr: _Track, row: GroupTiming, out: Outputs) -> None:
        if out.status not in OPERATING:
            tr.announced = False
            return
        if tr.revision != out.revision:
            tr.lo = tr.hi = None
            tr.revision = out.revision
            tr.announced = True
        if row.min_end is not None:
            tr.lo = row.min_end if tr.lo is None else max(tr.lo, row.min_end)
        if row.max_end is not None:
            tr.hi = row.max_end if tr.hi is None else min(tr.hi, row.max_end)
        if row.min_end is not None and row.max_end is not None and row.min_end > row.max_end:
            self._fail(out.now, f"{row.sg}: min_end {row.min_end} > max_end {row.max_end}")
        if row.likely_end is not None and (
            (row.min_end is not None and row.likely_end < row.min_end)
            or (row.max_end is not None and row.likely_end > row.max_end)
        ):
            self._fail(out.now, f"{row.sg}: likely_end outside [min_end, max_end]")

    def _change(self, sg: str, tr: _Track, lamp: Lamp, now: int, out: Outputs) -> None:
        g = self.groups[sg]
        held = now - tr.since
        old = tr.lamp
        self.switches += 1
        if lamp in FAIL:
            if out.status != "flashing":
                self._fail(now, f"{sg}: fail-safe aspect while status {out.status}")
            return
        # Honesty: the change must lie in every interval announced for this aspect.
        if out.status in OPERATING and tr.announced and tr.revision == out.revision:
            self.honest_checks += 1
            if tr.lo is not None and now < tr.lo:
                self._fail(now, f"{sg}: {old.value}->{lamp.value} before min_end {tr.lo}")
            if tr.hi is not None and now > tr.hi:
                self._fail(now, f"{sg}: {old.value}->{lamp.value} after max_end {tr.hi}")
        amber = round(g.amber_s * 1000)
        red_amber = round(g.red_amber_s * 1000)
        ok = {
            (Lamp.RED, Lamp.RED_AMBER): red_amber > 0,
            (Lamp.RED, Lamp.GREEN): red_amber == 0,
            (Lamp.RED_AMBER, Lamp.GREEN): True,
            (Lamp.GREEN, Lamp.AMBER): amber > 0,
            (Lamp.GREEN, Lamp.RED): amber == 0,
            (Lamp.AMBER, Lamp.RED): True,
            (Lamp.FLASHING_AMBER, Lamp.AMBER): True,
            (Lamp.FLASHING_AMBER, Lamp.RED): True,
            (Lamp.DARK, Lamp.RED): True,
        }.get((old, lamp), False)
        if not ok:
            self._fail(now, f"{sg}: illegal sequence {old.value} -> {lamp.value}")
        if tr.timed and old is Lamp.GREEN and held < round(g.min_green_s * 1000):
            self._fail(now, f"{sg}: green {held} ms < min green {g.min_green_s} s")
        if tr.timed and old is Lamp.AMBER and held < amber:
            self._fail(now, f"{sg}: amber {held} ms < {g.amber_s} s")
        if tr.timed and old is Lamp.RED_AMBER and held < red_amber:
            self._fail(now, f"{sg}: red-amber {held} ms < {g.red_amber_s} s")
        if lamp is Lamp.GREEN:
            if self.resumed_at is not None and now - self.resumed_at < self.max_ig:
                self._fail(now, f"{sg}: green {now - self.resumed_at} ms after leaving fail-safe")
            for other, row in self.ig.items():
                if sg not in row:
                    continue
                o = self.track.get(other)
                if o is None:
                    continue
                last = now if o.lamp is Lamp.GREEN or o.lamp in FAIL else o.last_green
                if last is not None and now - last < row[sg]:
                    self._fail(now, f"{other}->{sg}: intergreen {now - last} ms < {row[sg]} ms")
