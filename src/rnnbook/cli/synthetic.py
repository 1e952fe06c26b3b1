"""The synthetic problems' commands: ``run`` (train an experiment's grid), ``merge`` (join the
shards of one sweep) and ``generalise`` (solved models on other lengths).

The imports of training code sit inside the commands, not at the top: they bring torch, and
``python -m rnnbook --help`` or ``list`` should start without it (a fraction of a second
instead of seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from rnnbook.cli.options import (EXIT_OK, add_options, check_checkpoint_every, check_device, command_line,
                                 nonneg_int, positive_int, sigterm_unwinds)
from rnnbook.errors import ConfigError


def add_run(sub) -> None:
    r = sub.add_parser("run", help="train an experiment's grid (resumes an existing results file)")
    r.add_argument("experiment", help="experiment name (see `list`)")
    add_options(r, "--protocol")
    add_options(r, "--set", help="override one of the protocol's settings, e.g. --set max_updates=1000000 "
                                 "(raises the cap: censored runs continue) or --set threshold=2; repeatable")
    add_options(r, "--device", "--max-parallel")
    add_options(r, "--workers", help=f"processes sharing the grid, one core each (default 1; this machine has "
                                     f"{os.cpu_count()} cores); the results do not depend on N")
    add_options(r, "--cuda-graph",
                help="with --device cuda: record each ensemble's update once as a CUDA graph and replay it")
    add_options(r, "--results-dir")
    add_options(r, "--config", help="TOML/JSON file declaring or overriding experiments")
    r.add_argument("--limit", type=nonneg_int, metavar="N",
                   help="train at most N of the missing runs now (grid order); rerun for the rest")
    r.add_argument("--shard", metavar="K/N",
                   help="train only shard K of N (every N-th run from the K-th) into <protocol>.shard-K-of-N.json; "
                        "join the N files with `merge` (a cluster job array: one shard per task)")
    add_options(r, "--checkpoint-every", default=None,  # None: the sweep's own default, CHECKPOINT_EVERY_S
                help="save the state of runs still training this often (default 300): a killed sweep "
                     "loses at most that much of each run")
    add_options(r, "--threads")
    add_options(r, "--no-progress", help="no progress bars")


def add_generalise(sub) -> None:
    g = sub.add_parser("generalise", help="test the solved runs of a results file on longer sequences")
    g.add_argument("file", metavar="RESULTS.json")
    g.add_argument("--lengths", required=True, metavar="N,N,...", help="sequence lengths, e.g. 50,100,500,5000")
    g.add_argument("--sequences", type=positive_int, default=10_000, metavar="N",
                   help="fresh test sequences per length (default 10,000, as the paper)")


def add_merge(sub) -> None:
    m = sub.add_parser("merge", help="join the shard files of one sweep into its results file")
    m.add_argument("files", nargs="+", metavar="SHARD.json")
    m.add_argument("--out", required=True, metavar="RESULTS.json", help="the merged file (must not exist)")


def experiments(config: str | None):
    """The registry's experiments with those of ``config`` (a user's file) over them; and the latter."""
    from rnnbook.synthetic.experiments import EXPERIMENTS, load_config

    extra = load_config(config) if config else {}
    return {**EXPERIMENTS, **extra}, extra


class _Progress:
    """A sweep's report on stderr: one line on what trains where, then two bars (updates, runs)."""

    def __init__(self, args: argparse.Namespace, name: str, path, shard, device: str) -> None:
        self.args, self.name, self.path, self.shard, self.device = args, name, path, shard, device
        self.updates = self.runs = None
        self.successes = 0

    def on_start(self, pending, rf) -> None:
        args, shard = self.args, self.shard
        done = len(rf.share) - len(rf.pending())
        resumed = rf.resumable(pending)
        continued = sum(1 for c in pending if c.key() in resumed)
        print(
            f"{self.name} / {args.protocol}: {len(rf.configs)} runs in the grid"
            + (f", {len(rf.share)} in shard {shard[0]} of {shard[1]}" if shard else "")
            + f", {done} done in {self.path}, {len(pending)} to train now on {self.device}"
            + (f" ({continued} continue from kept states)" if continued else "")
            + (f" in {min(args.workers, len(pending))} processes" if args.workers > 1 and len(pending) > 1 else ""),
            file=sys.stderr,
        )
        if not args.no_progress and pending:
            from tqdm import tqdm

            start = {k: s.updates for k, s in resumed.items()}
            total = sum(int(c.max_updates) - start.get(c.key(), 0) for c in pending)
            self.updates = tqdm(total=total, desc="updates", unit="upd", unit_scale=True,
                                position=0, dynamic_ncols=True, file=sys.stderr)
            self.runs = tqdm(total=len(pending), desc="runs   ", unit="run", position=1,
                             dynamic_ncols=True, file=sys.stderr)

    def progress(self, n: int) -> None:
        if self.updates is not None:
            self.updates.update(n)

    def on_saved(self, result, rec) -> None:
        if self.runs is not None:
            # a run that stops early leaves part of its cap unused: count it as done
            self.updates.update(max(0, int(result.config.max_updates) - int(result.updates)))
            self.successes += bool(result.success)
            self.runs.set_postfix_str(f"successes {self.successes}", refresh=False)
            self.runs.update(1)

    def close(self) -> None:
        for bar in (self.updates, self.runs):
            if bar is not None:
                bar.close()


