"""Chapter 4.4's tables and figure: Fig. 7's basic-tanh rows beside Adam and the LSTM (beyond the paper).

The modern rows (:mod:`rnnbook.studies.modern`) and Fig. 7's runs are read at one update cap and
counted the same way: a run is *solved* if its first check under the criterion came within the
cap; otherwise it *diverged* (its weights or loss became non-finite first) or is *censored*
(it reached the cap unsolved, or was solved only later). A row with no finished group at a
length is *not run* there, never counted as failed.

* :func:`fig7_counts` and :func:`modern_counts` give a :class:`Count` per (row, length);
* :func:`counts_rows` is the table of counts and median updates to solve, :func:`peak_rows` that
  of the largest gradient norms the modern runs met;
* :func:`comparison_rows` compares two rows length by length with Fisher's exact test
  (:func:`rnnbook.verdicts.rules.fisher_p`) and says where the test could not have rejected;
* :func:`success_figure` draws successes against length, all rows in one panel.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from rnnbook.book.plotting import METHOD_COLORS, METHOD_LABELS
from rnnbook.verdicts.records import Runs, points
from rnnbook.verdicts.rules import ALPHA, fisher_p

FIG7_METHODS = ("msgd", "msgd_c", "msgd_cr")
MODERN_ROWS = ("rnn_adam", "rnn_adam_c", "lstm_adam")
LABELS = {**{m: f"{METHOD_LABELS[m]} (Fig. 7)" for m in FIG7_METHODS},
          "rnn_adam": "RNN + Adam", "rnn_adam_c": "RNN + Adam, clipped", "lstm_adam": "LSTM + Adam"}
COLORS = {**METHOD_COLORS, "rnn_adam": "#2ca02c", "rnn_adam_c": "#ff7f0e", "lstm_adam": "#9467bd"}


@dataclass
class Count:
    """The outcomes of one row at one length, read at one cap (``n == 0``: not run)."""

    n: int = 0
    solved: int = 0
    diverged: int = 0
    censored: int = 0
    updates_to_solve: list[int] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.updates_to_solve) if self.updates_to_solve else None


def fig7_counts(root: Path, init: str, cap: int) -> dict[tuple[str, int], Count]:
    """Fig. 7's runs of ``init`` (``results/temporal_order/paper.json``), every run read at ``cap``."""
    found = points([Runs("temporal_order", method=m, init=init, cap=cap) for m in FIG7_METHODS], root) or []
    out = {}
    for p in found:
        solved = [r.first_success_update for r, c in p.records if r.solved_by(c)]
        out[(p.method, int(p.length))] = Count(p.finished, p.solved, p.diverged, p.censored, solved)
    return out


def modern_counts(study: dict, cap: int) -> dict[tuple[str, int], Count]:
    """The modern study's finished groups (:func:`rnnbook.studies.modern.read_study`), read at ``cap``."""
    out = {}
    for g in study["groups"]:
        c = Count()
        for r in g["runs"]:
            first = r["first_success_update"]
            c.n += 1
            if first is not None and first <= cap:
                c.solved += 1
                c.updates_to_solve.append(first)
            elif r["outcome"] == "diverged" and r["updates"] <= cap:
                c.diverged += 1
            else:
                c.censored += 1
        out[(g["row"], g["length"])] = c
    return out


def _cell(c: Count | None) -> str:
    if c is None or c.n == 0:
        return "not run"
    median = "" if c.median is None else f" · {c.median:,.0f}"
    extra = f" ({c.diverged} diverged)" if c.diverged else ""
    return f"{c.solved}/{c.n}{median}{extra}"


def counts_rows(counts: dict[tuple[str, int], Count], lengths, rows) -> list[dict]:
    """One row per length: per study row, ``solved/n · median updates to solve`` (``not run`` where absent)."""
    return [{"T": T, **{LABELS[r]: _cell(counts.get((r, T))) for r in rows}} for T in lengths]


def peak_rows(study: dict, lengths, rows=MODERN_ROWS) -> list[dict]:
    """One row per length: per modern row, the largest raw gradient norm (before any clipping) any
    of its runs met, and the median over its runs of each run's largest (``not run`` where absent)."""
    peaks = {(g["row"], g["length"]): [r["grad_norm_max"] for r in g["runs"] if r["grad_norm_max"] is not None]
             for g in study["groups"]}
    cell = lambda v: f"{max(v):.3g} (median {statistics.median(v):.3g})" if v else "not run"
    return [{"T": T, **{LABELS[r]: cell(peaks.get((r, T), [])) for r in rows}} for T in lengths]


