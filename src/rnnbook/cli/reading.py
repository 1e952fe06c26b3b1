"""The commands that only read: ``list`` (experiments, protocols and their cost; the settings one
may change) and ``show`` (the success-rate table of results files, with the book's verdicts).

The registries are imported inside the commands, not at the top: they bring torch, and
``python -m rnnbook --help`` should start without it.
"""

from __future__ import annotations

from typing import Sequence

from rnnbook.cli.options import EXIT_OK, add_options
from rnnbook.cli.synthetic import experiments


def add_list(sub) -> None:
    ls = sub.add_parser("list", help="experiments, protocols, run counts and worst-case cost")
    add_options(ls, "--config", help="also list the experiments of this file")


def add_show(sub) -> None:
    s = sub.add_parser("show", help="success-rate table of results files (Table 1's: best-validation scores)")
    s.add_argument("files", nargs="+", metavar="RESULTS.json")


def _columns(head: list[str], rows: list[list[str]]) -> str:
    """A fixed-width table: ``head``, a rule, ``rows``; each column as wide as its widest cell."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head, ["-" * w for w in widths], *rows])


def _synthetic_rows(table: dict, extra: dict) -> list[list[str]]:
    rows = []
    for name, exp in table.items():
        for pname in exp.protocols:
            w = exp.worst_case(pname)
            p = exp.protocol(pname)
            lengths = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in p.length_points)
            rows.append([name + (" *" if name in extra else ""), pname, str(w["runs"]),
                         f"{p.settings['max_updates']:,}", lengths, f"{w['max_updates']:.2e}",
                         f"{w['core_hours']:.3g}"])
    return rows


def cmd_list(args, argv: Sequence[str]) -> int:
    from rnnbook.natural.experiments import EXPERIMENTS as NATURAL
    from rnnbook.natural.experiments import SETTINGS as NATURAL_SETTINGS
    from rnnbook.settings import describe
    from rnnbook.synthetic.experiments import STEPS_PER_CORE_SECOND
    from rnnbook.synthetic.runs import RUN_SETTINGS

    table, extra = experiments(args.config)
    head = ["experiment", "protocol", "runs", "cap/run", "lengths", "updates (max)", "core-h (max)"]
    print(_columns(head, _synthetic_rows(table, extra)))
    print(
        f"\ncore-h (max): rough cost if every run trains to its cap, on one CPU core at ~{STEPS_PER_CORE_SECOND:,.0f}\n"
        "model-time-steps/s (measured with the compiled CPU kernel, validation and regularizer included;\n"
        "~1.6x longer without it). Runs that succeed stop early; --workers N divides the wall time by\n"
        "up to N. quick = smoke scale, not the paper's protocol."
        + ("\n* = from the config file" if extra else "")
    )
    print("\nSettings a protocol, a config file or --set NAME=VALUE may change:\n" + describe(RUN_SETTINGS))
    print("\nTable 1 (§4.2): python -m rnnbook natural NAME [--protocol quick|paper] [--set NAME=VALUE]")
    for name, exp in NATURAL.items():
        for pname, c in exp.protocols.items():
            print(f"  {name:<16}{pname:<7}{c.hidden:>4} units, {c.seq_len}-step windows, batch {c.batch}, "
                  f"{c.epochs} epochs  ({exp.paper})")
    print("\nSettings of Table 1's protocols:\n" + describe(NATURAL_SETTINGS))
    return EXIT_OK


def cmd_show(args, argv: Sequence[str]) -> int:
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
