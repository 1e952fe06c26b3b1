"""The facts behind Chapter 3.2, "Scaling down the gradients": one small function per question the
page asks of its runs, so that the page's cells read like the argument and the arithmetic is tested
here (``tests/unit/test_clipping_study.py``).

Three groups, in the order of the page:

* **Does the clipped step descend?** :func:`minibatch_cost` evaluates a minibatch's cost along a
  direction, and :func:`descent_case` measures, for one network whose recurrent matrix is scaled to a
  given spectral radius, the slope of Eq. (ch3-descent) against a finite difference and the change of
  the cost after one clipped and one plain step.
* **What do real runs do, update by update?** :func:`trace_facts` reads the per-update traces of
  MSGD and MSGD-C (:mod:`rnnbook.synthetic.traces`) and returns the numbers the prose quotes;
  :func:`trace_checks` the statements the page makes about them, each as a named ``bool``.
* **Does the threshold heuristic hold?** :func:`threshold_summary` counts successes per threshold
  with an exact interval, :func:`threshold_rows` lays them out as a table, :func:`at_cap` reads a
  committed run at a lower cap than its own, and :func:`rate_points` turns any of the studies into
  the points of the page's threshold figure.

Everything is computed from what it is given; nothing here trains or reads files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from rnnbook.paper import reference as R
from rnnbook.paper.model import init_params
from rnnbook.paper.streams import Stream
from rnnbook.verdicts import rules
from rnnbook.verdicts.records import RunRecord

# ---------------------------------------------------------------------------------------------
# Does the clipped step descend?
# ---------------------------------------------------------------------------------------------


def minibatch_cost(net, u, target, readout: str, direction: Mapping[str, torch.Tensor] | None = None,
                   s: float = 0.0) -> float:
    """The minibatch cost :math:`\\mathcal E_B(\\theta - s\\,d)` of the reference network ``net`` on
    inputs ``u`` and ``target``; ``direction`` :math:`d` is a gradient-shaped dict (``None``: at
    :math:`\\theta` itself). With :math:`d = g/\\|g\\|` and growing ``s`` this walks along the gradient
    direction, which is how the page looks for the wall a step can hit."""
    if direction is not None:
        net = R.RNN(*(net.params()[k] - s * direction[k] for k in R.NAMES), net.act)
    return float(R.cost(net, R.run(net, u), target, readout))


def descent_case(task, rho: float, seed: int, *, length: int, lr: float, tau: float, hidden: int = 50,
                 batch: int = 20) -> dict[str, Any]:
    """One network of the descent check, in float64: the basic tanh start of ``seed`` with its
    recurrent matrix rescaled to spectral radius ``rho`` (larger radius, larger gradients), and one
    minibatch of ``batch`` sequences of ``length`` from the stream ``500 + seed``.

    Returns the network and data (``net``, ``u``, ``target``, ``readout``), the cost ``loss``, the
    gradient's ``norm`` and unit direction ``unit``, the slope :math:`-c\\|g\\|^2` that Eq.
    (ch3-descent) predicts for the clipped direction and its central finite difference ``slope_fd``,
    and the change of the cost after one step of length ``lr`` along the clipped gradient
    (``clipped_change``) and along the plain one (``plain_change``): negative means descent."""
    p = init_params("basic_tanh", task.n_in, hidden, task.n_out, [torch.Generator().manual_seed(seed)],
                    dtype=torch.float64)
    p.W_hh[0] *= rho / torch.linalg.eigvals(p.W_hh[0]).abs().max()
    data = task.sample([Stream(500 + seed)], batch, [length], dtype=torch.float64)
    net, u, target = R.from_engine(p, data, 0, "tanh")
    loss, g, _ = R.loss_and_grads(net, u, target, task.readout)
    clipped, norm, _ = R.clip(g, tau)
    norm = float(norm)
    c = min(1.0, tau / norm)
    unit = {k: v / norm for k, v in g.items()}           # E_B(theta - s unit) has slope -||g|| at s = 0
    h = 1e-5 / (1.0 + norm)                               # a finite-difference step scaled to the gradient
    cost = lambda d, s: minibatch_cost(net, u, target, task.readout, d, s)
    slope_fd = c * norm * (cost(unit, h) - cost(unit, -h)) / (2 * h)
    return dict(rho=rho, seed=seed, net=net, u=u, target=target, readout=task.readout, loss=float(loss), norm=norm,
                unit=unit, slope=-c * norm**2, slope_fd=slope_fd,
                clipped_change=cost(clipped, lr) - float(loss), plain_change=cost(g, lr) - float(loss))


def cost_profile(case: Mapping[str, Any], distances: Sequence[float]) -> np.ndarray:
    """:math:`\\mathcal E_B(\\theta - s\\,g/\\|g\\|) - \\mathcal E_B(\\theta)` of a :func:`descent_case`
    at every distance ``s``: the cross-section of the error surface along the gradient."""
    cost = lambda s: minibatch_cost(case["net"], case["u"], case["target"], case["readout"], case["unit"], s)
    return np.array([cost(s) for s in distances]) - case["loss"]


# ---------------------------------------------------------------------------------------------
# Real runs, update by update
# ---------------------------------------------------------------------------------------------


def _spike_updates(clip_traces, clip_spikes):
    """Every spike of the clipped runs: its norm, its jump over the update before, and whether the
    norm had fallen tenfold by the update after (the last update counts as its own 'after')."""
    idx = [(t, np.flatnonzero(sp)) for t, sp in zip(clip_traces, clip_spikes)]
    norms = np.concatenate([t.grad_norm[i] for t, i in idx])
    jumps = np.concatenate([t.grad_norm[i] / t.grad_norm[i - 1] for t, i in idx])
    back = np.concatenate([t.grad_norm[np.minimum(i + 1, len(t.grad_norm) - 1)] < t.grad_norm[i] / 10 for t, i in idx])
    return norms, jumps, back


def _worst_plain_spike(plain_traces):
    """The MSGD run with the largest norm, that update's number (1-based), and its validation error
    at the check before and at the check after it."""
    worst = max(range(len(plain_traces)), key=lambda i: plain_traces[i].grad_norm.max())
    tr = plain_traces[worst]
    at = int(np.argmax(tr.grad_norm)) + 1
    before = float(tr.valid_error[tr.check_update < at][-1])
    after = float(tr.valid_error[tr.check_update >= at][0])
    return tr, at, before, after


def trace_facts(plain_traces, clip_traces, clip_spikes, spiky: int, learner: int) -> dict[str, Any]:
    """The numbers Chapter 3.2 quotes about its traces (MSGD and MSGD-C, run ``i`` of each from the
    same seed), named as the page glues them (without the ``ch3-2-`` prefix). ``spiky`` and
    ``learner`` index the two MSGD-C runs the figure shows.

    A *tie* is a norm exactly equal to the threshold (1 here); the expected number of ties is the
    number of norms within 1 % of it times the chance that a float32 number in that 2 %-wide
    window is the threshold itself."""
    clipped = np.concatenate([t.clipped for t in clip_traces])
    norm = np.concatenate([t.grad_norm for t in clip_traces])
    scale = np.concatenate([t.step_scale for t in clip_traces])
    every = np.concatenate([t.grad_norm for t in (*plain_traces, *clip_traces)])
    spike_norms, jumps, back = _spike_updates(clip_traces, clip_spikes)
    near = int((np.abs(norm - 1.0) < 0.01).sum())
    ulp = float(np.spacing(np.float32(1.0)))              # the norms are float32: their spacing at 1
    worst, at, before, after = _worst_plain_spike(plain_traces)
    return {
        "plain-max": float(worst.grad_norm.max()), "plain-max-at": at, "plain-max-seed": worst.config.seed,
        "plain-before": before, "plain-after": after,
        "clip-frac": float(100 * clipped.mean()), "n-updates": len(norm), "n-all-updates": len(every),
        "n-spikes": int(sum(sp.sum() for sp in clip_spikes)),
        "spike-jump": float(np.median(jumps)), "spike-back": float(100 * back.mean()),
        "spike-max": float(spike_norms.max()),
        "median-scale": float(np.median(scale[clipped])), "min-scale": float(scale.min()),
        "max-norm-all": float(every.max()), "ties": int((norm == 1.0).sum()), "near": near,
        "expected-ties": f"{near * ulp / 0.02:.0e}",
        "fires": int(sum(t.safety_net_fires.sum() for t in (*plain_traces, *clip_traces))),
        "first-clip": min(int(np.argmax(t.clipped)) for t in clip_traces) + 1,
        "spiky-seed": clip_traces[spiky].config.seed, "learner-seed": clip_traces[learner].config.seed,
        "learner-above": int(clip_traces[learner].clipped.sum()),
        "success-c": sum(t.first_success_update is not None for t in clip_traces),
        "success-p": sum(t.first_success_update is not None for t in plain_traces),
    }


def trace_checks(plain_traces, clip_traces, clip_spikes) -> dict[str, bool]:
    """What Chapter 3.2 says about its traces, each statement with whether the traces bear it out
    (the page asserts that all do)."""
    clipped = np.concatenate([t.clipped for t in clip_traces])
    norm = np.concatenate([t.grad_norm for t in clip_traces])
    scale = np.concatenate([t.step_scale for t in clip_traces])
    spike_norms, _, back = _spike_updates(clip_traces, clip_spikes)
    first = [int(np.argmax(t.clipped)) for t in clip_traces]   # each MSGD-C run's first clipped update
    _, _, before, after = _worst_plain_spike(plain_traces)
    fires = sum(t.safety_net_fires.sum() for t in (*plain_traces, *clip_traces))
    return {
        "MSGD-C clips exactly when ||g|| > tau": all(np.array_equal(t.clipped, t.grad_norm > t.threshold)
                                                    for t in clip_traces),
        "MSGD never clips, and clipping only shortens": not any(t.clipped.any() for t in plain_traces)
                                                        and bool((scale <= 1).all()),
        "a clipped step is tau long": bool(np.allclose(scale[clipped] * norm[clipped], 1.0)),
        "same steps until the first clipped update": all(
            np.array_equal(tp.loss[:k + 1], tc.loss[:k + 1]) and tp.loss[k + 1] != tc.loss[k + 1]
            for k, tp, tc in zip(first, plain_traces, clip_traces)),
        "MSGD-C had spikes, and every one was clipped": len(spike_norms) > 0 and bool((spike_norms > 1.0).all()),
        "most spikes are gone one update later": back.mean() > 0.5,
        "no tie and no firing of the safety net": int((norm == 1.0).sum()) == 0 and fires == 0,
        "MSGD's largest spike undid what it had learned": after > before + 0.1,
        "the largest norms are in the clipped runs": norm.max() > max(t.grad_norm.max() for t in plain_traces),
    }


# ---------------------------------------------------------------------------------------------
# The threshold heuristic
# ---------------------------------------------------------------------------------------------


def as_record(run) -> dict[str, Any]:
    """A run just trained (:func:`rnnbook.synthetic.training.train_runs`) in the shape of a stored run, as far
    as :func:`threshold_summary` reads it. A run that neither succeeded nor diverged is censored."""
    return dict(success=run.success, first_success_update=run.first_success_update, curves=run.curves,
                censored=not run.success and not run.diverged)


def threshold_summary(runs_of: Mapping[Any, Sequence[Mapping[str, Any]]], level: float = 0.95) -> dict[Any, dict]:
    """Per setting (a threshold factor, or ``None`` for MSGD): successes ``k`` of ``n`` runs, their
    exact (Clopper–Pearson) interval ``ci`` at ``level``, the ``updates`` to success of the runs
    that succeeded, the mean fraction of updates clipped ``clip``, and the number ``censored``."""
    out = {}
    for f, res in runs_of.items():
        k, n = sum(r["success"] for r in res), len(res)
        out[f] = dict(k=k, n=n, ci=rules.exact_interval(k, n, level),
                      updates=[r["first_success_update"] for r in res if r["success"]],
                      clip=float(np.mean([np.mean(r["curves"]["clip_fraction"]) for r in res])),
                      censored=sum(r["censored"] for r in res))
    return out


def threshold_rows(summary: Mapping[Any, Mapping[str, Any]], average: float) -> list[list[str]]:
    """A :func:`threshold_summary` as table rows: the factor, the threshold it gives on ``average``,
    ``k of n``, the interval, the median updates to success and the clipped fraction."""
    rows = []
    for f, s in summary.items():
        med = f"{np.median(s['updates']):,.0f}" if s["updates"] else "—"
        rows.append(["none (MSGD)" if f is None else f"{f:g} x", "—" if f is None else f"{f * average:.3g}",
                     f"{s['k']} of {s['n']}", f"[{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]", med, f"{s['clip']:.1%}"])
    return rows


def at_cap(run: Mapping[str, Any], cap: int) -> tuple[str, int]:
    """A committed run read at the study's ``cap`` (later updates ignored): its outcome (``solved``,
    ``diverged`` or ``censored``) and when — the update of its first success, of its divergence, or
    the cap at which it was censored."""
    rec = RunRecord.from_dict("clip_threshold50", run)
    out = rec.outcome(cap)
    return out, {"solved": rec.first_success_update, "diverged": rec.updates}.get(out, rec.read_at(cap))


def rate_points(summary: Mapping[Any, Mapping[str, Any]], unit: float, cap: int, no_clip: float) -> list[tuple]:
    """One point of the threshold figure per setting: ``(x, k, n, updates to success, censored, cap)``
    with ``x`` the threshold in units of the paper's average (factor times ``unit``), MSGD at
    ``no_clip``."""
    return [(no_clip if f is None else f * unit, s["k"], s["n"], s["updates"], s["censored"], cap)
            for f, s in summary.items()]


def outcome_points(outcomes: Mapping[Any, Mapping[str, Any]], average: float, cap: int, no_clip: float) -> list[tuple]:
    """As :func:`rate_points`, from runs read with :func:`at_cap`: ``outcomes`` maps a setting to
    ``done`` (``(outcome, update)`` pairs) and ``tau`` (``None`` for MSGD); settings with no finished
    run are left out."""
    points = []
    for s in outcomes.values():
        if not s["done"]:
            continue
        solved = [u for o, u in s["done"] if o == "solved"]
        x = no_clip if s["tau"] is None else s["tau"] / average
        points.append((x, len(solved), len(s["done"]), solved, sum(o == "censored" for o, _ in s["done"]), cap))
    return points


__all__ = ["as_record", "at_cap", "cost_profile", "descent_case", "minibatch_cost", "outcome_points", "rate_points",
           "threshold_rows", "threshold_summary", "trace_checks", "trace_facts"]
