"""What a results file says, point by point: success with its interval, censoring, speed, plateaus.

The paper's Fig. 7 plots one number per point: the *rate of success*, the fraction of the 5
runs (seeds) whose model misclassified fewer than 1 % of 10,000 freshly generated sequences at
some check within the update cap. :func:`grid_points` turns a results file into those points
and keeps what the single number hides: how many runs stopped at the cap still unsolved
(*censored*: slow is not the same as never), how many diverged, the exact 95 % interval of the
rate (Clopper–Pearson, :func:`rnnbook.verdicts.rules.exact_interval`: five seeds say little), and when each successful
run succeeded.

:func:`plateau_end` measures the plateau people stall on when they re-implement the temporal
order task: the training loss sits at the chance level ``ln 4`` (four classes) for tens of
thousands of updates before it drops. :func:`chance_error` is the same level in the units of
success, the validation error: what a run that has learned nothing about the input scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import torch

from rnnbook.errors import ConfigError
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import Task, errors
from rnnbook.verdicts.rules import count_verdict, exact_interval  # one vocabulary and one statistics for every page
from rnnbook.verdicts.survival import SurvivalCurve, kaplan_meier

CHANCE_LOSS_4 = math.log(4)  #: cross-entropy of a uniform guess among 4 classes


@dataclass
class GridPoint:
    """One point of a success-rate figure: an init, a method and a length (or range), over seeds."""

    init: str
    method: str
    min_length: int
    max_length: int
    runs: int = 0
    successes: int = 0
    censored: int = 0
    diverged: int = 0
    caps: list[int] = field(default_factory=list)
    success_updates: list[int] = field(default_factory=list)
    records: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def length(self) -> str:
        return str(self.min_length) if self.min_length == self.max_length else f"{self.min_length}-{self.max_length}"

    @property
    def rate(self) -> float:
        return self.successes / self.runs if self.runs else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """Exact (Clopper–Pearson) 95 % interval of the success rate."""
        return exact_interval(self.successes, self.runs) if self.runs else (math.nan, math.nan)

    @property
    def rate_if_censored_succeed(self) -> float:
        """The rate if every censored run were to succeed later: the most the cap may be hiding."""
        return (self.successes + self.censored) / self.runs if self.runs else math.nan

    def survival(self) -> SurvivalCurve:
        """Fraction of this point's runs solved against updates, censored runs handled properly."""
        return kaplan_meier(
            [r["first_success_update"] if r["success"] else None for r in self.records],
            [math.inf if r.get("diverged") else r["updates"] for r in self.records],
        )


def grid_points(data: Mapping[str, Any], runs: Iterable[Mapping[str, Any]] | None = None, *,
                cap: int | None = None) -> list[GridPoint]:
    """The points of a results file (or of ``runs`` from it), in grid order: init, method, length.

    ``cap`` reads every run at that many updates, as if it had been trained to ``cap`` (the
    survival curve read at one point): a run solved later, or still training beyond it, counts
    as censored there. That puts runs trained to different caps on one footing before pooling.
    """
    points: dict[tuple, GridPoint] = {}
    for rec in (data["runs"] if runs is None else runs):
        c = rec["config"]
        key = (c["init"], c["method"], c["min_length"], c["max_length"])
        p = points.setdefault(key, GridPoint(*key))
        p.runs += 1
        p.records.append(rec)
        p.caps.append(int(c["max_updates"]) if cap is None else min(cap, int(c["max_updates"])))
        beyond = cap is not None and int(rec["updates"]) > cap
        if rec["success"] and not (cap is not None and int(rec["first_success_update"]) > cap):
            p.successes += 1
            p.success_updates.append(int(rec["first_success_update"]))
        elif rec.get("diverged") and not beyond:
            p.diverged += 1
        else:
            p.censored += 1
    return list(points.values())


