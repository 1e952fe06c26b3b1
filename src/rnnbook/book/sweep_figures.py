"""Chapter 4's results figures: rates of success, survival curves, plateaus, training curves.

These draw what a sweep's results file says (:mod:`rnnbook.verdicts.outcomes` reads it): the paper's Fig. 7
as rates of success with exact intervals (:func:`success_panels`), the fraction of runs solved
against updates with censoring taken into account (Kaplan–Meier, :func:`survival_panels`), how
long runs sit on the loss plateau (:func:`plateau_figure`), and single runs from the inside
(:func:`runs_from_inside`, :func:`validation_curves`). The style, the labels and the colours of
the methods come from :mod:`rnnbook.book.plotting`, which also saves the figures under their names.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from rnnbook.book.plotting import INIT_LABELS, LEGEND_FONTSIZE, METHOD_COLORS, METHOD_LABELS, page_figure, power_text
from rnnbook.verdicts.outcomes import plateau_end, plateau_survival
from rnnbook.verdicts.survival import kaplan_meier

#: Horizontal offsets of the three methods around a length's slot (lengths sit at 0, 1, 2, ...),
#: so that points, intervals and bars of different methods never cover each other.
METHOD_OFFSETS = {"msgd": -0.22, "msgd_c": 0.0, "msgd_cr": 0.22}
DIVERGED_MARK = {"marker": "x", "color": "#000000", "s": 30, "lw": 1.4, "zorder": 5}
#: (line style, width, z-order) of each method's survival curve: MSGD dashed and on top, so that
#: curves lying on each other at 0 all stay visible
SURVIVAL_STYLE = {"msgd": ((0, (4, 2)), 1.7, 4), "msgd_c": ("-", 2.2, 3), "msgd_cr": ("-", 1.5, 2)}


def success_panels(points, inits, methods, *, planned: int, title_suffix: str = ""):
    """Rate of success against length, one panel per initialisation, one colour per method.

    Each point is the fraction of its ``planned`` runs solved within the cap, with its exact
    95 % interval (thin bar). Lengths are evenly spaced slots and the methods sit side by side
    in each slot. Filled marker: every run finished (solved, diverged, or failed for good);
    hollow: some runs were censored, and a pale bar shows how high the rate goes if they all
    succeed later; hollow diamond: runs not finished yet. A black cross beside a point counts
    its diverged runs (NaN or overflow: a final outcome, not a censored one). The legend sits
    below the panels.
    """

    lengths = sorted({p.min_length for p in points})
    slot = {T: i for i, T in enumerate(lengths)}
    fig, axes = page_figure(1, len(inits), height=3.9, sharey=True)
    axes = list(getattr(axes, "flat", [axes]))
    any_diverged = any_censored = any_open = False
    for ax, init in zip(axes, inits):
        for method in methods:
            pts = sorted((p for p in points if p.init == init and p.method == method), key=lambda p: p.min_length)
            if not pts:
                continue
            c = METHOD_COLORS[method]
            x = [slot[p.min_length] + METHOD_OFFSETS.get(method, 0.0) for p in pts]
            low = [p.successes / planned for p in pts]
            ax.plot(x, low, color=c, lw=1.1, alpha=0.8, zorder=2)
            for xi, yi, p in zip(x, low, pts):
                undecided = p.censored + planned - p.runs
                if undecided:
                    ax.vlines(xi + 0.07, yi, (p.successes + undecided) / planned, color=c, lw=3.5, alpha=0.2,
                              zorder=1)
                if p.runs == planned:
                    lo, hi = p.interval
                    ax.vlines(xi, lo, hi, color=c, lw=0.9, alpha=0.7, zorder=2)
                    ax.hlines([lo, hi], xi - 0.05, xi + 0.05, color=c, lw=0.9, alpha=0.7, zorder=2)
                    ax.scatter([xi], [yi], s=30, lw=1.4, edgecolor=c, zorder=4,
                               facecolor="white" if p.censored else c)
                    any_censored |= bool(p.censored)
                else:
                    ax.scatter([xi], [yi], marker="D", s=26, lw=1.2, facecolor="white", edgecolor=c, zorder=4)
                    any_open = True
                if p.diverged:
                    ax.scatter([xi + 0.09], [yi + 0.06], **DIVERGED_MARK)
                    ax.annotate(f"{p.diverged} diverged", (xi + 0.09, yi + 0.06), xytext=(4, 3),
                                textcoords="offset points", fontsize=8)
                    any_diverged = True
        ax.set_xticks(range(len(lengths)), [str(T) for T in lengths])
        ax.set_xlim(-0.5, len(lengths) - 0.5)
        ax.set_title(INIT_LABELS.get(init, init) + title_suffix)
        ax.set_xlabel("sequence length $T$")
        ax.set_ylim(-0.05, 1.08)
    axes[0].set_ylabel(f"rate of success ({planned} seeds)")
    handles = [Line2D([], [], color=METHOD_COLORS[m], marker="o", lw=1.1, label=METHOD_LABELS[m]) for m in methods]
    handles.append(Line2D([], [], color="#555555", marker="o", lw=0, label="all runs finished"))
    if any_censored:
        handles.append(Line2D([], [], color="#555555", marker="o", markerfacecolor="white", lw=0,
                              label="some censored (pale bar: if they all succeed later)"))
    if any_open:
        handles.append(Line2D([], [], color="#555555", marker="D", markerfacecolor="white", lw=0,
                              label="runs still training"))
    if any_diverged:
        handles.append(Line2D([], [], color="#000000", marker="x", lw=0, label="diverged runs (NaN)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=LEGEND_FONTSIZE)
    return fig


def survival_panels(groups, lengths, methods, *, x_min: float = 1e3):
    """Fraction of runs solved against updates (log axis), one panel per length.

    ``groups[(method, T)]`` is the list of the point's run records (``first_success_update``,
    ``success``, ``updates``, ``diverged``). Each curve is the Kaplan–Meier estimate
    (:func:`rnnbook.verdicts.survival.kaplan_meier`) with its band, drawn up to the longest time any of
    its runs was watched; a vertical tick marks where runs were censored, with their number,
    and a cross where runs diverged. Every panel shares one logarithmic axis, so that methods
    followed to different caps are all visible.
    """

    fig, axes = page_figure(1, len(lengths), height=3.3, sharey=True, sharex=True)
    axes = list(getattr(axes, "flat", [axes]))
    x_max = max((r["updates"] for recs in groups.values() for r in recs), default=10 * x_min)
    curves = {}
    for ax, T in zip(axes, lengths):
        for method in methods:
            recs = groups.get((method, T))
            if not recs:
                continue
            c = METHOD_COLORS[method]
            # a diverged run can never succeed: at risk for ever (as GridPoint.survival has it)
            km = kaplan_meier([r["first_success_update"] if r["success"] else None for r in recs],
                              [math.inf if r.get("diverged") else r["updates"] for r in recs])
            curves[method, T] = km
            end = max(r["updates"] for r in recs)
            xs = [x_min, *km.updates, end]
            ax.step(xs, [0.0, *km.solved, km.solved[-1] if km.solved else 0.0], where="post", color=c,
                    lw=SURVIVAL_STYLE[method][1], ls=SURVIVAL_STYLE[method][0], zorder=SURVIVAL_STYLE[method][2],
                    label=METHOD_LABELS[method])
            if km.updates:
                ax.fill_between([*km.updates, end], [*km.low, km.low[-1]], [*km.high, km.high[-1]],
                                step="post", color=c, alpha=0.13, lw=0)
            stops: dict[int, list[bool]] = {}
            for r in recs:
                if not r["success"]:
                    stops.setdefault(int(r["updates"]), []).append(bool(r.get("diverged")))
            for u, kinds in sorted(stops.items()):
                y = km.solved_by(u)
                n_div = sum(kinds)
                if len(kinds) > n_div:
                    ax.plot([u], [y], marker="|", ms=11, mew=1.6, color=c, zorder=4)
                    ax.annotate(str(len(kinds) - n_div), (u, y), xytext=(-4, 4 + 9 * methods.index(method)),
                                textcoords="offset points", fontsize=7, color=c, ha="right")
                if n_div:
                    ax.scatter([u], [y], **{**DIVERGED_MARK, "s": 22})
        ax.set_xscale("log")
        ax.set_xlim(x_min, x_max * 1.6)
        ax.set_title(f"$T = {T}$")
        ax.set_xlabel("updates")
    axes[0].set_ylabel("fraction of runs solved")
    axes[0].set_ylim(-0.03, 1.03)

    handles = [Line2D([], [], color=METHOD_COLORS[m], ls=SURVIVAL_STYLE[m][0], lw=SURVIVAL_STYLE[m][1],
                      label=METHOD_LABELS[m]) for m in methods]
    handles.append(Line2D([], [], color="#555555", marker="|", ms=10, mew=1.6, lw=0,
                          label="censored runs (their number): stopped unsolved at the cap"))
    if any(r.get("diverged") for recs in groups.values() for r in recs):
        handles.append(Line2D([], [], color="#000000", marker="x", lw=0, label="diverged"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=LEGEND_FONTSIZE)
    return fig, curves


def plateau_figure(records, methods, *, cap: int | None = None):
    """How long the loss stays at ``ln 4``: each run (left) and the censoring-aware estimate (right).

    Left: one dot per run at the first check with mean training loss below ``ln 4 - 0.1``
    (:func:`rnnbook.verdicts.outcomes.plateau_end`); runs that never left the plateau are open triangles at
    the update where they stopped (a lower bound), spread a little sideways, with their number
    written beside each stack. Right: the fraction of runs still on the plateau against updates
    (:func:`rnnbook.verdicts.outcomes.plateau_survival`, Kaplan–Meier), all runs and those at the longer
    lengths, read at ``cap``.
    """


    fig, (ax, ax_km) = page_figure(1, 2, height=3.6, width_ratios=(1.25, 1))
    lengths = sorted({r["config"]["min_length"] for r in records})
    slot = {T: i for i, T in enumerate(lengths)}
    rng = np.random.default_rng(0)  # the sideways spread only; fixed so the figure is reproducible
    for method in methods:
        mine = [r for r in records if r["config"]["method"] == method]
        c = METHOD_COLORS[method]
        left = [(r, plateau_end(r)) for r in mine]
        x = [slot[r["config"]["min_length"]] + METHOD_OFFSETS.get(method, 0.0) + rng.uniform(-0.06, 0.06)
             for r, e in left if e is not None]
        ax.scatter(x, [e for r, e in left if e is not None], color=c, s=16, alpha=0.85, label=METHOD_LABELS[method])
        stuck: dict[tuple[int, int], int] = {}
        for r, e in left:
            if e is None:
                key = (r["config"]["min_length"], int(r["updates"]))
                stuck[key] = stuck.get(key, 0) + 1
        for (T, u), n in stuck.items():
            xs = slot[T] + METHOD_OFFSETS.get(method, 0.0) + rng.uniform(-0.06, 0.06, n)
            ax.scatter(xs, [u] * n, marker="^", facecolor="white", edgecolor=c, s=24, lw=1.0, zorder=3)
            ax.annotate(str(n), (slot[T] + METHOD_OFFSETS.get(method, 0.0), u), xytext=(0, 6),
                        textcoords="offset points", ha="center", fontsize=7, color=c)
    ax.set_yscale("log")
    ax.set_xticks(range(len(lengths)), [str(T) for T in lengths])
    ax.set_xlim(-0.5, len(lengths) - 0.5)
    ax.set_xlabel("sequence length $T$")
    ax.set_ylabel("updates until the loss leaves $\\ln 4$")
    ax.set_title("each run (triangles: still on the plateau when it stopped)")
    ax.legend(loc="upper left", ncol=len(methods), fontsize=LEGEND_FONTSIZE)
    long_T = lengths[len(lengths) // 2:] if lengths else []
    for recs, colour, label in ((records, "#333333", "all runs"),
                                ([r for r in records if r["config"]["min_length"] >= (long_T[0] if long_T else 0)],
                                 "#9467bd", f"$T \\geq {long_T[0]}$" if long_T else "")):
        km = plateau_survival(recs, cap=cap)
        end = km.follow_up
        on = [1.0 - f for f in km.solved]
        ax_km.step([1e3, *km.updates, end], [1.0, *on, on[-1] if on else 1.0], where="post", color=colour,
                   label=f"{label} ({len(recs)} runs, {km.n_censored} still on it at {power_text(end)})")
        if km.updates:
            ax_km.fill_between([*km.updates, end], [1 - h for h in km.high] + [1 - km.high[-1]],
                               [1 - lo for lo in km.low] + [1 - km.low[-1]], step="post", color=colour,
                               alpha=0.13, lw=0)
    ax_km.axhline(0.5, color="#999999", lw=0.8, ls=":")
    ax_km.set_xscale("log")
    ax_km.set_ylim(0, 1.03)
    ax_km.set_xlabel("updates")
    ax_km.set_ylabel("fraction still on the plateau")
    ax_km.set_title("Kaplan–Meier estimate" + (f", every run read at {power_text(cap)} updates" if cap else ""))
    ax_km.legend(loc="lower left", fontsize=8)
    return fig


def runs_from_inside(runs, labels, *, colours=("#1f77b4", "#d62728", "#ff7f0e"), styles=("-", "-", "--")):
    """A few runs' curves, one point per kept check: loss, gradient norm, clipped fraction,
    ``rho(W_rec)`` and ``sigma_max``, validation error; the sixth panel holds the legend.

    A diverged run's curve ends at its last finite check, where a cross marks it.
    """

    fig, axes = page_figure(2, 3, height=5.6)
    ax_loss, ax_norm, ax_clip, ax_rho, ax_err, ax_leg = axes.flat
    for r, label, colour, style in zip(runs, labels, colours, styles):
        cu = r["curves"]
        u = np.array(cu["update"], dtype=float)
        f = lambda k: np.array([np.nan if v is None else v for v in cu.get(k, [None] * len(u))], dtype=float)
        ax_loss.plot(u, f("train_loss"), style, color=colour, label=label)
        ax_norm.plot(u, f("grad_norm"), style, color=colour)
        ax_clip.plot(u, f("clip_fraction"), style, color=colour)
        ax_rho.plot(u, f("spectral_radius"), style, color=colour)
        ax_rho.plot(u, f("sigma_max"), style, color=colour, lw=0.9, alpha=0.45)
        ax_err.plot(u, f("valid_error"), style, color=colour)
        if r.get("diverged"):
            finite = np.flatnonzero(np.isfinite(f("grad_norm")))
            if finite.size:
                ax_norm.scatter([u[finite[-1]]], [f("grad_norm")[finite[-1]]], **DIVERGED_MARK)
    ax_loss.axhline(math.log(4), color="#999999", lw=0.8, ls=":")
    ax_loss.set_title("mean training loss ($\\ln 4$ dotted)")
    ax_norm.set_title("mean ‖gradient‖ before clipping")
    ax_norm.set_yscale("log")
    ax_clip.set_title("fraction of updates clipped")
    ax_clip.set_ylim(-0.03, 1.03)
    ax_rho.set_title("$\\rho(W_{rec})$ (pale: largest singular value)")
    ax_err.set_title("validation error (1 % dotted)")
    ax_err.axhline(0.01, color="#999999", lw=0.8, ls=":")
    ax_err.set_yscale("symlog", linthresh=1e-3)
    ax_err.set_ylim(0, 1)
    for ax in (ax_loss, ax_norm, ax_clip, ax_rho, ax_err):
        ax.set_xlabel("updates")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0)) if ax is not ax_norm else None
    ax_leg.axis("off")
    ax_leg.legend(*ax_loss.get_legend_handles_labels(), loc="center", fontsize=LEGEND_FONTSIZE)
    return fig


def validation_curves(ax, runs, *, chance: float, threshold: float, title: str = ""):
    """Every run's validation error against updates on ``ax``, one colour per length.

    The stored curves are thinned (:data:`rnnbook.synthetic.results.MAX_CURVE_POINTS` checks at most), so
    a run's best check may be missing from its line: a diamond at the run's last update marks its
    ``best_valid_error``. A diverged run ends with a black cross. The legend gives, per length,
    the number of runs and the best error any of them reached (so that lengths whose lines all
    lie at the top stay readable). Dashed: ``chance``; dotted: ``threshold``.
    """

    lengths = sorted({(r["config"]["min_length"], r["config"]["max_length"]) for r in runs})
    colours = dict(zip(lengths, plt.cm.viridis(np.linspace(0.0, 0.85, max(len(lengths), 1)))))
    for lo, hi in lengths:
        mine = [r for r in runs if (r["config"]["min_length"], r["config"]["max_length"]) == (lo, hi)]
        c = colours[lo, hi]
        best = min(r["best_valid_error"] for r in mine)
        name = f"T = {lo}" if lo == hi else f"T = {lo}-{hi}"
        for j, r in enumerate(mine):
            u = np.array(r["curves"]["update"], dtype=float)
            err = np.array([np.nan if v is None else v for v in r["curves"]["valid_error"]], dtype=float)
            ax.plot(u, err, color=c, lw=1.0, alpha=0.8,
                    label=f"{name}: {len(mine)} runs, best {best:.1%}" if j == 0 else None)
            ax.scatter([r["updates"]], [r["best_valid_error"]], marker="D", s=14, color=c, zorder=3)
            if r.get("diverged"):
                ax.scatter([r["updates"]], [err[np.isfinite(err)][-1] if np.isfinite(err).any() else 1.0],
                           **DIVERGED_MARK)
    ax.axhline(chance, color="#444444", lw=1.0, ls="--")
    ax.axhline(threshold, color="#999999", lw=0.8, ls=":")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("updates")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    if runs:
        ax.legend(fontsize=7, loc="lower left")
    else:
        ax.text(0.5, 0.3, "no finished run yet", transform=ax.transAxes, ha="center", color="#666666")
