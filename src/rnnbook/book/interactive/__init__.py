"""Figures a reader can move: the data of three interactive figures, computed here, drawn in the browser.

Three of the book's static figures get an interactive companion, shown beside them:

* :func:`bifurcation_explorer` (Chapter 2.2, the paper's Fig. 3): a slider over the bias ``b`` of
  the one-unit network x_t = w σ(x_{t-1}) + b shows its fixed points (attractors filled, the
  repelling basin boundary open), the cobweb from a chosen start, and the basin every start
  falls into, with the two bifurcation values marked;
* :func:`clipping_explorer` (Chapter 2.3, Fig. 6): the error surface with a slider over the
  clipping threshold and one over the learning rate, and the unclipped and clipped descent paths
  from the same start;
* :func:`cap_explorer` (Chapter 4.1, Fig. 7): a slider over the update cap; every point's rate of
  success recomputed from the committed runs as if they had stopped at that cap
  (:func:`rnnbook.verdicts.outcomes.grid_points` with ``cap=``), censored points drawn hollow.

Everything a figure shows is computed *here*, at build time, by the same functions the static
figures use (:mod:`rnnbook.paper.dynamics`, :mod:`rnnbook.verdicts.outcomes`), for every setting a control can
take; the page only picks the precomputed values for the setting chosen and draws them. The
result is an HTML fragment (a notebook cell's output) holding the data as JSON and a small
self-written script (``widgets.js`` beside this file, vanilla JavaScript drawing SVG): no library,
no CDN, no kernel, no server, so it works offline, from ``file://`` and in the printed PDF (which
shows each figure at its initial setting).

Each ``*_data`` function returns plain JSON-able data; each ``*_explorer`` wraps it in a
:class:`Widget`, which a notebook displays as HTML. Large float arrays travel as base64 of
little-endian float32 (:func:`pack`), decoded by the page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from rnnbook.book.plotting import INIT_LABELS, METHOD_COLORS, METHOD_LABELS
from rnnbook.paper import dynamics as D
from rnnbook.verdicts.outcomes import grid_points

HERE = Path(__file__).resolve().parent
_ids = count()


# ----------------------------------------------------------------------------------------------
# Packing data for the page
# ----------------------------------------------------------------------------------------------


def pack(a) -> dict[str, Any]:
    """A float array as {"shape": [...], "f32": base64 of its little-endian float32 bytes} (NaN kept)."""
    a = np.asarray(a, dtype="<f4")
    return {"shape": list(a.shape), "f32": base64.b64encode(a.tobytes()).decode("ascii")}


def unpack(p: Mapping[str, Any]) -> np.ndarray:
    """The inverse of :func:`pack` (as float64)."""
    return np.frombuffer(base64.b64decode(p["f32"]), dtype="<f4").astype(np.float64).reshape(p["shape"])


def _finite_or_none(a) -> list:
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def _png(image: np.ndarray, cmap: str, vmin: float, vmax: float) -> str:
    """An image (rows from the bottom up) as a data: URI of a PNG in a matplotlib colour map."""
    import matplotlib.image

    buf = io.BytesIO()
    matplotlib.image.imsave(buf, np.asarray(image)[::-1], cmap=cmap, vmin=vmin, vmax=vmax, format="png",
                            metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class Widget:
    """An interactive figure: its kind (which drawing routine of ``widgets.js``), its data, its caption-free
    HTML. Displayed in a notebook through ``_repr_html_``."""

    kind: str
    data: dict[str, Any]
    label: str  # the static figure it accompanies, e.g. "fig-ch2-2-bifurcation"

    def html(self) -> str:
        uid = f"rnnbook-widget-{self.label}-{next(_ids)}"
        payload = json.dumps(self.data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        script = (HERE / "widgets.js").read_text(encoding="utf-8")
        style = (HERE / "widgets.css").read_text(encoding="utf-8")
        return (
            f'<div class="rnnbook-widget rnnbook-{self.kind}" id="{uid}" data-kind="{self.kind}" '
            f'data-for="{html.escape(self.label)}">'
            f'<noscript>This figure needs JavaScript; the static figure beside it shows the same data.</noscript>'
            f'<script type="application/json" class="rnnbook-widget-data">{payload}</script></div>\n'
            f"<style>{style}</style>\n"
            f"<script>{script}\nrnnbookWidgets.mount({json.dumps(uid)});</script>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    @property
    def size(self) -> int:
        """Bytes of the HTML fragment (the page's cost of this figure)."""
        return len(self.html().encode("utf-8"))


# ----------------------------------------------------------------------------------------------
# Fig. 3: fixed points, cobweb and basins over the bias b
# ----------------------------------------------------------------------------------------------

BASIN_LOW, BASIN_HIGH, BASIN_NONE = 0, 1, 2  #: the basin codes: low attractor, high attractor, neither


def basin_codes(w: float, b, x0s, T: int = 2000, tol: float = 1e-3) -> np.ndarray:
    """Which attractor each start falls into, by simulation: shape (len(b), len(x0s)) of
    :data:`BASIN_LOW`, :data:`BASIN_HIGH` or :data:`BASIN_NONE` (a start that stays on the
    repelling fixed point, e.g. exactly on the basin boundary).

    x_T from :func:`rnnbook.paper.dynamics.asymptotic_states`, compared with the attractors of
    :func:`rnnbook.paper.dynamics.attractors`; the start is in the basin of the attractor x_T ends within
    ``tol`` of.
    """
    b = np.asarray(b, dtype=np.float64)
    x_inf = D.asymptotic_states(w, b, x0s, T=T).T          # (len(b), len(x0s))
    att = D.attractors(w, b)                                # (len(b), 2)
    near = np.abs(x_inf[..., None] - att[:, None, :]) < tol  # (len(b), len(x0s), 2)
    return np.where(near[..., 0], BASIN_LOW, np.where(near[..., 1], BASIN_HIGH, BASIN_NONE)).astype(int)


def bifurcation_data(w: float = D.W_DOYA, b_range: tuple[float, float] = (-4.0, -1.0), b_step: float = 0.01,
                     x_range: tuple[float, float] = (-4.0, 4.0), start_step: float = 0.25,
                     basin_step: float = 0.05, cobweb_steps: int = 12, T: int = 2000) -> dict[str, Any]:
    """Everything the bifurcation explorer can show, for every b of the slider's grid.

    ``b``: the slider's values; ``fixed``: :func:`rnnbook.paper.dynamics.fixed_points` (low, middle,
    high; null where absent) and ``stable``: |F'(x*)| < 1 (:func:`rnnbook.paper.dynamics.multiplier`);
    ``starts`` and ``paths``: the cobweb from each start, as the trajectory x_0..x_n of
    :func:`rnnbook.paper.dynamics.trajectory` (the cobweb of :func:`rnnbook.paper.dynamics.cobweb` is drawn
    from it: (x_0, x_0), (x_0, x_1), (x_1, x_1), ...); ``basin_x0`` and ``basins``: the basin of
    every start of a finer grid (:func:`basin_codes`), one string of codes per b; ``branches``:
    the attractors and the basin boundary over the whole b range; ``curve_x``/``curve_wsig``:
    w σ(x), so that F(x) = w σ(x) + b is drawn by adding b; ``bif``: the two saddle-node
    bifurcations (:func:`rnnbook.paper.dynamics.bifurcation_points`).
    """
    n_b = int(round((b_range[1] - b_range[0]) / b_step)) + 1
    b = np.round(np.linspace(b_range[0], b_range[1], n_b), 10)
    fp = D.fixed_points(w, b)
    stable = np.abs(D.multiplier(fp, w)) < 1
    starts = np.round(np.arange(x_range[0], x_range[1] + start_step / 2, start_step), 10)
    paths = D.trajectory(starts[None, :], w, b[:, None], cobweb_steps)      # (n + 1, n_b, n_starts)
    basin_x0 = np.round(np.arange(x_range[0], x_range[1] + basin_step / 2, basin_step), 10)
    codes = basin_codes(w, b, basin_x0, T=T)
    curve_x = np.linspace(x_range[0], x_range[1], 321)
    bif = D.bifurcation_points(w)
    att = D.attractors(w, b)
    return {
        "w": float(w),
        "b": b.tolist(),
        "x_range": list(x_range),
        "fixed": [_finite_or_none(row) for row in fp],
        "stable": [[bool(s) and math.isfinite(x) for s, x in zip(srow, row)] for srow, row in zip(stable, fp)],
        "starts": starts.tolist(),
        "cobweb_steps": int(cobweb_steps),
        "paths": pack(np.moveaxis(paths, 0, -1)),                           # (n_b, n_starts, n + 1)
        "basin_x0": basin_x0.tolist(),
        "basin_T": int(T),
        "basins": ["".join(map(str, row)) for row in codes],
        "branches": {"low": _finite_or_none(att[:, 0]), "high": _finite_or_none(att[:, 1]),
                     "boundary": _finite_or_none(D.basin_boundary(w, b))},
        "curve_x": curve_x.tolist(),
        "curve_wsig": (D.step(curve_x, w, 0.0)).tolist(),
        "bif": {"b_1": bif.b_1, "b_2": bif.b_2, "x_1": bif.x_1, "x_2": bif.x_2},
        "initial": {"b": -2.5, "x0": 0.5},
    }


def bifurcation_explorer(**kwargs) -> Widget:
    """The interactive companion of the paper's Fig. 3 (see :func:`bifurcation_data`)."""
    return Widget("bifurcation", bifurcation_data(**kwargs), "fig-ch2-2-bifurcation")


# ----------------------------------------------------------------------------------------------
# Fig. 6: gradient descent on the error surface, with and without clipping
# ----------------------------------------------------------------------------------------------

#: The chapter's six starts: one unit below and one above the wall at w = 5, 6.5, 8.
def fig6_starts() -> np.ndarray:
    """The six starts of Chapter 2.3: (w, b) one unit below and one unit above the wall at w = 5, 6.5, 8."""
    w = np.array([5.0, 6.5, 8.0])
    wall = 0.5 - w * float(D.logistic(0.5))
    return np.r_[np.c_[w, wall - 1.0], np.c_[w, wall + 1.0]]


THRESHOLDS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)
LEARNING_RATES = (0.03, 0.1, 0.3, 1.0)


