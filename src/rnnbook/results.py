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
resumed, continued under a higher cap, or trained in shards and merged. Each finished run is
added and the whole file re-written atomically (temporary file + ``os.replace``), so an
interrupted sweep loses no finished run; a rerun skips every run whose ``key()`` is already in
the file and refuses to mix runs made with different settings (:class:`ResultsMismatchError`).

The update cap is not part of a run's key: a run that reached its cap without succeeding is
``censored`` (it may still succeed later), and a sweep run again with a higher cap continues
exactly those runs from the states kept beside the file (:mod:`rnnbook.checkpoints`,
``<protocol>.states.pt``, also holding the checkpoints of runs still training). A sweep of
part of the file's grid (a config file with fewer inits, methods, lengths or seeds, say to
continue only some runs under a higher cap) leaves the header describing the whole grid and
every run in its place. The sweep itself is :func:`rnnbook.sweeps.run_sweep`.

The pair is written states first, JSON last (:meth:`ResultsFile.save`): the JSON is the record
of what is finished, and a process killed between the two writes leaves states a step ahead
of it, which the next start simply uses (a run finished in the states but not in the JSON
trains again; a solved state is never continued). A sweep never lowers the file's cap (the
header's ``max_updates``): that would change what its runs mean. A session is recorded as
``"status": "running"`` (and ``interrupted``) until it ends; one that never ended (killed)
is marked ``"killed"`` by the next start.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import rnnbook
from rnnbook.atomic import write_atomic
from rnnbook.checkpoints import RunState, load_states, save_states, states_path
from rnnbook.errors import ConfigError
from rnnbook.experiments import Experiment, Protocol

FORMAT = "rnnbook-results/1"
MAX_CURVE_POINTS = 200
VOLATILE_RUN_KEYS = ("wall_time_s", "sittings")


class ResultsMismatchError(ConfigError):
    """An existing results file was made with a different configuration."""


# ---------------------------------------------------------------------------------------------
# Plain-JSON helpers
# ---------------------------------------------------------------------------------------------


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types only; non-finite floats become ``null`` (strict JSON has no NaN)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return to_jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "__float__"):
        return to_jsonable(float(obj))
    return str(obj)


