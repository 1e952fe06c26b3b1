"""Every update of a real training run: its loss, its gradient norm and whether it was clipped.

:func:`rnnbook.synthetic.training.train_runs` keeps averages over each check interval; Chapter 3.2 needs
the individual updates, to see the spikes of the gradient norm and the updates that Algorithm 1
rescales. :func:`trace_runs` trains runs exactly as ``train_runs`` does — the same initial
weights, the same minibatches and the same validation sequences, drawn from each run's own
stream, the same update — because it *is* ``train_runs``' loop (:class:`rnnbook.synthetic.training.Ensemble`) with a
recorder on its ``on_update`` hook — and records every update.
``tests/unit/test_traces.py`` checks that the averages of a trace over each check interval are the
curves that ``train_runs`` reports for the same run.

Runs are traced together as one batched ensemble, so they must share the task, the
activation, the sizes, the dtype, the validation protocol, the cap and the check interval
(they may differ in init within one activation, method, seed, lengths, lr, threshold, weight).
Unlike ``train_runs``, a traced run does not stop at its first success unless asked to: every
run gets ``max_updates`` updates, so traces of different settings cover the same updates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnbook.engine.clipping import SAFETY_NET_MAX_NORM
from rnnbook.engine.update import UpdateStats
from rnnbook.errors import ConfigError
from rnnbook.paper.model import activation_of
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.training import Ensemble, Hooks


@dataclass
class Trace:
    """One run, update by update (arrays of length ``updates``), and its checks.

    ``grad_norm`` is the norm of the whole gradient *before* clipping (after the regularizer's
    term was added, for MSGD-CR); ``clipped`` says whether Algorithm 1 rescaled that update.
    ``check_update[i]`` is the number of updates done when ``valid_error[i]`` was measured.
    """

    config: RunConfig
    loss: np.ndarray
    grad_norm: np.ndarray
    clipped: np.ndarray
    omega: np.ndarray | None
    check_update: np.ndarray
    valid_error: np.ndarray

    @property
    def threshold(self) -> float:
        """The clipping threshold in force (``inf`` for the methods without clipping)."""
        return self.config.effective_threshold

    @property
    def step_scale(self) -> np.ndarray:
        """The factor Algorithm 1 multiplies the gradient by: ``min(1, threshold / ||g||)``."""
        return np.where(self.clipped, self.threshold / self.grad_norm, 1.0)

    @property
    def safety_net_fires(self) -> np.ndarray:
        """Updates where the authors' safety net would replace the step (norm NaN, inf or > 1e10)."""
        return ~(self.grad_norm <= SAFETY_NET_MAX_NORM)

    def spikes(self, factor: float = 10.0, window: int = 100) -> np.ndarray:
        """Updates whose norm exceeds ``factor`` times the median norm of the ``window`` updates
        before them (the first ``window`` updates are never spikes)."""
        out = np.zeros(len(self.grad_norm), dtype=bool)
        if len(self.grad_norm) > window:
            before = np.lib.stride_tricks.sliding_window_view(self.grad_norm[:-1], window)
            out[window:] = self.grad_norm[window:] > factor * np.median(before, axis=1)
        return out

    @property
    def first_success_update(self) -> int | None:
        """The first check with fewer than ``success_error`` wrong sequences, or ``None``."""
        ok = np.flatnonzero(self.valid_error < self.config.success_error)
        return int(self.check_update[ok[0]]) if ok.size else None


def trace_runs(configs: Sequence[RunConfig], *, stop_at_success: bool = False) -> list[Trace]:
    """Train ``configs`` (one group, see the module docstring) and record every update.

    Every run gets ``config.max_updates`` updates (all must be equal) and is validated every
    ``check_every`` updates, as in training. ``stop_at_success``: stop once every run has
    succeeded (the traces are then as long as the slowest run's).

    The training loop is :class:`rnnbook.synthetic.training.Ensemble`'s, all runs in one ensemble, with a
    recorder on its ``on_update`` hook; the checks are the curves it keeps.
    """
    if not configs:
        raise ConfigError("trace_runs needs at least one run")
    for c in configs:
        c.validate()
    first = configs[0]
    shared = ("task", "task_params", "hidden", "batch", "dtype", "n_valid", "valid_chunk", "max_updates", "check_every")
    if len({(activation_of(c.init), *(getattr(c, f) for f in shared)) for c in configs}) > 1:
        raise ConfigError(f"traced runs must share the activation and {', '.join(shared)}")
    torch.set_flush_denormal(True)  # as train_runs does: the same numbers
    records: list[tuple[torch.Tensor, ...]] = []

    def record(stats: UpdateStats) -> None:
        omega = stats.omega if stats.omega is not None else torch.full_like(stats.loss, math.nan)
        records.append(tuple(t.detach().to(torch.float64 if t.is_floating_point() else t.dtype, copy=True)
                             for t in (stats.loss, stats.grad_norm, stats.clipped, omega)))

    ensemble = Ensemble(first.make_task(), list(enumerate(configs)), len(configs), "cpu", Hooks(on_update=record),
                        until="all_succeed" if stop_at_success else "cap")
    results = ensemble.run()
    loss, norm, clipped, omega = (torch.stack(column, 1).numpy() for column in zip(*records))
    traces = []
    for e, c in enumerate(configs):
        curves = results[e].curves
        traces.append(Trace(c, loss[e], norm[e], clipped[e], omega[e] if c.wants_omega else None,
                            np.array(curves["update"]), np.array(curves["valid_error"])))
    return traces
