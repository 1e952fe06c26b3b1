"""The command line every stored study shares: ``python -m rnnbook.studies.<study> [--protocol P] ...``.

A stored study (:mod:`rnnbook.studies.omega_study`, :mod:`~rnnbook.studies.l2_study`,
:mod:`~rnnbook.studies.error_clipping_outcomes`, :mod:`~rnnbook.studies.modern`) is run the same way:
a protocol (``paper`` by default, ``quick`` for a smoke run), a results folder, optionally a
wall-clock budget, one torch thread, progress on stderr, and any bad input as one
``rnnbook: error:`` line with exit status 2 (:func:`rnnbook.errors.report`). :func:`study_main` is
that command; a study adds only its own options and says how to call its ``run_study``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rnnbook.engine.process import configure_torch, seed_everything
from rnnbook.errors import ArgumentParser, ConfigError, parse_budget, report

#: ``run(args, budget_s, say)``: the study's ``run_study`` called with the parsed options.
Run = Callable[[argparse.Namespace, "float | None", Callable[[str], None]], object]


def study_main(argv: Sequence[str] | None, prog: str, description: str, run: Run, *,
               budget_help: str | None = None, seed: int | None = 2013,
               add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """Parse ``argv`` (``--protocol``, ``--results-dir``, ``--budget`` when ``budget_help`` says what
    it bounds, and the study's own options from ``add_arguments``), then ``run`` it; 0, or 2 after one
    error line. ``seed``: torch's global seed first, as the notebooks' ``runtime.setup`` does (``None``
    for a study whose runs draw only from their own generators)."""
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("--protocol", default="paper", help="paper (default) or quick (a smoke run, not the study)")
    parser.add_argument("--results-dir", default="results")
    if budget_help is not None:
        parser.add_argument("--budget", default=None, help=f"{budget_help} (2h, 40m, 45s)")
    if add_arguments is not None:
        add_arguments(parser)
    try:
        args = parser.parse_args(argv)
        budget = parse_budget(args.budget) if getattr(args, "budget", None) is not None else None
        configure_torch(None)
        if seed is not None:
            seed_everything(seed)
        run(args, budget, lambda s: print(s, file=sys.stderr, flush=True))
    except ConfigError as exc:
        return report(exc)
    return 0
