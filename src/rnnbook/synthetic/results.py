"""Result files: one JSON file per experiment and protocol, written as runs finish, resumable.

``results/<experiment>/<protocol>.json`` looks like this (keys sorted, runs in grid order)::

    {
      "format": "rnnbook-results/1",
      "experiment": "temporal_order", "protocol": "quick",
      "spec": {...the experiment and protocol that define the grid...},
      "planned": 54, "completed": 54,
      "runs": [
        {"index": 0, "key": "...", "config": {...every RunConfig field...},
         "success": true, "diverged": false, "updates": 1500, "first_success_update": 1500,
         "best_valid_error": 0.004, "final_valid_error": 0.004,
         "curves": {"update": [...], "valid_error": [...], ...},   # <= 200 points each
         "wall_time_s": 12.3},
        ...
      ],
      "provenance": {"started": "...", "updated": "...", "total_wall_time_s": ...,
                     "sessions": [{"started": ..., "ended": ..., "device": "cpu", "workers": 1,
                                   "code": {"rnnbook": "0.1.0", "git_commit": ..., "git_dirty": ...},
                                   "environment": {python, torch, numpy, platform, machine, cpu, threads},
                                   "runs": [keys finished in this session], "interrupted": false}]}
    }


Everything except ``provenance`` and each run's ``wall_time_s`` and ``sittings`` is a
deterministic function of the grid and the code: the same sweep twice gives the same file once
those are stripped (:func:`strip_volatile`), and so does a sweep that was interrupted and
resumed, continued under a higher cap, or trained in shards and merged.

This module is the file's shape: its name (:func:`results_path`), one run's entry
(:func:`run_record`), and the one reader (:func:`load_results`, which refuses a damaged file in one
line, and a file from before the one-off migration in another: :mod:`rnnbook.store.outdated`).
Three neighbours do the rest: :mod:`rnnbook.synthetic.results_file` (the state machine that writes
the file as a sweep goes: resume, caps, sub-grids, sessions), :mod:`rnnbook.store.jsonio` (canonical
JSON, atomic writes, the format-checking reader) and :mod:`rnnbook.store.provenance` (code version
and machine). Their names used with the file are importable from here too.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

from rnnbook.errors import ConfigError
from rnnbook.store.jsonio import read_json, to_jsonable
from rnnbook.store.outdated import outdated

FORMAT = "rnnbook-results/1"
MAX_CURVE_POINTS = 200
VOLATILE_RUN_KEYS = ("wall_time_s", "sittings")
RUN_OUTCOME_KEYS = ("censored", "diverged")  # a run's outcome is read from them (older versions wrote runs without)


class ResultsMismatchError(ConfigError):
    """An existing results file was made with a different configuration."""


# ---------------------------------------------------------------------------------------------
# A run's entry
# ---------------------------------------------------------------------------------------------


def downsample_curves(curves: Mapping[str, Any], max_points: int = MAX_CURVE_POINTS) -> dict[str, Any]:
    """Keep at most ``max_points`` evenly spaced entries (first and last included) of each list.

    Lists of the same length are thinned with the same indices, so aligned curves (``update``
    and ``valid_error``, say) stay aligned. Non-list values are kept as they are.
    """
    out: dict[str, Any] = {}
    for name, values in curves.items():
        values = to_jsonable(values)
        if isinstance(values, list) and len(values) > max_points:
            n = len(values)
            idx = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
            values = [values[i] for i in idx]
        out[str(name)] = values
    return out


def strip_volatile(data: Mapping[str, Any]) -> dict[str, Any]:
    """The file's deterministic part: drops ``provenance`` and each run's ``wall_time_s``."""
    out = {k: v for k, v in data.items() if k != "provenance"}
    out["runs"] = [{k: v for k, v in r.items() if k not in VOLATILE_RUN_KEYS} for r in data.get("runs", [])]
    return out



def results_path(results_dir: str | Path, experiment: str, protocol: str,
                 shard: tuple[int, int] | None = None) -> Path:
    """``<dir>/<experiment>/<protocol>.json``, or ``<protocol>.shard-K-of-N.json`` for shard K of N."""
    name = protocol if shard is None else f"{protocol}.shard-{shard[0]}-of-{shard[1]}"
    return Path(results_dir) / experiment / f"{name}.json"


def config_dict(cfg: Any) -> dict[str, Any]:
    """Every field of a ``RunConfig`` as plain JSON (``task_params`` as an object)."""
    return to_jsonable(cfg.to_dict() if hasattr(cfg, "to_dict") else asdict(cfg))


def run_record(result: Any, index: int | None) -> dict[str, Any]:
    """One run's entry: its config, outcome, thinned curves and (volatile) wall time."""
    cfg = result.config
    return {
        "index": index,
        "key": cfg.key(),
        "config": config_dict(cfg),
        "success": bool(result.success),
        "diverged": bool(getattr(result, "diverged", False)),
        "censored": bool(getattr(result, "censored", False)),
        "sittings": int(getattr(result, "sittings", 1)),
        "updates": int(result.updates),
        "first_success_update": to_jsonable(result.first_success_update),
        "best_valid_error": to_jsonable(result.best_valid_error),
        "final_valid_error": to_jsonable(result.final_valid_error),
        "curves": downsample_curves(result.curves or {}),
        "wall_time_s": round(float(result.wall_time_s), 3),
    }



