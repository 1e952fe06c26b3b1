"""How soon runs succeed, when some of them stop at a cap: the Kaplan–Meier estimator.

A run that reached its update cap without succeeding is *censored*: we know only that its
success, if it comes, comes later. Counting it as a failure mixes up "slow" with "never"; leaving
it out makes a method look faster than it is. The Kaplan–Meier (product-limit) estimator uses
each run for exactly as long as it was watched. With ``n_i`` runs still training (and not yet
solved) just before update ``u_i``, of which ``d_i`` succeed at ``u_i``, the fraction of runs
*still unsolved* after ``u`` updates is

    S(u) = prod over u_i <= u of (1 - d_i / n_i),

and the fraction solved by ``u`` is ``1 - S(u)``. A run censored at ``c`` counts in every
``n_i`` with ``u_i <= c`` and in none after. A run that diverged (its weights became NaN) can
never succeed; it stays at risk for ever and never has the event.

The pointwise 95 % band is the "exponential Greenwood" (log–log) interval, the default of the
common survival libraries: with ``v = sum d_i / (n_i (n_i - d_i))``, ``S^(exp(±1.96 sqrt(v) /
log S))``, which always stays inside [0, 1].
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import CensoredData, ecdf


@dataclass
class SurvivalCurve:
    """Steps of the estimate: after ``updates[i]`` the fraction solved is ``solved[i]``, its band
    ``[low[i], high[i]]``; ``at_risk[i]`` runs were still training just before ``updates[i]``."""

    updates: list[int]
    solved: list[float]
    low: list[float]
    high: list[float]
    at_risk: list[int]
    n_runs: int
    n_censored: int
    #: the longest time any run was watched (``inf`` if one can never have the event): the
    #: estimate says nothing beyond it
    follow_up: float = 0.0

    def solved_by(self, u: float) -> float:
        """Estimated fraction of runs solved within ``u`` updates."""
        out = 0.0
        for t, f in zip(self.updates, self.solved):
            if t <= u:
                out = f
        return out

    def quantile(self, fraction: float) -> int | None:
        """The first update by which the estimated fraction solved reaches ``fraction``.

        ``None`` when the estimate never gets there within the runs' follow-up: then all one
        may say is that the quantile lies beyond the longest time the runs were watched (the
        median of a sample with many censored runs is often such a lower bound). Reading it off
        the runs that had the event alone would ignore every censored run and come out far too
        early.
        """
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        for t, f in zip(self.updates, self.solved):
            if f >= fraction - 1e-12:
                return t
        return None

    @property
    def median(self) -> int | None:
        """The update by which half the runs are estimated solved (``None``: not within follow-up)."""
        return self.quantile(0.5)


def kaplan_meier(success_updates: Sequence[int | None], stop_updates: Sequence[int]) -> SurvivalCurve:
    """The fraction of runs solved against updates, from each run's outcome.

    ``success_updates[j]``: the update at which run ``j`` succeeded, or ``None`` if it did not;
    ``stop_updates[j]``: where it stopped (its cap if censored, ``math.inf`` for a run that can
    never succeed, e.g. one that diverged). The estimate and its band are scipy's
    (:func:`scipy.stats.ecdf` on :class:`scipy.stats.CensoredData`, the "log-log" interval);
    ``tests/unit/test_survival.py`` checks them against the product-limit formula above.
    """
    if len(success_updates) != len(stop_updates):
        raise ValueError("one stop per run")
    solved_at = [float(s) for s in success_updates if s is not None]
    out = SurvivalCurve([], [], [], [], [], len(stop_updates), len(stop_updates) - len(solved_at),
                        follow_up=max([0.0, *(float(c) for c in stop_updates), *solved_at]))
    if not solved_at:
        return out
    # scipy wants finite times: a run that can never succeed is censored after every other time,
    # which leaves it at risk at every event, as it should be
    never = max([*(float(c) for c in stop_updates if math.isfinite(c)), *solved_at]) + 1.0
    right = [float(c) if math.isfinite(c) else never for s, c in zip(success_updates, stop_updates) if s is None]
    with warnings.catch_warnings():  # the band is undefined where every run at risk succeeds (S = 0)
        warnings.simplefilter("ignore", RuntimeWarning)
        sf = ecdf(CensoredData(uncensored=np.asarray(solved_at), right=np.asarray(right, dtype=float))).sf
        band = sf.confidence_interval(0.95, method="log-log")
    out.updates = sorted({int(s) for s in solved_at})
    S, low_S, high_S = (f.evaluate(out.updates) for f in (sf, band.low, band.high))
    for t, s, lo, hi in zip(out.updates, S, low_S, high_S):
        out.at_risk.append(sum(1 for a, c in zip(success_updates, stop_updates)
                               if (a is not None and a >= t) or (a is None and c >= t)))
        out.solved.append(1.0 - float(s))
        defined = math.isfinite(lo) and math.isfinite(hi)  # where it is not, the point stands in, as for S = 0 or 1
        out.low.append(1.0 - float(hi if defined else s))
        out.high.append(1.0 - float(lo if defined else s))
    return out
