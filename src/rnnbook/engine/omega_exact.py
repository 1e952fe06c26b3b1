"""Omega (Eq. 9) differentiated exactly, by automatic differentiation through everything.

The paper (§3.3, §4.4) and the authors' code use only Omega's *immediate* gradient (Eq. 10):
the states ``h_k`` and the back-propagated errors ``delta_k = dE/dh_k`` are held constant and
only the ``W_hh`` written explicitly in ``||delta_k dh_k/dh_{k-1}||`` is differentiated
(:mod:`rnnbook.engine.omega`). But ``h_k`` and ``delta_k`` depend on ``W_hh`` too (and on every
other weight). This module builds the whole computation with autograd -- forward pass, the
read-out cost, the error signals ``delta_k`` as a differentiable function of the weights
(``create_graph=True``), Omega from them -- and differentiates Omega with respect to every
weight. The same code with ``h`` and ``delta`` detached gives the immediate gradient, which
must equal the immediate gradient of :func:`rnnbook.engine.omega.omega_from_states` (tests/unit/test_omega_exact.py).

Omega is the code's (and :mod:`rnnbook.engine.omega`'s) definition: squared-norm ratios,
averaged over the minibatch and over the steps whose error is not negligible.

One model at a time (``Params`` with ``E = 1``), ``last_softmax`` or ``last_linear`` read-outs,
batches without padding. Slow (a second-order graph); meant for measurements, not training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnbook.engine.batched import loss_and_grads
from rnnbook.engine.omega import DEFAULT_BOUND
from rnnbook.engine.omega import omega_and_immediate_grad as omega_grad
from rnnbook.errors import ConfigError
from rnnbook.paper.model import Params, activate, derivative_from_output
from rnnbook.paper.tasks import Batch, Task


def _loss(W_hy: torch.Tensor, b_y: torch.Tensor, h_last: torch.Tensor, target: torch.Tensor, task: Task) -> torch.Tensor:
    """The engine's cost (rnnbook.engine.readout.readout) for one model: ``h_last (B, H)``."""
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

    def regularised_step_cosine(self, cost_grads: Params, weight: float) -> float:
        """Cosine, over all parameters, between MSGD-CR's vector ``g_E + weight * d+Omega/dW_hh``
        (Eq. 10, what the code clips and steps along) and the true gradient ``g_E + weight *
        dOmega/dtheta`` of ``E + weight * Omega``. ``cost_grads``: ``dE/dtheta`` on the same
        minibatch (``E = 1``). Negative: the step goes uphill on ``E + weight * Omega``."""
        used, true = [], []
        for name, g in cost_grads.items():
            g = g.double().reshape(-1)
            exact = getattr(self.exact, name).double().reshape(-1)
            extra = self.immediate.double().reshape(-1) if name == "W_hh" else torch.zeros_like(g)
            used.append(g + weight * extra)
            true.append(g + weight * exact)
        a, b = torch.cat(used), torch.cat(true)
        return float(a @ b / (a.norm() * b.norm()))


def _omega_terms(W_hh: torch.Tensor, hs: list[torch.Tensor], deltas: list[torch.Tensor], act: str,
                 bound: float) -> torch.Tensor:
    """Omega (code's definition) from states ``h_k`` and errors ``delta_k``, each ``(B, H)``."""
    B = hs[0].shape[0]
    total = torch.zeros((), dtype=W_hh.dtype)
    counted_total = torch.zeros((), dtype=W_hh.dtype)
    for h, delta in zip(hs, deltas):
        z = delta * derivative_from_output(h, act)
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
        h = activate(h @ W_hh + u[t] @ W_uh + b_h, act)
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
        h = activate(h @ W_hh + u[t] @ W_uh + b_h, act)
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


# ---------------------------------------------------------------------------------------------
# What Omega controls, and what it does not (Chapter 3.3, "What Omega can and cannot do")
# ---------------------------------------------------------------------------------------------


def several_costs_chain(T: int, *, direct: float = 1.0, far: float = 1.0, shrink: float = 0.1) -> dict:
    """Back-propagation through ``J = diag(1, shrink)`` at every step, with costs at several steps.

    Row vectors, as in Eq. (9): ``delta_k = delta_{k+1} J + d_k``. Every step ``k = 1..T`` has a
    cost whose direct error is ``d_k = direct * e1``; the last step has, besides, a far cost
    ``E_T`` whose error ``far * e2`` must travel back to every earlier step. Returned, for
    ``k = T-1, ..., 1`` (index 0 is ``k = T-1``): ``omega_sq`` and ``omega_plain``, the terms
    ``Omega_k`` of Eq. (10) (squared norms) and Eq. (9) (plain norms) for the total error
    ``delta_{k+1}``; ``q``, the ratio ``||delta_{k+1} J|| / ||delta_{k+1}||``; ``long_term``,
    the norm of ``E_T``'s own component ``far e2 J^{T-k}`` that Eq. (4) needs at step ``k``; and
    ``total``, ``||delta_k||``. Omega is near 0 at every step while ``long_term`` decays like
    ``shrink^(T-k)``: the penalty sees the total error, which the direct terms dominate.
    """
    import numpy as np

    J = np.diag([1.0, shrink])
    d = np.array([direct, 0.0])
    delta = d + np.array([0.0, far])                       # delta_T: the last step's own cost and E_T
    comp = np.array([0.0, far])                            # E_T's component, propagated alone
    out = {k: [] for k in ("omega_sq", "omega_plain", "q", "long_term", "total")}
    for _ in range(T - 1):
        back = delta @ J
        q = np.linalg.norm(back) / np.linalg.norm(delta)
        out["q"].append(q)
        out["omega_sq"].append((q**2 - 1) ** 2)
        out["omega_plain"].append((q - 1) ** 2)
        comp = comp @ J
        out["long_term"].append(np.linalg.norm(comp))
        delta = back + d
        out["total"].append(np.linalg.norm(delta))
    return {k: np.array(v) for k, v in out.items()}