def clipping_data(starts=None, thresholds: Sequence[float] = THRESHOLDS, lrs: Sequence[float] = LEARNING_RATES,
                  steps: int = 400, w_range=(1.0, 10.0), b_range=(-7.0, 1.0), pixels: int = 200) -> dict[str, Any]:
    """Descent paths on E_50(w, b) for every start, learning rate and threshold of the sliders.

    ``plain[lr]`` and ``clipped[lr][threshold]``: (start, update, (w, b)) paths of
    :func:`rnnbook.paper.dynamics.gradient_descent` without and with Algorithm 1's clipping;
    ``outcomes``: per run, from :func:`rnnbook.paper.dynamics.valley_outcomes` (final error, updates
    clipped, longest step, whether it left the valley); ``surface``: E_50 on a ``pixels`` ×
    ``pixels`` grid (:func:`rnnbook.paper.dynamics.error_surface`) as a viridis PNG from 0 to 0.5, the
    colours of the chapter's contour map; ``wall``: the wall line b = 0.5 − σ(0.5) w.
    """
    starts = fig6_starts() if starts is None else np.atleast_2d(np.asarray(starts, dtype=np.float64))
    plain, clipped, out_plain, out_clipped = [], [], [], []

    def summary(path):
        o = D.valley_outcomes(path)
        return {"final_E": _finite_or_none(o["final_E"]), "clip_count": [int(c) for c in o["clip_count"]],
                "longest_step": _finite_or_none(o["longest_step"]), "left": [bool(v) for v in o["left"]],
                "ended_inside": [bool(v) for v in o["ended_inside"]],
                "final_theta": [_finite_or_none(t) for t in o["final_theta"]]}

    for lr in lrs:
        p = D.gradient_descent(starts, lr, steps)
        plain.append(np.moveaxis(p.theta, 0, 1))                     # (start, step, 2)
        out_plain.append(summary(p))
        row, orow = [], []
        for thr in thresholds:
            c = D.gradient_descent(starts, lr, steps, thr)
            row.append(np.moveaxis(c.theta, 0, 1))
            orow.append(summary(c))
        clipped.append(row)
        out_clipped.append(orow)
    wc = np.linspace(*w_range, pixels)
    bc = np.linspace(*b_range, pixels)
    E = D.error_surface(*np.meshgrid(wc, bc)).E                       # rows b, columns w
    s05 = float(D.logistic(0.5))
    return {
        "starts": starts.tolist(),
        "lrs": [float(v) for v in lrs],
        "thresholds": [float(v) for v in thresholds],
        "steps": int(steps),
        "plain": pack(np.array(plain)),                                # (lr, start, step + 1, 2)
        "clipped": pack(np.array(clipped)),                            # (lr, threshold, start, step + 1, 2)
        "outcomes": {"plain": out_plain, "clipped": out_clipped},
        "w_range": list(w_range),
        "b_range": list(b_range),
        "surface": _png(E, "viridis", 0.0, 0.5),
        "wall": {"w_min": 1.0 / float(D.dlogistic(0.5)), "slope": -s05, "intercept": 0.5},
        "initial": {"lr": 0.3, "threshold": 1.0, "start": 1},
    }


