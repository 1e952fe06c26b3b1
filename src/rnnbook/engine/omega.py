"""The vanishing-gradient regularizer Omega (Eqs. 9-10, §3.3) as the authors' code computes it.

Definition used here: the authors' ``RNN.py`` (back/paper_in_numbers.ipynb, pn-code and pn-omega).
For every model, step ``k`` and sequence ``b`` of the minibatch, with ``delta_k = dE/dh_k``
the total gradient w.r.t. the state::

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
  transpose that fits neither convention (back/errata.md, err-transpose); we read it as
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

import torch

from rnnbook.engine.workspace import Workspace, scratch
from rnnbook.paper.model import derivative_from_output
from rnnbook.paper.tasks import real_steps

DEFAULT_BOUND = 1e-20


class OmegaSteps:
    """Omega and its immediate gradient, accumulated one step at a time.

    The engine's backward recursion visits every step once, latest first, and already holds
    what Omega needs there: ``z_k`` (its ``dpre``), ``delta_k`` (its ``dh``) and ``v_k = z_k
    W_hh^T`` (the recurrent part of ``dh_{k-1}``, which it has just computed). Feeding them to
    :meth:`add` as they pass costs one extra batched product per step (the gradient's
    ``v^T z``) and no state-sized buffer, instead of keeping ``z`` and ``delta`` for all
    steps and recomputing ``v``, which made a regularised update markedly dearer
    (``benchmarks/README.md``, "Measurements behind the code's choices").
    :func:`omega_and_immediate_grad` runs the same class over stored arrays, so both paths are
    one implementation.

    Steps may be added in any order; :meth:`result` sums Omega's terms in step order and
    the gradient in the order added, so a model's numbers do not depend on which other
    models share the pass or how they are padded.
    """

    def __init__(self, W_hh: torch.Tensor, T: int, B: int, start: torch.Tensor, bound: float = DEFAULT_BOUND,
                 *, workspace: Workspace | None = None, pad: int | None = None) -> None:
        E = W_hh.shape[0]
        flag = torch.empty((), dtype=torch.bool, device=W_hh.device)
        self.B, self.bound = B, bound
        self.dev = scratch(workspace, "omega_dev", (T, E, B), W_hh)  # r/s - 1 where counted, else 0
        self.counted = scratch(workspace, "omega_counted", (T, E, B), flag)
        self.coef = scratch(workspace, "omega_coef", (E, B), W_hh)
        self.scaled = scratch(workspace, "omega_scaled", (E, B, W_hh.shape[-1]), W_hh)
        # steps t < pad are padding for some models (a host-side upper bound, or read from the device)
        self.pad = int(start.max()) if pad is None else pad
        self.real = real_steps(start, self.pad).T.unsqueeze(-1) if self.pad else None  # (pad, E, 1)
        self.grad = torch.zeros_like(W_hh)
        self.zero = torch.zeros((), dtype=W_hh.dtype, device=W_hh.device)
        self.one = torch.ones((), dtype=W_hh.dtype, device=W_hh.device)
        self.added = [False] * T

    def add(self, t: int, z: torch.Tensor, delta: torch.Tensor, v: torch.Tensor,
            s: torch.Tensor | None = None) -> torch.Tensor:
        """Step ``t``: ``z``, ``delta`` and ``v = z W_hh^T``, each ``(E, B, H)`` (padding: delta 0).

        ``s`` ``(E, B)``: ``||delta||^2`` when the caller has it already -- in the engine it is
        the previous step's ``||v||^2``, because ``delta_t`` is the ``v_{t+1}`` it computed.
        Returns ``r = ||v||^2`` ``(E, B)``.
        """
        r = torch.linalg.vector_norm(v, dim=-1).square_()
        if s is None:
            s = torch.linalg.vector_norm(delta, dim=-1).square_()
        counted = torch.ge(s, self.bound, out=self.counted[t])
        if t < self.pad:
            counted.logical_and_(self.real[t])
        s_safe = torch.where(counted, s, self.one)
        dev = torch.where(counted, torch.div(r, s_safe).sub_(1.0), self.zero, out=self.dev[t])
        torch.div(dev, s_safe, out=self.coef)  # (r/s - 1)/s, 0 where not counted
        torch.mul(v, self.coef.unsqueeze(-1), out=self.scaled)
        self.grad.baddbmm_(self.scaled.mT, z)
        self.added[t] = True
        return r

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Omega ``(E,)`` and ``d+Omega/dW_hh`` ``(E, H, H)`` over the steps added."""
        if not all(self.added):
            raise ValueError("OmegaSteps.result() before every step was added")
        E, B = self.grad.shape[0], self.B
        per_step = self.dev.square().sum(-1)  # (T, E): sum over the batch of each model
        # Sum over steps one step at a time, in order: a reduction over the (T, E) block at once
        # would group the additions differently for different E and T_max, so a run's Omega would
        # depend, in its last bits, on which runs share its ensemble and how they are padded.
        # Step by step, padding adds exact zeros and every model gets the same arithmetic.
        total = torch.zeros(E, dtype=self.grad.dtype, device=self.grad.device)
        for term in per_step.unbind(0):
            total += term
        normaliser = self.counted.sum((0, 2)).to(self.grad.dtype) / B  # sum_k mean_b 1[s_k >= bound]
        safe = torch.where(normaliser > 0, normaliser, 1.0)
        return total / B / safe, self.grad.mul_((4.0 / (B * safe)).view(E, 1, 1))


def omega_and_immediate_grad(
    W_hh: torch.Tensor,
    dpre: torch.Tensor,
    dh: torch.Tensor,
    start: torch.Tensor,
    bound: float = DEFAULT_BOUND,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Omega ``(E,)`` and ``d+Omega/dW_hh`` ``(E, H, H)`` from ``z = dpre`` and ``delta = dh``.

    ``dpre = dh * act'(h)`` and ``dh`` are ``(E, T, B, H)``. Padding steps (``t < start[e]``)
    are never counted. Steps are visited latest first, as the engine's backward pass does.
    """
    E, T, B, H = dh.shape
    z, delta = dpre.transpose(0, 1), dh.transpose(0, 1)  # (T, E, B, H)
    steps = OmegaSteps(W_hh, T, B, start, bound)
    W_hh_T = W_hh.mT.contiguous()
    v = torch.empty(E, B, H, dtype=dh.dtype, device=dh.device)
    for t in range(T - 1, -1, -1):
        torch.bmm(z[t], W_hh_T, out=v)
        steps.add(t, z[t], delta[t], v)
    return steps.result()


def omega_from_states(
    W_hh: torch.Tensor,
    states: torch.Tensor,
    dh: torch.Tensor,
    act: str,
    start: torch.Tensor,
    bound: float = DEFAULT_BOUND,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Omega per model ``(E,)`` and ``d+Omega/dW_hh`` ``(E, H, H)`` (only the explicit ``W_hh``
    varies: §4.4, code §10.3), from states ``h`` and ``dh = dE/dh`` (both ``(E, T, B, H)``)."""
    return omega_and_immediate_grad(W_hh, dh * derivative_from_output(states, act), dh, start, bound)
