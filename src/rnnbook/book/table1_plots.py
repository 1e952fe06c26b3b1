"""Figures of Chapter 4.3 (Table 1): piano rolls, learning curves per data set and method, gradient
norms, and sampled continuations. Each function draws on axes it is given or returns a figure; the
chapter saves them with :func:`rnnbook.book.plotting.save_figure`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from rnnbook.book.plotting import METHOD_COLORS

METHOD_NAMES = {"msgd": "MSGD", "msgd_c": "MSGD+C", "msgd_cr": "MSGD+CR"}
LOWEST_MIDI = 21  # key k of a roll is MIDI pitch k + 21


def draw_roll(ax, roll: np.ndarray, title: str, keys: tuple[int, int] | None = None, mark: int | None = None) -> None:
    """A piano roll ``(T, 88)`` as black cells, time left to right, pitch upwards; ``keys`` the key range
    shown (default: the keys the roll uses, with a margin); ``mark``: a red line before that step."""
    if keys is None:
        on = np.nonzero(roll.any(0))[0]
        keys = (max(int(on.min()) - 2, 0), min(int(on.max()) + 3, 88)) if len(on) else (0, 88)
    lo, hi = keys
    ax.imshow(roll[:, lo:hi].T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(-0.5, len(roll) - 0.5, lo + LOWEST_MIDI - 0.5, hi + LOWEST_MIDI - 0.5))
    if mark is not None:
        ax.axvline(mark - 0.5, color="#d62728", lw=1)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step")
    ax.grid(False)


def learning_curves(runs: Mapping[str, Sequence[dict[str, Any]]], titles: Mapping[str, str],
                    baselines: Mapping[str, float], paper_test: Mapping[str, Mapping[str, float | None]]):
    """One panel per data set: every seed's validation NLL after every epoch (solid), seed 0's training
    NLL (dotted), the frequencies-only validation NLL (dashed) and the paper's test numbers (ticks at
    the right edge, one per method). ``runs``: data set -> its results files (loaded)."""
    names = list(titles)
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.set_title(titles[name], fontsize=10)
        files = runs.get(name) or []
        if not files:
            ax.text(0.5, 0.5, "no committed run yet", ha="center", va="center", transform=ax.transAxes)
            ax.axis("off")
            continue
        ax.axhline(baselines[name], color="k", ls="--", lw=0.8, label="frequencies only (valid)")
        for k, d in enumerate(files):
            for m in METHOD_NAMES:
                rows = [r for r in d["history"] if r["method"] == m and math.isfinite(r["valid"])]
                ep = [r["epoch"] for r in rows]
                label = f"{METHOD_NAMES[m]} valid" if k == 0 else None
                ax.plot(ep, [r["valid"] for r in rows], color=METHOD_COLORS[m], lw=1.0 if k == 0 else 0.6,
                        alpha=1.0 if k == 0 else 0.6, label=label)
                if k == 0:
                    ax.plot(ep, [r["train"] for r in rows], color=METHOD_COLORS[m], ls=":", lw=0.9)
                stop = (d.get("stopped") or {}).get(m)
                if stop:
                    r = next(r for r in rows if r["epoch"] == stop)
                    ax.plot([stop], [r["valid"]], marker="x", color=METHOD_COLORS[m], ms=5)
        for m, v in (paper_test.get(name) or {}).items():
            if v is not None:
                ax.plot([1.0], [v], marker="<", color=METHOD_COLORS[m], ms=6, transform=ax.get_yaxis_transform(),
                        clip_on=False)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per frame")
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def gradient_norms(ax_norm, ax_omega, data: dict[str, Any], title: str) -> None:
    """Every update's gradient norm before clipping (log scale) with the threshold, and Omega."""
    thr = data["protocol"]["settings"]["threshold"]
    for m in METHOD_NAMES:
        tr = data["trace"][m]
        ax_norm.plot(tr["update"], tr["norm"], color=METHOD_COLORS[m], lw=0.6, label=METHOD_NAMES[m])
        ax_omega.plot(tr["update"], tr["omega"], color=METHOD_COLORS[m], lw=0.6, label=METHOD_NAMES[m])
    ax_norm.axhline(thr, color="k", ls="--", lw=0.8, label=f"threshold {thr:g}")
    ax_norm.set_yscale("log")
    ax_omega.set_yscale("log")
    ax_norm.set_title(f"{title}: gradient norm before clipping", fontsize=9)
    ax_omega.set_title(f"{title}: Ω (only MSGD+CR is pushed by it)", fontsize=9)
    ax_omega.set_xlabel("update")
