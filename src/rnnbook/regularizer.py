"""The vanishing-gradient regularizer Omega (Eqs. 9-10, §3.3) as the authors' code computes it.

Definition used here (fact sheet §10.3, ``RNN.py``). For every model, step ``k`` and sequence
``b`` of the minibatch, with ``delta_k = dE/dh_k`` the total gradient w.r.t. the state::

    z_k   = delta_k * act'(h_k)           (= dE/dx_k, the pre-activation gradient)
    r_k   = || z_k W_hh^T ||^2            (= || delta_k dh_k/dh_{k-1} ||^2)
    s_k   = || delta_k ||^2
    Omega_k = (r_k / s_k - 1)^2   if s_k >= bound (1e-20), else 0
    Omega = sum_k mean_b(Omega_k) / sum_k mean_b(1[s_k >= bound])

``k`` runs over every real step ``1..T`` (in the engine: ``start[e] .. T_max - 1``), the
first one included (its Jacobian maps to the fixed ``h_0``) and the last one included (its
``delta`` is the read-out gradient alone).

Where paper and code differ, and how we read the paper:

* Eq. (9) is a ratio of *norms*; Eq. (10), which the paper differentiates, and the code use
  *squared* norms. We follow Eq. (10) and the code.
* The paper sums ``Omega_k`` over ``k``; the code averages over the batch and divides by the
  (batch-averaged) number of steps whose gradient is not negligible, so Omega is a mean per
  step and the weight (``alpha``) does not scale with the sequence length. We follow the code.
* Index pairing. The code pairs ``delta_k`` with ``h_k``: ``z_k W_hh^T`` is the part of
  ``dE/dh_{k-1}`` that flows back through step ``k``, so ``Omega_k`` measures how the
  Jacobian ``dh_k/dh_{k-1} = diag(act'_k) W_hh^T`` (row-vector form) stretches ``delta_k``.
  That is Eq. (10) written for the footnote-1 state ``h`` (the paper's ``x_{k+1}, x_k`` become
  ``h_k, h_{k-1}``). In the paper's own variables (Eq. 2, ``x`` = pre-activation) Eq. (10)
  reads ``|| dE/dx_{k+1} . dx_{k+1}/dx_k ||^2 / || dE/dx_{k+1} ||^2`` with the Jacobian
  ``dx_{k+1}/dx_k = W_rec diag(act'(x_k))`` — the paper prints ``W_rec^T diag(...)``, a
  transpose that fits neither convention (fact sheet §12 erratum); we read it as
  ``W_rec diag(act'(x_k))``. That version measures the stretch of the *pre-activation*
  gradient with ``act'`` of the *earlier* step; the code's version measures the stretch of
  the *state* gradient with ``act'`` of the *later* step. Both keep error signals from
  vanishing; they are not the same number, and we implement the code's.
* Gradient (§4.4): only the immediate derivative ``d+Omega/dW_hh`` is used — ``h_k`` and
  ``delta_k`` (hence ``z_k``, ``s_k`` and the normaliser) are held constant and only the
  explicit ``W_hh`` is differentiated. With ``v = z W_hh^T`` we have ``r = ||v||^2`` and
  ``dr/dW_hh[i, j] = 2 v_i z_j``, so::

      d+Omega/dW_hh = sum_{k,b} c_kb * 2 v_kb^T z_kb,
      c_kb = 1[s_kb >= bound] * 2 (r_kb / s_kb - 1) / (s_kb * B * N),

  ``N`` being the normaliser ``sum_k mean_b(1[s_k >= bound])``. A model with no counted
  step (``N = 0``; the code would produce NaN) gets Omega = 0 and a zero gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from rnnbook.errors import ConfigError
from rnnbook.tasks import real_steps

if TYPE_CHECKING:  # model.py imports this module; the type is only needed for annotations
    from rnnbook.model import Workspace

DEFAULT_BOUND = 1e-20


def _activation_derivative(states: torch.Tensor, act: str) -> torch.Tensor:
    if act == "tanh":
        return 1 - states.square()
    if act == "sigmoid":
        return states * (1 - states)
    raise ConfigError(f"unknown activation {act!r}; choose one of: sigmoid, tanh")


def omega_and_immediate_grad(
    W_hh: torch.Tensor,
    dpre: torch.Tensor,
    dh: torch.Tensor,
    start: torch.Tensor,
    bound: float = DEFAULT_BOUND,
    *,
    workspace: Workspace | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Omega ``(E,)`` and ``d+Omega/dW_hh`` ``(E, H, H)`` from ``z = dpre`` and ``delta = dh``.

    ``dpre = dh * act'(h)`` ``(E, T, B, H)`` is what the BPTT already holds; the engine passes
    it (and its scratch ``workspace``) to avoid recomputing it. Padding steps
    (``t < start[e]``) are never counted. Works step by step on time-major views.
    """
    E, T, B, H = dh.shape
    z, delta = dpre.transpose(0, 1), dh.transpose(0, 1)  # (T, E, B, H)
    v = torch.empty(T, E, B, H, dtype=dh.dtype, device=dh.device) if workspace is None else workspace.take("omega_v", (T, E, B, H), dh)
    W_hh_T = W_hh.mT.contiguous()
    for z_t, v_t in zip(z.unbind(0), v.unbind(0)):
        torch.bmm(z_t, W_hh_T, out=v_t)  # v = z W_hh^T
    r = torch.linalg.vector_norm(v, dim=-1).square_()  # (T, E, B); no state-sized temporary
    s = torch.linalg.vector_norm(delta, dim=-1).square_()
    counted = (s >= bound) & real_steps(start, T).T.unsqueeze(-1)
    ratio = torch.where(counted, r / s, 1.0)
    normaliser = counted.sum((0, 2)).to(dh.dtype) / B  # sum_k mean_b 1[s_k >= bound]
    safe = torch.where(normaliser > 0, normaliser, 1.0)
    # Sum over steps one step at a time, in order: a reduction over the (T, E, B) block at once
    # would group the additions differently for different E and T_max, so a run's Omega would
    # depend, in its last bits, on which runs share its ensemble and how they are padded.
    # Step by step, padding adds exact zeros and every model gets the same arithmetic.
    per_step = (ratio - 1).square_().sum(-1)  # (T, E): sum over the batch of each model
    total = torch.zeros(E, dtype=dh.dtype, device=dh.device)
    for term in per_step.unbind(0):
        total += term
    omega = total / B / safe
    coef = torch.where(counted, 4 * (ratio - 1) / s, 0.0) / (B * safe).view(1, E, 1)
    v.mul_(coef.unsqueeze(-1))
    grad = torch.zeros_like(W_hh)
    for z_t, v_t in zip(z.unbind(0), v.unbind(0)):
        grad.baddbmm_(v_t.mT, z_t)
    return omega, grad


def _from_states(W_hh, states, dh, act, start, bound):
    return omega_and_immediate_grad(W_hh, dh * _activation_derivative(states, act), dh, start, bound)


def omega(
    W_hh: torch.Tensor,
    states: torch.Tensor,
    dh: torch.Tensor,
    act: str,
    start: torch.Tensor,
    bound: float = DEFAULT_BOUND,
) -> torch.Tensor:
    """Omega per model, ``(E,)``, from states ``h`` and ``dh = dE/dh`` (both ``(E, T, B, H)``)."""
    return _from_states(W_hh, states, dh, act, start, bound)[0]


def omega_immediate_grad(
    W_hh: torch.Tensor,
    states: torch.Tensor,
    dh: torch.Tensor,
    act: str,
    start: torch.Tensor,
    bound: float = DEFAULT_BOUND,
) -> torch.Tensor:
    """``d+Omega/dW_hh`` ``(E, H, H)``: only the explicit ``W_hh`` varies (§4.4, code §10.3)."""
    return _from_states(W_hh, states, dh, act, start, bound)[1]
