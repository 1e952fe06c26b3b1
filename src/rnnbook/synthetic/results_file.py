"""The results file as a state machine: read it, add runs as they finish, write it back.

A sweep (:func:`rnnbook.synthetic.sweeps.run_sweep`) holds one :class:`ResultsFile`: the file of
``results/<experiment>/<protocol>.json`` (its shape: :mod:`rnnbook.synthetic.results`) and the states kept
beside it (:mod:`rnnbook.store.checkpoints`, ``<protocol>.states.pt``). Each finished run is added and
the whole pair re-written atomically, so an interrupted sweep loses no finished run; a rerun
skips every run whose ``key()`` is already in the file and refuses to mix runs made with
different settings (:class:`~rnnbook.synthetic.results.ResultsMismatchError`).

The update cap is not part of a run's key: a run that reached its cap without succeeding is
``censored`` (it may still succeed later), and a sweep run again with a higher cap continues
exactly those runs from their kept states. A sweep never lowers the file's cap (the header's
``max_updates``): that would change what its runs mean. A sweep of part of the file's grid (a
config file with fewer inits, methods, lengths or seeds, say to continue only some runs under a
higher cap) leaves the header describing the whole grid and every run in its place.

The pair is written states first, JSON last (:meth:`ResultsFile.save`): the JSON is the record
of what is finished, and a process killed between the two writes leaves states a step ahead
of it, which the next start simply uses (a run finished in the states but not in the JSON
trains again; a solved state is never continued). A session is recorded as
``"status": "running"`` (and ``interrupted``) until it ends; one that never ended (killed)
is marked ``"killed"`` by the next start.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from rnnbook.errors import ConfigError
from rnnbook.store.checkpoints import RunState, load_states, save_states, states_path
from rnnbook.store.jsonio import to_jsonable, write_json_atomic
from rnnbook.store.provenance import code_version, environment, mark_killed, now
from rnnbook.synthetic.experiments import Experiment, Protocol
from rnnbook.synthetic.results import (
    FORMAT,
    ResultsMismatchError,
    config_dict,
    load_results,
    run_record,
    shard_of,
)

# ---------------------------------------------------------------------------------------------
# Comparing a file with a sweep: settings and grid places
# ---------------------------------------------------------------------------------------------


def comparable_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What must agree between a file and a rerun: the task and every training setting but the cap."""
    (pname, proto), = spec["protocols"].items()
    settings = {k: v for k, v in proto["settings"].items() if k != "max_updates"}
    return {"task": spec["task"], "task_params": spec["task_params"], "settings": settings}


def _without_cap(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "max_updates"}


def grid_axes(spec: Mapping[str, Any]) -> tuple[list, list, list, list]:
    """The grid a spec declares, axis by axis in grid order: inits, methods, length points, seeds."""
    (proto,) = spec["protocols"].values()
    points = [(n, n) for n in proto["lengths"]] + [tuple(r) for r in proto["ranges"]]
    return list(spec["inits"]), list(spec["methods"]), points, list(proto["seeds"])


def grid_index(spec: Mapping[str, Any], config: Mapping[str, Any]) -> int | None:
    """Position of the run ``config`` in the grid of ``spec`` (init -> method -> length -> seed), or None."""
    inits, methods, points, seeds = grid_axes(spec)
    try:
        i = (inits.index(config["init"]), methods.index(config["method"]),
             points.index((config["min_length"], config["max_length"])), seeds.index(config["seed"]))
    except ValueError:
        return None
    return ((i[0] * len(methods) + i[1]) * len(points) + i[2]) * len(seeds) + i[3]


def _holds(outer: Mapping[str, Any], inner: Mapping[str, Any]) -> bool:
    """True if the grid of spec ``outer`` holds every run of the grid of spec ``inner``."""
    return all(set(b) <= set(a) for a, b in zip(grid_axes(outer), grid_axes(inner)))


def first_difference(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> str:
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if va != vb:
            if isinstance(va, Mapping) and isinstance(vb, Mapping):
                return first_difference(va, vb, f"{prefix}{k}.")
            return f"{prefix}{k}: file has {va!r}, now {vb!r}"
    return ""



# ---------------------------------------------------------------------------------------------
# The file in memory
# ---------------------------------------------------------------------------------------------


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
        self.started = now()
        self.states_path = states_path(self.path)
        self.states: dict[str, RunState] = {}
        if self.path.exists():
            self._load()
        self.states = load_states(self.states_path)

    def _load(self) -> None:
        where = str(self.path)
        data = load_results(self.path)
        if data.get("shard") != (list(self.shard) if self.shard else None):
            raise ResultsMismatchError(f"{where!r} holds shard {data.get('shard')}, not {self.shard}")
        for k, v in (("experiment", self.experiment.name), ("protocol", self.protocol.name)):
            if data.get(k) != v:
                raise ResultsMismatchError(f"{where!r} holds {k} {data.get(k)!r}, not {v!r}")
        diff = first_difference(comparable_spec(data["spec"]), comparable_spec(self.spec))
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
            key = rec["key"]
            if key in self.order:
                cfg = self.configs[self.order[key]]
                now = config_dict(cfg)
                diff = first_difference(_without_cap(rec["config"]), _without_cap(now))
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
                "started": now(),
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
                s["ended"] = now()
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
                rec["index"] = grid_index(outer, rec["config"])
            all_runs.sort(key=lambda r: (r["index"] is None, r["index"] or 0))
            gridded = [r for r in all_runs if r["index"] is not None]
            planned = math.prod(len(axis) for axis in grid_axes(outer))
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
                "updated": now(),
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
        if any(grid_index(self.file_spec, self.records[k]["config"]) is None for k in self.extras):
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

