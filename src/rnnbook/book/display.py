"""Tables and glued facts: what lets a chapter cell read like prose.

A chapter shows its results in two ways, and this module gives each one helper.

**Tables.** :func:`table` turns rows (dicts, lists with ``columns=``, or a ``DataFrame``) into a
pandas ``Styler``: the last expression of a cell renders it as static HTML (a ``<style>`` block and
a ``<table>``; no script, no CDN), so the book stays readable offline. Numbers keep the format the
cell asks for (``formats={"rate": "{:.1%}", "updates": "{:,}"}``); cells may also pass values
already formatted as text. Text columns are aligned left, numeric columns right, and the caption
sits above the table, as in the scoreboard (:func:`rnnbook.verdicts.scoreboard.styled`). The table's HTML
ids come from a hash of its content, so an unchanged table renders to identical HTML::

    from rnnbook.book.display import table
    table([{"method": "MSGD", "solved": 3, "rate": 0.6}], formats={"rate": "{:.0%}"},
          caption="Runs solved within the cap")

**Glued facts.** The prose never types a measured number (``tests/book/test_prose_numbers.py``); it
glues it (``{glue:}`name```). Rather than one ``glue(...)`` line per number, a cell computes
the facts of a section as one dictionary (ideally with a function in ``src/``) and glues them all::

    from rnnbook.book.display import glue_all
    glue_all({"finished": 40, "planned": 45, "caps": "10,000 and 100,000"}, prefix="p_")
    # the prose reads {glue:}`p_finished` of {glue:}`p_planned` runs ...

``glue_all`` never displays anything: the numbers appear where the prose puts them.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable, Iterable, Mapping

import pandas as pd
from myst_nb import glue
from pandas.io.formats.style import Styler

#: What a table shows for a missing value (``None`` or NaN), as the hand-written tables did.
MISSING = "—"

#: The book's table look: compact cells, a caption above, a rule under the header.
TABLE_STYLES = [
    {"selector": "th, td", "props": "padding: 2px 8px; vertical-align: top;"},
    {"selector": "th", "props": "text-align: left; border-bottom: 1px solid #999999;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; padding-bottom: 4px;"},
]

Format = str | Callable[[object], str]


def frame(rows, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """``rows`` as a DataFrame: a DataFrame as it is, dicts keyed by column, or sequences with ``columns``."""
    if isinstance(rows, pd.DataFrame):
        return rows if columns is None else rows[list(columns)]
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        df = pd.DataFrame(rows)
        return df if columns is None else df[list(columns)]
    if columns is None and rows:
        raise ValueError("rows given as sequences need columns=[...] (their headers)")
    return pd.DataFrame(rows, columns=list(columns or []))


def _numeric(column: pd.Series) -> bool:
    """True when every present value is a real number (bools are text-like: yes/no)."""
    values = [v for v in column if v is not None and not (isinstance(v, float) and v != v)]
    return bool(values) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


def table(rows, columns: Iterable[str] | None = None, *, formats: Mapping[str, Format] | None = None,
          caption: str = "", small: Iterable[str] = (), escape: bool = False) -> Styler:
    """A static HTML table of ``rows`` (see the module docstring), ready to be a cell's last expression.

    ``formats`` maps a column to a format string (``"{:,}"``) or a function; other numbers print as
    Python prints them. ``small`` lists columns set in a smaller font (long provenance texts).
    ``escape=False`` (the default) lets headers and cells carry inline HTML such as
    ``W<sub>rec</sub>``; pass ``escape=True`` for text that may hold ``<`` or ``&``.
    Use ``display(table(...))`` when the table is not the cell's last expression.
    """
    df = frame(rows, columns).reset_index(drop=True)
    digest = hashlib.sha1((caption + df.to_json(default_handler=str)).encode()).hexdigest()[:10]
    shown = {c: (formats or {}).get(c, str) for c in df.columns}   # unformatted values print as Python prints them
    styler = Styler(df, uuid=f"rnnbook_{digest}", cell_ids=False, na_rep=MISSING, formatter=shown,
                    escape="html" if escape else None)
    styler = styler.hide(axis="index").set_table_styles(TABLE_STYLES)
    right = [c for c in df.columns if _numeric(df[c])]
    if right:
        styler = styler.set_properties(subset=right, **{"text-align": "right", "font-variant-numeric": "tabular-nums"})
        styler = styler.set_table_styles({c: [{"selector": "th", "props": "text-align: right;"}] for c in right},
                                         overwrite=False)
    small = [c for c in small if c in df.columns]
    if small:
        styler = styler.set_properties(subset=small, **{"font-size": "85%"})
    return styler.set_caption(caption) if caption else styler


def html(rows, columns: Iterable[str] | None = None, **kwargs) -> str:
    """:func:`table` as an HTML string (to embed in a larger piece of HTML, or to test)."""
    return table(rows, columns, **kwargs).to_html()


def glue_all(facts: Mapping[str, object], prefix: str = "") -> None:
    """Glue every ``name: value`` of ``facts`` as ``prefix + name``, without displaying anything.

    The values are glued as they are: format numbers the way the prose shows them before (an
    ``int``, a ``float`` read through ``{glue:text}`name:.2f```, or a ready string such as
    ``"3 of 5"``).
    """
    for name, value in facts.items():
        glue(f"{prefix}{name}", value, display=False)


__all__ = ["MISSING", "TABLE_STYLES", "frame", "glue_all", "html", "table"]