def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``1 <= K <= N`` (a one-line ConfigError otherwise)."""
    try:
        k, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like K/N (e.g. 3/10), got {text!r}") from None
    if not 1 <= k <= n:
        raise ConfigError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_of(configs: list, shard: tuple[int, int] | None) -> list:
    """The runs of shard K of N: every N-th run of the grid, starting at the K-th (grid order)."""
    if shard is None:
        return list(configs)
    k, n = shard
    return [c for i, c in enumerate(configs) if i % n == k - 1]



# ---------------------------------------------------------------------------------------------
# Reading a file
# ---------------------------------------------------------------------------------------------


def _damaged(where: str, what: str) -> ConfigError:
    return ConfigError(f"{where!r} is a damaged {FORMAT} results file ({what})")


def check_structure(data: Mapping[str, Any], where: str) -> None:
    """Raise a one-line :class:`ConfigError` unless ``data`` has the shape of a results file
    (every field the code reads, with its type); a file damaged by hand or by a tool is refused
    here instead of failing later with a traceback."""
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise _damaged(where, what)

    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    for k in ("experiment", "protocol"):
        need(isinstance(data.get(k), str), f"no {k} name")
    for k in ("planned", "completed"):
        need(is_int(data.get(k)), f"{k} is not an integer")
    spec = data.get("spec")
    need(isinstance(spec, Mapping), "no spec")
    need(isinstance(spec.get("task"), str) and isinstance(spec.get("task_params"), Mapping), "spec has no task")
    need(isinstance(spec.get("inits"), list) and isinstance(spec.get("methods"), list), "spec has no inits/methods")
    protos = spec.get("protocols")
    need(isinstance(protos, Mapping) and list(protos) == [data["protocol"]], "spec.protocols does not hold its protocol")
    proto = protos[data["protocol"]]
    need(isinstance(proto, Mapping) and isinstance(proto.get("settings"), Mapping), "spec has no settings")
    need(is_int(proto["settings"].get("max_updates")), "spec has no integer max_updates")
    need(isinstance(proto.get("lengths"), list) and all(is_int(n) for n in proto["lengths"]), "spec.lengths")
    need(isinstance(proto.get("ranges"), list)
         and all(isinstance(r, list) and len(r) == 2 and all(map(is_int, r)) for r in proto["ranges"]), "spec.ranges")
    need(isinstance(proto.get("seeds"), list) and all(is_int(n) for n in proto["seeds"]), "spec.seeds")
    runs = data.get("runs")
    need(isinstance(runs, list), "runs is not a list")
    for i, rec in enumerate(runs):
        need(isinstance(rec, Mapping) and isinstance(rec.get("key"), str), f"runs[{i}] has no key")
        absent = [k for k in RUN_OUTCOME_KEYS if k not in rec]
        if absent:  # runs written before the cap left the key (commit f8c7c0d) have no censored
            raise outdated(where, f"holds runs without {'/'.join(absent)}")
        cfg = rec.get("config")
        need(isinstance(cfg, Mapping), f"runs[{i}] has no config")
        for k in ("init", "method", "task"):
            need(isinstance(cfg.get(k), str), f"runs[{i}].config.{k}")
        for k in ("min_length", "max_length", "seed", "max_updates", "check_every"):
            need(is_int(cfg.get(k)), f"runs[{i}].config.{k} is not an integer")
        need(isinstance(rec.get("success"), bool), f"runs[{i}].success is not true/false")
        need(is_int(rec.get("updates")), f"runs[{i}].updates is not an integer")
        need(rec.get("index") is None or is_int(rec["index"]), f"runs[{i}].index")
        for k in ("censored", "diverged"):
            need(isinstance(rec[k], bool), f"runs[{i}].{k} is not true/false")
        need(isinstance(rec.get("curves", {}), Mapping), f"runs[{i}].curves")
    prov = data.get("provenance", {})
    need(isinstance(prov, Mapping) and isinstance(prov.get("sessions", []), list)
         and all(isinstance(x, Mapping) for x in prov.get("sessions", [])), "provenance.sessions")



def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file (a plain dict); a missing, foreign or damaged file is a one-line ConfigError."""
    return read_json(path, FORMAT, check=check_structure)
