"""Chapter 3.3's two measurements of Ω, stored: Eq. 10 against Ω's exact gradient, and the error signal.

§3.3 of the paper makes two claims about its regularizer Ω that it argues for but does not measure:

* treating the back-propagated error and the state as constants gives a usable gradient of Ω
  (Eq. 10, the *immediate* gradient, :mod:`rnnbook.engine.omega`), and
* Ω keeps the error signal from vanishing.

Chapter 3.3 measures both live on three seeds. This module is the same measurement as a study
fixed before it was run (:data:`STUDY`, :data:`PROTOCOLS`) and written to
``results/omega_study/<protocol>.json``, which the claims registry judges
(:mod:`rnnbook.verdicts.evidence_studies`). For every seed it trains MSGD-C and MSGD-CR **paired**
(:func:`rnnbook.studies.baselines.train_trajectory`: same seed, so the same initial weights and the
same minibatches) and records:

* for MSGD-CR, at evenly spaced weight snapshots, the cosine between Eq. 10's gradient of Ω and Ω's
  exact gradient on ``W_rec`` (:func:`rnnbook.engine.omega_exact.omega_gradients`, autograd through the
  states and the errors) on a few fixed minibatches, and their norm ratio;
* for both methods, the error-signal ratio ``||dE/dh_1|| / ||dE/dh_T||`` (the median over fresh
  sequences, as the page computes it) at the initial and the trained weights, the same for the
  pre-activation error ``dE/dx_k``, and the validation error of the trained weights.

``python -m rnnbook.studies.omega_study [--protocol quick|paper] [--results-dir DIR]``; a rerun
skips the seeds already in the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from rnnbook.engine.omega_exact import omega_gradients
from rnnbook.errors import ConfigError
from rnnbook.paper.streams import Stream
from rnnbook.store.jsonio import read_json
from rnnbook.store.study_file import open_study
from rnnbook.studies.baselines import error_signal_norms, train_trajectory, validation_error
from rnnbook.studies.command import study_main
from rnnbook.synthetic.runs import RunConfig

FORMAT = "rnnbook-omega-study/1"
METHODS = ("msgd_c", "msgd_cr")

#: The study, fixed before it was run (every value is ours unless it says Fig. 7). The settings are
#: Fig. 7's paper protocol (registry/protocols.toml, fig7.toml: 50 hidden units, lr 0.01, threshold 1,
#: Ω's weight 4, minibatches of 20) at one length, 50, from the smart-tanh start: the length and
#: start of Chapter 3.3's live runs and of the stored Ω studies (``omega_clipping``), where MSGD-CR
#: learns and MSGD-C mostly does not. ``grad_batches``: Ω's two gradients are compared on the same
#: three fixed minibatches at every snapshot (``Stream(1000 + i)``, validation draws, as the page);
#: a snapshot passes only if the cosine is positive on every one of them. ``signal_batch``: the
#: error-signal ratio is the median over 100 fresh sequences of ``Stream(12345)``
#: (:func:`rnnbook.studies.baselines.error_signal_norms`, as the page). ``n_valid``: the trained
#: weights' error on 2,000 fresh sequences (the page's number). The cap is **ours**: measured at
#: about 2 ms per update on one core, 10,000 updates for 20 runs is under 15 minutes with the
#: measurements; it is 0.2 % of the paper's 5×10⁶ updates, so the study compares trained states
#: after 10,000 updates, not the paper's whole training.
STUDY = {"task": "torder", "init": "smart_tanh", "length": 50, "hidden": 50, "lr": 0.01, "threshold": 1.0,
         "reg_weight": 4.0, "batch": 20, "methods": list(METHODS), "grad_batches": [1000, 1001, 1002],
         "signal_batch": 100, "signal_seed": 12345, "n_valid": 2000}

#: ``paper``: seeds 0-9, 10,000 updates, a snapshot every 1,000 (11 with the initial weights).
#: ``quick``: a smoke scale for the tests (NOT the study).
PROTOCOLS = {
    "paper": {"seeds": list(range(10)), "updates": 10_000, "snapshot_every": 1000},
    "quick": {"seeds": [0, 1], "updates": 1000, "snapshot_every": 500},
}

COMMAND = "nice -n 10 .venv/bin/python -m rnnbook.studies.omega_study --protocol paper"


def run_config(method: str, seed: int, protocol: dict) -> RunConfig:
    """The engine's run of ``method`` at ``seed``: the same initial weights and minibatches for both methods."""
    return RunConfig(task=STUDY["task"], init=STUDY["init"], method=method, min_length=STUDY["length"],
                     max_length=STUDY["length"], seed=seed, max_updates=protocol["updates"],
                     check_every=protocol["updates"], lr=STUDY["lr"], threshold=STUDY["threshold"],
                     reg_weight=STUDY["reg_weight"], batch=STUDY["batch"], hidden=STUDY["hidden"],
                     n_valid=STUDY["n_valid"])


