"""The one-unit recurrent network of the paper's Eq. (8) as a dynamical system (Chapter 2).

The paper's §2.2 and §2.3 study a single recurrent unit without input,

    x_t = w σ(x_{t-1}) + b,                                                     (8)

with σ the logistic sigmoid; for w = 5 this is the network of Doya (1993) behind the paper's
Fig. 3, and with x_0 = 0.5, T = 50 and the target 0.7 it gives the error surface of Fig. 6.
Everything here is NumPy float64 and vectorised: ``w``, ``b`` and ``x0`` may be arrays of any
broadcastable shapes, so a whole (b, x_0) or (w, b) grid is one call.

Contents, in the order the chapter uses them:

* the map F(x) = w σ(x) + b, its fixed points (all of them, by bracketed bisection), their
  multipliers F'(x*) = w σ'(x*) and stability;
* the two saddle-node bifurcation points, analytically (:func:`bifurcation_points`) and from
  simulation alone (:func:`bistable_window_by_simulation`), and the bifurcation diagram;
* forward-mode sensitivities ∂x_T/∂x_0, ∂x_T/∂b, ∂x_T/∂w (:func:`sensitivities`);
* the input-driven step split into the fixed map F̃ and the input map U_t (Figs. 4-5);
* the error E_T = (σ(x_T) − target)² with its exact gradient and Hessian in (w, b)
  (:func:`error_surface`), and gradient descent on it with and without the norm clipping of the
  paper's Algorithm 1 (:func:`gradient_descent`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Doya's recurrent weight in the paper's Fig. 3.
W_DOYA = 5.0
#: The paper's Fig. 6 set-up: x_0 = 0.5, T = 50 steps, target σ(x_50) = 0.7.
X0_FIG6 = 0.5
T_FIG6 = 50
TARGET_FIG6 = 0.7


# ----------------------------------------------------------------------------------------------
# The logistic sigmoid and the map
# ----------------------------------------------------------------------------------------------


def logistic(x):
    """σ(x) = 1/(1 + e^{-x}), written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def dlogistic(x):
    """σ'(x) = σ(x)(1 − σ(x)); at most 1/4, reached at x = 0."""
    s = logistic(x)
    return s * (1.0 - s)


def d2logistic(x):
    """σ''(x) = σ(x)(1 − σ(x))(1 − 2σ(x))."""
    s = logistic(x)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def logit(p):
    """The inverse of σ: log(p / (1 − p))."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


def step(x, w, b):
    """One step of Eq. (8): F(x) = w σ(x) + b."""
    return w * logistic(x) + b


def trajectory(x0, w, b, T: int) -> np.ndarray:
    """x_0, …, x_T of Eq. (8); returns an array of shape (T + 1, *broadcast shape)."""
    x = np.broadcast_arrays(np.asarray(x0, np.float64), np.asarray(w, np.float64), np.asarray(b, np.float64))[0].copy()
    out = np.empty((T + 1, *x.shape))
    out[0] = x
    for t in range(1, T + 1):
        x = step(x, w, b)
        out[t] = x
    return out


def cobweb(x0: float, w: float, b: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the cobweb (staircase) diagram of ``n`` steps of Eq. (8) from ``x0``.

    The path alternates between the diagonal and the graph of F:
    (x_0, x_0) -> (x_0, F(x_0)) -> (x_1, x_1) -> (x_1, F(x_1)) -> ... -> (x_n, x_n),
    i.e. up (or down) to the curve, which applies F, then across to the diagonal, where the output
    becomes the next input. Returns (cx, cy), each of length 2n + 1.
    """
    path = trajectory(float(x0), w, b, n)
    doubled = np.repeat(path, 2)          # x_0, x_0, x_1, x_1, ..., x_n, x_n
    return doubled[:-1], doubled[1:]      # x: x_0 x_0 x_1 x_1 ...;  y: x_0 x_1 x_1 x_2 ...


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


def final_state(x0, w, b, T: int) -> np.ndarray:
    """x_T of Eq. (8) without storing the path (for large grids)."""
    x = np.broadcast_arrays(np.asarray(x0, np.float64), np.asarray(w, np.float64), np.asarray(b, np.float64))[0].copy()
    for _ in range(T):
        x = step(x, w, b)
    return x


# ----------------------------------------------------------------------------------------------
# Fixed points, stability, bifurcations
# ----------------------------------------------------------------------------------------------


def multiplier(x, w):
    """F'(x) = w σ'(x): a fixed point x* is stable (an attractor) iff |F'(x*)| < 1."""
    return w * dlogistic(x)


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