def penalty_slopes(q) -> dict:
    """``d/dq`` of one step's penalty as a function of the ratio ``q = ||delta J|| / ||delta||``,
    by autograd: ``(q - 1)^2`` (Eq. 9, plain norms) and ``(q^2 - 1)^2`` (Eq. 10, squared norms,
    as the paper differentiates and the code computes). Near ``q = 0`` (an error that the step
    all but kills) the first has slope ``-2``, the second ``4q(q^2 - 1) -> 0``."""
    qs = torch.as_tensor(q, dtype=torch.float64).detach().clone().requires_grad_(True)
    plain, squared = (qs - 1) ** 2, (qs**2 - 1) ** 2
    (d_plain,) = torch.autograd.grad(plain.sum(), qs)
    (d_squared,) = torch.autograd.grad(squared.sum(), qs)
    return {"plain": d_plain.numpy(), "squared": d_squared.numpy()}


def spread_shrinkage_penalty(total_log_shrink: float, T: int) -> dict:
    """Omega for an error that shrinks by ``exp(-L)`` over ``T`` steps, evenly (``q = e^{-L/T}``).

    ``sum`` is Eq. (9)'s sum over steps with squared norms, ``T (q^2 - 1)^2 ~ 4 L^2 / T``; ``mean``
    is the code's mean over steps (:func:`rnnbook.engine.omega.omega_from_states`), ``(q^2 - 1)^2 ~ 4 L^2 /
    T^2``. The same total vanishing costs the mean-normalised penalty less and less as the
    sequences grow."""
    import math

    q = math.exp(-total_log_shrink / T)
    term = (q * q - 1) ** 2
    return {"q": q, "sum": T * term, "mean": term}


def omega_step_ratios(params: Params, act: str, task: Task, batch: Batch, step: float, *,
                      bound: float = DEFAULT_BOUND) -> dict:
    """What one step along ``-d+Omega/dW_hh`` (Eq. 10) does to the ratios Omega looks at.

    Model 0 of ``params``, one minibatch. ``q_k = ||z_k W_hh^T|| / ||delta_k||`` for every counted
    (step, sequence) pair, ``delta_k = dE/dh_k``: ``before``; ``after_fixed``, after
    ``W_hh <- W_hh - step * d+Omega/dW_hh`` with the states and errors held as they were (what
    Eq. 10 assumes); ``after``, with states and errors recomputed by a new forward and backward
    pass (what really happens); and ``omega`` before and after (the code's mean, Eq. 10 form).
    """

    def ratios(p, W_hh=None):
        out = loss_and_grads(p, act, task, batch, reg_weight=torch.zeros(p.W_hh.shape[0], dtype=p.W_hh.dtype),
                             keep_states=True)
        h, dh = out.states, out.dh
        z = dh * (1 - h * h if act == "tanh" else h * (1 - h))
        W = p.W_hh if W_hh is None else W_hh
        v = torch.einsum("etbi,eji->etbj", z, W)             # z W_hh^T
        r, s = v.square().sum(-1)[0], dh.square().sum(-1)[0]
        keep = s >= bound
        return (r[keep] / s[keep]).sqrt(), z, dh, keep

    q0, z, dh, keep = ratios(params)
    value, grad = omega_grad(params.W_hh, z, dh, batch.start, bound)
    new_W = params.W_hh - step * grad
    v_fixed = torch.einsum("etbi,eji->etbj", z, new_W)
    r_fixed, s0 = v_fixed.square().sum(-1)[0], dh.square().sum(-1)[0]
    q_fixed = (r_fixed[keep] / s0[keep]).sqrt()
    moved = params.clone()
    moved.W_hh.copy_(new_W)
    q1, z1, dh1, _ = ratios(moved)
    value1, _ = omega_grad(moved.W_hh, z1, dh1, batch.start, bound)
    return {"before": q0.numpy(), "after_fixed": q_fixed.numpy(), "after": q1.numpy(),
            "omega": (float(value[0]), float(value1[0]))}