def clipping_explorer(**kwargs) -> Widget:
    """The interactive companion of Fig. 6's descent paths (see :func:`clipping_data`)."""
    return Widget("clipping", clipping_data(**kwargs), "fig-ch2-3-descent")


# ----------------------------------------------------------------------------------------------
# Fig. 7: the rate of success under any update cap
# ----------------------------------------------------------------------------------------------


def cap_grid(runs: Sequence[Mapping[str, Any]], n: int = 41) -> list[int]:
    """The caps of the slider: log-spaced from one check interval to the largest cap any run
    trained to, on multiples of the check interval (success is only seen at checks), with every
    cap the runs were trained to included."""
    check = max(int(r["config"]["check_every"]) for r in runs)
    top = max(int(r["config"]["max_updates"]) for r in runs)
    grid = np.round(np.logspace(np.log10(check), np.log10(top), n) / check) * check
    trained = {int(r["config"]["max_updates"]) for r in runs}
    return sorted({int(c) for c in grid if c >= check} | trained)


def runs_digest(runs: Sequence[Mapping[str, Any]]) -> str:
    """A fingerprint of what :func:`cap_data` reads from each run (its point, seed, cap and outcome),
    so that a reader of the page (or the browser test) can tell whether the file has changed since."""
    import hashlib

    fields = [(r["config"]["init"], r["config"]["method"], r["config"]["min_length"], r["config"]["max_length"],
               r["config"].get("seed"), int(r["config"]["max_updates"]), bool(r["success"]), r.get("first_success_update"),
               bool(r.get("diverged")), int(r["updates"])) for r in runs]
    return hashlib.sha256(json.dumps(sorted(fields, key=str)).encode()).hexdigest()[:16]


