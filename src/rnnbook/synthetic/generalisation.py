"""Trained models on longer sequences than they were trained on (§4.1.1, §4.1.2).

The paper says the temporal-order model trained on lengths 50-200 makes no error on sequences
of up to 5,000 steps (the ICML text; the arXiv version says 400), and that the addition and
multiplication models generalise to 500 steps with less than 1 % error. A sweep keeps the
weights of every run that succeeded (:mod:`rnnbook.store.checkpoints`, kind ``"solved"``); this
module tests them on freshly generated sequences of fixed lengths and writes
``results/<experiment>/<protocol>.generalisation.json`` beside the results file.

The test sequences come from a stream that no training or validation draw of any run uses
(the run's seed + :data:`TEST_SEED_OFFSET`), so they are new to the model, and the same for
every re-run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from rnnbook.engine import choose_backend
from rnnbook.errors import ConfigError
from rnnbook.paper.model import Params, activation_of
from rnnbook.paper.streams import Stream
from rnnbook.store.atomic import remove_stale_temps
from rnnbook.store.checkpoints import RunState, load_states, states_path
from rnnbook.store.jsonio import read_json, write_json_atomic
from rnnbook.store.lock import exclusive
from rnnbook.store.provenance import code_version, environment
from rnnbook.synthetic.results import load_results
from rnnbook.synthetic.runs import DTYPES, RunConfig
from rnnbook.synthetic.validation import VALIDATION_BUDGET, validation_errors

TEST_SEED_OFFSET = 1_000_003  #: test stream seed = run seed + this (far from any seed a sweep uses)
FORMAT = "rnnbook-generalisation/1"


def generalisation_path(results_file: str | Path) -> Path:
    p = Path(results_file)
    return p.with_name(p.stem + ".generalisation.json")


def error_at_length(config: RunConfig, weights: dict[str, torch.Tensor], length: int, n_sequences: int = 10_000,
                    device: str = "cpu") -> float:
    """Fraction of ``n_sequences`` fresh sequences of ``length`` steps that the model gets wrong.

    "Wrong" is the task's own rule (:func:`rnnbook.paper.tasks.errors`): the class of the last output
    for temporal order, a squared error above 0.04 for addition and multiplication. The
    sequences are drawn in chunks small enough to keep ``VALIDATION_BUDGET`` numbers in memory.
    """
    task = config.make_task()
    task.check_length(length)
    if n_sequences < 1:
        raise ConfigError(f"n_sequences must be >= 1, got {n_sequences}")
    dtype = DTYPES[config.dtype]
    params = Params(**{k: v.unsqueeze(0).to(dtype=dtype, device=device) for k, v in weights.items()})
    per_sequence = task.max_steps(length) * (task.n_in + params.W_hh.shape[-1] + task.n_out)
    chunk = max(1, min(n_sequences, VALIDATION_BUDGET // per_sequence))
    backend = choose_backend(device, activation_of(config.init), task.readout, dtype)
    wrong = validation_errors(backend, task, params, [Stream(config.seed + TEST_SEED_OFFSET)], [(length, length)],
                              n_sequences, chunk, dtype=dtype, device=device, budget=None)
    return float(wrong[0])


def solved_runs(results_file: str | Path) -> list[tuple[dict[str, Any], RunState]]:
    """The runs of a results file that succeeded, each with its kept weights, in grid order."""
    data = load_results(results_file)
    states = load_states(states_path(results_file))
    out = []
    for rec in data["runs"]:
        state = states.get(rec["key"])
        if rec["success"] and state is not None and state.kind == "solved":
            out.append((rec, state))
    return out


def evaluate(results_file: str | Path, lengths: Iterable[int], n_sequences: int = 10_000, *,
             progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Test every solved run of ``results_file`` at each of ``lengths``; write and return the file.

    The output lists, per run, the error fraction at each length, with the protocol (lengths,
    number of sequences, test-stream rule) and provenance. A run already tested at a length
    with the same number of sequences is not tested again (the file is re-read and extended).
    """
    lengths = sorted({int(n) for n in lengths})
    if not lengths:
        raise ConfigError("give at least one length")
    out_path = generalisation_path(results_file)
    with exclusive(out_path):  # one writer of the generalisation file at a time
        remove_stale_temps(out_path)
        return _evaluate(results_file, out_path, lengths, n_sequences, progress)


