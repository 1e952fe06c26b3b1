"""Sweeps: train an experiment's grid into its results file, over as many sittings as it takes.

A paper-scale sweep takes longer than any one sitting, so it is built to stop and go on:

- **Resume.** Every finished run is saved at once; running the same command again trains
  only the runs the file lacks.
- **Checkpoints.** A run still training hands its state to the file's states every
  ``checkpoint_every_s`` seconds of wall time (at its next validation check); a killed sweep
  loses at most those minutes, and the next one picks every run up where it was.
- **Higher caps.** A run that reached its update cap without succeeding is *censored*, and its
  final state is kept. Running the sweep again with a higher cap (``--set max_updates=N``)
  continues exactly those runs; successful runs are final whatever the cap.
- **Shards.** ``shard=(K, N)`` trains every N-th run of the grid, starting at the K-th, into
  ``<protocol>.shard-K-of-N.json``; :func:`merge_shards` joins the N files into the one results
  file. N machines (a cluster's job array) then share a sweep.

- **One writer.** The sweep holds the file's lock (:mod:`rnnbook.store.lock`) from start to end; a
  second process that would write the same file is refused at once, naming the first.

In every case the file is the same, bit for bit once its volatile parts are stripped
(:func:`rnnbook.synthetic.results.strip_volatile`), as one uninterrupted sweep in one process would give
(tests/unit/test_sweeps.py): a run's numbers depend on its own seed only (:mod:`rnnbook.paper.streams`,
:mod:`rnnbook.synthetic.training`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

from rnnbook.errors import ConfigError
from rnnbook.store.atomic import remove_stale_temps
from rnnbook.store.checkpoints import load_states, save_states, states_path
from rnnbook.store.jsonio import write_json_atomic
from rnnbook.store.lock import exclusive
from rnnbook.synthetic import training
from rnnbook.synthetic import workers as worker_pool
from rnnbook.synthetic.experiments import Experiment
from rnnbook.synthetic.results import FORMAT, ResultsMismatchError, load_results, results_path
from rnnbook.synthetic.results_file import ResultsFile, first_difference, grid_index

CHECKPOINT_EVERY_S = 300.0  #: default: a killed sweep loses at most ~5 minutes of each run's training


def run_sweep(
    experiment: Experiment,
    protocol: str,
    results_dir: str | Path = "results",
    *,
    device: str = "cpu",
    max_parallel: int = 64,
    workers: int = 1,
    cuda_graph: bool = False,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    checkpoint_every_s: float = CHECKPOINT_EVERY_S,
    progress: Callable[[int], Any] | None = None,
    on_start: Callable[[list, ResultsFile], Any] | None = None,
    on_saved: Callable[[Any, dict], Any] | None = None,
    argv: Iterable[str] | None = None,
    stop_at: float | None = None,
) -> ResultsFile:
    """Train every run of ``experiment``/``protocol`` that its results file lacks; save as they finish.

    Runs in the file are skipped, censored runs whose cap was raised go on from their kept
    states, and runs with a checkpoint go on from it. ``workers`` > 1 shares the runs among
    that many processes (:mod:`rnnbook.synthetic.workers`); this process alone writes the files.
    ``cuda_graph`` records each ensemble's update as a CUDA graph. ``limit`` trains at most
    that many of the pending runs (grid order). ``shard=(K, N)``: only shard K of N, into its
    own file. ``on_start(pending, file)`` is called before training, ``on_saved(result,
    record)`` after each run is saved. A ``KeyboardInterrupt`` (Ctrl-C, SIGTERM through the
    CLI) is re-raised after the files are saved, checkpoints included. ``stop_at`` (a
    :func:`time.time` deadline, :mod:`rnnbook.campaign.queue`) stops cleanly: each run still training
    is checkpointed at its next check after it and the sweep returns, to be resumed bit for bit.
    """

    worker_pool.check_workers(workers, device)
    if checkpoint_every_s <= 0:
        raise ConfigError(f"--checkpoint-every must be > 0 seconds, got {checkpoint_every_s}")
    if limit is not None and limit < 0:
        raise ConfigError(f"--limit must be >= 0, got {limit}")
    proto = experiment.protocol(protocol)
    configs = experiment.runs(proto)
    path = results_path(results_dir, experiment.name, proto.name, shard)
    with exclusive(path):  # one writer per file, for the whole sweep
        for p in (path, states_path(path)):
            remove_stale_temps(p)  # left by a writer killed outright
        rf = ResultsFile(path, experiment, proto, configs, shard=shard)
        return _sweep(rf, device=device, max_parallel=max_parallel, workers=workers, cuda_graph=cuda_graph,
                      limit=limit, checkpoint_every_s=checkpoint_every_s, progress=progress, on_start=on_start,
                      on_saved=on_saved, argv=argv, stop_at=stop_at)


def _sweep(rf: ResultsFile, *, device: str, max_parallel: int, workers: int, cuda_graph: bool, limit: int | None,
           checkpoint_every_s: float, progress, on_start, on_saved, argv, stop_at: float | None = None) -> ResultsFile:
    """:func:`run_sweep`'s work, under the file's lock."""
    import torch


    pending = rf.pending()
    if limit is not None:
        pending = pending[:limit]
    worker_pool.check_resources(pending, workers, max_parallel, device)  # before anything is written
    resume = rf.resumable(pending)
    rf.begin_session(device=device, max_parallel=max_parallel, workers=workers, cuda_graph=cuda_graph, argv=argv)
    if on_start is not None:
        on_start(pending, rf)
    rf.save()

    def on_result(result: Any) -> None:
        rec = rf.add(result)
        rf.save()
        if on_saved is not None:
            on_saved(result, rec)

    def on_checkpoint(state: Any) -> None:
        rf.checkpoint(state)
        rf.save()

    kw = dict(max_parallel=max_parallel, device=device, progress=progress, on_result=on_result, resume=resume,
              on_checkpoint=on_checkpoint, checkpoint_every_s=checkpoint_every_s, stop_at=stop_at)
    try:
        if pending and workers > 1:
            worker_pool.train_runs_in_processes(pending, workers, threads=torch.get_num_threads(), **kw)
        elif pending:
            training.train_runs(pending, cuda_graph=cuda_graph, **kw)
    except BaseException:  # Ctrl-C, SIGTERM, a full disk, a dying worker, out of memory: keep what is finished
        rf.end_session(interrupted=True)
        try:
            rf.save()
        except Exception:  # noqa: BLE001 -- e.g. the disk is still full: the files keep their last save
            pass
        raise
    rf.end_session()
    rf.save()
    return rf


def _merged(paths: list[Path], datas: list[dict[str, Any]], n_shards: int) -> dict[str, Any]:
    """The unsharded file of checked shards: every run in its grid place, every session kept."""
    first = datas[0]
    runs = [r for d in datas for r in d["runs"]]
    gridded = sorted((r for r in runs if r["index"] is not None), key=lambda r: r["index"])
    extras = [r for r in runs if r["index"] is None]
    sessions = []
    for (k, _), d in sorted(((tuple(d["shard"]), d) for d in datas), key=lambda x: x[0]):
        for s in d.get("provenance", {}).get("sessions", []):
            sessions.append({**s, "shard": [k, n_shards]})
    return {
        "format": FORMAT,
        "experiment": first["experiment"],
        "protocol": first["protocol"],
        "spec": first["spec"],
        "planned": sum(d["planned"] for d in datas),
        "completed": sum(d["completed"] for d in datas),
        "censored": sum(d.get("censored", 0) for d in datas),
        "runs": gridded + extras,
        "provenance": {
            "started": min(d["provenance"]["started"] for d in datas),
            "updated": max(d["provenance"]["updated"] for d in datas),
            "sessions": sessions,
            "merged_from": [p.name for p in paths],
            "total_wall_time_s": round(sum(d["provenance"].get("total_wall_time_s") or 0.0 for d in datas), 3),
            "total_run_time_s": round(sum(d["provenance"].get("total_run_time_s") or 0.0 for d in datas), 3),
        },
    }


def merge_shards(paths: Iterable[str | Path], out: str | Path) -> dict[str, Any]:
    """Join the shard files of one sweep (``<protocol>.shard-K-of-N.json``, all N of them) into ``out``.

    The shards must come from the same experiment, protocol and settings, and together hold
    each of the N shards once. The merged file lists the runs in grid order, with every
    shard's sessions in its provenance; their kept states are merged into ``out``'s states
    file. Merging a sweep's shards gives the file an unsharded sweep gives (volatile parts
    aside). Returns the merged file's contents.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ConfigError("merge needs at least one shard file")
    datas = [load_results(p) for p in paths]
    first = datas[0]
    seen: dict[int, Path] = {}
    n_shards = None
    for p, d in zip(paths, datas):
        if "shard" not in d:
            raise ConfigError(f"{str(p)!r} is not a shard file (made without --shard)")
        k, n = d["shard"]
        if n_shards is None:
            n_shards = n
        if n != n_shards:
            raise ResultsMismatchError(f"{str(p)!r} is shard {k} of {n}, the others of {n_shards}")
        if k in seen:
            raise ResultsMismatchError(f"{str(p)!r} and {str(seen[k])!r} are both shard {k} of {n}")
        seen[k] = p
        for field in ("experiment", "protocol"):
            if d[field] != first[field]:
                raise ResultsMismatchError(f"{str(p)!r} holds {field} {d[field]!r}, not {first[field]!r}")
        # the whole spec: the task and settings, the cap, and the grid (inits, methods, lengths, seeds)
        diff = first_difference(_merge_spec(d["spec"]), _merge_spec(first["spec"]))
        if diff:
            raise ResultsMismatchError(f"{str(p)!r} was made with another grid or settings than {str(paths[0])!r} "
                                       f"({diff}); shards of one sweep are made by one command")
    missing = sorted(set(range(1, n_shards + 1)) - set(seen))
    if missing:
        raise ConfigError(f"shards {missing} of {n_shards} are missing: give all {n_shards} shard files")
    for p, d in zip(paths, datas):
        k, n = d["shard"]
        for rec in d["runs"]:  # every run in its grid place, in its own shard
            at = grid_index(d["spec"], rec["config"])
            if rec["index"] is not None and (at != rec["index"] or rec["index"] % n != k - 1):
                raise ResultsMismatchError(f"{str(p)!r}: run {rec['key']} is not run {rec['index']} of shard {k} of "
                                           f"{n} of its grid")
    merged = _merged(paths, datas, n_shards)
    out = Path(out)
    with exclusive(out):
        if out.exists():
            raise ConfigError(f"{str(out)!r} exists: merge into a new file (move the old one away first)")
        states = {}
        for p in paths:
            states.update(load_states(states_path(p)))
        for p in (out, states_path(out)):
            remove_stale_temps(p)
        save_states(states_path(out), states)  # the states first, the JSON last (rnnbook.synthetic.results_file)
        write_json_atomic(out, merged)
    return json.loads(out.read_text(encoding="utf-8"))


def _merge_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """What shards of one sweep share: the spec, but the protocol's label and provenance notes."""
    (name, proto), = spec["protocols"].items()
    return {**spec, "protocols": {name: {k: v for k, v in proto.items() if k not in ("label", "provenance")}}}
