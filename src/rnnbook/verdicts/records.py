"""What a stored run says, typed; and which runs a claim is judged on.

A results file stores each run as a dictionary. :class:`RunRecord` reads one and answers the
three questions every verdict asks, under one definition used everywhere in the book:

``solved``
    the run's model misclassified fewer than the criterion at some check within the cap it is
    read at (:meth:`RunRecord.solved_by`);
``diverged``
    the run stopped early because its weights became NaN or infinite, *before* that cap. This
    is an outcome of its own, with a cause (:attr:`RunRecord.divergence_cause`): where the
    authors' safety net (a finite fallback step when the norm is NaN, infinite or above
    10^10) was off, the paper's own code would have carried the run on, so the divergence
    says nothing about the paper's method and the run is *undecided* for the paper's claim;
``censored``
    neither: the run reached the cap it is read at unsolved (or was solved, or diverged, only
    later). Slow is not the same as never: a censored run is undecided.

A :class:`Runs` selector names the runs of a claim by experiment, method, initialisation and
length (typed fields, no string mini-language), optionally read at a common cap; :func:`points`
groups the selected runs into grid points (init, method, length) with the number of runs each
point plans, so that runs not finished yet are counted as undecided too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from rnnbook.synthetic.experiments import get_experiment
from rnnbook.synthetic.results import load_results

#: the paper's update budget for every pathological task (ICML §4.1: 5 x 10^6 updates) [ICML][code]
PAPER_BUDGET = 5_000_000

OUTCOMES = ("solved", "diverged", "censored")


@dataclass(frozen=True)
class RunRecord:
    """One stored run of a sweep, read at its own cap or at a lower common one."""

    experiment: str
    config: Mapping[str, Any]
    success: bool
    diverged: bool
    updates: int  #: updates trained when the run stopped
    first_success_update: int | None

    @classmethod
    def from_dict(cls, experiment: str, rec: Mapping[str, Any]) -> "RunRecord":
        return cls(experiment, rec["config"], bool(rec["success"]), bool(rec.get("diverged")), int(rec["updates"]),
                   None if rec.get("first_success_update") is None else int(rec["first_success_update"]))

    @property
    def cap(self) -> int:
        """The update cap this run was trained to."""
        return int(self.config["max_updates"])

    def read_at(self, cap: int | None) -> int:
        """The cap the run is read at: its own, or ``cap`` where that is lower."""
        return self.cap if cap is None else min(cap, self.cap)

    def solved_by(self, cap: int | None = None) -> bool:
        return self.success and self.first_success_update is not None and self.first_success_update <= self.read_at(cap)

    def outcome(self, cap: int | None = None) -> str:
        """``solved``, ``diverged`` or ``censored`` when read at ``cap`` (default: its own)."""
        if self.solved_by(cap):
            return "solved"
        if self.diverged and self.updates <= self.read_at(cap):
            return "diverged"
        return "censored"

    @property
    def censored(self) -> bool:
        return self.outcome() == "censored"

    @property
    def divergence_cause(self) -> str:
        if not self.config.get("safety_net", False):
            return "NaN/overflow with the authors' safety net off (their code would have continued the run)"
        return "NaN/overflow although the authors' safety net was on"

    @property
    def divergence_undecided(self) -> bool:
        """A divergence the paper's protocol would not have had (safety net off): undecided for its claims."""
        return self.diverged and not self.config.get("safety_net", False)