def _evaluate(results_file: str | Path, out_path: Path, lengths: list[int], n_sequences: int,
              progress: Callable[[str], Any] | None) -> dict[str, Any]:
    """:func:`evaluate`'s work, under the lock of the generalisation file."""
    runs = solved_runs(results_file)
    missing = [r["key"] for r in load_results(results_file)["runs"] if r["success"]
               and r["key"] not in {rec["key"] for rec, _ in runs}]
    if missing and progress is not None:
        progress(f"note: {len(missing)} solved run(s) have no kept weights and are not tested: {', '.join(missing)}")
    if not runs:
        raise ConfigError(f"{str(results_file)!r} has no solved run with kept weights to test")
    old = {}
    if out_path.exists():
        prev = read_json(out_path, FORMAT, what="generalisation file")
        if prev.get("n_sequences") == n_sequences:
            old = {r["key"]: r["errors"] for r in prev["runs"]}
    t0 = time.perf_counter()
    records = []
    for rec, state in runs:
        config = RunConfig.from_dict(rec["config"])
        errs = dict(old.get(rec["key"], {}))
        for n in lengths:
            if str(n) in errs:
                continue
            errs[str(n)] = error_at_length(config, state.weights, n, n_sequences)
            if progress is not None:
                progress(f"{rec['key']}: length {n}: {errs[str(n)]:.4%} wrong")
        records.append({"key": rec["key"], "config": rec["config"], "trained_updates": rec["updates"],
                        "errors": dict(sorted(errs.items(), key=lambda kv: int(kv[0])))})
    data = {
        "format": FORMAT,
        "results_file": Path(results_file).name,
        "n_sequences": n_sequences,
        "lengths": sorted({int(k) for r in records for k in r["errors"]}),
        "test_stream": f"rnnbook.paper.streams.Stream(run seed + {TEST_SEED_OFFSET}), purpose 'valid'",
        "runs": records,
        "provenance": {"code": code_version(), "environment": environment("cpu"),
                       "wall_time_s": round(time.perf_counter() - t0, 3)},
    }
    write_json_atomic(out_path, data)
    return data


# ---------------------------------------------------------------------------------------------
# Reading a generalisation file: is a "solved" model solved on the lengths it was trained on?
# ---------------------------------------------------------------------------------------------


def trained_range(config: dict[str, Any]) -> tuple[int, int]:
    """The lengths a run was trained on, as the closed range ``[min_length, max_length]``.

    The paper gives the range as "50 to 200"; the authors' code draws a length uniformly from
    ``[min_length, max_length)`` per minibatch, so the top length itself is never drawn but its
    neighbour is: a model that errs at the top of the range errs on lengths it was trained on.
    A fixed-length run has ``min_length == max_length``.
    """
    return int(config["min_length"]), int(config["max_length"])


def on_training_range(gen: dict[str, Any], max_error: float) -> list[dict[str, Any]]:
    """Each tested run of a generalisation file judged on the fixed lengths inside its trained range.

    A run stopped at its first validation check below the threshold passed a *mixture* of
    lengths (ten chunks of random length); the fixed-length errors say whether it is below
    ``max_error`` at every tested length it was trained on (``max_error=0``: no error at all,
    the paper's criterion for the one-model-for-all-lengths experiment). Per run: its ``seed``,
    the tested ``lengths`` inside the range, the ``worst`` error among them, and ``solved``.
    A run with no tested length inside its range is not judged (``solved`` is ``None``).
    """
    out = []
    for r in gen["runs"]:
        lo, hi = trained_range(r["config"])
        inside = {int(k): float(v) for k, v in r["errors"].items() if lo <= int(k) <= hi}
        worst = max(inside.values()) if inside else None
        out.append({"seed": r["config"]["seed"], "key": r["key"], "lengths": sorted(inside), "worst": worst,
                    "solved": None if worst is None else worst <= max_error})
    return out


def chunk_hits(n_chunks: int, lo: int, hi: int, window: tuple[int, int]) -> float:
    """Probability that at least one of ``n_chunks`` validation chunks, each of a length drawn
    uniformly from the integers in ``[lo, hi)``, has its length in ``window = [a, b)``."""
    a, b = max(window[0], lo), min(window[1], hi)
    p = max(0, b - a) / (hi - lo)
    return 1.0 - (1.0 - p) ** n_chunks
