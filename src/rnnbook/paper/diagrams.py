"""Schematic drawings of recurrent networks, drawn from code (the paper's Figs. 1 and 2).

Drawn with matplotlib patches so that they share the book's style and can be regenerated, and
changed (e.g. the number of unrolled steps), by anyone who re-runs the chapter.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

NODE = {"input": "#e8f0fb", "state": "#fde9d9", "cost": "#eaf5e4"}
EDGE = {"input": "#3b6fb6", "state": "#c0504d", "cost": "#4f8a3a"}


def _node(ax: Axes, x: float, y: float, text: str, kind: str, w: float = 0.9, h: float = 0.55) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                fc=NODE[kind], ec=EDGE[kind], lw=1.4))
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], *, color: str = "0.25", text: str = "",
           rad: float = 0.0, style: str = "-|>", ls: str = "-", text_offset: tuple[float, float] = (0.0, 0.0)) -> None:
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=12, color=color, lw=1.3, ls=ls,
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))
    if text:
        mx, my = (a[0] + b[0]) / 2 + text_offset[0], (a[1] + b[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="center", fontsize=9, color=color)


def _finish(ax: Axes, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")


def draw_rnn(ax: Axes) -> None:
    """The paper's Fig. 1: input → hidden state with a recurrent loop → output (and its cost)."""
    _node(ax, 0, 0, r"$u_t$", "input")
    _node(ax, 0, 1.4, r"$x_t$", "state")
    _node(ax, 0, 2.8, r"$\mathcal{E}_t$", "cost")
    _arrow(ax, (0, 0.3), (0, 1.12), color=EDGE["input"], text=r"$W_{in}$", text_offset=(0.35, 0))
    _arrow(ax, (0, 1.68), (0, 2.52), color=EDGE["cost"], text=r"$\mathcal{L}$", text_offset=(0.3, 0))
    _arrow(ax, (0.45, 1.62), (0.45, 1.18), color=EDGE["state"], rad=-1.8)
    ax.text(1.35, 1.4, r"$W_{rec}$" + "\n(delay: one step)", ha="left", va="center", fontsize=9, color=EDGE["state"])
    _finish(ax, (-1.0, 2.6), (-0.5, 3.3))


def draw_unrolled(ax: Axes, steps: int = 4, *, backward: bool = True) -> None:
    """The paper's Fig. 2: the network unrolled in time, one copy per step.

    With ``backward=True`` the dashed arrows show the error flowing back through the Jacobians
    ∂x_t/∂x_{t−1} (Eq. 5): this is backpropagation through time.
    """
    if steps < 2:
        raise ValueError(f"draw at least 2 steps, got {steps}")
    labels = [f"{i}" for i in range(1, steps - 1)] + ["\\dots", "t"] if steps > 2 else ["1", "t"]
    dx = 1.9
    _node(ax, -dx, 1.4, r"$x_0$", "state", w=0.75)
    for i, lab in enumerate(labels):
        x = i * dx
        dots = lab == "\\dots"
        _node(ax, x, 0, r"$\dots$" if dots else rf"$u_{{{lab}}}$", "input")
        _node(ax, x, 1.4, r"$\dots$" if dots else rf"$x_{{{lab}}}$", "state")
        _node(ax, x, 2.8, r"$\dots$" if dots else rf"$\mathcal{{E}}_{{{lab}}}$", "cost")
        _arrow(ax, (x, 0.3), (x, 1.12), color=EDGE["input"])
        _arrow(ax, (x, 1.68), (x, 2.52), color=EDGE["cost"])
        _arrow(ax, (x - dx + 0.45, 1.4), (x - 0.45, 1.4), color=EDGE["state"],
               text=r"$W_{rec}$" if i == 0 else "", text_offset=(0, 0.22))
        if backward and i > 0:
            _arrow(ax, (x - 0.45, 1.05), (x - dx + 0.45, 1.05), color="0.35", ls="--", rad=0.25)
    if backward:
        ax.text((len(labels) - 1) * dx / 2, 0.62, r"backward: multiply by $\partial x_i/\partial x_{i-1}$",
                ha="center", va="center", fontsize=9, color="0.35")
    _finish(ax, (-dx - 0.6, (len(labels) - 1) * dx + 0.6), (-0.5, 3.3))
