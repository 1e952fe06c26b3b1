"""The one-unit network of the paper's Eq. (8), as a map iterated (Chapter 2.2).

The paper's §2.2 strips a recurrent network down to one unit with no input,

    x_t = F(x_{t-1}) = w σ(x_{t-1}) + b,                                        (8)

with σ the logistic sigmoid: running the network for T steps is applying the map F T times.
This module is that map and what Chapter 2.2 draws of it: a :func:`trajectory` (or only its
:func:`final_state`, for large grids), the :func:`cobweb` that shows the iteration on the graph
of F, and the map's slope F'(x) = w σ'(x) (:func:`multiplier`), which decides everything else:
a fixed point x* = F(x*) attracts when |F'(x*)| < 1 and repels when |F'(x*)| > 1
(:mod:`rnnbook.paper.bistability`), and the derivative of x_T with respect to x_0 is the product
of F' along the path (:mod:`rnnbook.paper.boundaries`).

Everything is NumPy float64 and vectorised: ``w``, ``b`` and ``x0`` may be arrays of any
broadcastable shapes, so a whole (b, x_0) or (w, b) grid is one call.
"""

from __future__ import annotations

import numpy as np

#: Doya's recurrent weight in the paper's Fig. 3.
W_DOYA = 5.0


# ----------------------------------------------------------------------------------------------
# The logistic sigmoid and its derivatives
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


# ----------------------------------------------------------------------------------------------
# The map, its iterates and its slope
# ----------------------------------------------------------------------------------------------


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


def final_state(x0, w, b, T: int) -> np.ndarray:
    """x_T of Eq. (8) without storing the path (for large grids)."""
    x = np.broadcast_arrays(np.asarray(x0, np.float64), np.asarray(w, np.float64), np.asarray(b, np.float64))[0].copy()
    for _ in range(T):
        x = step(x, w, b)
    return x


def multiplier(x, w):
    """F'(x) = w σ'(x): a fixed point x* is stable (an attractor) iff |F'(x*)| < 1."""
    return w * dlogistic(x)