def _bisect(g, lo, hi, iters: int = 200):
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
        out[..., 0] = _bisect(g, lo, hi)  # g is strictly decreasing: exactly one root
        return out
    x_lo, x_hi = turning_points(w)
    pieces = [(lo, np.full_like(b, x_lo)), (np.full_like(b, x_lo), np.full_like(b, x_hi)), (np.full_like(b, x_hi), hi)]
    roots = []
    for a, c in pieces:
        ga, gc = g(a), g(c)
        has = (ga * gc <= 0) & (a <= c)
        r = _bisect(g, a, c)
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


# ----------------------------------------------------------------------------------------------
# Sensitivities ∂x_T/∂x_0, ∂x_T/∂b, ∂x_T/∂w (forward mode)
# ----------------------------------------------------------------------------------------------


@dataclass
class Sensitivities:
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
    return float(_bisect(g, np.float64(lo), np.float64(hi), iters=80))


# ----------------------------------------------------------------------------------------------
# The error surface of Fig. 6, its gradient and Hessian, and gradient descent on it
# ----------------------------------------------------------------------------------------------


@dataclass
class ErrorSurface:
    E: np.ndarray  # E_T = (σ(x_T) − target)²
    grad: np.ndarray  # (2, ...) = (∂E/∂w, ∂E/∂b)
    hess: np.ndarray  # (2, 2, ...)
    x_T: np.ndarray
    dx: np.ndarray  # (2, ...) = (∂x_T/∂w, ∂x_T/∂b)
    d2x: np.ndarray  # (2, 2, ...) second derivatives of x_T
    residual: np.ndarray  # r = σ(x_T) − target

    @property
    def grad_norm(self) -> np.ndarray:
        return np.hypot(self.grad[0], self.grad[1])

    def curvature_along_gradient(self) -> np.ndarray:
        """gᵀHg / gᵀg: the curvature along the direction the gradient points (the paper's v)."""
        g, H = self.grad, self.hess
        num = g[0] * (H[0, 0] * g[0] + H[0, 1] * g[1]) + g[1] * (H[1, 0] * g[0] + H[1, 1] * g[1])
        return num / np.maximum(g[0] ** 2 + g[1] ** 2, 1e-300)

    def curvature_terms(self) -> dict[str, np.ndarray]:
        """The curvature along the gradient, vᵀHv with v = g/‖g‖, split into the three terms of
        H = 2σ'(x_T)² ∇x ∇xᵀ + 2 r σ''(x_T) ∇x ∇xᵀ + 2 r σ'(x_T) ∇²x  (r = σ(x_T) − target):

        * ``gauss_newton``: 2σ'(x_T)² (v·∇x_T)², the Gauss–Newton term;
        * ``output``: 2 r σ''(x_T) (v·∇x_T)², from the curvature of the read-out σ;
        * ``state``: 2 r σ'(x_T) vᵀ∇²x_T v, from the second derivatives of x_T itself.

        The first two are quadratic in ∇x_T by construction; the third is too wherever the
        recursion for ∇²x_T is driven by σ''(x_t) (∇x_t)² (for the sigmoid, σ''(x) ≠ 0 unless x = 0).
        They add up to :meth:`curvature_along_gradient`.
        """
        g = self.grad
        gn = np.maximum(np.hypot(g[0], g[1]), 1e-300)
        v0, v1 = g[0] / gn, g[1] / gn
        s = logistic(self.x_T)
        s1 = s * (1.0 - s)
        s2 = s1 * (1.0 - 2.0 * s)
        vx = v0 * self.dx[0] + v1 * self.dx[1]
        vHx = v0 * (self.d2x[0, 0] * v0 + self.d2x[0, 1] * v1) + v1 * (self.d2x[1, 0] * v0 + self.d2x[1, 1] * v1)
        r = self.residual
        return {"gauss_newton": 2 * s1**2 * vx**2, "output": 2 * r * s2 * vx**2, "state": 2 * r * s1 * vHx}

    def largest_curvature(self) -> np.ndarray:
        """The eigenvalue of the 2 × 2 Hessian with the largest absolute value."""
        a, c, d = self.hess[0, 0], self.hess[0, 1], self.hess[1, 1]
        mean, rad = 0.5 * (a + d), np.sqrt(0.25 * (a - d) ** 2 + c**2)
        return np.where(np.abs(mean + rad) >= np.abs(mean - rad), mean + rad, mean - rad)