def cmd_run(args, argv: Sequence[str]) -> int:
    from rnnbook.engine.process import configure_torch
    from rnnbook.synthetic.experiments import get_experiment, with_overrides
    from rnnbook.synthetic.results import parse_shard, results_path
    from rnnbook.synthetic.sweeps import CHECKPOINT_EVERY_S, run_sweep
    from rnnbook.synthetic.workers import usable_cores

    table, extra = experiments(args.config)
    exp = get_experiment(args.experiment, extra)
    exp.protocol(args.protocol)  # unknown protocol -> ConfigError before anything starts
    if args.overrides:
        exp = with_overrides(exp, args.protocol, args.overrides)
    shard = parse_shard(args.shard) if args.shard is not None else None
    every = check_checkpoint_every(CHECKPOINT_EVERY_S if args.checkpoint_every is None else args.checkpoint_every)
    device = check_device(args.device, args.cuda_graph)
    if args.workers > usable_cores():
        raise ConfigError(f"--workers {args.workers}: this machine lets this process use {usable_cores()} cores, "
                          "and a worker needs one of its own; use --workers <= that")
    configure_torch(args.threads)
    path = results_path(args.results_dir, exp.name, args.protocol, shard)

    report = _Progress(args, exp.name, path, shard, device)
    try:
        with sigterm_unwinds():
            rf = run_sweep(
                exp, args.protocol, args.results_dir, device=device, max_parallel=args.max_parallel,
                workers=args.workers, cuda_graph=args.cuda_graph, limit=args.limit, shard=shard,
                checkpoint_every_s=every, progress=report.progress, on_start=report.on_start,
                on_saved=report.on_saved, argv=argv,
            )
    finally:
        report.close()
    left = len(rf.pending())
    print(f"saved {path} ({len(rf.share) - left}/{len(rf.share)} runs)", file=sys.stderr)
    if left:
        print(f"{left} runs left; to continue: {command_line(argv)}", file=sys.stderr)
    return EXIT_OK


def cmd_generalise(args, argv: Sequence[str]) -> int:
    from rnnbook.engine.process import configure_torch
    from rnnbook.synthetic.generalisation import evaluate, generalisation_path

    try:
        lengths = [int(x) for x in args.lengths.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--lengths must be integers separated by commas, got {args.lengths!r}") from None
    configure_torch(None)
    data = evaluate(args.file, lengths, args.sequences, progress=lambda line: print(line, file=sys.stderr))
    head = ["run", *[f"T={n}" for n in data["lengths"]]]
    print("  ".join(head))
    for r in data["runs"]:
        errors = [f"{r['errors'].get(str(n), float('nan')):.2%}" for n in data["lengths"]]
        print("  ".join([r["key"].rsplit("-", 1)[0], *errors]))
    print(f"wrote {generalisation_path(args.file)}", file=sys.stderr)
    return EXIT_OK


def cmd_merge(args, argv: Sequence[str]) -> int:
    from rnnbook.synthetic.sweeps import merge_shards
    from rnnbook.verdicts.outcomes import format_table

    data = merge_shards(args.files, args.out)
    print(format_table(data))
    print(f"merged {len(args.files)} shard files into {args.out}", file=sys.stderr)
    return EXIT_OK
