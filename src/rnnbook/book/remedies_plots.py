"""Figures of Chapter 3 (the remedies): the clipped step along the gradient, gradient norms update by
update, the threshold study, and the geometry of the regularizer Ω. Each function draws from facts
already computed (:mod:`rnnbook.book.clipping_study`, :mod:`rnnbook.engine.omega_exact`) and returns the figure;
the chapter saves it with :func:`rnnbook.book.plotting.save_figure` under its stable name."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from rnnbook.book.clipping_study import cost_profile
from rnnbook.book.plotting import LEGEND_FONTSIZE, METHOD_COLORS, METHOD_LABELS
from rnnbook.verdicts.rules import exact_interval

RADIUS_COLOURS = ("#1f77b4", "#2ca02c", "#ff7f0e", "#d62728")
#: where "no clipping" (MSGD) sits on the threshold figure's log axis
NO_CLIP = 25.0


def descent_figure(cases: Sequence[Mapping[str, Any]], radii: Sequence[float], lr: float, tau: float):
    """Fig. ch3-2-descent. Left: for the largest gradient at each spectral radius, the minibatch cost
    along the gradient direction, with the clipped step (o) and the plain step (x) marked; the most
    extreme radius is drawn faint, underneath, because its profile jumps at every scale. Right: the
    change of the cost after one step against the norm, for every case (below 0 is descent)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.6))
    s_axis = np.logspace(-10, 1, 111)
    colours = dict(zip(radii, RADIUS_COLOURS))
    for rho in radii:
        cs = max((c for c in cases if c["rho"] == rho), key=lambda c: c["norm"])   # the largest gradient at this radius
        wild = rho == max(radii)
        axes[0].plot(s_axis, cost_profile(cs, s_axis), color=colours[rho], lw=0.6 if wild else 1.8,
                     alpha=0.45 if wild else 1.0, zorder=1 if wild else 3,
                     label=rf"radius {rho}, $\|g\|$ = {cs['norm']:.3g}" + (" (faint)" if wild else ""))
        for length, marker in ((lr * min(cs["norm"], tau), "o"), (lr * cs["norm"], "x")):
            if length <= s_axis[-1]:
                axes[0].plot(length, cost_profile(cs, [length])[0], marker, color=colours[rho], ms=8,
                             mfc="none" if marker == "o" else None)
    axes[0].set_xscale("log")
    axes[0].set_yscale("symlog", linthresh=1e-4)
    axes[0].set_xlabel(r"distance $s$ moved along $-g/\|g\|$")
    axes[0].set_ylabel(r"$\mathcal{E}_B(\theta - s\,g/\|g\|) - \mathcal{E}_B(\theta)$")
    axes[0].set_title("the cost along the gradient direction (o clipped step, x plain step)")
    axes[0].legend(fontsize=LEGEND_FONTSIZE, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    norms = np.array([c["norm"] for c in cases])
    for name, marker, label in (("plain_change", "x", r"plain step $\eta g$"),
                                ("clipped_change", "o", r"clipped step $\eta c g$")):
        axes[1].scatter(norms, [c[name] for c in cases], marker=marker, s=30, label=label,
                        facecolors="none" if marker == "o" else None, edgecolors="#1f77b4" if marker == "o" else None,
                        color=None if marker == "o" else "#7f7f7f")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xscale("log")
    axes[1].set_yscale("symlog", linthresh=1e-4)
    axes[1].set_xlabel(r"$\|g\|$ before clipping")
    axes[1].set_ylabel(r"change of $\mathcal{E}_B$ after one step")
    axes[1].set_title(rf"one step, $\eta$ = {lr:g}, $\tau$ = {tau:g}: below 0 is descent")
    axes[1].legend(fontsize=LEGEND_FONTSIZE, loc="upper left")
    fig.tight_layout()
    return fig


def _norm_panel(ax, steps, clipped_run, plain_run, spikes, title: str) -> None:
    """One MSGD-C run's norms before clipping over its MSGD twin's, with the threshold, a tick under
    every clipped update and a triangle over every spike."""
    ax.semilogy(steps, plain_run.grad_norm, color=METHOD_COLORS["msgd"], lw=0.6, alpha=0.8, label="MSGD (same seed)")
    ax.semilogy(steps, clipped_run.grad_norm, color=METHOD_COLORS["msgd_c"], lw=0.6,
                label=r"MSGD-C, $\|g_t\|$ before clipping")
    ax.axhline(clipped_run.threshold, color="k", ls="--", lw=1.0,
               label=rf"threshold $\tau$ = {clipped_run.threshold:g}")
    ax.plot(steps[clipped_run.clipped], np.full(int(clipped_run.clipped.sum()), 0.012), "|", color="#d62728", ms=7,
            label="clipped updates")
    ax.plot(steps[spikes], clipped_run.grad_norm[spikes] * 1.8, "v", color="k", ms=6, label="spikes")
    ax.set_ylim(0.008, 1e4)
    ax.set_ylabel(r"$\|g_t\|$")
    ax.set_title(title, loc="left")


def trace_figure(plain_traces, clip_traces, clip_spikes, spiky: int, learner: int):
    """Fig. ch3-2-traces: the MSGD-C run ``spiky`` (norms, then the learning-rate factor clipping left),
    the run ``learner`` (norms), and both runs' validation errors with their MSGD twins."""
    steps = np.arange(1, len(clip_traces[spiky].grad_norm) + 1)
    fig, axes = plt.subplots(4, 1, figsize=(10.5, 9.5), sharex=True,
                             gridspec_kw={"height_ratios": [2.2, 0.9, 2.2, 1.3]})
    seed = lambda i: clip_traces[i].config.seed
    _norm_panel(axes[0], steps, clip_traces[spiky], plain_traces[spiky], clip_spikes[spiky],
                f"seed {seed(spiky)}: isolated spikes")
    axes[0].legend(fontsize=LEGEND_FONTSIZE, ncol=3, loc="upper left")
    axes[1].semilogy(steps, clip_traces[spiky].step_scale, color=METHOD_COLORS["msgd_c"], lw=0.7)
    axes[1].set_ylabel(r"$\eta_t / \eta$")
    axes[1].set_title(f"seed {seed(spiky)}: the learning rate left by clipping", loc="left")
    _norm_panel(axes[2], steps, clip_traces[learner], plain_traces[learner], clip_spikes[learner],
                f"seed {seed(learner)}: the task is learned")
    for i, marker in ((spiky, "o"), (learner, "s")):
        for tr in (plain_traces[i], clip_traces[i]):
            axes[3].plot(tr.check_update, tr.valid_error, marker + "-", color=METHOD_COLORS[tr.config.method], ms=4,
                         lw=0.8, mfc="none", label=f"{METHOD_LABELS[tr.config.method]}, seed {seed(i)}")
    axes[3].set_ylim(-0.03, 1)
    axes[3].set_ylabel("validation error")
    axes[3].legend(fontsize=LEGEND_FONTSIZE, ncol=2, loc="lower left")
    axes[3].set_xlabel("update $t$")
    fig.tight_layout()
    return fig


def threshold_figure(studies: Sequence[tuple[Sequence[tuple], str, str, float]], level: float = 0.95):
    """Fig. ch3-2-threshold. ``studies``: ``(points, colour, label, shift)`` per study, the points from
    :func:`rnnbook.book.clipping_study.rate_points`, shifted sideways by the factor ``shift`` so that the
    studies do not cover each other. Left: the rate of success with its exact interval at ``level``;
    right: updates to success (runs and median) and the censored runs at 1.25 times their cap."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
    for points, colour, label, shift in studies:
        if not points:
            continue
        xs = np.array([p[0] for p in points]) * shift
        rate = np.array([p[1] / p[2] for p in points])
        lo, hi = np.array([exact_interval(p[1], p[2], level) for p in points]).T
        axes[0].errorbar(xs, rate, yerr=[rate - lo, hi - rate], fmt="o", color=colour, capsize=3, label=label)
        for (_, _, _, ups, cens, cap), xx in zip(points, xs):
            if ups:
                axes[1].plot([xx] * len(ups), ups, "o", color=colour, ms=4, mfc="none")
                axes[1].plot(xx, np.median(ups), "_", color=colour, ms=16, mew=2)
            if cens:                                   # censored runs: at their cap, with their number
                axes[1].plot(xx, cap * 1.25, "^", color=colour, ms=6)
                axes[1].annotate(str(cens), (xx, cap * 1.25), textcoords="offset points", xytext=(0, 5), ha="center",
                                 fontsize=7, color=colour)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks([0.2, 0.5, 1, 2, 5, 10, NO_CLIP], ["0.2", "0.5", "1", "2", "5", "10", "no clip\n(MSGD)"])
        ax.minorticks_off()
        ax.set_xlabel(r"threshold $\tau$ in units of the average norm over whole runs")
        ax.axvspan(0.5, 10, color="#1f77b4", alpha=0.07, lw=0, label="the paper's range, 0.5–10 times")
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].set_ylabel(f"rate of success ({100 * level:g} % exact interval)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("updates to success (o: runs, bar: median;\n▲: censored at the cap, with their number)")
    fig.tight_layout()
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=LEGEND_FONTSIZE, loc="upper center",
               bbox_to_anchor=(0.5, 0.02), ncol=2)
    return fig


def omega_geometry(J: np.ndarray, delta: np.ndarray, other: np.ndarray, norms_preserving: Sequence[float],
                   norms_random: Sequence[float], singular_values: tuple[float, float], steps: int):
    """Fig. ch3-3-omega-geometry. Left and middle: the unit circle of errors and its image under the
    2×2 Jacobian ``J``, with the error ``delta`` whose norm ``J`` preserves (Ω = 0) and another
    direction ``other`` (Ω > 0). Right: the norm of an error sent back through a chain of Jacobians
    with the same singular values, each preserving the norm along the error it meets, or oriented
    at random, over ``steps`` steps."""
    fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.8))
    t = np.linspace(0, 2 * math.pi, 400)
    circle = np.c_[np.cos(t), np.sin(t)]
    for ax, d, title in ((axes[0], delta, r"the error $\delta$: $\Omega_k = 0$"),
                         (axes[1], other, r"another direction $\delta'$: $\Omega_k > 0$")):
        image = circle @ J
        ax.plot(circle[:, 0], circle[:, 1], color="#7f7f7f", lw=1, label="unit circle (all errors of norm 1)")
        ax.plot(image[:, 0], image[:, 1], color="#1f77b4", lw=1.5, label=r"its image under $J$ (an ellipse)")
        ax.annotate("", xy=d, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="k", lw=1.5))
        ax.annotate("", xy=d @ J, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="#d62728", lw=1.5))
        ax.text(*(1.08 * d), r"$\delta$" if d is delta else r"$\delta'$", fontsize=10)
        ax.text(*(d @ J * 1.1), r"$\delta J$" if d is delta else r"$\delta' J$", color="#d62728", fontsize=10)
        ax.set_aspect("equal"); ax.set_xlim(-1.6, 1.6); ax.set_ylim(-1.6, 1.6)
        ax.set_title(f"{title}\n" + rf"$\|\cdot J\| / \|\cdot\|$ = {np.linalg.norm(d @ J):.2f}", fontsize=9)
    axes[0].legend(fontsize=7, loc="lower left")
    axes[2].semilogy(norms_preserving, color="#d62728", label=r"every $J_k$ preserves the norm along $\delta_{k+1}$")
    axes[2].semilogy(norms_random, color="#7f7f7f", label="same singular values, random orientation")
    axes[2].set_xlabel("steps back in time"); axes[2].set_ylabel(r"$\|\delta_k\| / \|\delta_T\|$")
    axes[2].legend(fontsize=7, loc="lower left")
    s1, s2 = singular_values
    axes[2].set_title(rf"a chain of {steps} Jacobians (singular values {s1}, {s2})", fontsize=9)
    fig.tight_layout()
    return fig


__all__ = ["NO_CLIP", "descent_figure", "omega_geometry", "threshold_figure", "trace_figure"]