def error_surface(w, b, x0: float = X0_FIG6, T: int = T_FIG6, target: float = TARGET_FIG6) -> ErrorSurface:
    """E_T(w, b) = (σ(x_T) − target)² for Eq. (8), with its exact gradient and Hessian.

    First and second derivatives of x_t with respect to θ = (w, b) are carried forward
    (p = x_{t-1}, s = σ(p), s' = σ'(p), s'' = σ''(p)):
        x_w  = s + w s' p_w,                x_b  = 1 + w s' p_b,
        x_ww = 2 s' p_w + w s'' p_w² + w s' p_ww,
        x_wb = s' p_b + w s'' p_w p_b + w s' p_wb,
        x_bb = w s'' p_b² + w s' p_bb,
    then with r = σ(x_T) − target: ∂E/∂θ_i = 2 r σ'(x_T) x_i and
    ∂²E/∂θ_i∂θ_j = 2 (σ'(x_T)² + r σ''(x_T)) x_i x_j + 2 r σ'(x_T) x_ij.
    """
    w, b = np.broadcast_arrays(np.asarray(w, np.float64), np.asarray(b, np.float64))
    x = np.full(w.shape, float(x0))
    xw, xb, xww, xwb, xbb = (np.zeros(w.shape) for _ in range(5))
    for _ in range(T):
        s = logistic(x)
        s1 = s * (1.0 - s)
        s2 = s1 * (1.0 - 2.0 * s)
        xww, xwb, xbb = (
            2.0 * s1 * xw + w * s2 * xw**2 + w * s1 * xww,
            s1 * xb + w * s2 * xw * xb + w * s1 * xwb,
            w * s2 * xb**2 + w * s1 * xbb,
        )
        xw, xb = s + w * s1 * xw, 1.0 + w * s1 * xb
        x = w * s + b
    s = logistic(x)
    r = s - target
    s1 = s * (1.0 - s)
    s2 = s1 * (1.0 - 2.0 * s)
    grad = np.stack([2 * r * s1 * xw, 2 * r * s1 * xb])
    a = 2 * (s1**2 + r * s2)
    hess = np.stack(
        [
            np.stack([a * xw * xw + 2 * r * s1 * xww, a * xw * xb + 2 * r * s1 * xwb]),
            np.stack([a * xw * xb + 2 * r * s1 * xwb, a * xb * xb + 2 * r * s1 * xbb]),
        ]
    )
    d2x = np.stack([np.stack([xww, xwb]), np.stack([xwb, xbb])])
    return ErrorSurface(E=r**2, grad=grad, hess=hess, x_T=x, dx=np.stack([xw, xb]), d2x=d2x, residual=r)


