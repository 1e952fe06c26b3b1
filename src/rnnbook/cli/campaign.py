"""``campaign``: advance the queue of ``campaign.toml`` for a wall-clock budget (resumes); or say
where it stands (``--status``), or bring back what another machine trained (``--merge DIR``).

The campaign's code is imported inside the command, not at the top: it brings torch, and
``python -m rnnbook --help`` should start without it.
"""

from __future__ import annotations

import os
from typing import Sequence

from rnnbook.cli.options import (EXIT_OK, add_options, check_checkpoint_every, check_device, command_line,
                                 nonneg_int, sigterm_unwinds)
from rnnbook.errors import ConfigError, parse_budget


def add_campaign(sub) -> None:
    c = sub.add_parser("campaign", help="advance the queue of campaign.toml for a wall-clock budget (resumes)")
    c.add_argument("--queue", default="campaign.toml", metavar="FILE", help="the ordered queue (default campaign.toml)")
    c.add_argument("--budget", metavar="TIME", help="wall-clock budget, e.g. 2h, 90m, 1h30m (runs checkpoint and "
                                                   "the command exits before it ends)")
    add_options(c, "--workers", help="processes, one core each (default 1)")
    c.add_argument("--only", metavar="ID,...", help="only these items of the queue (in the queue's order)")
    c.add_argument("--status", action="store_true", help="print where each item stands and what is next; train nothing")
    add_options(c, "--device")
    add_options(c, "--cuda-graph", help="with --device cuda: replay each update as a CUDA graph")
    add_options(c, "--max-parallel", "--results-dir")
    c.add_argument("--out", metavar="DIR", help="copy the queue's files from --results-dir into DIR and train there "
                                                "(another machine); bring them back with --merge DIR")
    c.add_argument("--merge", metavar="DIR", help="bring a --out folder's trained files back into --results-dir "
                                                  "(refuses anything inconsistent)")
    c.add_argument("--nice", type=nonneg_int, default=10, metavar="N", help="lower this process's priority by N "
                                                                           "(default 10; 0: not at all)")
    add_options(c, "--checkpoint-every", help="save the states of runs still training this often (default 300)")
    add_options(c, "--threads")


def _print_status(items, results_dir: str) -> None:
    from rnnbook.campaign import queue as campaign

    for it in items:
        try:
            s = campaign.status(it, results_dir)
        except campaign.Unavailable as exc:
            print(f"{it.id}: unavailable -- {exc}")
            continue
        unit = "epochs" if it.natural else "updates"
        print(f"{it.id} ({it.claim}): {s['runs']} runs, {s['solved']} solved, {s['diverged']} diverged, "
              f"{s['censored']} censored, {s['todo']} to train (<= {s['left']:,} {unit})")
    print(f"next: {campaign.next_up(items, results_dir)}")


def cmd_campaign(args, argv: Sequence[str]) -> int:
    from rnnbook.campaign import queue as campaign
    from rnnbook.campaign.transfer import merge, snapshot
    from rnnbook.engine.process import configure_torch

    if args.merge:  # needs no queue: the folder says what it holds
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
        _print_status(items, args.results_dir)
        return EXIT_OK
    if args.budget is None:
        raise ConfigError("campaign needs --budget (e.g. 2h), or --status, or --merge DIR")
    budget = parse_budget(args.budget)
    device = check_device(args.device, args.cuda_graph)
    check_checkpoint_every(args.checkpoint_every)
    if args.nice:
        os.nice(args.nice)
    configure_torch(args.threads)
    where = args.results_dir
    if args.out:
        snapshot(items, args.results_dir, args.out)
        where = args.out
    with sigterm_unwinds():
        moved = campaign.advance(items, where, budget, workers=args.workers, device=device, cuda_graph=args.cuda_graph,
                                 max_parallel=args.max_parallel, checkpoint_every_s=args.checkpoint_every,
                                 argv=list(argv))
    spent = sum(m.trained for m in moved)
    print(f"this sitting: {spent:,} updates on {len(moved)} item(s), into {where}")
    print(f"next: {campaign.next_up(items, where)}")
    if args.out:
        print(f"bring the results back with: {command_line(['campaign', '--merge', args.out])}")
    return EXIT_OK
