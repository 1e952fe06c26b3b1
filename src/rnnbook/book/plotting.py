"""The book's one figure style, and saving figures under stable, citable names.

Every figure of the book is drawn by a notebook cell that calls :func:`save_figure`, which
writes ``figures/<name>.png``, ``figures/<name>.svg`` and ``figures/<name>.pdf`` at the book's
root. Names follow ``fig-ch<N>-<slug>`` (e.g. ``fig-ch1-unrolled``) for chapter N, and
``fig-glossary-<slug>`` for the glossary's small pictures (pages under ``back/``); they never
change once published, so a reader's notes that cite "Fig. 1.2 (fig-ch1-contributions)" keep
pointing at the same picture. The figure's caption (cell metadata ``mystnb.figure``) links the
three files for download.

Beside the style: the methods' colours and labels, page-wide multi-panel figures, and numbers
written for prose (:func:`format_power`, :func:`power_text`). Chapter 4's results figures (Fig. 7,
survival curves, plateaus) are drawn by :mod:`rnnbook.book.sweep_figures` in this style.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import matplotlib
import matplotlib.figure
import matplotlib.pyplot as plt

FIGURE_NAME = re.compile(r"^fig-(?:ch\d+(?:-\d+)?|glossary)-[a-z0-9]+(?:-[a-z0-9]+)*$")
FIGURES_ENV = "RNNBOOK_FIGURES_DIR"

#: Colours of the paper's three methods and three initialisations, used by every chapter.
METHOD_COLORS = {"msgd": "#7f7f7f", "msgd_c": "#1f77b4", "msgd_cr": "#d62728"}
METHOD_LABELS = {"msgd": "MSGD", "msgd_c": "MSGD-C", "msgd_cr": "MSGD-CR"}
INIT_LABELS = {"sigmoid": "sigmoid", "basic_tanh": "basic tanh", "smart_tanh": "smart tanh"}

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "svg.hashsalt": "rnnbook",  # stable element ids: the same figure gives the same SVG
    "svg.fonttype": "path",
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (called by :func:`rnnbook.book.runtime.setup`)."""
    plt.rcParams.update(STYLE)


def book_root(start: Path | None = None) -> Path:
    """The folder holding ``_config.yml``, found upwards from ``start`` (default: the cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no book root (_config.yml + _toc.yml) above {here}")


def figures_dir() -> Path:
    """Where figures are written: ``$RNNBOOK_FIGURES_DIR`` or ``<book root>/figures``."""
    env = os.environ.get(FIGURES_ENV)
    folder = Path(env) if env else book_root() / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_figure(fig: matplotlib.figure.Figure, name: str) -> dict[str, Path]:
    """Write ``fig`` as PNG, SVG and PDF under its stable ``name``; return the three paths.

    The files carry no timestamp (the PDF has no ``CreationDate``), so rebuilding an unchanged
    figure gives identical files.
    """
    if not FIGURE_NAME.match(name):
        raise ValueError(f"figure name {name!r} must look like 'fig-ch<N>-<slug>' or 'fig-glossary-<slug>'"
                         " (lower case, digits, dashes)")
    folder = figures_dir()
    paths = {}
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None}),
                      ("pdf", {"CreationDate": None, "Creator": None, "Producer": None})):
        path = folder / f"{name}.{ext}"
        fig.savefig(path, format=ext, metadata=meta)
        paths[ext] = path
    return paths


#: Figures with several panels are drawn for the page, not the text column: the notebook cell
#: carries the tag ``full-width`` (the theme then gives it 136 % of the column) and the figure is
#: this wide, so that 10-pt labels and 9-pt legends stay readable in the HTML.
PAGE_WIDTH = 12.0
LEGEND_FONTSIZE = 9


def page_figure(nrows: int = 1, ncols: int = 3, *, height: float = 3.9, **kwargs):
    """A multi-panel figure laid out for the page: ``PAGE_WIDTH`` wide, constrained layout.

    Use it for every figure with three or more panels, in a cell tagged ``full-width``.
    """
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, height), **kwargs)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_power(x: float, digits: int = 1) -> str:
    """A number for prose, in scientific notation with Unicode superscripts: 3.9 × 10⁻¹¹.

    Used with myst-nb ``glue`` so that prose carries the computed value (``{glue:}`name```).
    Numbers between 0.01 and 1000 are written plainly, with ``digits`` decimals.
    """
    x = float(x)
    if x == 0 or 1e-2 <= abs(x) < 1e3:
        return f"{x:.{digits}f}"
    exponent = int(f"{x:e}".split("e")[1])
    mantissa = x / 10**exponent
    if round(abs(mantissa), digits) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits}f} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def power_text(x: float) -> str:
    """``10⁵`` for an exact power of ten, else :func:`format_power`'s ``2.5 × 10⁵``."""
    exponent = round(math.log10(x)) if x > 0 else 0
    if x > 0 and 10**exponent == x:
        return f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return format_power(x, 1)
