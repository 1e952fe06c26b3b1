"""How x_T responds to x_0, b and w, and how inputs move the basin boundary (Chapter 2.2, Figs. 4-5).

The paper's §2.2 explains exploding gradients with the one-unit map F(x) = w σ(x) + b
(:mod:`rnnbook.paper.one_unit`). The derivative ∂x_T/∂x_0 is the product Π_t F'(x_{t-1}) of
the map's slopes along the path, the one-unit form of the transport factor of Eq. (5). Near an
attractor every factor is below 1 and the product vanishes; a start on the basin boundary
(:func:`rnnbook.paper.bistability.basin_boundary`) stays on the repelling point, every factor is
above 1 and the product explodes. So the sensitivity of x_T is a ridge along the boundary,
thinner than any grid (:func:`cell_maximum` draws it without missing it), and crossing a
bifurcation moves b across such a ridge (∂x_T/∂b). :func:`sensitivities` computes all three
derivatives exactly by forward-mode recursion.

With inputs, Eq. (2) with one unit, each step is split as in the paper's §2.2 into the fixed
map F̃ and the input map U_t (:func:`driven_trajectory`): the inputs can carry the state across
F̃'s boundary, and they move where the boundary lies for the initial state
(:func:`driven_boundary`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnbook.paper.bistability import basin_boundary, bisect_root
from rnnbook.paper.one_unit import logistic, multiplier, step


# ----------------------------------------------------------------------------------------------
# Sensitivities ∂x_T/∂x_0, ∂x_T/∂b, ∂x_T/∂w (forward mode)
# ----------------------------------------------------------------------------------------------


@dataclass
class Sensitivities:
    """x_T and its three derivatives, each of the broadcast shape of (x0, w, b)."""

    x_T: np.ndarray
    dx0: np.ndarray  # ∂x_T/∂x_0 = Π_t w σ'(x_{t-1}) — the one-unit transport factor of Eq. (5)
    db: np.ndarray  # ∂x_T/∂b
    dw: np.ndarray  # ∂x_T/∂w


def sensitivities(x0, w, b, T: int) -> Sensitivities:
    """Exact derivatives of x_T with respect to x_0, b and w, by forward-mode recursion.

    With p = x_{t-1} and J_t = w σ'(p) (the step Jacobian):
    ∂x_t/∂x_0 = J_t ∂p/∂x_0,  ∂x_t/∂b = 1 + J_t ∂p/∂b,  ∂x_t/∂w = σ(p) + J_t ∂p/∂w.
    """
    x, w_, b_ = np.broadcast_arrays(np.asarray(x0, np.float64), np.asarray(w, np.float64), np.asarray(b, np.float64))
    x = x.copy()
    d0 = np.ones_like(x)
    db = np.zeros_like(x)
    dw = np.zeros_like(x)
    for _ in range(T):
        s = logistic(x)
        J = w_ * s * (1.0 - s)
        d0, db, dw = J * d0, 1.0 + J * db, s + J * dw
        x = w_ * s + b_
    return Sensitivities(x_T=x, dx0=d0, db=db, dw=dw)


def cell_maximum(f, x_centres, y_centres, *, sub: int = 3, ridge=None) -> np.ndarray:
    """The maximum of ``f`` over each cell of an image grid, not just its value at the centre.

    An image drawn from one sample per cell hides a ridge narrower than a cell (the wall of
    Fig. 6 is thinner than 10^-5 in b). Each cell [x_i ± dx/2] x [y_j ± dy/2] is sampled on a
    ``sub`` x ``sub`` sub-grid, and ``ridge`` = (xr, yr), points known to lie on a ridge of ``f``
    (e.g. the basin boundary, computed exactly), are added to the cells they fall in. ``f`` takes
    broadcastable arrays (X, Y) and returns values; the result has shape (len(y), len(x)), like
    an image with rows y. (A sampled maximum is a lower bound of the true one; with the ridge
    included it is exact where the ridge carries the maximum.)
    """
    xc = np.asarray(x_centres, dtype=np.float64)
    yc = np.asarray(y_centres, dtype=np.float64)
    dx, dy = xc[1] - xc[0], yc[1] - yc[0]
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    xf = (xc[:, None] + offsets[None, :] * dx).ravel()
    yf = (yc[:, None] + offsets[None, :] * dy).ravel()
    vals = np.asarray(f(xf[None, :], yf[:, None]), dtype=np.float64)
    out = vals.reshape(len(yc), sub, len(xc), sub).max(axis=(1, 3))
    if ridge is not None:
        xr, yr = (np.asarray(a, dtype=np.float64).ravel() for a in ridge)
        ok = np.isfinite(xr) & np.isfinite(yr)
        xr, yr = xr[ok], yr[ok]
        i = np.floor((xr - xc[0]) / dx + 0.5).astype(int)
        j = np.floor((yr - yc[0]) / dy + 0.5).astype(int)
        inside = (i >= 0) & (i < len(xc)) & (j >= 0) & (j < len(yc))
        np.maximum.at(out, (j[inside], i[inside]), np.asarray(f(xr[inside], yr[inside]), dtype=np.float64))
    return out


# ----------------------------------------------------------------------------------------------
# Input-driven steps: x_t = U_t(F̃(x_{t-1})), F̃(x) = w σ(x) + b, U_t(y) = y + w_in u_t (Figs. 4-5)
# ----------------------------------------------------------------------------------------------


@dataclass
class DrivenPath:
    x: np.ndarray  # (T + 1, ...) states x_0..x_T
    f_tilde: np.ndarray  # (T, ...) F̃(x_{t-1}): where the input-free map alone would take the state
    u: np.ndarray  # (T,) the inputs


def driven_trajectory(x0, w: float, b: float, u, w_in: float = 1.0) -> DrivenPath:
    """Eq. (2) with one unit, split as in the paper's §2.2: first F̃, then the input map U_t.

    ``x0`` may be an array (several initial states driven by the *same* inputs ``u``).
    """
    u = np.asarray(u, dtype=np.float64)
    x = np.asarray(x0, dtype=np.float64).copy()
    xs, fs = [x], []
    for t in range(u.shape[0]):
        f = step(x, w, b)  # F̃(x_{t-1})
        x = f + w_in * u[t]  # U_t(F̃(x_{t-1}))
        fs.append(f)
        xs.append(x)
    return DrivenPath(x=np.stack(xs), f_tilde=np.stack(fs), u=u)


def driven_sensitivity(x0, w: float, b: float, u, w_in: float = 1.0) -> np.ndarray:
    """∂x_T/∂x_0 along a driven path: Π_t w σ'(x_{t-1}) (U_t has derivative 1)."""
    path = driven_trajectory(x0, w, b, u, w_in)
    return np.prod(multiplier(path.x[:-1], w), axis=0)


def driven_boundary(w: float, b: float, u, lo: float, hi: float, w_in: float = 1.0) -> float:
    """The initial state that separates the two fates of a driven trajectory (for b in the bistable
    window): x_T(x_0) is increasing in x_0, so bisect for x_T = the unstable fixed point of F̃.

    ``lo`` must end below and ``hi`` above it. Without input this is F̃'s basin boundary itself;
    the inputs move it.
    """
    x_u = float(basin_boundary(w, b))
    if not np.isfinite(x_u):
        raise ValueError(f"b = {b} is outside the bistable window for w = {w}")
    g = lambda x0: driven_trajectory(x0, w, b, u, w_in).x[-1] - x_u  # noqa: E731
    if not (g(np.float64(lo)) < 0 < g(np.float64(hi))):
        raise ValueError("lo must end below the boundary and hi above it")
    return float(bisect_root(g, np.float64(lo), np.float64(hi), iters=80))
