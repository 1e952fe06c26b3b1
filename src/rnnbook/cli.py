"""Command line: ``python -m rnnbook run|campaign|list|show|merge|generalise|natural``.

    python -m rnnbook list [--config FILE]
    python -m rnnbook run EXPERIMENT [--protocol quick|paper] [--set NAME=VALUE ...] [--device cpu|cuda]
                          [--max-parallel N] [--workers N] [--cuda-graph] [--results-dir DIR]
                          [--config FILE] [--limit N] [--shard K/N] [--checkpoint-every SECONDS]
                          [--threads N] [--no-progress]
    python -m rnnbook campaign --budget 2h [--workers N] [--only ID,...] [--queue campaign.toml]
                          [--device cpu|cuda] [--cuda-graph] [--out DIR] [--results-dir DIR] [--nice N]
    python -m rnnbook campaign --status | --merge DIR
    python -m rnnbook show RESULTS.json [RESULTS.json ...]
    python -m rnnbook merge SHARD.json [SHARD.json ...] --out RESULTS.json
    python -m rnnbook generalise RESULTS.json --lengths 50,100,500 [--sequences N]
    python -m rnnbook natural EXPERIMENT [--protocol quick|paper] [--set NAME=VALUE ...]
                          [--results-dir DIR] [--checkpoint-every SECONDS] [--threads N] [--no-progress]

``--set max_updates=1000000`` raises the update cap: runs that reached the old cap without
succeeding continue from their kept states (:mod:`rnnbook.synthetic.sweeps`).

Bad input prints one line on stderr and exits with status 2, and so does a failure of the
machine (a full disk, a read-only folder, a dying worker process, want of memory), with how to
resume; a second command writing a file another one is writing is refused the same way
(:mod:`rnnbook.store.lock`). Ctrl-C keeps every finished run
in the results file, says how to resume, and exits with status 130. A ``run`` that is sent
SIGTERM (``kill``, ``timeout``, a job scheduler) does the same and exits with status 143, after
stopping its worker processes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from rnnbook.errors import ConfigError, TrainingFailed

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 2, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM during a ``run``: unwinds like Ctrl-C (finished runs saved, workers stopped)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {v}")
        return v

    return parse


_positive_int, _nonneg_int = _int_at_least(1), _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m rnnbook", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", metavar="{run,campaign,list,show,merge,generalise,natural}", parser_class=_Parser)
    sub.required = True

    r = sub.add_parser("run", help="train an experiment's grid (resumes an existing results file)")
    r.add_argument("experiment", help="experiment name (see `list`)")
    r.add_argument("--protocol", default="quick", help="quick (minutes, default) or paper")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                   help="override one of the protocol's settings, e.g. --set max_updates=1000000 "
                        "(raises the cap: censored runs continue) or --set threshold=2; repeatable")
    r.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    r.add_argument("--max-parallel", type=_positive_int, default=64, metavar="N",
                   help="models trained together as one batched computation (default 64)")
    r.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                   help=f"processes sharing the grid, one core each (default 1; this machine has "
                        f"{os.cpu_count()} cores); the results do not depend on N")
    r.add_argument("--cuda-graph", action="store_true",
                   help="with --device cuda: record each ensemble's update once as a CUDA graph and replay it")
    r.add_argument("--results-dir", default="results", metavar="DIR", help="default: results")
    r.add_argument("--config", metavar="FILE", help="TOML/JSON file declaring or overriding experiments")
    r.add_argument("--limit", type=_nonneg_int, metavar="N",
                   help="train at most N of the missing runs now (grid order); rerun for the rest")
    r.add_argument("--shard", metavar="K/N",
                   help="train only shard K of N (every N-th run from the K-th) into <protocol>.shard-K-of-N.json; "
                        "join the N files with `merge` (a cluster job array: one shard per task)")
    r.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="save the state of runs still training this often (default 300): a killed sweep "
                        "loses at most that much of each run")
    r.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="torch threads (default $BOOK_TORCH_THREADS or 1)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")

    c = sub.add_parser("campaign", help="advance the queue of campaign.toml for a wall-clock budget (resumes)")
    c.add_argument("--queue", default="campaign.toml", metavar="FILE", help="the ordered queue (default campaign.toml)")
    c.add_argument("--budget", metavar="TIME", help="wall-clock budget, e.g. 2h, 90m, 1h30m (runs checkpoint and "
                                                   "the command exits before it ends)")
    c.add_argument("--workers", type=_positive_int, default=1, metavar="N", help="processes, one core each (default 1)")
    c.add_argument("--only", metavar="ID,...", help="only these items of the queue (in the queue's order)")
    c.add_argument("--status", action="store_true", help="print where each item stands and what is next; train nothing")
    c.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    c.add_argument("--cuda-graph", action="store_true", help="with --device cuda: replay each update as a CUDA graph")
    c.add_argument("--max-parallel", type=_positive_int, default=64, metavar="N",
                   help="models trained together as one batched computation (default 64)")
    c.add_argument("--results-dir", default="results", metavar="DIR", help="default: results")
    c.add_argument("--out", metavar="DIR", help="copy the queue's files from --results-dir into DIR and train there "
                                                "(another machine); bring them back with --merge DIR")
    c.add_argument("--merge", metavar="DIR", help="bring a --out folder's trained files back into --results-dir "
                                                  "(refuses anything inconsistent)")
    c.add_argument("--nice", type=_nonneg_int, default=10, metavar="N", help="lower this process's priority by N "
                                                                            "(default 10; 0: not at all)")
    c.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                   help="save the states of runs still training this often (default 300)")
    c.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="torch threads (default $BOOK_TORCH_THREADS or 1)")

    ls = sub.add_parser("list", help="experiments, protocols, run counts and worst-case cost")
    ls.add_argument("--config", metavar="FILE", help="also list the experiments of this file")

    s = sub.add_parser("show", help="success-rate table of results files (Table 1's: best-validation scores)")
    s.add_argument("files", nargs="+", metavar="RESULTS.json")

    g = sub.add_parser("generalise", help="test the solved runs of a results file on longer sequences")
    g.add_argument("file", metavar="RESULTS.json")
    g.add_argument("--lengths", required=True, metavar="N,N,...", help="sequence lengths, e.g. 50,100,500,5000")
    g.add_argument("--sequences", type=_positive_int, default=10_000, metavar="N",
                   help="fresh test sequences per length (default 10,000, as the paper)")

    n = sub.add_parser("natural", help="Table 1: MSGD, MSGD+C, MSGD+CR on music or text (resumes, trains on)")
    n.add_argument("experiment", help="music_jsb, music_piano_midi, music_nottingham, music_musedata, "
                                      "music_chorales, text_next or text_5ahead")
    n.add_argument("--protocol", default="quick", help="quick (minutes, default) or paper")
    n.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                   help="override a setting, e.g. --set epochs=20 (trains on from the kept state); repeatable")
    n.add_argument("--results-dir", default="results", metavar="DIR", help="default: results")
    n.add_argument("--data-dir", default=None, metavar="DIR",
                   help="the data files' folder: Penn Treebank (ptb_next, ptb_5ahead: Mikolov's ptb.char.*.txt, "
                        "required), or the paper's music (default: the book's data/poly-music)")
    n.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                   help="save the run's state this often within an epoch (default 300)")
    n.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="torch threads (default $BOOK_TORCH_THREADS or 1)")
    n.add_argument("--no-progress", action="store_true", help="no progress bar")

    m = sub.add_parser("merge", help="join the shard files of one sweep into its results file")
    m.add_argument("files", nargs="+", metavar="SHARD.json")
    m.add_argument("--out", required=True, metavar="RESULTS.json", help="the merged file (must not exist)")
    return p


def _experiments(config: str | None):
    from rnnbook.synthetic.experiments import EXPERIMENTS, load_config

    extra = load_config(config) if config else {}
    return {**EXPERIMENTS, **extra}, extra


def _check_device(device: str) -> str:
    import torch

    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but CUDA is not available on this machine")
        try:
            idx = torch.device(device).index
        except RuntimeError:
            raise ConfigError(f"invalid device {device!r}") from None
        if idx is not None and idx >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return device
    raise ConfigError(f"unknown device {device!r} (use cpu or cuda)")


def cmd_list(args) -> int:
    from rnnbook.synthetic.experiments import STEPS_PER_CORE_SECOND

    table, extra = _experiments(args.config)
    rows = []
    for name, exp in table.items():
        for pname in exp.protocols:
            w = exp.worst_case(pname)
            p = exp.protocol(pname)
            lengths = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in p.length_points)
            rows.append(
                [
                    name + (" *" if name in extra else ""),
                    pname,
                    str(w["runs"]),
                    f"{p.settings['max_updates']:,}",
                    lengths,
                    f"{w['max_updates']:.2e}",
                    f"{w['core_hours']:.3g}",
                ]
            )
    head = ["experiment", "protocol", "runs", "cap/run", "lengths", "updates (max)", "core-h (max)"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths))
    print(fmt(head))
    print(fmt(["-" * w for w in widths]))
    for r in rows:
        print(fmt(r))
    print(
        f"\ncore-h (max): rough cost if every run trains to its cap, on one CPU core at ~{STEPS_PER_CORE_SECOND:,.0f}\n"
        "model-time-steps/s (measured with the compiled CPU kernel, validation and regularizer included;\n"
        "~1.6x longer without it). Runs that succeed stop early; --workers N divides the wall time by\n"
        "up to N. quick = smoke scale, not the paper's protocol."
        + ("\n* = from the config file" if extra else "")
    )
    from rnnbook.settings import describe
    from rnnbook.synthetic.runs import RUN_SETTINGS

    print("\nSettings a protocol, a config file or --set NAME=VALUE may change:\n" + describe(RUN_SETTINGS))

    from rnnbook.natural.experiments import EXPERIMENTS as NATURAL
    from rnnbook.natural.experiments import SETTINGS as NATURAL_SETTINGS

    print("\nTable 1 (§4.2): python -m rnnbook natural NAME [--protocol quick|paper] [--set NAME=VALUE]")
    for name, exp in NATURAL.items():
        for pname, c in exp.protocols.items():
            print(f"  {name:<16}{pname:<7}{c.hidden:>4} units, {c.seq_len}-step windows, batch {c.batch}, "
                  f"{c.epochs} epochs  ({exp.paper})")
    print("\nSettings of Table 1's protocols:\n" + describe(NATURAL_SETTINGS))
    return EXIT_OK


def cmd_show(args) -> int:
    from rnnbook.natural.training import FORMAT as NATURAL
    from rnnbook.natural.training import format_natural, json_of
    from rnnbook.store.jsonio import format_of
    from rnnbook.synthetic.results import load_results
    from rnnbook.verdicts.outcomes import format_table
    from rnnbook.verdicts.scoreboard import verdicts_for_file

    blocks = []
    for f in args.files:  # each file's table, then the book's verdicts on the claims it tests (as on the scoreboard)
        natural = format_of(f) == NATURAL
        data = json_of(f) if natural else load_results(f)
        blocks.append((format_natural(f) if natural else format_table(data)) + "\n\n"
                      + verdicts_for_file(f, data["experiment"]))
    print("\n\n".join(blocks))
    return EXIT_OK


def cmd_generalise(args) -> int:
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
        print("  ".join([r["key"].rsplit("-", 1)[0], *[f"{r['errors'].get(str(n), float('nan')):.2%}" for n in data["lengths"]]]))
    print(f"wrote {generalisation_path(args.file)}", file=sys.stderr)
    return EXIT_OK


def cmd_merge(args) -> int:
    from rnnbook.synthetic.sweeps import merge_shards
    from rnnbook.verdicts.outcomes import format_table

    data = merge_shards(args.files, args.out)
    print(format_table(data))
    print(f"merged {len(args.files)} shard files into {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_run(args, argv: Sequence[str]) -> int:
    from rnnbook.engine.process import configure_torch
    from rnnbook.synthetic.experiments import get_experiment, with_overrides
    from rnnbook.synthetic.results import parse_shard, results_path
    from rnnbook.synthetic.sweeps import CHECKPOINT_EVERY_S, run_sweep

    table, extra = _experiments(args.config)
    exp = get_experiment(args.experiment, extra)
    exp.protocol(args.protocol)  # unknown protocol -> ConfigError before anything starts
    if args.overrides:
        exp = with_overrides(exp, args.protocol, args.overrides)
    shard = parse_shard(args.shard) if args.shard is not None else None
    every = CHECKPOINT_EVERY_S if args.checkpoint_every is None else args.checkpoint_every
    if not every > 0:
        raise ConfigError(f"--checkpoint-every must be > 0 seconds, got {args.checkpoint_every}")
    device = _check_device(args.device)
    if args.cuda_graph and not device.startswith("cuda"):
        raise ConfigError("--cuda-graph needs --device cuda")
    from rnnbook.synthetic.workers import usable_cores

    if args.workers > usable_cores():
        raise ConfigError(f"--workers {args.workers}: this machine lets this process use {usable_cores()} cores, "
                          "and a worker needs one of its own; use --workers <= that")
    configure_torch(args.threads)
    path = results_path(args.results_dir, exp.name, args.protocol, shard)
    resume_cmd = "python -m rnnbook " + " ".join(shlex.quote(a) for a in argv)

    bars: dict = {}
    show_bars = not args.no_progress

    def on_start(pending, rf) -> None:
        done = len(rf.share) - len(rf.pending())
        resumed = rf.resumable(pending)
        continued = sum(1 for c in pending if c.key() in resumed)
        print(
            f"{exp.name} / {args.protocol}: {len(rf.configs)} runs in the grid"
            + (f", {len(rf.share)} in shard {shard[0]} of {shard[1]}" if shard else "")
            + f", {done} done in {path}, {len(pending)} to train now on {device}"
            + (f" ({continued} continue from kept states)" if continued else "")
            + (f" in {min(args.workers, len(pending))} processes" if args.workers > 1 and len(pending) > 1 else ""),
            file=sys.stderr,
        )
        bars["start"] = {k: s.updates for k, s in resumed.items()}
        if show_bars and pending:
            from tqdm import tqdm

            total = sum(int(c.max_updates) - bars["start"].get(c.key(), 0) for c in pending)
            bars["updates"] = tqdm(total=total, desc="updates", unit="upd", unit_scale=True,
                                   position=0, dynamic_ncols=True, file=sys.stderr)
            bars["runs"] = tqdm(total=len(pending), desc="runs   ", unit="run", position=1,
                                dynamic_ncols=True, file=sys.stderr)
            bars["ok"] = 0

    def progress(n: int) -> None:
        if "updates" in bars:
            bars["updates"].update(n)

    def on_saved(result, rec) -> None:
        if "runs" in bars:
            # a run that stops early leaves part of its cap unused: count it as done
            bars["updates"].update(max(0, int(result.config.max_updates) - int(result.updates)))
            bars["ok"] += bool(result.success)
            bars["runs"].set_postfix_str(f"successes {bars['ok']}", refresh=False)
            bars["runs"].update(1)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        rf = run_sweep(
            exp, args.protocol, args.results_dir, device=device, max_parallel=args.max_parallel,
            workers=args.workers, cuda_graph=args.cuda_graph, limit=args.limit, shard=shard,
            checkpoint_every_s=every, progress=progress, on_start=on_start, on_saved=on_saved, argv=argv,
        )
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        for k in ("updates", "runs"):
            if k in bars:
                bars[k].close()
    left = len(rf.pending())
    print(f"saved {path} ({len(rf.share) - left}/{len(rf.share)} runs)", file=sys.stderr)
    if left:
        print(f"{left} runs left; to continue: {resume_cmd}", file=sys.stderr)
    return EXIT_OK


def cmd_campaign(args, argv: Sequence[str]) -> int:
    from rnnbook.campaign import queue as campaign
    from rnnbook.engine.process import configure_torch

    if args.merge:  # needs no queue: the folder says what it holds
        from rnnbook.campaign.transfer import merge

        written = merge(args.merge, args.results_dir)
        print("\n".join(f"merged {w}" for w in written) or f"nothing to merge from {args.merge}")
        return EXIT_OK
    items = campaign.load_queue(args.queue)
    if args.only:
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = [x for x in wanted if x not in {it.id for it in items}]
        if unknown:
            raise ConfigError(f"--only: no item {', '.join(unknown)} in {args.queue}")
        items = [it for it in items if it.id in wanted]
    if args.status:
        for it in items:
            try:
                s = campaign.status(it, args.results_dir)
            except campaign.Unavailable as exc:
                print(f"{it.id}: unavailable -- {exc}")
                continue
            unit = "epochs" if it.natural else "updates"
            print(f"{it.id} ({it.claim}): {s['runs']} runs, {s['solved']} solved, {s['diverged']} diverged, "
                  f"{s['censored']} censored, {s['todo']} to train (<= {s['left']:,} {unit})")
        print(f"next: {campaign.next_up(items, args.results_dir)}")
        return EXIT_OK
    if args.budget is None:
        raise ConfigError("campaign needs --budget (e.g. 2h), or --status, or --merge DIR")
    budget = campaign.parse_budget(args.budget)
    device = _check_device(args.device)
    if args.cuda_graph and not device.startswith("cuda"):
        raise ConfigError("--cuda-graph needs --device cuda")
    if not args.checkpoint_every > 0:
        raise ConfigError(f"--checkpoint-every must be > 0 seconds, got {args.checkpoint_every}")
    if args.nice:
        os.nice(args.nice)
    configure_torch(args.threads)
    where = args.results_dir
    if args.out:
        from rnnbook.campaign.transfer import snapshot

        snapshot(items, args.results_dir, args.out)
        where = args.out
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        moved = campaign.advance(items, where, budget, workers=args.workers, device=device, cuda_graph=args.cuda_graph,
                                 max_parallel=args.max_parallel, checkpoint_every_s=args.checkpoint_every,
                                 argv=list(argv))
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    spent = sum(m.trained for m in moved)
    print(f"this sitting: {spent:,} updates on {len(moved)} item(s), into {where}")
    print(f"next: {campaign.next_up(items, where)}")
    if args.out:
        print(f"bring the results back with: python -m rnnbook campaign --merge {shlex.quote(args.out)}")
    return EXIT_OK


def cmd_natural(args, argv: Sequence[str]) -> int:
    from rnnbook.engine.process import configure_torch
    from rnnbook.natural.experiments import get_experiment, results_file
    from rnnbook.natural.training import format_natural, load_data, train_natural

    exp = get_experiment(args.experiment)
    cfg = exp.protocol(args.protocol)
    if args.overrides:
        cfg = cfg.with_overrides(args.overrides)
    if not args.checkpoint_every > 0:
        raise ConfigError(f"--checkpoint-every must be > 0 seconds, got {args.checkpoint_every}")
    configure_torch(args.threads)
    path = results_file(args.results_dir, exp.name, args.protocol, cfg.seed)  # seed k > 0: <protocol>-seed<k>.json
    bar = {}

    def progress(done: int, total: int) -> None:
        if args.no_progress:
            return
        if "bar" not in bar:
            from tqdm import tqdm

            bar["bar"] = tqdm(total=total, initial=done - 1, desc=f"{exp.name} updates", unit="upd",
                              dynamic_ncols=True, file=sys.stderr)
        bar["bar"].update(1)

    print(f"{exp.name} / {args.protocol}: {cfg.epochs} epochs of MSGD, MSGD+C, MSGD+CR into {path}", file=sys.stderr)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        data = train_natural(exp, cfg, path, checkpoint_every_s=args.checkpoint_every, progress=progress,
                             argv=list(argv), data=load_data(exp, cfg, data_dir=args.data_dir))
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        if "bar" in bar:
            bar["bar"].close()
    print(f"saved {path}", file=sys.stderr)
    print(format_natural(path), file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args, argv)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "merge":
            return cmd_merge(args)
        if args.command == "generalise":
            return cmd_generalise(args)
        if args.command == "natural":
            return cmd_natural(args, argv)
        if args.command == "campaign":
            return cmd_campaign(args, argv)
        return cmd_show(args)
    except ConfigError as exc:
        msg = " ".join(str(exc).split())  # exactly one line
        print(f"rnnbook: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `python -m rnnbook list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (OSError, MemoryError, TrainingFailed, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and not isinstance(exc, TrainingFailed) and not _out_of_memory(exc):
            raise  # a bug: keep its traceback
        return _failed(exc, argv)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        if argv and argv[0] in ("run", "natural", "campaign"):
            cmd = "python -m rnnbook " + " ".join(shlex.quote(a) for a in argv)
            print(
                f"\nrnnbook: {what}; every finished run is saved. Resume with: {cmd}",
                file=sys.stderr,
            )
        else:
            print(f"\nrnnbook: {what}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "MemoryError" in text \
        or "out of memory" in text.lower()


def _failed(exc: BaseException, argv: Sequence[str]) -> int:
    """A failure outside the code (disk, memory, a dying worker): one line, how to resume, status 2."""
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        what = f"cannot write or read{where}: {exc.strerror or exc}"
    elif _out_of_memory(exc):
        what = (f"out of memory ({' '.join(str(exc).split())[:200] or 'MemoryError'}); "
                "use smaller settings, --max-parallel or fewer --workers")
    else:
        what = " ".join(str(exc).split())
    resume = ""
    if argv and argv[0] in ("run", "natural", "campaign", "generalise", "merge"):
        kept = "; every finished run is saved" if argv[0] in ("run", "natural", "campaign") else ""
        resume = f"{kept}; fix that, then resume with: python -m rnnbook " + " ".join(shlex.quote(a) for a in argv)
    print(f"rnnbook: error: {what}{resume}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