def error_signal_ratio(params, config: RunConfig) -> tuple[float, float]:
    """``(||dE/dh_1|| / ||dE/dh_T||, ||dE/dx_1|| / ||dE/dx_T||)``, each the median over the study's
    fresh sequences of the per-sequence ratio (Chapter 3.3's ``ratio_first``)."""
    dh, dx, _ = error_signal_norms(params, config, batch=STUDY["signal_batch"], seed=STUDY["signal_seed"])
    first = lambda n: float((n[0, 0] / n[0, -1]).median())
    return first(dh), first(dx)


def omega_gradient_comparison(snapshots: list, config: RunConfig) -> dict:
    """Eq. 10 against the exact gradient of Ω on ``W_rec`` at every snapshot, on the study's fixed
    minibatches, in float64: ``cosine`` and ``norm_ratio`` (``||Eq. 10|| / ||exact||``) and Ω's value,
    each ``(snapshots, minibatches)``."""
    task = config.make_task()
    batches = [task.sample([Stream(s)], STUDY["batch"], [STUDY["length"]], purpose="valid", dtype=torch.float64)
               for s in STUDY["grad_batches"]]
    out = {"cosine": [], "norm_ratio": [], "omega": []}
    for params in snapshots:
        p64 = params.map(lambda x: x.to(torch.float64))
        got = [omega_gradients(p64, "tanh", task, b) for b in batches]
        out["cosine"].append([g.cosine() for g in got])
        out["norm_ratio"].append([g.norm_ratio() for g in got])
        out["omega"].append([g.omega for g in got])
    return out


def method_record(method: str, seed: int, protocol: dict) -> dict:
    """Train one run and measure it (see the module docstring)."""
    started = time.perf_counter()
    config = run_config(method, seed, protocol)
    run = train_trajectory(config, snapshot_every=protocol["snapshot_every"])
    (h_init, x_init), (h_end, x_end) = (error_signal_ratio(p, config) for p in (run.snapshots[0], run.final))
    record = {"method": method, "seed": seed, "updates": run.snapshot_updates[-1], "diverged": run.diverged,
              "ratio_first_init": h_init, "ratio_first_trained": h_end,
              "ratio_first_x_init": x_init, "ratio_first_x_trained": x_end,
              "valid_error": float(validation_error(run.final, config, STUDY["n_valid"])[0]),
              "clipped_fraction": float(run.clipped[torch.isfinite(run.clipped)].mean())}
    if method == "msgd_cr":
        record["snapshot_updates"] = run.snapshot_updates
        record |= omega_gradient_comparison(run.snapshots, config)
    record["wall_time_s"] = time.perf_counter() - started
    return record


def results_path(results_dir: str | Path, protocol: str) -> Path:
    return Path(results_dir) / "omega_study" / f"{protocol}.json"


def read_study(path: str | Path) -> dict:
    """A study file, checked (:func:`rnnbook.store.jsonio.read_json`)."""
    return read_json(path, FORMAT, what="Ω study file")


def run_study(protocol: str = "quick", results_dir: str | Path = "results",
              say: Callable[[str], None] = print) -> dict:
    """Train and measure every seed of ``protocol`` not yet in its file, writing the file after each
    seed (both methods of a seed are written together, so a pair is never half stored)."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    spec = PROTOCOLS[protocol]
    fixed = {"protocol": protocol, "study": STUDY, "spec": spec}
    with open_study(results_path(results_dir, protocol), FORMAT, "Ω study file", fixed, {"runs": []}) as file:
        study = file.data
        done = {r["seed"] for r in study["runs"]}
        for seed in spec["seeds"]:
            if seed in done:
                continue
            started = time.perf_counter()
            pair = [method_record(m, seed, spec) for m in METHODS]
            study["runs"].extend(pair)
            file.save()
            c, cr = pair
            say(f"seed {seed}: ratio_first C {c['ratio_first_trained']:.3g}, CR {cr['ratio_first_trained']:.3g}; "
                f"cosine min {min(min(r) for r in cr['cosine']):.2f} ({time.perf_counter() - started:.0f} s)")
    return study


def cost_runs(study: dict) -> tuple[list[dict], float]:
    """For the book's cost table: every run with its ``updates`` and ``length``, and the core-seconds
    the study took (one run at a time, one core)."""
    return ([{**r, "length": study["study"]["length"]} for r in study["runs"]],
            sum(r["wall_time_s"] for r in study["runs"]))


def pairs(study: dict) -> list[tuple[dict, dict]]:
    """``(MSGD-C, MSGD-CR)`` records of each seed, seeds ascending."""
    by = {(r["method"], r["seed"]): r for r in study["runs"]}
    seeds = sorted({s for m, s in by if m == "msgd_cr"} & {s for m, s in by if m == "msgd_c"})
    return [(by["msgd_c", s], by["msgd_cr", s]) for s in seeds]


def main(argv: list[str] | None = None) -> int:
    return study_main(argv, "python -m rnnbook.studies.omega_study",
                      "Chapter 3.3: Eq. 10 against Ω's exact gradient and the error signal with and without Ω "
                      "(writes results/omega_study/<protocol>.json)",
                      lambda args, _, say: run_study(args.protocol, args.results_dir, say=say))


if __name__ == "__main__":
    raise SystemExit(main())