def dumps(obj: Any) -> str:
    """The canonical text of a results file: sorted keys, one-space indent, strict JSON."""
    return json.dumps(to_jsonable(obj), sort_keys=True, indent=1, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` so that readers see the old file or the new one, never half
    (:func:`rnnbook.atomic.write_atomic`); the text is produced before anything is written."""
    write_atomic(path, dumps(obj).encode("utf-8"))


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


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def mark_killed(session: dict[str, Any]) -> dict[str, Any]:
    """A session read back from a file: one still ``"running"`` was killed outright (its command
    holds the file's lock while it runs, so a reader that holds the lock knows it is gone)."""
    if session.get("status") == "running":
        session["status"] = "killed"
        session["interrupted"] = True
    return session


COMMIT_ENV = "RNNBOOK_CODE_COMMIT"
"""Names the commit of a copy of the code sent to another machine (a lent GPU), whose ``.git``
may be missing or stale; when set, it is recorded as the commit (what git says there is kept beside)."""


def code_version() -> dict[str, Any]:
    """rnnbook's version, and the git commit + dirty flag of the checkout it runs from (or "unknown")."""
    root = Path(rnnbook.__file__).resolve().parent
    commit: Any = "unknown"
    dirty: Any = "unknown"
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if r.returncode == 0:
            commit = r.stdout.strip()
        s = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )
        if s.returncode == 0:
            dirty = bool(s.stdout.strip()) or commit == "unknown"
    except (OSError, subprocess.SubprocessError):
        pass
    if os.environ.get(COMMIT_ENV):  # a copy of the tree sent elsewhere: its .git, if any, may be stale
        return {"rnnbook": rnnbook.__version__, "git_commit": os.environ[COMMIT_ENV], "git_dirty": "unknown",
                "commit_from": COMMIT_ENV, "git_in_copy": {"commit": commit, "dirty": dirty}}
    return {"rnnbook": rnnbook.__version__, "git_commit": commit, "git_dirty": dirty}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device: str = "cpu") -> dict[str, Any]:
    """Software and machine the runs ran on."""
    import numpy
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "node": platform.node(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if not str(device).startswith("cuda"):  # which engine trains on a CPU (rnnbook.engine.cpu_kernel)
        from rnnbook.engine import cpu_kernel

        env["cpu_kernel"] = cpu_kernel.status()
    if str(device).startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
        env["cuda"] = torch.version.cuda
    return env


# ---------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------


def results_path(results_dir: str | Path, experiment: str, protocol: str,
                 shard: tuple[int, int] | None = None) -> Path:
    """``<dir>/<experiment>/<protocol>.json``, or ``<protocol>.shard-K-of-N.json`` for shard K of N."""
    name = protocol if shard is None else f"{protocol}.shard-{shard[0]}-of-{shard[1]}"
    return Path(results_dir) / experiment / f"{name}.json"


def stored_key(rec: Mapping[str, Any]) -> str:
    """A stored run's key, in today's form.

    Files written before the update cap left the key (rnnbook 0.1.0 up to commit bdd5638) hash
    every field, the cap included; such a key is replaced by today's key of the same config.
    """
    import hashlib

    from rnnbook.runs import RunConfig

    cfg = RunConfig.from_dict(rec["config"])
    key = rec["key"]
    legacy = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    if key.endswith("-" + legacy) and key.rsplit("-", 1)[0] == cfg.key().rsplit("-", 1)[0]:
        return cfg.key()
    return key


def is_censored(rec: Mapping[str, Any]) -> bool:
    """A run that reached its cap without succeeding or diverging: its outcome is not known yet."""
    if "censored" in rec:
        return bool(rec["censored"])
    return not rec["success"] and not rec.get("diverged") and rec["updates"] >= rec["config"]["max_updates"]


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


def _comparable_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What must agree between a file and a rerun: the task and every training setting but the cap."""
    (pname, proto), = spec["protocols"].items()
    settings = {k: v for k, v in proto["settings"].items() if k != "max_updates"}
    return {"task": spec["task"], "task_params": spec["task_params"], "settings": settings}


def _without_cap(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "max_updates"}


def _grid_axes(spec: Mapping[str, Any]) -> tuple[list, list, list, list]:
    """The grid a spec declares, axis by axis in grid order: inits, methods, length points, seeds."""
    (proto,) = spec["protocols"].values()
    points = [(n, n) for n in proto["lengths"]] + [tuple(r) for r in proto["ranges"]]
    return list(spec["inits"]), list(spec["methods"]), points, list(proto["seeds"])


def _grid_index(spec: Mapping[str, Any], config: Mapping[str, Any]) -> int | None:
    """Position of the run ``config`` in the grid of ``spec`` (init -> method -> length -> seed), or None."""
    inits, methods, points, seeds = _grid_axes(spec)
    try:
        i = (inits.index(config["init"]), methods.index(config["method"]),
             points.index((config["min_length"], config["max_length"])), seeds.index(config["seed"]))
    except ValueError:
        return None
    return ((i[0] * len(methods) + i[1]) * len(points) + i[2]) * len(seeds) + i[3]


def _holds(outer: Mapping[str, Any], inner: Mapping[str, Any]) -> bool:
    """True if the grid of spec ``outer`` holds every run of the grid of spec ``inner``."""
    return all(set(b) <= set(a) for a, b in zip(_grid_axes(outer), _grid_axes(inner)))


def _first_difference(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> str:
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if va != vb:
            if isinstance(va, Mapping) and isinstance(vb, Mapping):
                return _first_difference(va, vb, f"{prefix}{k}.")
            return f"{prefix}{k}: file has {va!r}, now {vb!r}"
    return ""


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


class ResultsFile:
    """The in-memory form of one results file and its run states; :meth:`save` writes both atomically.

    ``configs`` is the whole grid (it fixes each run's ``index``); ``shard=(K, N)`` makes this
    file hold only shard K's runs (:func:`shard_of`).
    """

    def __init__(self, path: Path, experiment: Experiment, protocol: Protocol, configs: list,
                 shard: tuple[int, int] | None = None):
        self.path = Path(path)
        self.experiment = experiment
        self.protocol = protocol
        self.configs = list(configs)
        self.shard = shard
        self.share = shard_of(self.configs, shard)
        self.order = {c.key(): i for i, c in enumerate(self.configs)}
        if len(self.order) != len(self.configs):
            raise ConfigError(f"experiment {experiment.name!r}: two runs of the grid share a key")
        self.spec = to_jsonable(experiment.to_dict(protocol.name))
        self.records: dict[str, dict[str, Any]] = {}
        self.extras: list[str] = []  # keys in the file that the current grid does not have
        self.file_spec: dict[str, Any] | None = None  # the spec in the file before this sweep
        self.sessions: list[dict[str, Any]] = []
        self.started = _now()
        self.states_path = states_path(self.path)
        self.states: dict[str, RunState] = {}
        if self.path.exists():
            self._load()
        self.states = load_states(self.states_path)

    def _load(self) -> None:
        where = str(self.path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ResultsMismatchError(f"cannot read results file {where!r}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ResultsMismatchError(f"{where!r} is not an {FORMAT} results file")
        check_structure(data, where)
        if data.get("shard") != (list(self.shard) if self.shard else None):
            raise ResultsMismatchError(f"{where!r} holds shard {data.get('shard')}, not {self.shard}")
        for k, v in (("experiment", self.experiment.name), ("protocol", self.protocol.name)):
            if data.get(k) != v:
                raise ResultsMismatchError(f"{where!r} holds {k} {data.get(k)!r}, not {v!r}")
        diff = _first_difference(_comparable_spec(data["spec"]), _comparable_spec(self.spec))
        if diff:
            raise ResultsMismatchError(
                f"{where!r} was produced with a different config ({diff}); "
                "move it away or use another --results-dir"
            )
        file_cap = data["spec"]["protocols"][data["protocol"]]["settings"]["max_updates"]
        cap = self.spec["protocols"][self.protocol.name]["settings"]["max_updates"]
        if cap < file_cap:
            # The header's cap is what the file's runs were trained to (some may have gone further,
            # a sweep of part of the grid under a higher cap); a lower one would make `show` and the
            # chapters read successes after the cap as successes within it (review D5).
            raise ResultsMismatchError(
                f"{where!r} holds runs trained to a cap of {file_cap:,} updates; a cap of {cap:,} would change "
                f"what they mean: use --set max_updates={file_cap} (or more), or another --results-dir"
            )
        for rec in data.get("runs", []):
            key = rec["key"] = stored_key(rec)
            rec.setdefault("censored", is_censored(rec))
            rec.setdefault("sittings", 1)
            if key in self.order:
                cfg = self.configs[self.order[key]]
                now = config_dict(cfg)
                diff = _first_difference(_without_cap(rec["config"]), _without_cap(now))
                if diff:
                    raise ResultsMismatchError(
                        f"{where!r}: run {key} was produced with a different config ({diff}); "
                        "move the file away or use another --results-dir"
                    )
                if not rec["censored"] and rec["config"]["max_updates"] < cfg.max_updates:
                    # a run that succeeded (or diverged) before its cap is the same run under a higher cap
                    rec["config"]["max_updates"] = cfg.max_updates
            else:
                self.extras.append(key)
            self.records[key] = rec
        self.file_spec = data["spec"]
        prov = data.get("provenance", {})
        self.sessions = [mark_killed(dict(s)) for s in prov.get("sessions", [])]
        self.started = prov.get("started", self.started)

    # -- state ------------------------------------------------------------------------------
    def done(self, cfg: Any) -> bool:
        """True if ``cfg`` needs no more training: it is in the file, finished or trained to its cap."""
        rec = self.records.get(cfg.key())
        return rec is not None and (not rec["censored"] or rec["updates"] >= cfg.max_updates)

    def pending(self) -> list:
        """This file's runs still to train: missing ones, and censored ones whose cap was raised."""
        return [c for c in self.share if not self.done(c)]

    def resumable(self, configs: Iterable[Any]) -> dict[str, RunState]:
        """The kept states from which ``configs`` can go on (those with fewer updates than the cap).

        A solved state is final (its run stopped at its success), never a point to go on from:
        with the JSON lost or older than the states, its run trains again (review D2).
        """
        out = {}
        for c in configs:
            state = self.states.get(c.key())
            if (state is not None and state.kind != "solved" and state.updates < c.max_updates
                    and state.updates % c.check_every == 0):
                out[c.key()] = state
        return out

    def add(self, result: Any) -> dict[str, Any]:
        key = result.config.key()
        rec = run_record(result, self.order.get(key))
        if key not in self.order and key not in self.extras:
            self.extras.append(key)
        self.records[key] = rec
        if getattr(result, "state", None) is not None:
            self.states[key] = result.state
        else:
            self.states.pop(key, None)
        if self.sessions:
            self.sessions[-1]["runs"].append(key)
        return rec

    def checkpoint(self, state: RunState) -> None:
        """Keep the state of a run still training (saved with the next :meth:`save`)."""
        self.states[state.key] = state

    def begin_session(
        self, *, device: str, max_parallel: int, workers: int = 1, cuda_graph: bool = False,
        argv: Iterable[str] | None = None,
    ) -> None:
        self.sessions.append(
            {
                "started": _now(),
                "ended": None,
                "device": device,
                "max_parallel": max_parallel,
                "workers": workers,
                "cuda_graph": cuda_graph,
                "argv": list(argv) if argv is not None else None,
                "code": code_version(),
                "environment": environment(device),
                "runs": [],
                "status": "running",  # until end_session; a session killed outright stays so until the next start
                "interrupted": True,
                "_t0": time.perf_counter(),
            }
        )

    def end_session(self, *, interrupted: bool = False) -> None:
        if self.sessions:
            self.sessions[-1]["interrupted"] = interrupted
            self.sessions[-1]["status"] = "interrupted" if interrupted else "finished"

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        runs = [self.records[c.key()] for c in self.configs if c.key() in self.records]
        for i, rec in enumerate(runs):  # grid positions of the current grid
            rec["index"] = self.order[rec["key"]]
        extras = [dict(self.records[k], index=None) for k in self.extras]
        sessions = []
        for s in self.sessions:
            s = dict(s)
            t0 = s.pop("_t0", None)
            if t0 is not None:
                s["ended"] = _now()
                s["wall_time_s"] = round(time.perf_counter() - t0, 3)
            sessions.append(s)
        all_runs = runs + extras
        share = {c.key() for c in self.share}
        spec, planned = self.spec, len(self.share)
        completed = sum(1 for c in self.share if self.done(c))
        censored = sum(1 for r in runs if r["key"] in share and r["censored"])
        outer = self._outer_spec()
        if outer is not None:
            # A sweep of part of the file's grid (a config file with fewer inits, lengths, ... and
            # perhaps a higher cap): the header goes on describing the whole grid, and the runs keep
            # their places in it -- the file a sweep of the whole grid would then write.
            spec, cap = outer, outer["protocols"][self.protocol.name]["settings"]["max_updates"]
            for rec in all_runs:
                rec["index"] = _grid_index(outer, rec["config"])
            all_runs.sort(key=lambda r: (r["index"] is None, r["index"] or 0))
            gridded = [r for r in all_runs if r["index"] is not None]
            planned = math.prod(len(axis) for axis in _grid_axes(outer))
            completed = sum(1 for r in gridded if not r["censored"] or r["updates"] >= cap)
            censored = sum(1 for r in gridded if r["censored"])
        out = {
            "format": FORMAT,
            "experiment": self.experiment.name,
            "protocol": self.protocol.name,
            "spec": spec,
            "planned": planned,
            "completed": completed,
            "censored": censored,
            "runs": all_runs,
            "provenance": {
                "started": self.started,
                "updated": _now(),
                "sessions": sessions,
                "total_wall_time_s": round(sum(s.get("wall_time_s") or 0.0 for s in sessions), 3),
                "total_run_time_s": round(sum(r.get("wall_time_s") or 0.0 for r in all_runs), 3),
            },
        }
        if self.shard is not None:
            out["shard"] = list(self.shard)
        return out

    def _outer_spec(self) -> dict[str, Any] | None:
        """The file's spec if its grid strictly holds this sweep's (which is then part of it), else None."""
        if self.shard is not None or not self.extras or self.file_spec is None:
            return None
        if not _holds(self.file_spec, self.spec) or _holds(self.spec, self.file_spec):
            return None
        if any(_grid_index(self.file_spec, self.records[k]["config"]) is None for k in self.extras):
            return None  # runs from outside both grids: no grid describes the file
        return self.file_spec

    def save(self, states: bool = True) -> None:
        """Write (``states``) the run states, then the results file: the JSON last, as the record of
        what is finished. Killed between the two, the states are a step ahead of the JSON, which the
        next start handles (a finished run missing from the JSON trains again); the other order
        could lose a solved run's weights for good (review D3)."""
        data = self.to_dict()  # everything computed before the first byte is written
        if states:
            save_states(self.states_path, self.states)
        write_json_atomic(self.path, data)


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
            need(rec.get(k) is None or isinstance(rec[k], bool), f"runs[{i}].{k} is not true/false")
        need(isinstance(rec.get("curves", {}), Mapping), f"runs[{i}].curves")
    prov = data.get("provenance", {})
    need(isinstance(prov, Mapping) and isinstance(prov.get("sessions", []), list)
         and all(isinstance(x, Mapping) for x in prov.get("sessions", [])), "provenance.sessions")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file (a plain dict); a bad file is a one-line ConfigError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read results file {str(path)!r}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{str(path)!r} is not a JSON results file: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{str(path)!r} is not an {FORMAT} results file")
    check_structure(data, str(path))
    return data


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def _length_label(cfg: Mapping[str, Any]) -> str:
    lo, hi = cfg["min_length"], cfg["max_length"]
    return str(lo) if lo == hi else f"{lo}-{hi}"


def success_table(data: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Rows (init/method) × columns (length): "successes/finished" for each cell."""
    cols: list[str] = []
    rows: dict[str, dict[str, list[int]]] = {}
    for rec in data["runs"]:
        cfg = rec["config"]
        col = _length_label(cfg)
        if col not in cols:
            cols.append(col)
        row = rows.setdefault(f"{cfg['init']} / {cfg['method']}", {})
        cell = row.setdefault(col, [0, 0])
        cell[0] += bool(rec["success"])
        cell[1] += 1
    cols.sort(key=lambda c: tuple(int(x) for x in c.split("-")))
    return cols, [(r, [f"{v[c][0]}/{v[c][1]}" if c in v else "-" for c in cols]) for r, v in rows.items()]


def format_table(data: Mapping[str, Any]) -> str:
    """A short plain-text success-rate table of a results file."""
    cols, rows = success_table(data)
    head = ["init / method", *[f"T={c}" for c in cols]]
    body = [[r, *cells] for r, cells in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    prov = data.get("provenance", {})
    out = [
        f"{data['experiment']} / {data['protocol']}: {data['completed']} of {data['planned']} runs finished"
        f" (successes/finished per cell; success = validation error < "
        f"{data['spec']['protocols'][data['protocol']]['settings'].get('success_error', 0.01):g})",
        line(head),
        line(["-" * w for w in widths]),
        *[line(b) for b in body],
    ]
    sessions = prov.get("sessions", [])
    if sessions:
        devices = sorted({str(s.get("device")) for s in sessions})
        out.append(
            f"wall time {prov.get('total_wall_time_s', 0):.1f} s in {len(sessions)} session(s) on "
            f"{', '.join(devices)}; code {sessions[-1].get('code', {}).get('git_commit', 'unknown')}"
        )
    return "\n".join(out)