def rejectable_splits(n1: int, n2: int, total: int, alpha: float = ALPHA) -> list[tuple[int, int]]:
    """The splits ``(k1, k2)`` of ``total`` successes over two groups of ``n1`` and ``n2`` runs that
    Fisher's exact test (two-sided) rejects: the test conditions on ``total``, so these are the
    only outcomes it could have called different."""
    return [(k, total - k) for k in range(max(0, total - n2), min(n1, total) + 1)
            if fisher_p(k, n1, total - k, n2) < alpha]


def comparison_rows(counts: dict[tuple[str, int], Count], pairs, lengths, alpha: float = ALPHA) -> list[dict]:
    """``pairs`` of (row, baseline, what changes), per length: the counts, Fisher's two-sided p, and
    the reading: *differ* (p < alpha), *no difference shown* (it could have rejected some split of
    the same total, and did not), *uninformative* (no split of that total could be rejected)."""
    out = []
    for row, base, change in pairs:
        for T in lengths:
            a, b = counts.get((row, T)), counts.get((base, T))
            if a is None or b is None or not a.n or not b.n:
                out.append({"T": T, "row": LABELS[row], "against": LABELS[base], "changes": change,
                            "counts": "-", "p": "-", "reading": "not run"})
                continue
            p = fisher_p(a.solved, a.n, b.solved, b.n)
            could = rejectable_splits(a.n, b.n, a.solved + b.solved, alpha)
            reading = ("differ" if p < alpha else "no difference shown" if could
                       else "uninformative: no split of these successes is rejectable")
            out.append({"T": T, "row": LABELS[row], "against": LABELS[base], "changes": change,
                        "counts": f"{a.solved}/{a.n} vs {b.solved}/{b.n}", "p": f"{p:.3g}", "reading": reading})
    return out


def success_figure(counts: dict[tuple[str, int], Count], lengths, rows, *, n: int = 5):
    """Successes (of ``n``) against length, one colour per row, rows side by side at each length.

    Fig. 7's rows are thin dashed lines, the modern rows solid. Filled marker: no run censored;
    hollow: some censored; a black cross counts diverged runs. A row not run at a length has
    no marker there.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    slot = {T: i for i, T in enumerate(lengths)}
    width = 0.6 / max(1, len(rows) - 1)
    for j, row in enumerate(rows):
        at = [(T, counts[(row, T)]) for T in lengths if (row, T) in counts and counts[(row, T)].n]
        if not at:
            continue
        modern = row in MODERN_ROWS
        x = [slot[T] - 0.3 + j * width for T, _ in at]
        y = [c.solved for _, c in at]
        ax.plot(x, y, color=COLORS[row], lw=1.8 if modern else 1.0, ls="-" if modern else (0, (4, 2)), zorder=2)
        for xi, (_, c) in zip(x, at):
            ax.scatter([xi], [c.solved], s=34, lw=1.4, edgecolor=COLORS[row], zorder=4,
                       facecolor="white" if c.censored else COLORS[row])
            if c.diverged:
                ax.scatter([xi], [c.solved + 0.35], marker="x", color="#000000", s=26, lw=1.3, zorder=5)
    ax.set_xticks(range(len(lengths)), [str(T) for T in lengths])
    ax.set_xlim(-0.5, len(lengths) - 0.5)
    ax.set_ylim(-0.3, n + 0.6)
    ax.set_yticks(range(n + 1))
    ax.set_xlabel("sequence length $T$")
    ax.set_ylabel(f"runs solved (of {n})")
    handles = [Line2D([], [], color=COLORS[r], marker="o", lw=1.8 if r in MODERN_ROWS else 1.0,
                      ls="-" if r in MODERN_ROWS else (0, (4, 2)), label=LABELS[r]) for r in rows]
    handles.append(Line2D([], [], color="#555555", marker="o", markerfacecolor="white", lw=0, label="some censored"))
    if any(c.diverged for c in counts.values()):
        handles.append(Line2D([], [], color="#000000", marker="x", lw=0, label="diverged runs"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8)
    return fig
