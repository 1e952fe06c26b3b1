"""Beyond the paper: Adam and an LSTM on Fig. 7's temporal-order protocol (Chapter 4.4).

Nothing here is in the paper. Pascanu et al. (2013) train by plain SGD; since then the default
recipe for a recurrent network is Adam (Kingma & Ba 2015), often with clipping, or an LSTM with
its forget gate opened at the start (Gers et al. 2000; Jozefowicz et al. 2015). This module
trains those recipes on the task and protocol of Fig. 7, so that the book can put a modern row
beside the paper's curves:

* :class:`Adam` is Adam written as the update's ``grad_transform``
  (:mod:`rnnbook.engine.update`): it clips the raw gradient as Algorithm 1 does (``inf``: not at
  all), then replaces every gradient in place by ``m_hat / (sqrt(v_hat) + eps)``, so that the
  engine's SGD step ``theta <- theta - lr * g``, taken with Adam's learning rate, *is* Adam's
  step. Its state lives per member of the ensemble and follows members as they leave.
* :data:`ROWS`, :data:`PROTOCOLS` and :data:`ADAM` are the study, fixed before it was run.
* :func:`run_study` trains it group by group (one row at one length: its seeds; the shorter
  lengths first, every row at one length before the next length), writing each
  finished group to ``results/modern_baseline/<protocol>.json``; a rerun skips finished groups.

``python -m rnnbook.studies.modern [--protocol quick|paper] [--budget 40m] [--results-dir DIR]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from rnnbook.engine.clipping import clip_grad_norm_
from rnnbook.errors import ConfigError
from rnnbook.paper.model import Params
from rnnbook.store.jsonio import read_json
from rnnbook.store.provenance import now
from rnnbook.store.study_file import StudyFile, open_study
from rnnbook.studies.command import study_main
from rnnbook.studies.lstm import train_lstm
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.training import Ensemble, Hooks

FORMAT = "rnnbook-modern-baseline/1"

#: Adam's settings: PyTorch's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8), which are also the
#: values Kingma & Ba propose. Not tuned: a default recipe is the point of a baseline.
ADAM = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8}

#: The three rows. ``rnn_adam``: the paper's RNN with Fig. 7's middle-panel initialisation
#: (basic tanh), Adam instead of SGD, nothing else (one change against Fig. 7's MSGD: the
#: optimizer, with its learning rate). ``rnn_adam_c``: the same with Algorithm 1 at the paper's
#: threshold 1 on the raw gradient, before Adam (one change against MSGD-C). ``lstm_adam``: a
#: 50-unit ``torch.nn.LSTM`` with forget-gate bias 1 (:func:`rnnbook.studies.lstm.set_forget_bias_`),
#: PyTorch's initialisation otherwise, Adam, no clipping (against ``rnn_adam`` it changes two
#: things at once: the architecture and the initialisation).
ROWS = {
    "rnn_adam": {"model": "rnn", "init": "basic_tanh", "threshold": None, "compare": "msgd"},
    "rnn_adam_c": {"model": "rnn", "init": "basic_tanh", "threshold": 1.0, "compare": "msgd_c"},
    "lstm_adam": {"model": "lstm", "forget_bias": 1.0, "threshold": None, "compare": "rnn_adam"},
}

#: ``paper``: Fig. 7's protocol (registry/protocols.toml and fig7.toml: 50 hidden, batch 20,
#: seeds 0-4, lengths 20-200, a check every 2,000 updates on 10,000 fresh sequences, solved at
#: the first check under 1 % errors), with the cap at 10^5 updates: the cap every committed
#: Fig. 7 run reached, so that every row is read at an equal cap. ``quick``: a smoke scale the
#: notebook runs live (NOT the paper's protocol).
PROTOCOLS = {
    "paper": {"lengths": [20, 50, 100, 150, 200], "seeds": [0, 1, 2, 3, 4], "cap": 100_000, "check_every": 2000,
              "n_valid": 10_000, "hidden": 50, "batch": 20, "success_error": 0.01},
    "quick": {"lengths": [10, 20], "seeds": [0, 1], "cap": 3000, "check_every": 500,
              "n_valid": 1000, "hidden": 50, "batch": 20, "success_error": 0.01},
}


class Adam:
    """Adam as a ``grad_transform``: clip by the norm (Algorithm 1), then Adam's direction.

    For every member ``e`` and every weight, with ``g`` the (clipped) gradient and ``t`` the
    member's step count::

        m <- b1 m + (1 - b1) g,      v <- b2 v + (1 - b2) g^2
        g <- (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    after which the engine's step ``theta <- theta - lr g`` is ``torch.optim.Adam``'s. The state
    is ``(E, ...)``, one row per member in slot order. ``members()`` names the runs the slots hold
    now (``[m.index for m in ensemble.members]``): when a member leaves (solved, diverged), its
    row is dropped; a run that joins later is refused (train every run from the start).
    """

    def __init__(self, betas=(0.9, 0.999), eps: float = 1e-8, members: Callable[[], list[int]] | None = None):
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps, self.members = float(eps), members
        self.m: dict[str, torch.Tensor] | None = None
        self.v: dict[str, torch.Tensor] = {}
        self.t = torch.zeros(0, dtype=torch.float64)
        self.held: list[int] | None = None

    def _follow_members(self) -> None:
        now_held = None if self.members is None else list(self.members())
        if self.m is None or now_held == self.held:
            self.held = now_held
            return
        if not set(now_held) <= set(self.held):
            raise ConfigError("Adam's state follows members that leave, not runs that join: start every run at once")
        keep = torch.tensor([self.held.index(i) for i in now_held])
        self.m = {k: t[keep] for k, t in self.m.items()}
        self.v = {k: t[keep] for k, t in self.v.items()}
        self.t, self.held = self.t[keep], now_held

    def __call__(self, grads: Params, params: Params, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        norm, clipped = clip_grad_norm_(grads, threshold)
        self._follow_members()
        if self.m is None:
            self.m = {k: torch.zeros_like(g) for k, g in grads.items()}
            self.v = {k: torch.zeros_like(g) for k, g in grads.items()}
            self.t = torch.zeros(grads.n_models, dtype=torch.float64)
        self.t += 1
        bc1 = (1 - self.beta1 ** self.t).to(grads.W_hh.dtype)
        bc2 = (1 - self.beta2 ** self.t).sqrt().to(grads.W_hh.dtype)
        for name, g in grads.items():
            shape = (-1, *([1] * (g.dim() - 1)))
            m, v = self.m[name], self.v[name]
            m.lerp_(g, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            g.copy_((m / bc1.view(shape)) / ((v.sqrt() / bc2.view(shape)).add_(self.eps)))
        return norm, clipped


COMMAND = "nice -n 10 .venv/bin/python -m rnnbook.studies.modern --protocol paper --budget 2h"


def rnn_config(row: str, length: int, seed: int, protocol: dict) -> RunConfig:
    """The engine's run of an RNN row: Fig. 7's run of that init, seed and length (same initial
    weights, same minibatches), trained at Adam's learning rate; MSGD-C's method where it clips."""
    clip = ROWS[row]["threshold"]
    return RunConfig(task="torder", init=ROWS[row]["init"], method="msgd" if clip is None else "msgd_c",
                     min_length=length, max_length=length, seed=seed, max_updates=protocol["cap"],
                     check_every=protocol["check_every"], lr=ADAM["lr"], threshold=1.0 if clip is None else clip,
                     batch=protocol["batch"], hidden=protocol["hidden"], n_valid=protocol["n_valid"],
                     success_error=protocol["success_error"])


def _outcome(first_success: int | None, diverged: bool) -> str:
    return "solved" if first_success is not None else "diverged" if diverged else "censored"


def rnn_group(row: str, length: int, protocol: dict, stop_at: float | None = None) -> list[dict] | None:
    """Train the seeds of an RNN row at one length as one ensemble; their records, or ``None``
    if ``stop_at`` came first (the group is then left for a later sitting)."""
    pending = [(i, rnn_config(row, length, seed, protocol)) for i, seed in enumerate(protocol["seeds"])]
    peak = torch.full((len(pending),), -math.inf, dtype=torch.float64)

    def members() -> list[int]:
        return [m.index for m in ensemble.members]

    def record_peak(step) -> None:
        slots = torch.tensor(members())
        peak[slots] = torch.fmax(peak[slots], step.grad_norm.detach().to(torch.float64).cpu())

    adam = Adam(ADAM["betas"], ADAM["eps"], members)
    ensemble = Ensemble(pending[0][1].make_task(), list(pending), len(pending), "cpu",
                        Hooks(on_update=record_peak, grad_transform=adam), stop_at=stop_at)
    results = ensemble.run()
    if len(results) < len(pending):
        return None
    return [{"row": row, "length": length, "seed": cfg.seed, "first_success_update": results[i].first_success_update,
             "updates": results[i].updates, "outcome": _outcome(results[i].first_success_update, results[i].diverged),
             "checks": [int(u) for u in results[i].curves["update"]], "valid_error": results[i].curves["valid_error"],
             "wall_time_s": results[i].wall_time_s, "grad_norm_max": float(peak[i])} for i, cfg in pending]


def lstm_group(row: str, length: int, protocol: dict, stop_at: float | None = None) -> list[dict] | None:
    """Train the seeds of an LSTM row at one length one after another (``train_lstm``); their
    records, or ``None`` if ``stop_at`` came first."""
    runs = []
    for seed in protocol["seeds"]:
        started = time.perf_counter()
        run = train_lstm(length, seed, protocol["cap"], hidden=protocol["hidden"], lr=ADAM["lr"],
                         batch=protocol["batch"], threshold=ROWS[row]["threshold"],
                         check_every=protocol["check_every"], n_valid=protocol["n_valid"],
                         success_error=protocol["success_error"], optimizer="adam",
                         forget_bias=ROWS[row]["forget_bias"], stop_at=stop_at)
        if run.stopped:
            return None
        finite = run.grad_norm[torch.isfinite(run.grad_norm)]
        runs.append({"row": row, "length": length, "seed": seed, "first_success_update": run.first_success,
                     "updates": int(run.loss.numel()), "outcome": _outcome(run.first_success, run.diverged),
                     "checks": run.checks, "valid_error": run.valid_error,
                     "wall_time_s": time.perf_counter() - started,
                     "grad_norm_max": float(finite.max()) if finite.numel() else math.nan})
    return runs


def results_path(results_dir: str | Path, protocol: str) -> Path:
    return Path(results_dir) / "modern_baseline" / f"{protocol}.json"


def read_study(path: str | Path) -> dict:
    """A study file, checked (:func:`rnnbook.store.jsonio.read_json`)."""
    return read_json(path, FORMAT, what="modern-baseline file")


def cost_runs(study: dict) -> tuple[list[dict], float]:
    """For the book's cost table: every run with its ``updates`` and ``length``, and the core-seconds
    the study took (an RNN group trained as one ensemble, so by group)."""
    return [r for g in study["groups"] for r in g["runs"]], sum(g["wall_time_s"] for g in study["groups"])


def finished_groups(study: dict) -> set[tuple[str, int]]:
    return {(g["row"], g["length"]) for g in study["groups"]}


def run_study(protocol: str = "quick", results_dir: str | Path = "results", budget_s: float | None = None,
              say: Callable[[str], None] = print) -> dict:
    """Train every (row, length) group of ``protocol`` not yet in its file, lengths ascending and,
    at each length, the rows in the order of :data:`ROWS` (a budget that ends early leaves every
    row compared at the shorter lengths, not one row at every length); each group is written as
    soon as it is finished. Past ``budget_s`` seconds the group in training stops at its next
    check, unrecorded."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    spec = PROTOCOLS[protocol]
    stop_at = None if budget_s is None else time.time() + budget_s
    fixed = {"protocol": protocol, "spec": spec, "rows": ROWS, "adam": ADAM}
    with open_study(results_path(results_dir, protocol), FORMAT, "modern-baseline file", fixed, {"groups": []},
                    session={"budget_s": budget_s}) as file:
        _train_missing(file, stop_at, say)
        study = file.data
    return study


def _train_missing(file: StudyFile, stop_at: float | None, say: Callable[[str], None]) -> None:
    """Train the groups not yet in the study, saving it after each; stop at the deadline."""
    study = file.data
    spec = study["spec"]
    for length in spec["lengths"]:
        for row, what in ROWS.items():
            if (row, length) in finished_groups(study):
                continue
            if stop_at is not None and time.time() >= stop_at:
                say(f"budget spent: stopped before {row} at length {length}")
                return
            started = time.perf_counter()
            runs = (rnn_group if what["model"] == "rnn" else lstm_group)(row, length, spec, stop_at)
            if runs is None:
                say(f"budget spent during {row} at length {length}: that group is left for a later sitting")
                return
            study["groups"].append({"row": row, "length": length, "runs": runs, "finished": now(),
                                    "wall_time_s": time.perf_counter() - started})
            file.save()
            solved = sum(r["outcome"] == "solved" for r in runs)
            say(f"{row} T={length}: {solved}/{len(runs)} solved ({time.perf_counter() - started:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    return study_main(argv, "python -m rnnbook.studies.modern",
                      "Chapter 4.4: Adam and an LSTM on Fig. 7's temporal-order protocol "
                      "(writes results/modern_baseline/<protocol>.json)",
                      lambda args, budget, say: run_study(args.protocol, args.results_dir, budget, say=say),
                      budget_help="stop before this much time", seed=None)  # every run seeds its own generators


if __name__ == "__main__":
    raise SystemExit(main())