def load_records(root: Path, experiment: str, protocol: str = "paper") -> list[RunRecord] | None:
    """The runs of ``results/<experiment>/<protocol>.json`` under ``root``; ``None`` if there is no file."""
    path = Path(root) / "results" / experiment / f"{protocol}.json"
    if not path.exists():
        return None
    st = path.stat()
    return list(_load(str(path.resolve()), experiment, st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=64)
def _load(path: str, experiment: str, mtime_ns: int, size: int) -> tuple[RunRecord, ...]:
    """A file read once per version (its modification time and size are part of the key)."""
    return tuple(RunRecord.from_dict(experiment, r) for r in load_results(path)["runs"])


def _length(cfg: Mapping[str, Any]) -> str:
    lo, hi = int(cfg["min_length"]), int(cfg["max_length"])
    return str(lo) if lo == hi else f"{lo}-{hi}"


@dataclass(frozen=True)
class Runs:
    """A typed selector: the runs of one experiment's paper protocol that test (part of) a claim."""

    experiment: str
    method: str | None = None
    init: str | None = None
    lengths: tuple[int, ...] | None = None  #: fixed lengths (``min_length``) to keep; None: all
    cap: int | None = None  #: read every run at this common cap (pooling runs trained to different caps)
    protocol: str = "paper"
    seeds: tuple[int, ...] | None = None  #: seeds to keep; None: all

    def wants(self, cfg: Mapping[str, Any]) -> bool:
        return ((self.method is None or cfg["method"] == self.method)
                and (self.init is None or cfg["init"] == self.init)
                and (self.lengths is None or int(cfg["min_length"]) in self.lengths)
                and (self.seeds is None or int(cfg["seed"]) in self.seeds))

    def planned(self) -> list[dict[str, Any]]:
        """The configs of the runs this selector will hold when the sweep is complete."""
        return [d for d in (c.to_dict() for c in get_experiment(self.experiment).runs(self.protocol)) if self.wants(d)]

    def settings(self) -> dict[str, Any]:
        """The protocol's settings (lr, threshold, ...), as declared."""
        return dict(get_experiment(self.experiment).protocol(self.protocol).settings)

    def records(self, root: Path) -> list[RunRecord] | None:
        runs = load_records(root, self.experiment, self.protocol)
        return None if runs is None else [r for r in runs if self.wants(r.config)]

    @property
    def file(self) -> str:
        return f"results/{self.experiment}/{self.protocol}.json"


@dataclass
class Point:
    """One grid point (task, init, method, length) of one or more selectors, read at one cap each."""

    task: str
    init: str
    method: str
    length: str
    planned: int = 0
    records: list[tuple[RunRecord, int | None]] = field(default_factory=list)  #: (run, cap it is read at)
    sources: list[str] = field(default_factory=list)

    def _outcomes(self) -> list[str]:
        return [r.outcome(c) for r, c in self.records]

    @property
    def solved(self) -> int:
        return self._outcomes().count("solved")

    @property
    def diverged(self) -> int:
        return self._outcomes().count("diverged")

    @property
    def diverged_undecided(self) -> int:
        """Diverged runs whose divergence the paper's protocol would not have had."""
        return sum(1 for r, c in self.records if r.outcome(c) == "diverged" and r.divergence_undecided)

    @property
    def censored(self) -> int:
        return self._outcomes().count("censored")

    @property
    def finished(self) -> int:
        return len(self.records)

    @property
    def unfinished(self) -> int:
        return max(0, self.planned - self.finished)

    @property
    def n(self) -> int:
        return max(self.planned, self.finished)

    @property
    def undecided(self) -> int:
        """Runs whose outcome under the paper's protocol is not known: censored, not finished, or
        diverged only because the safety net was off."""
        return self.censored + self.unfinished + self.diverged_undecided

    @property
    def caps(self) -> list[int]:
        return sorted({r.read_at(c) for r, c in self.records})

    @property
    def label(self) -> str:
        return f"{self.task} / {self.init} / {self.method} / T = {self.length}"


def points(selectors: Iterable[Runs], root: Path) -> list[Point] | None:
    """The grid points of ``selectors`` (runs of the same init, method and length pooled, each read
    at its selector's cap), in the order the selectors declare them; ``None`` if no selector has a
    results file yet."""
    out: dict[tuple[str, str, str, str], Point] = {}
    any_file = False
    for sel in selectors:
        for cfg in sel.planned():
            key = (cfg["task"], cfg["init"], cfg["method"], _length(cfg))
            p = out.setdefault(key, Point(*key))
            p.planned += 1
            if sel.file not in p.sources:
                p.sources.append(sel.file)
        recs = sel.records(root)
        if recs is None:
            continue
        any_file = True
        for r in recs:
            key = (r.config["task"], r.config["init"], r.config["method"], _length(r.config))
            p = out.setdefault(key, Point(*key))
            p.records.append((r, sel.cap))
    return list(out.values()) if any_file else None


def cap_fraction(caps: Iterable[int], budget: int = PAPER_BUDGET) -> str:
    """``"2 % of the paper's budget"``-style text for the caps runs were read at."""
    caps = sorted(set(caps))
    if not caps:
        return "-"
    frac = lambda c: f"{100 * c / budget:.3g} %"
    return ", ".join(frac(c) for c in caps) + " of the paper's 5×10⁶ updates"


def caps_text(caps: Iterable[int]) -> str:
    caps = sorted(set(caps))
    return ", ".join(_updates(c) for c in caps) if caps else "-"


def _updates(c: int) -> str:
    e = int(math.log10(c)) if c > 0 else 0
    m = c / 10 ** e
    return f"10^{e}" if m == 1 else (f"{m:g}×10^{e}" if m == int(m) or len(f"{m:g}") <= 3 else f"{c:,}")