def success_table(data: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Rows (init / method) x columns (length): "successes/finished" for each point of :func:`grid_points`."""
    points = grid_points(data)
    cols = sorted({p.length for p in points}, key=lambda c: tuple(int(x) for x in c.split("-")))
    rows: dict[str, dict[str, str]] = {}
    for p in points:
        rows.setdefault(f"{p.init} / {p.method}", {})[p.length] = f"{p.successes}/{p.runs}"
    return cols, [(r, [cells.get(c, "-") for c in cols]) for r, cells in rows.items()]


def format_table(data: Mapping[str, Any]) -> str:
    """A short plain-text success-rate table of a results file (what ``rnnbook show`` prints)."""
    cols, rows = success_table(data)
    head = ["init / method", *[f"T={c}" for c in cols]]
    body = [[r, *cells] for r, cells in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    success_error = data["spec"]["protocols"][data["protocol"]]["settings"].get("success_error", 0.01)
    out = [
        f"{data['experiment']} / {data['protocol']}: {data['completed']} of {data['planned']} runs finished"
        f" (successes/finished per cell; success = validation error < {success_error:g})",
        line(head),
        line(["-" * w for w in widths]),
        *[line(b) for b in body],
    ]
    prov = data.get("provenance", {})
    sessions = prov.get("sessions", [])
    if sessions:
        devices = sorted({str(s.get("device")) for s in sessions})
        out.append(
            f"wall time {prov.get('total_wall_time_s', 0):.1f} s in {len(sessions)} session(s) on "
            f"{', '.join(devices)}; code {sessions[-1].get('code', {}).get('git_commit', 'unknown')}"
        )
    return "\n".join(out)


def plateau_end(rec: Mapping[str, Any], chance: float = CHANCE_LOSS_4, margin: float = 0.1) -> int | None:
    """The first check at which the mean training loss since the last check fell below
    ``chance - margin`` (the end of the plateau at chance level); ``None`` if it never did."""
    curves = rec["curves"]
    for u, loss in zip(curves["update"], curves["train_loss"]):
        if loss is not None and loss < chance - margin:
            return int(u)
    return None


def plateau_means(rec: Mapping[str, Any], name: str, chance: float = CHANCE_LOSS_4,
                  margin: float = 0.1) -> tuple[float, float]:
    """Mean of curve ``name`` (e.g. ``grad_norm``, ``omega``) on the plateau and after it."""
    end = plateau_end(rec, chance, margin)
    on, after = [], []
    for u, v in zip(rec["curves"]["update"], rec["curves"][name]):
        if v is None:
            continue
        (on if end is None or u < end else after).append(v)
    mean = lambda xs: sum(xs) / len(xs) if xs else math.nan
    return mean(on), mean(after)


def plateau_survival(records: Iterable[Mapping[str, Any]], cap: int | None = None,
                     chance: float = CHANCE_LOSS_4, margin: float = 0.1) -> SurvivalCurve:
    """How long the plateau lasts, censored runs included: Kaplan–Meier on :func:`plateau_end`.

    The "event" is the end of the plateau. A run that never left it is censored where it
    stopped (its cap, or the update at which it diverged): it was watched that long and was
    still on the plateau. ``cap`` reads every run at that many updates (a later end counts as
    censored there), so that runs trained to different caps are followed equally long. The
    curve's ``solved`` is the fraction of runs *off* the plateau; its :attr:`~SurvivalCurve.median`
    is ``None`` when fewer than half are estimated off within the follow-up. Taking the median of
    the runs that left the plateau alone would ignore every run still on it and make the plateau
    look short.
    """
    ends, stops = [], []
    for rec in records:
        end, stop = plateau_end(rec, chance, margin), int(rec["updates"])
        if cap is not None:
            stop = min(stop, cap)
            end = end if end is not None and end <= cap else None
        ends.append(end)
        stops.append(stop)
    return kaplan_meier(ends, stops)


def chance_error(task: Task, length: int, n: int = 10_000, seed: int = 0) -> float:
    """Validation error of the best answer that ignores the information the sequence carries.

    This is the level a run sits at before it has learned anything: the network has only learned
    the targets' statistics. The answer is the one that minimises the training loss without
    looking at the sequence: the most frequent class (softmax read-outs; for memorization the
    most frequent symbol at each step), or the mean target (squared error: addition,
    multiplication). Estimated on ``n`` fresh sequences of nominal length ``length`` (drawn
    from ``seed``'s validation stream) and scored by the engine's own :func:`rnnbook.paper.tasks.errors`.
    """
    batch = task.sample([Stream(seed)], n, [length], purpose="valid", dtype=torch.float64)
    target = batch.target
    if task.readout == "last_linear":  # (1, B, n_out): the mean target
        output = target.mean(1, keepdim=True).expand_as(target)
    elif task.readout == "last_softmax":  # (1, B): the most frequent class
        mode = torch.bincount(target.flatten(), minlength=task.n_out).argmax()
        output = torch.nn.functional.one_hot(torch.full_like(target, int(mode)), task.n_out).double()
    elif task.readout == "softmax":  # (1, T, B): the most frequent symbol at each step
        mode = target.mode(dim=2).values  # (1, T)
        output = torch.nn.functional.one_hot(mode.unsqueeze(-1).expand_as(target), task.n_out).double()
    else:
        raise ConfigError(f"chance_error: no input-free answer defined for the {task.readout!r} read-out")
    return float(errors(task, output, target, batch.start)[0])


# ---------------------------------------------------------------------------------------------
# Verdicts against the paper's counts
# ---------------------------------------------------------------------------------------------


def verdict(successes: int, runs: int, censored: int, paper_successes: int, paper_runs: int,
            planned: int | None = None) -> tuple[str, str]:
    """Our count against the paper's, with the reason, by the book's rule for a count
    (:func:`rnnbook.verdicts.rules.count_verdict`: every completion of the undecided runs is
    tried, and a sample size at which no count could disagree is called ``uninformative``).

    ``successes`` and ``censored`` of ``runs`` finished runs; ``planned``: the runs the point
    will have when complete (default ``runs``); runs not finished yet are undecided, like censored
    ones. Claims on the book's pages are judged by :mod:`rnnbook.verdicts.claims`, which uses the
    same rule point by point.
    """

    if runs == 0:
        return "not run", "no finished runs yet"
    planned = runs if planned is None else planned
    if planned < runs:
        raise ValueError(f"planned ({planned}) < finished runs ({runs})")
    word, why, _ = count_verdict(successes, censored + planned - runs, planned, paper_successes, paper_runs)
    return word, why
