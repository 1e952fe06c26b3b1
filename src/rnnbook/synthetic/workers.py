"""A sweep's runs shared among worker processes, one torch thread each.

The engine runs one torch thread (:mod:`rnnbook.engine.process`): its batched products are too small
for several threads to help, and two threads per process on two cores thrash
(``benchmarks/README.md``, "Measurements behind the code's choices"). A machine's other cores are used by more *processes*: the runs
of a sweep are independent, so ``workers`` processes each train a share of them with
:func:`rnnbook.synthetic.training.train_runs` and send every finished run back to the parent, which is
the only one to write the results file (:func:`rnnbook.synthetic.sweeps.run_sweep`); checkpoints of runs
still training travel back the same way.

The results do not depend on the number of workers, bit for bit: a run draws its data and
initial weights from its own seed (:mod:`rnnbook.paper.streams`, a seeded :class:`torch.Generator`),
and the engine's arithmetic for one model does not depend on which other models share its
ensemble (tests/unit/test_training.py). The shares are
dealt round-robin in grid order, so every worker gets a similar mix of methods and lengths.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from rnnbook.engine.process import configure_torch
from rnnbook.errors import ConfigError, TrainingFailed, check_at_least
from rnnbook.synthetic import training
from rnnbook.synthetic.runs import DTYPES

PROGRESS_EVERY_S = 0.5  # a worker reports its update count at most this often
WORKER_BYTES = 250 * 2**20  #: memory of one idle worker process (torch loaded): ~238 MB RSS measured (review D13)


def check_workers(workers: int, device: str) -> None:
    """Raise :class:`ConfigError` unless ``workers`` processes make sense on ``device``."""
    check_at_least("workers", workers, 1)
    if workers > 1 and device != "cpu":
        raise ConfigError(f"--workers > 1 is for CPUs (one core per worker); on {device} use --workers 1")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; all of the machine's where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory the machine can still give (``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_bytes(config: Any, models: int) -> int:
    """A rough upper bound of the memory ``models`` runs like ``config`` need as one ensemble.

    Training keeps, per model, every step's states for backpropagation through time
    (batch x steps x (inputs + 3 x hidden + outputs)) and a few copies of the weights
    (hidden^2 and the in/out matrices); validation holds at least one model's chunk of
    sequences (valid_chunk x steps x (inputs + hidden + outputs)).
    """

    task = config.make_task()
    size = DTYPES[config.dtype].itemsize
    steps = task.max_steps(config.max_length)
    h, n_in, n_out = config.hidden, task.n_in, task.n_out
    train = config.batch * steps * (n_in + 3 * h + n_out) + 6 * (h * h + h * (n_in + n_out + 1))
    valid = config.valid_chunk * steps * (n_in + h + n_out)
    return int(size * (models * train + valid))


def check_resources(runs: Sequence[Any], workers: int, max_parallel: int, device: str) -> None:
    """Refuse (one-line :class:`ConfigError`) sizes this machine's memory cannot hold, before a sweep starts.

    Each of ``min(workers, runs)`` processes trains up to ``max_parallel`` runs as one ensemble;
    their estimated need (:func:`run_bytes`, plus :data:`WORKER_BYTES` per worker) must fit in the
    memory the machine has free. Without this a huge ``hidden``, ``batch`` or ``valid_chunk``
    ends in an allocation failure deep inside torch.
    """
    if not runs or device != "cpu":
        return
    free = available_memory()
    if free is None:
        return
    groups = shares(list(runs), workers)
    need = max(run_bytes(c, min(max_parallel, len(share))) for share in groups for c in share)
    # the largest ensemble of any worker, times the workers, plus each worker's own footprint
    total = need * len(groups) + (WORKER_BYTES * len(groups) if workers > 1 else 0)
    if total > free:
        worst = max(runs, key=lambda c: run_bytes(c, 1))
        raise ConfigError(
            f"this sweep would need about {total / 2**30:.1f} GiB of memory ({len(groups)} process(es), up to "
            f"{min(max_parallel, max(map(len, groups)))} runs each of hidden={worst.hidden}, batch={worst.batch}, "
            f"valid_chunk={worst.valid_chunk}) but the machine has {free / 2**30:.1f} GiB free; "
            "use fewer --workers, a smaller --max-parallel or smaller settings"
        )


def shares(runs: Sequence[Any], workers: int) -> list[list[Any]]:
    """``runs`` dealt round-robin into ``workers`` lists (empty ones dropped)."""
    return [list(runs[i::workers]) for i in range(workers) if runs[i::workers]]


def _worker(index: int, runs: list, max_parallel: int, device: str, threads: int, messages: Any,
            parent: int, resume: dict, checkpoint_every_s: float, stop_at: float | None = None) -> None:
    """``parent``: the pid of the process that started us, passed in rather than read here: a
    worker still importing torch when its parent was killed would read init's pid instead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us

    configure_torch(threads)
    unreported = [0, time.monotonic()]

    def flush() -> None:
        if os.getppid() != parent:  # the parent was killed outright (SIGKILL): nobody will save our runs
            os._exit(1)
        if unreported[0]:
            messages.put(("progress", unreported[0]))
        unreported[:] = [0, time.monotonic()]

    def progress(n: int) -> None:
        unreported[0] += n
        if time.monotonic() - unreported[1] >= PROGRESS_EVERY_S:
            flush()

    def on_result(result: Any) -> None:
        flush()
        messages.put(("result", result))

    def on_checkpoint(state: Any) -> None:
        flush()
        messages.put(("checkpoint", state))

    try:
        training.train_runs(runs, max_parallel=max_parallel, device=device, progress=progress, on_result=on_result,
                            resume=resume, on_checkpoint=on_checkpoint, checkpoint_every_s=checkpoint_every_s,
                            stop_at=stop_at)
    except BaseException as exc:  # noqa: BLE001 -- every failure must reach the parent
        if os.environ.get("RNNBOOK_DEBUG"):
            traceback.print_exc()
        messages.put(("error", f"worker {index} failed: {type(exc).__name__}: {' '.join(str(exc).split())}"))
        return
    flush()
    messages.put(("done", index))


