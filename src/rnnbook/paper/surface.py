"""The error surface of the paper's Fig. 6, its curvature, and gradient descent on it (Chapter 2.3).

The paper's §2.3 gives the one-unit network x_t = w σ(x_{t-1}) + b (:mod:`rnnbook.paper.one_unit`)
a task: from x_0 = 0.5, after T = 50 steps, read out σ(x_50) = 0.7. The error
E_T(w, b) = (σ(x_T) − target)² is a function of two parameters only, so it can be drawn. Where
the path runs along the repelling fixed point (the basin boundary of
:mod:`rnnbook.paper.bistability`), x_T jumps from one attractor to the other as (w, b) moves a
hair: the surface has a *wall*, on which the gradient explodes and the curvature along the
gradient is large too; the paper's argument is that the two grow together, so the wall is a
steep, narrow cliff and a gradient step on it throws the parameters far away.

:func:`error_surface` computes E_T with its exact gradient and Hessian by forward recursion
(:class:`ErrorSurface` splits the curvature into its three terms); :func:`linear_derivatives` is
the paper's linear case, where the blow-up is w^t by hand. :func:`gradient_descent` runs plain
descent from many starts at once, with or without the norm clipping of the paper's Algorithm 1
(:func:`clip_by_norm`), and :func:`valley_outcomes` and :func:`describe_runs` say what happened
to each run: thrown off the wall, or clipped and slid along it into the valley.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnbook.paper.one_unit import logistic

#: The paper's Fig. 6 set-up: x_0 = 0.5, T = 50 steps, target σ(x_50) = 0.7.
X0_FIG6 = 0.5
T_FIG6 = 50
TARGET_FIG6 = 0.7


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