def linear_derivatives(x0: float, w, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's linear case (σ = identity, b = 0): x_t = x_0 w^t and its first two w-derivatives.

    Returns (x_0 w^t, t x_0 w^{t-1}, t(t − 1) x_0 w^{t-2}): both derivatives grow like w^t.
    """
    w = np.asarray(w, dtype=np.float64)
    return x0 * w**t, t * x0 * w ** (t - 1), t * (t - 1) * x0 * w ** (t - 2)


def clip_by_norm(g: np.ndarray, threshold: float) -> tuple[np.ndarray, bool]:
    """The paper's Algorithm 1: if ‖g‖ ≥ threshold, rescale g to norm ``threshold``."""
    n = float(np.linalg.norm(g))
    if n >= threshold:
        return g * (threshold / n), True
    return g, False


@dataclass
class DescentPath:
    """Gradient-descent runs from n starts at once: index [step, run, (w, b)]."""

    theta: np.ndarray  # (steps + 1, n, 2): (w, b) before the first and after each update
    E: np.ndarray  # (steps + 1, n)
    grad_norm: np.ndarray  # (steps + 1, n): ‖∇E‖ at each point (before clipping)
    clipped: np.ndarray  # (steps, n): whether Algorithm 1 rescaled that update

    @property
    def step_lengths(self) -> np.ndarray:
        """(steps, n): how far each update moved θ."""
        return np.linalg.norm(np.diff(self.theta, axis=0), axis=-1)


def gradient_descent(
    starts,
    lr: float,
    steps: int,
    threshold: float | None = None,
    *,
    x0: float = X0_FIG6,
    T: int = T_FIG6,
    target: float = TARGET_FIG6,
) -> DescentPath:
    """Plain gradient descent on E_T(w, b) from every start at once, optionally with the norm
    clipping of the paper's Algorithm 1 (applied to each run's own 2-vector gradient).

    θ ← θ − lr · clip(∇E(θ)); ``threshold=None`` means no clipping. ``starts`` is (n, 2) or (2,).
    """
    theta = np.atleast_2d(np.asarray(starts, dtype=np.float64)).copy()
    thetas, Es, gns, clipped = [theta.copy()], [], [], []
    for i in range(steps + 1):
        s = error_surface(theta[:, 0], theta[:, 1], x0=x0, T=T, target=target)
        g = s.grad.T.copy()  # (n, 2)
        norm = np.linalg.norm(g, axis=1)
        Es.append(s.E)
        gns.append(norm)
        if i == steps:
            break
        c = np.zeros(len(theta), dtype=bool) if threshold is None else norm >= threshold
        if threshold is not None:  # Algorithm 1: g <- threshold / ||g|| * g when ||g|| >= threshold
            g[c] *= (threshold / norm[c])[:, None]
        clipped.append(c)
        theta = theta - lr * g
        thetas.append(theta.copy())
    return DescentPath(theta=np.array(thetas), E=np.array(Es), grad_norm=np.array(gns), clipped=np.array(clipped, dtype=bool).reshape(steps, -1))


def valley_outcomes(path: DescentPath, valley_error: float = 0.01, jump: float = 1.0) -> dict[str, np.ndarray]:
    """Per run: final error, whether it ever entered the valley {E < valley_error}, whether it
    ended there, whether it *left* it (entered, then ended outside), and its longest update
    (an update longer than ``jump`` counts as being thrown)."""
    inside = path.E < valley_error
    longest = path.step_lengths.max(axis=0)
    return {
        "final_E": path.E[-1],
        "reached": inside.any(axis=0),
        "ended_inside": inside[-1],
        "left": inside.any(axis=0) & ~inside[-1],
        "longest_step": longest,
        "thrown": longest > jump,
        "final_theta": path.theta[-1],
        "clip_count": path.clipped.sum(axis=0),
        "longest_step_at": path.step_lengths.argmax(axis=0),  # update index i: θ_i -> θ_(i+1)
        "first_inside_at": np.where(inside.any(axis=0), inside.argmax(axis=0), -1),
        "final_wall_offset": wall_offset(path.theta[-1]),
    }


def wall_offset(theta, x0: float = X0_FIG6) -> np.ndarray:
    """b − b_wall(w) for points θ = (w, b) (shape (..., 2)): how far, in b, each point lies above
    (> 0) or below (< 0) the wall line b_wall(w) = x0 − w σ(x0), on which x0 is the repelling fixed
    point (the wall exists for w > 1/σ'(x0))."""
    theta = np.asarray(theta, dtype=np.float64)
    return theta[..., 1] - (x0 - theta[..., 0] * logistic(x0))


def describe_runs(outcomes: dict[str, np.ndarray], *, near_wall: float = 0.05, jump: float = 1.0) -> list[str]:
    """One sentence per run of :func:`valley_outcomes`: what happened to it, read off the numbers.

    The categories, in order: thrown by a step longer than ``jump`` (out of the valley, or never
    into it); clipped at the wall and ended in the valley; crept to within ``near_wall`` (in b) of
    the wall line without clipping ever firing; otherwise where it ended.
    """
    out = []
    for k in range(len(outcomes["final_E"])):
        step, clips = outcomes["longest_step"][k], int(outcomes["clip_count"][k])
        offset, E = outcomes["final_wall_offset"][k], outcomes["final_E"][k]
        if step > jump and outcomes["left"][k] and outcomes["longest_step_at"][k] >= outcomes["first_inside_at"][k]:
            out.append(f"reached the valley, then a step of {step:.3g} threw it out (final error {E:.3f})")
        elif step > jump:
            out.append(f"a step of {step:.3g} threw it across the map (final error {E:.3f})")
        elif clips > 0 and outcomes["ended_inside"][k]:
            out.append(f"clipped {clips} times at the wall, slid along it into the valley (final error {E:.4f})")
        elif clips == 0 and abs(offset) < near_wall and not outcomes["reached"][k]:
            out.append(f"crept to the wall line (ends {abs(offset):.3f} from it in b) with steps of at most "
                       f"{step:.3f}; clipping never fired, valley not reached")
        elif outcomes["ended_inside"][k]:
            out.append(f"descended into the valley without being thrown (final error {E:.4f})")
        else:
            out.append(f"ended outside the valley (final error {E:.3f})")
    return out