def cap_data(data: Mapping[str, Any], caps: Sequence[int] | None = None, *, paper_cap: int | None = None,
             inits: Sequence[str] | None = None, methods: Sequence[str] | None = None) -> dict[str, Any]:
    """Every point of a results file at every cap of the slider (:func:`rnnbook.verdicts.outcomes.grid_points`
    with ``cap=``): runs, successes, censored, diverged and the exact 95 % interval.

    A run that succeeded after the cap, or was still training at it, counts as censored there;
    a run trained to a lower cap than the one read stays censored (it never saw the later updates).
    """

    runs = data["runs"]
    if not runs:
        raise ValueError("cap_data: the results file holds no finished runs")
    caps = cap_grid(runs) if caps is None else sorted(int(c) for c in caps)
    base = grid_points(data)
    inits = list(inits or dict.fromkeys(p.init for p in base))
    methods = list(methods or dict.fromkeys(p.method for p in base))
    lengths = sorted({p.min_length for p in base})
    keys = [(p.init, p.method, p.min_length) for p in base]
    table = []
    for cap in caps:
        at = {(p.init, p.method, p.min_length): p for p in grid_points(data, cap=cap)}
        table.append([[at[k].runs, at[k].successes, at[k].censored, at[k].diverged,
                       round(at[k].interval[0], 4), round(at[k].interval[1], 4)] for k in keys])
    trained = sorted({int(r["config"]["max_updates"]) for r in runs})
    return {
        "source": {"runs": len(runs), "digest": runs_digest(runs)},
        "caps": caps,
        "trained_caps": trained,
        "paper_cap": paper_cap,
        "points": [list(k) for k in keys],
        "fields": ["runs", "successes", "censored", "diverged", "ci_low", "ci_high"],
        "table": table,                                              # [cap][point][field]
        "inits": inits,
        "methods": methods,
        "lengths": lengths,
        "labels": {"init": {k: INIT_LABELS.get(k, k) for k in inits},
                   "method": {k: METHOD_LABELS.get(k, k) for k in methods}},
        "colors": {k: METHOD_COLORS.get(k, "#333333") for k in methods},
        "initial": {"cap": max(trained, key=lambda c: sum(int(r["config"]["max_updates"]) == c for r in runs))},
    }


def cap_explorer(data: Mapping[str, Any], **kwargs) -> Widget:
    """The interactive companion of the paper's Fig. 7 (see :func:`cap_data`)."""
    return Widget("caps", cap_data(data, **kwargs), "fig-ch4-1-figure7")
