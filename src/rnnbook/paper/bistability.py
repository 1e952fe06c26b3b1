"""Fixed points, their stability and the two saddle-node bifurcations of Eq. (8) (Chapter 2.2, Fig. 3).

A fixed point of F(x) = w σ(x) + b (:mod:`rnnbook.paper.one_unit`) is a state the network keeps
for ever. Where the slope |F'(x*)| = |w σ'(x*)| is below 1 it is an *attractor*: nearby states
converge to it; where it is above 1 it repels. Since σ' ≤ 1/4, for 0 < w ≤ 4 there is exactly
one fixed point, an attractor. For w > 4 the graph of F crosses the diagonal up to three times:
for b in a window (b_2, b_1) there are two attractors (low and high) with a repelling point
between them, which is the boundary between their basins. Moving b across b_1 or b_2 makes an
attractor appear or vanish (a saddle-node bifurcation): the paper's Fig. 3 for w = 5 (Doya, 1993).

This module finds all of that twice, so that each result checks the other: analytically
(:func:`turning_points`, :func:`bifurcation_points`, :func:`fixed_points` by bracketed
bisection to machine precision) and by simulation alone (:func:`bistable_window_by_simulation`,
:func:`asymptotic_states`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnbook.paper.one_unit import W_DOYA, final_state, logistic, logit


def turning_points(w: float) -> tuple[float, float]:
    """The two states where F'(x) = w σ'(x) = 1, i.e. σ(x) = (1 ± √(1 − 4/w))/2; needs w > 4.

    For w = 5 they are x = ∓0.9624 (σ = 0.2764 and 0.7236).
    """
    if not w > 4.0:
        raise ValueError(f"F'(x) = w σ'(x) reaches 1 only for w > 4, got w = {w}")
    r = np.sqrt(1.0 - 4.0 / w)
    lo, hi = logit((1.0 - r) / 2.0), logit((1.0 + r) / 2.0)
    return float(lo), float(hi)


@dataclass(frozen=True)
class Bifurcations:
    """The two saddle-node bifurcations of Eq. (8) for one w > 4 (paper's Fig. 3).

    Coming down from b = +∞ there is one attractor (high). At ``b_1`` a second, low attractor
    appears (together with the unstable fixed point between the two); at ``b_2`` < ``b_1`` the
    high attractor and the unstable point annihilate. For b in (b_2, b_1) the system is bistable.
    """

    w: float
    b_1: float  # a new (low) attractor appears here as b decreases
    b_2: float  # the high attractor disappears here
    x_1: float  # where the low attractor is born (a double root of F(x) = x)
    x_2: float  # where the high attractor dies


def bifurcation_points(w: float = W_DOYA) -> Bifurcations:
    """The bifurcation values of b, analytically: at a saddle-node F(x) = x and F'(x) = 1.

    F'(x) = 1 gives the two turning points x_∓ of :func:`turning_points`; F(x) = x then gives
    b = x − w σ(x). For w = 5: b_1 = −2.3444 (at x = −0.9624), b_2 = −2.6556 (at x = +0.9624).
    """
    x_lo, x_hi = turning_points(w)
    b_at = lambda x: float(x - w * logistic(x))  # noqa: E731
    return Bifurcations(w=float(w), b_1=b_at(x_lo), b_2=b_at(x_hi), x_1=x_lo, x_2=x_hi)


def bisect_root(g, lo, hi, iters: int = 200):
    """Vectorised bisection for g(x) = 0 on [lo, hi] with g(lo) ≥ 0 ≥ g(hi) or the reverse."""
    glo = g(lo)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        gm = g(mid)
        left = np.sign(gm) == np.sign(glo)
        lo = np.where(left, mid, lo)
        glo = np.where(left, gm, glo)
        hi = np.where(left, hi, mid)
    return 0.5 * (lo + hi)


def fixed_points(w: float, b) -> np.ndarray:
    """All fixed points x* = w σ(x*) + b, sorted, for one w and any array of b.

    Returns shape (*b.shape, 3): [low, middle, high]; entries that do not exist are NaN (for
    w ≤ 4, or b outside the bistable window, only one fixed point exists: it is put in column 0).
    Method: g(x) = F(x) − x is monotone between the turning points of :func:`turning_points`,
    so each piece holds at most one root, found by bisection to machine precision.
    """
    b = np.asarray(b, dtype=np.float64)
    g = lambda x: w * logistic(x) + b - x  # noqa: E731
    # every fixed point lies in the range of F, between b and b + w
    lo = np.minimum(b, b + w) - 1.0
    hi = np.maximum(b, b + w) + 1.0
    out = np.full((*b.shape, 3), np.nan)
    if not w > 4.0:
        out[..., 0] = bisect_root(g, lo, hi)  # g is strictly decreasing: exactly one root
        return out
    x_lo, x_hi = turning_points(w)
    pieces = [(lo, np.full_like(b, x_lo)), (np.full_like(b, x_lo), np.full_like(b, x_hi)), (np.full_like(b, x_hi), hi)]
    roots = []
    for a, c in pieces:
        ga, gc = g(a), g(c)
        has = (ga * gc <= 0) & (a <= c)
        r = bisect_root(g, a, c)
        roots.append(np.where(has, r, np.nan))
    roots = np.stack(roots, axis=-1)
    # a root shared by two pieces (exactly at a bifurcation) is reported once
    roots[..., 1] = np.where(np.isclose(roots[..., 1], roots[..., 0]) | np.isclose(roots[..., 1], roots[..., 2]), np.nan, roots[..., 1])
    n = np.sum(~np.isnan(roots), axis=-1)
    out[...] = np.where((n == 1)[..., None], np.sort(roots, axis=-1), roots)  # NaNs sort last
    return out


def basin_boundary(w: float, b) -> np.ndarray:
    """The unstable fixed point separating the two basins (NaN outside the bistable window).

    For w > 0 the map is increasing, so a state below it falls to the low attractor and a state
    above it rises to the high one: in one dimension the basin boundary *is* this point.
    """
    fp = fixed_points(w, b)
    both = ~np.isnan(fp[..., 0]) & ~np.isnan(fp[..., 2])
    return np.where(both, fp[..., 1], np.nan)


def attractors(w: float, b) -> np.ndarray:
    """The stable fixed points: shape (*b.shape, 2) = [low, high], NaN where absent.

    Outside the bistable window the single attractor is reported as low (if it is below the
    unstable region, i.e. b < b_2) or high (b > b_1); for w ≤ 4 it is put in the high column.
    """
    b = np.asarray(b, dtype=np.float64)
    fp = fixed_points(w, b)
    out = np.full((*b.shape, 2), np.nan)
    single = np.isnan(fp[..., 2])
    if w > 4.0:
        bif = bifurcation_points(w)
        low_only = single & (b < bif.b_2)
        out[..., 0] = np.where(single, np.where(low_only, fp[..., 0], np.nan), fp[..., 0])
        out[..., 1] = np.where(single, np.where(low_only, np.nan, fp[..., 0]), fp[..., 2])
    else:
        out[..., 1] = fp[..., 0]
    return out


def bistable_window_by_simulation(w: float, b_grid, T: int = 5000) -> tuple[float, float, np.ndarray]:
    """The bistable window found by simulation only (no fixed-point algebra).

    For every b, run Eq. (8) for T steps from the lowest and the highest possible state (b and
    b + w: after one step every state lies between them; F is increasing for w > 0, so these two
    runs bracket every other one). Where they end apart, two attractors coexist. Returns the
    smallest and largest such b on the grid, and the boolean mask.
    """
    b_grid = np.asarray(b_grid, dtype=np.float64)
    lo = final_state(np.minimum(b_grid, b_grid + w), w, b_grid, T)
    hi = final_state(np.maximum(b_grid, b_grid + w), w, b_grid, T)
    bistable = np.abs(hi - lo) > 1e-3
    if not bistable.any():
        return float("nan"), float("nan"), bistable
    sel = b_grid[bistable]
    return float(sel.min()), float(sel.max()), bistable


def asymptotic_states(w: float, b, x0s, T: int = 2000) -> np.ndarray:
    """x_T for T large, from each initial state in ``x0s`` and each b: shape (len(x0s), *b.shape)."""
    b = np.asarray(b, dtype=np.float64)
    x0s = np.asarray(x0s, dtype=np.float64).reshape(-1, *([1] * b.ndim))
    return final_state(x0s, w, b[None], T)
