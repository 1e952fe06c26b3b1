"""``natural``: Table 1's three methods on music or text, by epochs (resumes, trains on).

The training code is imported inside the command, not at the top: it brings torch, and
``python -m rnnbook --help`` should start without it.
"""

from __future__ import annotations

import sys
from typing import Sequence

from rnnbook.cli.options import EXIT_OK, add_options, check_checkpoint_every, sigterm_unwinds


def add_natural(sub) -> None:
    n = sub.add_parser("natural", help="Table 1: MSGD, MSGD+C, MSGD+CR on music or text (resumes, trains on)")
    n.add_argument("experiment", help="music_jsb, music_piano_midi, music_nottingham, music_musedata, "
                                      "text_next or text_5ahead (or a variant: music_nottingham_fixed_omega)")
    add_options(n, "--protocol")
    add_options(n, "--set", help="override a setting, e.g. --set epochs=20 (trains on from the kept state); repeatable")
    add_options(n, "--results-dir")
    n.add_argument("--data-dir", default=None, metavar="DIR",
                   help="the data files' folder: Penn Treebank (ptb_next, ptb_5ahead: Mikolov's ptb.char.*.txt, "
                        "required), or the paper's music (default: the book's data/poly-music)")
    add_options(n, "--checkpoint-every", help="save the run's state this often within an epoch (default 300)")
    add_options(n, "--threads")
    add_options(n, "--no-progress", help="no progress bar")


def cmd_natural(args, argv: Sequence[str]) -> int:
    from rnnbook.engine.process import configure_torch
    from rnnbook.methods import METHOD
    from rnnbook.natural.experiments import get_experiment, results_file
    from rnnbook.natural.training import format_natural, load_data, train_natural

    exp = get_experiment(args.experiment)
    cfg = exp.protocol(args.protocol)
    if args.overrides:
        cfg = cfg.with_overrides(args.overrides)
    check_checkpoint_every(args.checkpoint_every)
    configure_torch(args.threads)
    path = results_file(args.results_dir, exp.name, args.protocol, cfg.seed)  # seed k > 0: <protocol>-seed<k>.json
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=done - 1, desc=f"{exp.name} updates", unit="upd",
                       dynamic_ncols=True, file=sys.stderr)
        bar.update(1)

    methods = ", ".join(METHOD[m].label.replace("-", "+") for m in cfg.trained)  # Table 1 writes MSGD+C
    print(f"{exp.name} / {args.protocol}: {cfg.epochs} epochs of {methods} into {path}", file=sys.stderr)
    try:
        with sigterm_unwinds():
            train_natural(exp, cfg, path, checkpoint_every_s=args.checkpoint_every, progress=progress,
                          argv=list(argv), data=load_data(exp, cfg, data_dir=args.data_dir))
    finally:
        if bar is not None:
            bar.close()
    print(f"saved {path}", file=sys.stderr)
    print(format_natural(path), file=sys.stderr)
    return EXIT_OK
