"""The protocol tables of "The paper in numbers", generated from the registry when the book is built.

back/paper_in_numbers.ipynb quotes the paper; two of its tables are not quotes but the book's own
declarations, so they are written from the code instead of typed: what
``python -m rnnbook run <experiment> --protocol paper`` trains for each experiment of §4.1
(:func:`protocol_rows`, from :mod:`rnnbook.synthetic.experiments`) and what
``python -m rnnbook natural <experiment> --protocol paper`` trains for each natural problem of §4.2
(:func:`natural_rows`, from :mod:`rnnbook.natural.experiments`). A hidden cell of the page renders
each through :func:`rnnbook.book.display.table`, so the page cannot drift from the code::

    from rnnbook.book.protocol_tables import natural_table, protocol_table
    protocol_table()      # the last expression of a cell: one row per experiment of the paper

The rows are plain dicts (numbers stay numbers, shown by :func:`number`) so that they can be
tested without reading HTML. Both functions take the registry as an argument, defaulting to the
book's, so a test can hand them a modified copy.
"""

from __future__ import annotations

from collections.abc import Mapping

from pandas.io.formats.style import Styler

from rnnbook.book.display import table
from rnnbook.natural.experiments import EXPERIMENTS as NATURAL
from rnnbook.synthetic.experiments import EXPERIMENTS

#: The columns of :func:`protocol_table`, in the page's order.
PROTOCOL_COLUMNS = ("experiment", "task", "initialisations", "methods", "hidden", "lr", "threshold", "reg. weight",
                    "batch", "update cap", "validation", "success", "lengths", "seeds")
#: The columns of :func:`natural_table`, in the page's order.
NATURAL_COLUMNS = ("experiment", "corpus", "target", "hidden", "window", "batch", "epochs", "lr MSGD / +C / +CR",
                   "threshold", "reg. weight", "lr halving")


def number(x: float) -> str:
    """A setting as the page prints it: integers with thousands separators, other numbers shortest."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def code(name: str) -> str:
    """An identifier set in code type (the table's cells are HTML)."""
    return f"<code>{name}</code>"


def paper_experiments(experiments: Mapping = EXPERIMENTS) -> dict:
    """The experiments of the paper's §4.1: those whose ``paper`` protocol keeps Fig. 7's update cap.

    (The book's own experiments, e.g. Chapter 3's threshold sweep, also have a ``paper``
    protocol, at a smaller scale; ``rnnbook list`` shows them.)
    """
    cap = experiments["temporal_order"].protocol("paper").settings["max_updates"]
    return {n: e for n, e in experiments.items() if e.protocol("paper").settings["max_updates"] == cap}


def protocol_rows(experiments: Mapping = EXPERIMENTS) -> list[dict]:
    """One row per experiment of the paper (:func:`paper_experiments`), its ``paper`` protocol."""
    rows = []
    for name, exp in paper_experiments(experiments).items():
        p = exp.protocol("paper")
        s = p.settings
        params = ", ".join(f"{k}={v}" for k, v in sorted(dict(exp.task_params).items()))
        values = (
            code(name), code(exp.task) + (f" ({params})" if params else ""), ", ".join(exp.inits),
            ", ".join(exp.methods), s["hidden"], s["lr"], s["threshold"], s["reg_weight"], s["batch"],
            s["max_updates"], f"{number(s['n_valid'])} every {number(s['check_every'])}",
            f"&lt; {number(s['success_error'] * 100)} %",
            ", ".join([*(str(n) for n in p.lengths), *(f"[{a}, {b})" for a, b in p.ranges)]),
            ", ".join(str(x) for x in p.seeds),
        )
        rows.append(dict(zip(PROTOCOL_COLUMNS, values)))
    return rows


def natural_rows(experiments: Mapping = NATURAL) -> list[dict]:
    """One row per natural problem of §4.2, its ``paper`` protocol (learning rates per method)."""
    rows = []
    for name, exp in experiments.items():
        c = exp.protocol("paper")
        target = "next frame" if exp.kind == "music" else ("next character" if exp.ahead == 1 else f"{exp.ahead} ahead")
        values = (
            code(name), exp.corpus, target, c.hidden, c.seq_len, c.batch, c.epochs,
            " / ".join(number(x) for x in (c.lr_msgd, c.lr_msgd_c, c.lr_msgd_cr)), c.threshold,
            f"{number(c.reg_weight)} / t", "yes" if c.lr_halving else "no",
        )
        rows.append(dict(zip(NATURAL_COLUMNS, values)))
    return rows


def _shown(rows: list[dict], columns: tuple[str, ...]) -> Styler:
    numeric = {c for row in rows for c, v in row.items() if not isinstance(v, str)}
    return table(rows, columns, formats={c: number for c in numeric})


def protocol_table(experiments: Mapping = EXPERIMENTS) -> Styler:
    """:func:`protocol_rows` as the page shows it (numbers right-aligned, printed by :func:`number`)."""
    return _shown(protocol_rows(experiments), PROTOCOL_COLUMNS)


def natural_table(experiments: Mapping = NATURAL) -> Styler:
    """:func:`natural_rows` as the page shows it."""
    return _shown(natural_rows(experiments), NATURAL_COLUMNS)


__all__ = ["NATURAL_COLUMNS", "PROTOCOL_COLUMNS", "code", "natural_rows", "natural_table", "number",
           "paper_experiments", "protocol_rows", "protocol_table"]
