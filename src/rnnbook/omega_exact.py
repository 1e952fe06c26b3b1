"""Omega (Eq. 9) differentiated exactly, by automatic differentiation through everything.

The paper (§3.3, §4.4) and the authors' code use only Omega's *immediate* gradient (Eq. 10):
the states ``h_k`` and the back-propagated errors ``delta_k = dE/dh_k`` are held constant and
only the ``W_hh`` written explicitly in ``||delta_k dh_k/dh_{k-1}||`` is differentiated
(:mod:`rnnbook.regularizer`). But ``h_k`` and ``delta_k`` depend on ``W_hh`` too (and on every
other weight). This module builds the whole computation with autograd -- forward pass, the
read-out cost, the error signals ``delta_k`` as a differentiable function of the weights
(``create_graph=True``), Omega from them -- and differentiates Omega with respect to every
weight. The same code with ``h`` and ``delta`` detached gives the immediate gradient, which
must equal :func:`rnnbook.regularizer.omega_immediate_grad` (tests/test_omega_exact.py).

Omega is the code's (and :mod:`rnnbook.regularizer`'s) definition: squared-norm ratios,
averaged over the minibatch and over the steps whose error is not negligible.

One model at a time (``Params`` with ``E = 1``), ``last_softmax`` or ``last_linear`` read-outs,
batches without padding. Slow (a second-order graph); meant for measurements, not training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnbook.errors import ConfigError
from rnnbook.model import Params
from rnnbook.regularizer import DEFAULT_BOUND
from rnnbook.tasks import Batch, Task


def _act(x: torch.Tensor, act: str) -> torch.Tensor:
    return torch.tanh(x) if act == "tanh" else torch.sigmoid(x)


def _dact(h: torch.Tensor, act: str) -> torch.Tensor:
    return 1 - h * h if act == "tanh" else h * (1 - h)


def _loss(W_hy: torch.Tensor, b_y: torch.Tensor, h_last: torch.Tensor, target: torch.Tensor, task: Task) -> torch.Tensor:
    """The engine's cost (model._readout) for one model: ``h_last (B, H)``."""
    logits = h_last @ W_hy + b_y
    if task.readout == "last_softmax":
        return torch.nn.functional.cross_entropy(logits, target)
    if task.readout == "last_linear":
        return (logits - target).square().sum(-1).mean()
    raise ConfigError(f"omega_exact handles last-step read-outs, not {task.readout!r}")


@dataclass
class OmegaGradients:
    """Omega's value and two gradients, for one model on one minibatch.

    ``exact``: dOmega/dtheta for every weight (a :class:`Params` with ``E = 1``), every
    dependence included. ``immediate``: the paper's Eq. (10) gradient w.r.t. ``W_hh`` only
    (``h`` and ``delta`` held constant), ``(1, H, H)``. ``loss``: the cost on the minibatch.
    """

    omega: float
    loss: float
    exact: Params
    immediate: torch.Tensor

    def cosine(self) -> float:
        """Cosine between the immediate and the exact gradient w.r.t. ``W_hh``."""
        a, b = self.immediate.reshape(-1).double(), self.exact.W_hh.reshape(-1).double()
        return float(a @ b / (a.norm() * b.norm()))

    def norm_ratio(self) -> float:
        """``||immediate|| / ||exact_W_hh||``."""
        return float(self.immediate.double().norm() / self.exact.W_hh.double().norm())

    def share_in_W_hh(self) -> float:
        """Fraction of the exact gradient's squared norm that lies on ``W_hh``."""
        total = sum(float(g.double().square().sum()) for g in self.exact.tensors())
        return float(self.exact.W_hh.double().square().sum()) / total


def _omega_terms(W_hh: torch.Tensor, hs: list[torch.Tensor], deltas: list[torch.Tensor], act: str,
                 bound: float) -> torch.Tensor:
    """Omega (code's definition) from states ``h_k`` and errors ``delta_k``, each ``(B, H)``."""
    B = hs[0].shape[0]
    total = torch.zeros((), dtype=W_hh.dtype)
    counted_total = torch.zeros((), dtype=W_hh.dtype)
    for h, delta in zip(hs, deltas):
        z = delta * _dact(h, act)
        r = (z @ W_hh.T).square().sum(-1)
        s = delta.square().sum(-1)
        counted = (s >= bound).detach()
        safe = torch.where(counted, s, torch.ones_like(s))
        total = total + torch.where(counted, (r / safe - 1).square(), torch.zeros_like(r)).sum() / B
        counted_total = counted_total + counted.to(W_hh.dtype).sum() / B
    if float(counted_total) == 0:
        return total * 0
    return total / counted_total


