"""Table 1's runs: MSGD, MSGD+C and MSGD+CR trained side by side on a natural problem, by epochs.

The paper compares the three methods on music and text (§4.2, Table 1; back/paper_in_numbers.ipynb).
Here the three are one ensemble of the engine: the same initial weights, the same minibatches in
the same order, one update of all three at a time. Only the method differs:

============  =====================  =================  ===========================
model         learning rate          clipping           regularizer weight
============  =====================  =================  ===========================
``msgd``      ``lr_msgd``            none               0
``msgd_c``    ``lr_msgd_c``          ``threshold``      0
``msgd_cr``   ``lr_msgd_cr``         ``threshold``      ``reg_weight / t`` (epoch t)
============  =====================  =================  ===========================

The regularizer's weight decays as ``1/t`` with the epoch ``t`` (the paper: a fixed weight hurts on
these problems); ``omega_schedule = "fixed"`` holds it at ``reg_weight``, its value at t = 1, to test
that claim (:meth:`~rnnbook.natural.experiments.NaturalConfig.omega_weight`). ``methods`` may name one
method to train alone: each model's update and scores depend on its own weights only, so it trains
as it does beside the other two (tests/unit/test_omega_schedule.py holds it to that), in a third of
the time. With ``lr_halving`` a method's learning rate is halved after every epoch whose
validation loss is higher than the one before (the arXiv text's rule for music). After each
epoch every method is scored on the train, validation and test splits (:func:`rnnbook.natural.task.evaluate`);
Table 1's entry for a method is its train and test score at its best validation epoch.

A run is two files (the tests in tests/unit/test_natural.py and tests/unit/test_music.py hold them to this):

* the state ``<protocol>.state.pt`` (:mod:`rnnbook.natural.state`: weights, learning rates, where in
  which epoch, the best weights so far), saved every ``checkpoint_every`` seconds and at the end
  of every epoch, always before the results file;
* the results file ``results/<experiment>/<protocol>.json`` (:mod:`rnnbook.natural.results`:
  per-epoch history, the gradient norm, cost and Omega of every update, the protocol, the corpus,
  machine and time), written from the state.

Running the same command again continues from the state, bit for bit, and a larger ``epochs``
(``--set epochs=N``) trains on. What a run reads, the corpus cut into minibatches and the
sequences it scores, is :mod:`rnnbook.natural.data`. This module is the loop: :func:`train_natural`
opens the run, :func:`_train_epochs` steps the ensemble through the epochs' minibatches, and
:func:`_end_epoch` scores each epoch and applies the rules above. Why not a schedule on the
synthetic runs' loop (:class:`rnnbook.synthetic.training.Ensemble`)? Its members are independent runs
with their own data streams, validation checks and stopping rule (success below 1 %); here the three
members must share every minibatch, are judged on whole data splits after each epoch, and change
their learning rates and Omega's weight between epochs. Both loops drive the same update
(:meth:`rnnbook.engine.backend.Backend.update` with one :class:`~rnnbook.engine.update.UpdateSettings`);
only the bookkeeping around it differs. The names of the other three
modules that callers import from here (``json_of``, ``format_natural``, ``TrainState``, ...) are
re-exported.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rnnbook.engine.backend import UpdateSettings, choose_backend
from rnnbook.methods import DTYPES, METHOD, METHODS
from rnnbook.natural.data import Data, load_data
from rnnbook.natural.experiments import ACT, NaturalConfig, NaturalExperiment
from rnnbook.natural.results import (MAX_TRACE_POINTS, agrees, format_natural, is_natural, json_of, read_sessions,
                                     results_of, table_entry, without_provenance)
from rnnbook.natural.state import FORMAT, TrainState, best_params, open_state, state_path
from rnnbook.natural.task import evaluate
from rnnbook.store.atomic import remove_stale_temps, write_atomic
from rnnbook.store.jsonio import write_json_atomic
from rnnbook.store.lock import exclusive
from rnnbook.store.provenance import code_version, environment, now


def train_natural(
    exp: NaturalExperiment,
    cfg: NaturalConfig,
    path: str | Path,
    *,
    data: Data | None = None,
    checkpoint_every_s: float = 300.0,
    progress: Callable[[int, int], None] | None = None,
    argv: list[str] | None = None,
    stop_after_updates: int | None = None,
) -> dict[str, Any]:
    """Train (or continue) the three methods of ``exp`` under ``cfg``; write and return the results.

    ``path``: the results file; the state goes beside it. An existing state made with other
    settings (``epochs`` aside) is refused with a one-line error. ``progress(done, total)`` is
    called after every update. ``stop_after_updates`` stops early (as a kill would, after saving
    the state): the tests use it to check that resuming changes nothing.

    The command holds the results file's lock (:mod:`rnnbook.store.lock`) throughout: a second writer
    is refused. The state is written before the JSON; a JSON that is missing, or behind a state
    with nothing left to train (killed between the two writes), is rebuilt from the state.
    """
    cfg = cfg.validate()
    path = Path(path)
    with exclusive(path):  # taken first: a second writer is refused before it loads a corpus
        for p in (path, state_path(path)):
            remove_stale_temps(p)  # left by a writer killed outright
        data = data or load_data(exp, cfg)
        return _train_natural(exp, cfg, path, data, checkpoint_every_s, progress, argv, stop_after_updates)


def _train_natural(exp: NaturalExperiment, cfg: NaturalConfig, path: Path, data: Data, checkpoint_every_s: float,
                   progress: Callable[[int, int], None] | None, argv: list[str] | None,
                   stop_after_updates: int | None) -> dict[str, Any]:
    """:func:`train_natural`'s work, under the file's lock: open the run, train, and save however it ends."""
    state = open_state(path, exp.name, cfg, data.task)
    sessions = read_sessions(path)
    session = {"started": now(), "argv": argv, "code": code_version(), "environment": environment("cpu"),
               "from_epoch": state.epoch, "from_position": state.position,
               "status": "running", "interrupted": True}  # until it ends; a killed one is marked by the next start
    start = (state.epoch, state.position)
    sessions.append(session)
    save = functools.partial(_save, path, state, exp, cfg, data, sessions, time.perf_counter())
    try:
        _train_epochs(state, data, cfg, save, checkpoint_every_s, progress, stop_after_updates)
    except BaseException as exc:  # _Stop, Ctrl-C, SIGTERM, a full disk, want of memory: keep the state
        session["interrupted"], session["status"] = True, "interrupted"
        try:
            save()
        except Exception:  # noqa: BLE001 -- e.g. the disk is still full: the files keep their last save
            if not isinstance(exc, _Stop):
                raise exc from None
            raise
        if not isinstance(exc, _Stop):
            raise
        return json_of(path)
    session["interrupted"], session["status"] = False, "finished"
    if (state.epoch, state.position) != start or not agrees(path, state):
        # trained, or the JSON is missing or behind the state (killed between the two writes): write it
        save()
    return json_of(path)


class _Stop(Exception):
    """``stop_after_updates`` reached: stop as a kill would, after saving."""


def _train_epochs(state: TrainState, data: Data, cfg: NaturalConfig, save: Callable[[], None],
                  checkpoint_every_s: float, progress: Callable[[int, int], None] | None,
                  stop_after_updates: int | None) -> None:
    """The loop: every update of every epoch left, the three models at once; ``save`` every
    ``checkpoint_every_s`` seconds and after each epoch. Stops when ``epochs`` are done or no
    method trains any more (each diverged or stopped early)."""
    dtype = DTYPES[cfg.dtype]
    methods = cfg.trained
    threshold = torch.tensor([METHOD[m].threshold(cfg.threshold) for m in methods], dtype=dtype)
    plan = functools.lru_cache(maxsize=1)(functools.partial(data.plan, cfg))  # epoch -> its minibatches
    backend = choose_backend("cpu", ACT, data.task.readout, dtype)
    per_epoch = len(plan(state.epoch))
    total, done_before = per_epoch * cfg.epochs, per_epoch * (state.epoch - 1) + state.position
    t_saved = t_epoch = time.perf_counter()
    updates_now = 0
    while state.epoch <= cfg.epochs and not all(state.idle()):
        batches = plan(state.epoch)
        settings = _start_epoch(state, cfg, threshold)
        while state.position < len(batches):
            if stop_after_updates is not None and updates_now >= stop_after_updates:
                raise _Stop()
            batch = data.batch(batches[state.position], cfg, len(methods), dtype)
            _accumulate(state, backend.update(state.params, data.task, batch, settings))
            state.position += 1
            updates_now += 1
            if progress:
                progress(done_before + updates_now, total)
            if time.perf_counter() - t_saved > checkpoint_every_s:
                save()
                t_saved = time.perf_counter()
        _end_epoch(state, data, cfg, len(batches), time.perf_counter() - t_epoch)
        t_epoch = time.perf_counter()
        state.epoch, state.position = state.epoch + 1, 0
        save()
        t_saved = time.perf_counter()


def _start_epoch(state: TrainState, cfg: NaturalConfig, threshold: torch.Tensor) -> UpdateSettings:
    """The update settings of the epoch ``state`` is in: per method its learning rate (0 once it
    trains no more), threshold and regularizer weight (``reg_weight / epoch`` by default). At the epoch's start
    (or on resuming a state saved without them) its fallback weights and zeroed sums."""
    dtype = DTYPES[cfg.dtype]
    if state.position == 0 or state.epoch_start is None:
        state.epoch_start = state.params.clone()
    if state.position == 0:
        state.sums = {k: [0.0] * len(cfg.trained) for k in ("loss", "norm", "norm_max", "clipped", "omega")}
    reg = torch.tensor([METHOD[m].reg_weight(cfg.omega_weight(state.epoch)) for m in cfg.trained], dtype=dtype)
    frozen = torch.tensor(state.idle())  # a stopped method takes steps of 0 as a diverged one does
    lr = torch.where(frozen, 0.0, state.lr)
    # a frozen model's step is 0 * gradient: the safety net keeps an infinite gradient from making it NaN
    safety = frozen if frozen.any() else None
    return UpdateSettings(lr, threshold, reg, safety)


def _accumulate(state: TrainState, stats) -> None:
    """Add one update's statistics (per method) to the epoch's sums and the per-update trace."""
    s, tr = state.sums, state.trace
    loss, norm = stats.loss.tolist(), stats.grad_norm.tolist()
    clipped = stats.clipped.tolist()
    omega = stats.omega.tolist() if stats.omega is not None else [0.0] * len(loss)
    for e in range(len(loss)):
        s["loss"][e] += loss[e]
        s["norm"][e] += norm[e]
        s["norm_max"][e] = max(s["norm_max"][e], norm[e])
        s["clipped"][e] += float(clipped[e])
        s["omega"][e] += omega[e]
    for name, values in (("loss", loss), ("norm", norm), ("omega", omega)):
        tr.setdefault(name, []).append(values)


def _score(state: TrainState, data: Data, cfg: NaturalConfig) -> dict[str, list[float]]:
    """Each split's score (mean cost per frame or character) for each model.

    Methods trained without the other two are scored in the three-model ensemble's layout, each at
    its own place (the others' places hold copies): torch's vectorised functions (sigmoid, softplus)
    round an element by where it falls in their vector loop, so only there does a model score what it
    scores beside the other two, bit for bit."""
    params, places = state.params, list(range(len(cfg.trained)))
    if cfg.trained != METHODS:
        places = [METHODS.index(m) for m in cfg.trained]
        params = params.select([places.index(k) if k in places else 0 for k in range(len(METHODS))])
    scores = {split: evaluate(params, ACT, data.task, seqs, dtype=DTYPES[cfg.dtype]).tolist()
              for split, seqs in data.scored.items()}
    return {split: [s[k] for k in places] for split, s in scores.items()}


def _end_epoch(state: TrainState, data: Data, cfg: NaturalConfig, updates: int, wall: float) -> None:
    """Score the epoch, keep the best weights, halve learning rates, handle divergence."""
    diverged, methods = [], cfg.trained

    def restore(e: int) -> None:  # the epoch's starting weights, and no more training for this method
        state.params.set_model_(e, state.epoch_start.select([e]))
        state.frozen[e] = True
        diverged.append(methods[e])

    finite = state.params.is_finite()
    for e in range(len(methods)):
        if not finite[e]:
            restore(e)
    scores = _score(state, data, cfg)
    bad = [e for e in range(len(methods)) if not state.frozen[e]
           and not all(math.isfinite(scores[split][e]) for split in scores)]
    if bad:  # finite weights whose predictions overflow: diverged too
        for e in bad:
            restore(e)
        scores = _score(state, data, cfg)
    n = max(updates, 1)
    for e, m in enumerate(methods):
        s = state.sums
        row = {
            "epoch": state.epoch, "method": m, "lr": float(state.lr[e]),
            "reg_weight": METHOD[m].reg_weight(cfg.omega_weight(state.epoch)),
            "train_cost": s["loss"][e] / n, "grad_norm_mean": s["norm"][e] / n, "grad_norm_max": s["norm_max"][e],
            "clipped_fraction": s["clipped"][e] / n, "omega_mean": s["omega"][e] / n,
            **{split: scores[split][e] for split in scores},
            "frozen": state.frozen[e], "diverged_now": m in diverged, "updates": updates,
        }
        state.history.append(row)
        best = state.best.get(m)
        if not state.frozen[e] or m in diverged:
            if math.isfinite(row["valid"]) and (best is None or row["valid"] < best["valid"]):
                state.best[m] = {"epoch": state.epoch, "valid": row["valid"], "params": state.params.select([e])}
        previous = [r for r in state.history[:-1] if r["method"] == m]
        if cfg.lr_halving and previous and row["valid"] > previous[-1]["valid"]:
            state.lr[e] = state.lr[e] / 2
        if (cfg.patience and not state.stopped[e] and not state.frozen[e]
                and state.epoch - last_gain(state.history, m, cfg.min_delta) >= cfg.patience):
            state.stopped[e] = state.epoch  # early stopping: no better validation score for `patience` epochs
        row["stopped"] = bool(state.stopped[e])
    state.wall_time_s += wall


def last_gain(history: list[dict[str, Any]], method: str, min_delta: float = 0.0) -> int:
    """The last epoch whose validation score was better than every earlier one that counted, by more
    than ``min_delta`` (early stopping counts the epochs since; 0 before any finite score)."""
    ref, epoch = math.inf, 0
    for r in history:
        if r["method"] == method and math.isfinite(r["valid"]) and r["valid"] < ref - min_delta:
            ref, epoch = r["valid"], r["epoch"]
    return epoch


def _save(path: Path, state: TrainState, exp: NaturalExperiment, cfg: NaturalConfig, data: Data,
          sessions: list[dict[str, Any]], t_session: float) -> None:
    """Save the run: the state first, then the results file written from it (each file atomically)."""
    sessions[-1]["ended"] = now()
    sessions[-1]["wall_time_s"] = round(time.perf_counter() - t_session, 3)
    write_atomic(state_path(path), state.to_bytes())
    write_json_atomic(path, results_of(state, exp, cfg, data, sessions))


__all__ = ["Data", "TrainState", "load_data", "train_natural", "table_entry", "best_params", "json_of",
           "without_provenance", "is_natural", "format_natural", "last_gain", "state_path", "FORMAT",
           "MAX_TRACE_POINTS"]
