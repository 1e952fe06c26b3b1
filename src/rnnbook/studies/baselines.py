"""The remedies of §3.1 and §3.3 that the engine does not train, as small, inspectable runs.

Chapter 3 compares the paper's method with the earlier remedies it lists (§3.1) and looks
inside runs of its own method (§3.3). Both need things :func:`rnnbook.synthetic.training.train_runs`
does not give: the weights along the way, every update's gradient, an L2 penalty on the
recurrent weights, element-wise clipping, an LSTM. This module provides them:

* :func:`train_trajectory` trains **one** run of the paper's RNN in the engine's own loop (a
  one-member :class:`rnnbook.synthetic.training.Ensemble`: same initial weights, same minibatches, the
  same BPTT, Omega, clipping and SGD step) and additionally keeps snapshots of the weights, the per-update
  statistics and, on request, every raw gradient. It optionally adds an **L2 penalty**
  ``l2/2 ||W_hh||^2`` on the recurrent weights (§3.1: "L1/L2 penalties on W_rec") and can
  clip **element-wise** instead of by the norm (Mikolov's clipping, §3.1).
* :func:`validation_error` measures a set of weights on fresh sequences, with the engine's
  validation loop (:func:`rnnbook.synthetic.validation.validation_errors`).
* :func:`autonomous_endpoints` iterates the input-free map ``h <- act(h W_hh + b_h)`` from
  many starting states and counts the distinct states they end at (the attractors, §2.2).
* :func:`clip_elementwise` acts on one flat gradient vector (Algorithm 1's counterpart is
  :func:`rnnbook.engine.clipping.clip_by_norm`).
* :func:`error_clipping_directions` compares Mikolov's per-step clipping of the back-propagated
  error (:func:`rnnbook.paper.reference.loss_and_grads_error_clipped`) with the true gradient.
* :func:`spike_statistics` says how spiky a gradient-norm trace is.
* :data:`ERROR_CLIPPING_STUDY` and :func:`error_clipping_study` are Chapter 3.1's comparison of
  error clipping with the true gradient, written to results/ by
  ``python -m rnnbook.studies.baselines error-clipping``.

The LSTM (§3.1: it addresses vanishing, not exploding, gradients) has a module of its own,
:mod:`rnnbook.studies.lstm`: :func:`train_lstm` trains a ``torch.nn.LSTM`` on the same task and data
stream and records its gradient norm at every update; its names are importable from here too,
and ``python -m rnnbook.studies.baselines lstm`` writes its study.

Nothing here is fast: a run trains one model. The book uses it for runs of a few thousand
updates.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnbook.engine import batched, choose_backend
from rnnbook.engine.clipping import clip_by_norm, clip_grad_norm_, grad_norm  # noqa: F401 (clip_by_norm: also importable from here)
from rnnbook.engine.process import configure_torch, seed_everything
from rnnbook.engine.update import UpdateStats
from rnnbook.errors import ConfigError, check_at_least
from rnnbook.paper import reference as R
from rnnbook.paper.model import Params, activation_of
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import sample_length
from rnnbook.studies.lstm import LSTM_STUDY, LSTMClassifier, LSTMRun, lstm_study, train_lstm  # noqa: F401 (importable from here)
from rnnbook.synthetic.runs import DTYPES, RunConfig
from rnnbook.synthetic.training import Ensemble, Hooks
from rnnbook.synthetic.validation import validation_errors


def flatten(grads: Params) -> torch.Tensor:
    """All parameters (or gradients) of a single model as one float64 vector, in field order."""
    if grads.n_models != 1:
        raise ConfigError(f"flatten() takes a single model, got {grads.n_models}")
    return torch.cat([g.reshape(-1) for g in grads.tensors()]).to(torch.float64)


def clip_elementwise(g: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mikolov's clipping on one flat vector: every component clamped to ``[-threshold, threshold]``."""
    return g.clamp(-threshold, threshold)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine of the angle between two flat vectors (float64)."""
    a, b = a.to(torch.float64).reshape(-1), b.to(torch.float64).reshape(-1)
    return float(a @ b / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b)))


@dataclass
class Trajectory:
    """One run, update by update. Arrays have one entry per update (``float64`` tensors).

    ``loss``: the training cost of the minibatch (without the L2 term); ``grad_norm``: the norm
    of the full update direction before clipping (cost gradient + ``reg_weight`` times Omega's
    immediate gradient + the L2 term); ``clipped``: whether clipping changed it; ``omega``:
    Omega's value (NaN when not computed). ``snapshots[i]`` are the weights *before* update
    ``snapshot_updates[i]`` (so update 0 is the initialisation, and the last entry is the
    weights after the final update). ``grads`` (only with ``keep_grads``): each update's
    direction before clipping, as one flat float64 vector.
    """

    config: RunConfig
    l2: float
    clip: str
    loss: torch.Tensor
    grad_norm: torch.Tensor
    clipped: torch.Tensor
    omega: torch.Tensor
    snapshot_updates: list[int]
    snapshots: list[Params]
    grads: list[torch.Tensor] | None = None
    diverged: bool = False

    @property
    def final(self) -> Params:
        return self.snapshots[-1]


def _grad_transform(threshold: float, l2: float, clip: str, kept: list[torch.Tensor] | None):
    """The update's ``grad_transform`` (:mod:`rnnbook.engine.update`) for :func:`train_trajectory`:
    add the L2 term, keep the raw direction if asked, then clip by the norm or element-wise.
    ``None`` where nothing differs from the engine's Algorithm 1."""
    elementwise = clip == "elementwise" and math.isfinite(threshold)
    if not (l2 or elementwise or kept is not None):
        return None

    def transform(grads: Params, params: Params, thr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if l2:
            grads.W_hh.add_(params.W_hh, alpha=l2)
        if kept is not None:
            kept.append(flatten(grads))
        if not elementwise:
            return clip_grad_norm_(grads, thr)
        norm = grad_norm(grads)
        was = torch.zeros(1, dtype=torch.bool)
        for g in grads.tensors():
            was |= (g.abs() > threshold).flatten(1).any(1)
            g.clamp_(-threshold, threshold)
        return norm, was

    return transform


def train_trajectory(
    config: RunConfig,
    *,
    l2: float = 0.0,
    clip: str = "norm",
    snapshot_every: int | None = None,
    keep_grads: bool = False,
) -> Trajectory:
    """Train ``config`` for ``config.max_updates`` updates (no validation, no early stop).

    A one-member :class:`rnnbook.synthetic.training.Ensemble`, so the same initial weights, minibatches
    and update as :func:`rnnbook.synthetic.training.train_runs`; the loop is driven here, update by
    update, with a snapshot hook (``on_update``) and, for ``l2`` or ``clip="elementwise"``, a
    ``grad_transform``. ``l2`` adds ``l2 * W_hh`` to ``W_hh``'s gradient (the gradient of
    ``l2/2 ||W_hh||^2``) before clipping. ``clip="elementwise"`` clamps every component of
    the update direction to ``[-threshold, threshold]`` instead of rescaling it (for the
    clipping methods). ``method="msgd_r"``: Omega with weight ``reg_weight`` and no clipping.
    Training stops early (``diverged``) if the weights stop being finite.
    """
    config.validate()
    if clip not in ("norm", "elementwise"):
        raise ConfigError(f"clip must be 'norm' or 'elementwise', got {clip!r}")
    check_at_least("l2", l2, 0.0)
    every = snapshot_every or config.max_updates
    check_at_least("snapshot_every", every, 1)
    n = config.max_updates
    loss, norms, clipped, omegas = (torch.full((n,), math.nan, dtype=torch.float64) for _ in range(4))
    grads: list[torch.Tensor] | None = [] if keep_grads else None
    done = 0

    def record(step: UpdateStats) -> None:
        loss[done], norms[done], clipped[done] = float(step.loss[0]), float(step.grad_norm[0]), float(step.clipped[0])
        if step.omega is not None:
            omegas[done] = float(step.omega[0])

    hooks = Hooks(on_update=record, grad_transform=_grad_transform(config.effective_threshold, l2, clip, grads))
    ensemble = Ensemble(config.make_task(), [(0, config)], 1, "cpu", hooks, until="cap")
    snaps, snap_at, diverged = [ensemble.params.clone()], [0], False
    for done in range(n):
        ensemble.update()  # no check: a trajectory is not validated
        if (done + 1) % every == 0 or done + 1 == n:
            snaps.append(ensemble.params.clone())
            snap_at.append(done + 1)
        if not bool(ensemble.params.is_finite()[0]):
            diverged = True
            if snap_at[-1] != done + 1:
                snaps.append(ensemble.params.clone())
                snap_at.append(done + 1)
            break
    return Trajectory(config, l2, clip, loss, norms, clipped, omegas, snap_at, snaps, grads, diverged)


def error_clipping_directions(snapshots: list[Params], config: RunConfig, cutoffs, *, lr: float | None = None,
                              threshold: float | None = None, batch_seed: int = 10_000) -> dict:
    """Mikolov's per-step error clipping against the true gradient, at given weights (§3.1).

    For every snapshot ``i`` (engine weights of model 0) one fresh minibatch of ``config``'s task
    and length is drawn from ``Stream(batch_seed + i)``, and the reference model (float64)
    computes the exact minibatch gradient ``g`` and, for every cutoff ``c``, the gradient ``g_c``
    whose back-propagated errors were clamped to ``[-c, c]`` at every step
    (:func:`rnnbook.paper.reference.loss_and_grads_error_clipped`). Returned, as arrays of shape
    ``(snapshots,)`` or ``(cutoffs, snapshots)``: ``norm`` (``||g||``), ``modified`` (some error
    component was clamped), ``cosine`` (of ``g_c`` with ``g``), ``slope`` (``-g·g_c``, the
    first-order change of the minibatch cost along the step ``-g_c``: positive is uphill), and,
    at learning rate ``lr`` (default ``config.lr``), ``change`` (the cost after the step
    ``-lr g_c`` minus before) and ``change_norm`` (the same for Algorithm 1's step at
    ``threshold``, default ``config.threshold``).
    """
    task = config.make_task()
    act = activation_of(config.init)
    lr = config.lr if lr is None else lr
    threshold = config.threshold if threshold is None else threshold
    cutoffs = [float(c) for c in cutoffs]
    out = {k: torch.full((len(cutoffs), len(snapshots)), math.nan, dtype=torch.float64)
           for k in ("cosine", "slope", "change")}
    out["modified"] = torch.zeros(len(cutoffs), len(snapshots), dtype=torch.bool)
    out["norm"] = torch.zeros(len(snapshots), dtype=torch.float64)
    out["change_norm"] = torch.zeros(len(snapshots), dtype=torch.float64)

    def step_cost(net, u, target, grads, scale):
        moved = R.RNN(*(net.params()[k] - scale * grads[k] for k in R.NAMES), net.act)
        return float(R.cost(moved, R.run(moved, u), target, task.readout))

    for i, snap in enumerate(snapshots):
        params = Params(*(t.double() for t in snap.tensors()))
        length = sample_length(Stream(batch_seed + i), config.min_length, config.max_length)
        batch = task.sample([Stream(batch_seed + i)], config.batch, [length], dtype=torch.float64)
        net, u, target = R.from_engine(params, batch, 0, act)
        loss, g, _ = R.loss_and_grads(net, u, target, task.readout)
        flat_g = torch.cat([g[k].flatten() for k in R.NAMES])
        norm = float(flat_g.norm())
        out["norm"][i] = norm
        out["change_norm"][i] = step_cost(net, u, target, g, lr * min(1.0, threshold / norm)) - float(loss)
        for j, c in enumerate(cutoffs):
            _, gc, clamped = R.loss_and_grads_error_clipped(net, u, target, task.readout, c)
            flat_c = torch.cat([gc[k].flatten() for k in R.NAMES])
            out["modified"][j, i] = clamped > 0
            out["cosine"][j, i] = float(flat_c @ flat_g) / (float(flat_c.norm()) * norm)
            out["slope"][j, i] = -float(flat_c @ flat_g)
            out["change"][j, i] = step_cost(net, u, target, gc, lr) - float(loss)
    return out


def validation_error(params: Params, config: RunConfig, n_valid: int = 1000, *, seed: int | None = None,
                     length: int | None = None) -> torch.Tensor:
    """Error fraction of each model in ``params`` on ``n_valid`` fresh sequences, ``(E,)``.

    The sequences come from ``Stream(seed)`` (default: the run's seed) as validation draws,
    of length ``length`` (default: the run's lengths, one random length per chunk of 500).
    """
    task = config.make_task()
    act, dtype = activation_of(config.init), DTYPES[config.dtype]
    streams = [Stream(config.seed if seed is None else seed) for _ in range(params.n_models)]
    lengths = (length, length) if length else (config.min_length, config.max_length)
    return validation_errors(choose_backend("cpu", act, task.readout, dtype), task, params, streams,
                             [lengths] * params.n_models, n_valid, 500, dtype=dtype, budget=None)


def error_signal_norms(params: Params, config: RunConfig, *, length: int | None = None, batch: int = 100,
                       seed: int = 12345) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``||dE/dh_k||`` at every step ``k`` of fresh sequences: ``(E, T, B)`` float64, and two masks.

    Returns the norms of the back-propagated error (the engine's ``dh``), the norms of the
    pre-activation error ``dE/dx_k`` (``dpre``) and the states ``h``. One minibatch of
    ``batch`` validation sequences of ``length`` (default ``config.max_length``) per model,
    drawn from ``Stream(seed)`` (the same sequences for every model).
    """
    task = config.make_task()
    act, dtype = activation_of(config.init), DTYPES[config.dtype]
    streams = [Stream(seed) for _ in range(params.n_models)]
    L = length or config.max_length
    data = task.sample(streams, batch, [L] * params.n_models, purpose="valid", dtype=dtype)
    step = batched.loss_and_grads(params, act, task, data, keep_states=True)
    dh = step.dh.to(torch.float64)
    h = step.states.to(torch.float64)
    dact = 1 - h.square() if act == "tanh" else h * (1 - h)
    return torch.linalg.vector_norm(dh, dim=-1), torch.linalg.vector_norm(dh * dact, dim=-1), h


def autonomous_endpoints(params: Params, act: str, *, n_starts: int = 200, steps: int = 500, scale: float = 3.0,
                         generator: torch.Generator | None = None, tol: float = 1e-3) -> list[int]:
    """Number of distinct end states of ``h <- act(h W_hh + b_h)`` per model (no input).

    ``n_starts`` initial states drawn uniformly in ``[-scale, scale]^H`` (clamped into the
    unit's range) are iterated ``steps`` times in float64; end states closer than ``tol``
    (max-norm) count as one. A contraction (``lambda_1 < 1/gamma``) has exactly one: every
    state falls to the same point attractor, and a memory of the input cannot be held.
    Cycles or chaos show up as many distinct end states.
    """
    gen = generator or torch.Generator().manual_seed(0)
    W = params.W_hh.to(torch.float64)
    b = params.b_h.to(torch.float64).unsqueeze(1)
    E, H = W.shape[0], W.shape[-1]
    h = (torch.rand(E, n_starts, H, generator=gen, dtype=torch.float64) * 2 - 1) * scale
    h = h.clamp(-1, 1) if act == "tanh" else h.clamp(0, 1)
    for _ in range(steps):
        x = torch.baddbmm(b, h, W)
        h = x.tanh() if act == "tanh" else torch.sigmoid(x)
    counts = []
    for e in range(E):
        reps: list[torch.Tensor] = []
        for row in h[e]:
            if not any(float((row - r).abs().max()) < tol for r in reps):
                reps.append(row)
        counts.append(len(reps))
    return counts


def spike_statistics(norms: torch.Tensor, factor: float = 10.0, window: int = 100) -> dict[str, float]:
    """How spiky a gradient-norm trace is: max / median, and the share of updates whose norm
    exceeds ``factor`` times the median of the ``window`` updates before it."""
    x = norms[torch.isfinite(norms)].to(torch.float64)
    if x.numel() <= window:
        raise ConfigError(f"need more than {window} finite norms, got {x.numel()}")
    med = torch.stack([x[i - window:i].median() for i in range(window, x.numel())])
    spikes = x[window:] > factor * med
    return {"max_over_median": float(x.max() / x.median()), "spike_fraction": float(spikes.double().mean()),
            "spikes": int(spikes.sum()), "max": float(x.max()), "median": float(x.median())}


# ---------------------------------------------------------------------------------------------
# Chapter 3.1's studies, written to results/ by `python -m rnnbook.studies.baselines lstm|error-clipping`
# (the LSTM study's protocol and runner live in rnnbook.studies.lstm)
# ---------------------------------------------------------------------------------------------

#: Chapter 3.1's comparison of Mikolov's per-step error clipping with the true gradient, along the
#: trajectory of Experiment 2's MSGD-C run (temporal order, length 50, smart tanh, seed 0, lr 0.01,
#: threshold 1, 4,000 updates): the weights every ``every`` updates, one fresh minibatch each,
#: the cutoffs ``cutoffs`` (ours; a grid around the values that clamp as many minibatches as norm
#: clipping clips).
ERROR_CLIPPING_STUDY = {"length": 50, "init": "smart_tanh", "seed": 0, "lr": 0.01, "threshold": 1.0, "batch": 20,
                        "hidden": 50, "updates": 4000, "every": 100,
                        "cutoffs": [1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1, 3.16e-1]}


def error_clipping_study(spec: dict | None = None) -> dict:
    """Run ``ERROR_CLIPPING_STUDY``: :func:`error_clipping_directions` at the run's saved weights."""
    spec = dict(ERROR_CLIPPING_STUDY if spec is None else spec)
    config = RunConfig(task="torder", init=spec["init"], method="msgd_c", min_length=spec["length"],
                       max_length=spec["length"], seed=spec["seed"], hidden=spec["hidden"], lr=spec["lr"],
                       threshold=spec["threshold"], batch=spec["batch"], max_updates=spec["updates"],
                       check_every=spec["updates"])
    run = train_trajectory(config, snapshot_every=spec["every"])
    found = error_clipping_directions(run.snapshots[:-1], config, spec["cutoffs"])
    return {"format": "rnnbook-error-clipping-study/1", "spec": spec, "torch": torch.__version__,
            "updates": run.snapshot_updates[:-1], **{k: v.tolist() for k, v in found.items()}}


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnbook.studies.baselines",
                                     description="Chapter 3.1's studies: the LSTM (writes "
                                     "results/lstm_temporal_order/study.json) and Mikolov's per-step error clipping "
                                     "(results/error_clipping_temporal_order/study.json)")
    parser.add_argument("what", choices=["lstm", "error-clipping"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    configure_torch(None)
    seed_everything(2013)  # as the notebooks' runtime.setup does
    if args.what == "lstm":
        data, default = lstm_study(), "results/lstm_temporal_order/study.json"
    else:
        data, default = error_clipping_study(), "results/error_clipping_temporal_order/study.json"
    out = Path(args.out or default)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
