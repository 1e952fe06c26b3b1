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

This module parses the command line and turns every failure into its one line and exit status;
the commands live by group: :mod:`~rnnbook.cli.synthetic` (run, merge, generalise),
:mod:`~rnnbook.cli.natural`, :mod:`~rnnbook.cli.campaign`, :mod:`~rnnbook.cli.reading` (list,
show), and the options several of them take are declared once in :mod:`~rnnbook.cli.options`.
No module of this package imports torch at its top: ``--help`` and ``list`` start without it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from rnnbook.cli import campaign, natural, reading, synthetic
from rnnbook.cli.options import (EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE, Parser, Terminated,
                                 command_line)
from rnnbook.errors import ConfigError, TrainingFailed, report

#: Each command: the function that adds its parser and the one that runs it, in ``--help``'s order.
COMMANDS = {
    "run": (synthetic.add_run, synthetic.cmd_run),
    "campaign": (campaign.add_campaign, campaign.cmd_campaign),
    "list": (reading.add_list, reading.cmd_list),
    "show": (reading.add_show, reading.cmd_show),
    "generalise": (synthetic.add_generalise, synthetic.cmd_generalise),
    "natural": (natural.add_natural, natural.cmd_natural),
    "merge": (synthetic.add_merge, synthetic.cmd_merge),
}
LONG_RUNNING = ("run", "natural", "campaign")  # they save what they finished when stopped


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m rnnbook", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", metavar="{run,campaign,list,show,merge,generalise,natural}",
                           parser_class=Parser)
    sub.required = True
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command][1](args, argv)
    except ConfigError as exc:
        return report(exc)  # exactly one line; EXIT_USAGE
    except BrokenPipeError:  # e.g. `python -m rnnbook list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (OSError, MemoryError, TrainingFailed, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and not isinstance(exc, TrainingFailed) and not _out_of_memory(exc):
            raise  # a bug: keep its traceback
        return _failed(exc, argv)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        if argv and argv[0] in LONG_RUNNING:
            print(f"\nrnnbook: {what}; every finished run is saved. Resume with: {command_line(argv)}",
                  file=sys.stderr)
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
    if argv and argv[0] in (*LONG_RUNNING, "generalise", "merge"):
        kept = "; every finished run is saved" if argv[0] in LONG_RUNNING else ""
        resume = f"{kept}; fix that, then resume with: {command_line(argv)}"
    print(f"rnnbook: error: {what}{resume}", file=sys.stderr)
    return EXIT_USAGE