def omega_gradients(params: Params, act: str, task: Task, batch: Batch, *, bound: float = DEFAULT_BOUND) -> OmegaGradients:
    """Omega, its exact gradient (autograd through everything) and its immediate gradient (Eq. 10)."""
    if params.n_models != 1:
        raise ConfigError(f"omega_gradients takes one model, got {params.n_models}")
    if int(batch.start.max()) != 0:
        raise ConfigError("omega_gradients needs a batch without padding (start = 0)")
    W_uh, W_hh, b_h, W_hy, b_y = (t[0].detach().clone().requires_grad_(True) for t in params.tensors())
    u, target = batch.u[0], batch.target[0]  # (T, B, n_in)
    T, B, _ = u.shape
    h = torch.zeros(B, W_hh.shape[0], dtype=W_hh.dtype)
    hs = []
    for t in range(T):
        h = _act(h @ W_hh + u[t] @ W_uh + b_h, act)
        hs.append(h)
    loss = _loss(W_hy, b_y, hs[-1], target, task)
    deltas = list(torch.autograd.grad(loss, hs, create_graph=True))
    omega = _omega_terms(W_hh, hs, deltas, act, bound)
    exact = torch.autograd.grad(omega, (W_uh, W_hh, b_h, W_hy, b_y), allow_unused=True)
    exact = [torch.zeros_like(p) if g is None else g for g, p in zip(exact, (W_uh, W_hh, b_h, W_hy, b_y))]
    W_live = W_hh.detach().clone().requires_grad_(True)
    omega_fixed = _omega_terms(W_live, [x.detach() for x in hs], [d.detach() for d in deltas], act, bound)
    (immediate,) = torch.autograd.grad(omega_fixed, W_live)
    return OmegaGradients(float(omega.detach()), float(loss.detach()), Params(*(g.detach().unsqueeze(0) for g in exact)),
                          immediate.detach().unsqueeze(0))


def omega_value(params: Params, act: str, task: Task, batch: Batch, *, bound: float = DEFAULT_BOUND) -> float:
    """Omega of one model on one minibatch, every quantity recomputed from the weights."""
    W_uh, W_hh, b_h, W_hy, b_y = (t[0].detach().clone().requires_grad_(True) for t in params.tensors())
    u, target = batch.u[0], batch.target[0]
    h = torch.zeros(u.shape[1], W_hh.shape[0], dtype=W_hh.dtype)
    hs = []
    for t in range(u.shape[0]):
        h = _act(h @ W_hh + u[t] @ W_uh + b_h, act)
        hs.append(h)
    loss = _loss(W_hy, b_y, hs[-1], target, task)
    deltas = torch.autograd.grad(loss, hs)
    with torch.no_grad():
        return float(_omega_terms(W_hh, hs, list(deltas), act, bound))


# ---------------------------------------------------------------------------------------------
# The 2x2 picture of Chapter 3.3: Jacobians that preserve the norm along one direction only
# ---------------------------------------------------------------------------------------------


def _rotation(angle: float):
    import numpy as np

    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def norm_preserving_jacobian_2d(delta, s1: float, s2: float, angle_out: float):
    """A 2x2 ``J = U diag(s1, s2) V^T`` with ``||delta J|| = ||delta||`` (row vectors: ``delta @ J``).

    Needs ``s1 > 1 > s2 >= 0``. ``U`` is turned so that ``delta`` makes the angle with ``J``'s first
    input axis whose ``cos^2 = (1 - s2^2) / (s1^2 - s2^2)``; ``V`` (where the error goes) is the
    rotation by ``angle_out``. So ``Omega_k = 0`` for this error although ``J`` stretches one
    direction by ``s1`` and shrinks another to ``s2``.
    """
    import math

    import numpy as np

    if not s1 > 1 > s2 >= 0:
        raise ConfigError(f"need s1 > 1 > s2 >= 0, got s1={s1}, s2={s2}")
    d = np.asarray(delta, dtype=float)
    d = d / np.linalg.norm(d)
    c2 = (1 - s2**2) / (s1**2 - s2**2)
    theta = math.atan2(d[1], d[0]) - math.acos(math.sqrt(c2))
    return _rotation(theta) @ np.diag([s1, s2]) @ _rotation(angle_out).T


def random_jacobian_2d(rng, s1: float, s2: float):
    """A 2x2 matrix with singular values ``s1, s2`` and uniformly random orientations."""
    a, b = rng.uniform(0, 2 * 3.141592653589793, 2)
    import numpy as np

    return _rotation(a) @ np.diag([s1, s2]) @ _rotation(b).T


def error_norms_through_chain(delta, s1: float, s2: float, steps: int, rng, *, preserving: bool):
    """``||delta_k|| / ||delta_T||`` for ``k = T, T-1, ..., T-steps``: back-propagation through
    ``steps`` 2x2 Jacobians with singular values ``s1, s2``, each either preserving the norm of the
    error that reaches it (:func:`norm_preserving_jacobian_2d`) or randomly oriented."""
    import numpy as np

    d = np.asarray(delta, dtype=float)
    n0 = np.linalg.norm(d)
    out = [1.0]
    for _ in range(steps):
        J = (norm_preserving_jacobian_2d(d, s1, s2, rng.uniform(0, 2 * np.pi)) if preserving
             else random_jacobian_2d(rng, s1, s2))
        d = d @ J
        out.append(float(np.linalg.norm(d) / n0))
    return np.array(out)
