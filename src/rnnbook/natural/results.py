"""A Table 1 run's results file ``results/<experiment>/<protocol>.json``: what it holds, how it is read.

The file is what the book reads (Chapter 4.3, Table 1's verdicts); the state file beside it
(:mod:`rnnbook.natural.state`) is what training reads. :func:`results_of` writes down, from a
:class:`~rnnbook.natural.state.TrainState`:

* the protocol (every setting, with its source), the task and the corpus,
* progress: epochs done, updates of the next one done, which methods stopped, whether it is finished,
* ``history``: one row per method and epoch (mean cost, gradient norms, fraction clipped, mean
  Omega, the train / valid / test scores, the learning rate, divergence and early stopping),
* ``table``: Table 1's entry for each method, its scores at its best validation epoch
  (:func:`table_entry`),
* ``trace``: the gradient norm, cost and Omega of every update, downsampled to at most
  ``MAX_TRACE_POINTS`` points per method,
* provenance: one entry per training session (command, code, machine, times).

:func:`json_of` reads a file back, refusing a damaged one in one line; :func:`format_natural` is
its summary in text (``python -m rnnbook results``); :func:`without_provenance` is what two equal
runs share (the tests compare resumed and uninterrupted runs by it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnnbook.errors import ConfigError
from rnnbook.natural.data import Data
from rnnbook.natural.experiments import ACT, NaturalConfig, NaturalExperiment
from rnnbook.natural.state import FORMAT, TrainState
from rnnbook.store.jsonio import format_of, read_json
from rnnbook.store.provenance import mark_killed
from rnnbook.synthetic.results import downsample_curves

MAX_TRACE_POINTS = 2000


def results_of(state: TrainState, exp: NaturalExperiment, cfg: NaturalConfig, data: Data,
               sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """The results file of the run that ``state`` is, after the training ``sessions`` so far."""
    trace = {m: downsample_curves({"update": list(range(1, len(state.trace.get("norm", [])) + 1)),
                                   **{k: [v[e] for v in vals] for k, vals in state.trace.items()}}, MAX_TRACE_POINTS)
             for e, m in enumerate(cfg.trained)}
    return {
        "format": FORMAT, "experiment": exp.name, "title": exp.title, "paper": exp.paper,
        "protocol": {"settings": asdict(cfg), "sources": dict(exp.sources)},
        "task": {"kind": data.task.kind, "ahead": data.task.ahead, "readout": data.task.readout,
                 "n_in": data.task.n_in, "n_out": data.task.n_out, "activation": ACT},
        "corpus": data.corpus,
        "methods": list(cfg.trained),
        "epochs_done": state.epoch - 1, "position": state.position,
        "stopped": {m: (state.stopped[e] or None) for e, m in enumerate(cfg.trained)},
        "finished": all(state.idle()) or state.epoch > cfg.epochs,
        "history": state.history,
        "table": {m: table_entry(state.history, m) for m in cfg.trained},
        "trace": trace,
        "updates_per_epoch": len(data.plan(cfg, 1)),  # text: the first epoch's (one more or less in others)
        "updates_done": len(state.trace.get("norm", [])),
        "provenance": {"sessions": sessions, "total_wall_time_s": round(sum(s.get("wall_time_s") or 0 for s in sessions), 3),
                       "train_wall_time_s": round(state.wall_time_s, 3)},
    }


def table_entry(history: list[dict[str, Any]], method: str) -> dict[str, Any] | None:
    """Table 1's entry for ``method``: its scores at its best validation epoch (``None`` before one)."""
    rows = [r for r in history if r["method"] == method and r["valid"] is not None and math.isfinite(r["valid"])]
    if not rows:
        return None
    best = min(rows, key=lambda r: (r["valid"], r["epoch"]))
    return {k: best[k] for k in ("epoch", "train", "valid", "test")}


def json_of(path: str | Path) -> dict[str, Any]:
    """A natural results file, read (one-line error if it is not one)."""
    return read_json(path, FORMAT, check=_check_structure)


def _check_structure(data: Mapping[str, Any], where: str) -> None:
    """A one-line ConfigError unless ``data`` has every field the code reads, with its type."""
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    checks = [
        (isinstance(data.get("experiment"), str), "experiment"),
        (isinstance(data.get("task"), Mapping) and isinstance(data["task"].get("kind"), str), "task"),
        (isinstance(data.get("protocol"), Mapping) and isinstance(data["protocol"].get("settings"), Mapping)
         and is_int(data["protocol"]["settings"].get("epochs")), "protocol.settings.epochs"),
        (isinstance(data.get("methods"), list), "methods"),
        (isinstance(data.get("history"), list) and all(isinstance(r, Mapping) for r in data["history"]), "history"),
        (all(is_int(data.get(k)) for k in ("epochs_done", "position", "updates_per_epoch")),
         "epochs_done/position/updates_per_epoch"),
        (isinstance(data.get("provenance", {}), Mapping)
         and isinstance(data.get("provenance", {}).get("sessions", []), list), "provenance.sessions"),
    ]
    for ok, what in checks:
        if not ok:
            raise ConfigError(f"{where!r} is a damaged {FORMAT} results file ({what})")


def is_natural(path: str | Path) -> bool:
    """Whether ``path`` is a natural-problem results file (peeks at its format field)."""
    return format_of(path) == FORMAT


def read_sessions(path: Path) -> list[dict[str, Any]]:
    """The training sessions a results file records (none if it does not exist yet); one still
    marked running was killed, and is marked so."""
    if not path.exists():
        return []
    return [mark_killed(dict(s)) for s in json_of(path).get("provenance", {}).get("sessions", [])]


def agrees(path: Path, state: TrainState) -> bool:
    """Whether the results file records what ``state`` holds (the same epochs and position)."""
    try:
        data = json_of(path)
    except ConfigError:
        return False
    return data["epochs_done"] == state.epoch - 1 and data["position"] == state.position


def format_natural(path: str | Path) -> str:
    """A natural results file as text: progress, then each method's best-validation scores."""
    data = json_of(path)
    kind = data["task"]["kind"]
    scale, unit = (1.0, "nats per frame") if kind == "music" else (1 / math.log(2), "bits per character")
    planned = data["protocol"]["settings"]["epochs"]
    lines = [f"{data['experiment']}: {data['epochs_done']} of {planned} epochs ({data['updates_per_epoch']} updates "
             f"each; {data['position']} of the next done); best-validation epoch, {unit}:"]
    for m in data["methods"]:
        e = table_entry(data["history"], m)
        if e:
            lines.append(f"  {m:8s} epoch {e['epoch']:4d}  train {e['train'] * scale:.4f}  valid {e['valid'] * scale:.4f}"
                         f"  test {e['test'] * scale:.4f}")
    return "\n".join(lines)


def without_provenance(data: Mapping[str, Any]) -> dict[str, Any]:
    """A natural results file without what differs between equal runs (provenance, wall times)."""
    out = {k: v for k, v in data.items() if k != "provenance"}
    out["history"] = [{k: v for k, v in r.items()} for r in data["history"]]
    return out