def _raise_if_a_worker_died(procs: Sequence[Any]) -> None:
    dead = [p for p in procs if p.exitcode not in (None, 0)]
    if dead:
        code = dead[0].exitcode
        why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        if code == -signal.SIGKILL:
            why += ", perhaps by the kernel for want of memory"
        raise TrainingFailed(f"a worker process died ({why})")


def train_runs_in_processes(
    runs: Sequence[Any],
    workers: int,
    *,
    max_parallel: int = 64,
    device: str = "cpu",
    threads: int = 1,
    progress: Callable[[int], None] | None = None,
    on_result: Callable[[Any], None] | None = None,
    resume: dict | None = None,
    on_checkpoint: Callable[[Any], None] | None = None,
    checkpoint_every_s: float = 300.0,
    stop_at: float | None = None,
) -> list[Any]:
    """:func:`rnnbook.synthetic.training.train_runs` over ``workers`` processes; same arguments and results.

    ``progress``, ``on_result`` and ``on_checkpoint`` are called in this process, as the workers
    report; each worker gets the ``resume`` states of its own runs. If this
    process is interrupted (Ctrl-C, or SIGTERM through the CLI) or a worker fails, every worker
    is stopped; runs already passed to ``on_result`` are kept by the caller, the others are lost
    and train again on the next call. If this process is killed outright (SIGKILL), each worker
    notices within about a second (its parent changes) and exits.
    """
    check_workers(workers, device)
    for config in runs:
        config.validate()
    ctx = multiprocessing.get_context("spawn")  # fork after torch has started threads can hang
    messages = ctx.Queue()
    resume = resume or {}
    procs = [ctx.Process(target=_worker, daemon=True,
                         args=(i, share, max_parallel, device, threads, messages, os.getpid(),
                               {c.key(): resume[c.key()] for c in share if c.key() in resume}, checkpoint_every_s, stop_at))
             for i, share in enumerate(shares(list(runs), workers))]
    results: dict[str, Any] = {}
    try:
        for p in procs:
            p.start()
        running = len(procs)
        while running:
            # Looked at on every message, not only when the queue falls silent: the other workers'
            # progress reports (every PROGRESS_EVERY_S) would otherwise hide a dead one until they end.
            _raise_if_a_worker_died(procs)
            try:
                kind, payload = messages.get(timeout=1.0)
            except queue.Empty:
                continue
            if kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "result":
                results[payload.config.key()] = payload
                if on_result is not None:
                    on_result(payload)
            elif kind == "checkpoint":
                if on_checkpoint is not None:
                    on_checkpoint(payload)
            elif kind == "done":
                running -= 1
            else:
                raise TrainingFailed(payload)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()
        messages.close()
    return [results[config.key()] for config in runs if config.key() in results]  # stop_at leaves some out
