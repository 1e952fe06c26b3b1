"""The paper's recurrent network and one training update, written to be read top to bottom.

One model, one minibatch, column vectors as in the paper: ``u[t]`` is ``(n_in, B)``, column ``b``
holding sequence ``b``'s input at step ``t``; states are ``(n, B)``. Gradients come from autograd;
nothing here is fast. The engine (:mod:`rnnbook.paper.model`, :mod:`rnnbook.engine.cpu_kernel`,
:mod:`rnnbook.engine.cuda_graphs`) writes the same network with row vectors, ``W_hh = W_rec^T``, and is
tested against this module in float64 (``tests/unit/test_reference.py``). Equation numbers are the
paper's (ICML), as the book lists them (back/paper_in_numbers.ipynb, pn-equations and pn-alg1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

NAMES = ("W_rec", "W_in", "b", "W_out", "b_out")


@dataclass
class RNN:
    """θ of Eq. (2) and the read-out: ``W_rec (n, n)``, ``W_in (n, n_in)``, ``b (n,)``,
    ``W_out (n_out, n)``, ``b_out (n_out,)``; ``act`` is σ, ``"tanh"`` or ``"sigmoid"``."""

    W_rec: torch.Tensor
    W_in: torch.Tensor
    b: torch.Tensor
    W_out: torch.Tensor
    b_out: torch.Tensor
    act: str

    def params(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in NAMES}


def sigma(x: torch.Tensor, act: str) -> torch.Tensor:
    """The element-wise non-linearity σ of Eq. (2) (written out so this file reads top to bottom;
    the engine's is :func:`rnnbook.paper.model.activate`)."""
    return torch.tanh(x) if act == "tanh" else torch.sigmoid(x)


def run(net: RNN, u: torch.Tensor) -> list[torch.Tensor]:
    """Eqs. (1)-(2): ``x_t = W_rec σ(x_{t-1}) + W_in u_t + b``, ``t = 1..T``, from ``σ(x_0) = 0`` (the
    authors' ``h_0 = 0``). Returns ``[σ(x_1), ..., σ(x_T)]``, each ``(n, B)``: what is passed on
    and read out (footnote 1)."""
    h = torch.zeros(net.W_rec.shape[0], u.shape[-1], dtype=u.dtype)
    states = []
    for u_t in u:
        x_t = net.W_rec @ h + net.W_in @ u_t + net.b[:, None]
        h = sigma(x_t, net.act)
        states.append(h)
    return states


def cost(net: RNN, states: list[torch.Tensor], target: torch.Tensor, readout: str) -> torch.Tensor:
    """The cost ``E = sum_t E_t`` of Eq. (3) for the task's read-out ``y_t = W_out σ(x_t) + b_out``.

    ``"last_softmax"`` (temporal order, permutation): ``E_T`` = mean over the minibatch of
    ``-log softmax(y_T)[class]``, target ``(B,)``. ``"softmax"`` (memorization): the same at every
    step, averaged over steps and sequences, target ``(T, B)``. ``"last_linear"`` (addition,
    multiplication): mean over the minibatch of ``||y_T - target||²``, target ``(n_out, B)``
    (the authors' code; back/paper_in_numbers.ipynb, pn-tasks). ``"bernoulli"`` (the piano rolls of
    §4.2): ``-log p(frame)`` with one independent Bernoulli ``p_k = sigmoid(y_t[k])`` per output,
    summed over the outputs and averaged over steps and sequences, target 0/1 ``(T, n_out, B)``.
    """
    B = target.shape[-1]
    if readout == "last_linear":
        y = net.W_out @ states[-1] + net.b_out[:, None]
        return ((y - target) ** 2).sum(0).mean()
    if readout == "bernoulli":
        total = 0.0
        for h, frame in zip(states, target):
            y = net.W_out @ h + net.b_out[:, None]  # log p = log σ(y), log (1 - p) = log σ(-y)
            total = total - (frame * F.logsigmoid(y) + (1 - frame) * F.logsigmoid(-y)).sum()
        return total / (len(states) * B)
    steps = list(zip(states, target)) if readout == "softmax" else [(states[-1], target)]
    total = 0.0
    for h, classes in steps:
        log_p = torch.log_softmax(net.W_out @ h + net.b_out[:, None], dim=0)
        total = total - log_p[classes, torch.arange(B)].sum()
    return total / (len(steps) * B)


def omega(W_rec: torch.Tensor, states: list[torch.Tensor], deltas: list[torch.Tensor], act: str,
          bound: float = 1e-20) -> torch.Tensor:
    """Ω of Eq. (9), with the squared norms of Eq. (10), as the engine and the authors' code compute it.

    For step ``k`` and sequence ``b``, with ``δ_k = ∂E/∂σ(x_k)`` the back-propagated error:
    ``Ω_kb = (||W_rec^T (σ'(x_k) ⊙ δ_k)||² / ||δ_k||² - 1)²``. The numerator is the part of
    ``∂E/∂σ(x_{k-1})`` that crosses step ``k``: how much the Jacobian ``∂σ(x_k)/∂σ(x_{k-1})``
    stretches the error travelling back through it. Pairs with ``||δ_k||² < bound`` are skipped;
    Ω is the mean over the others (0 if there are none). back/paper_in_numbers.ipynb, pn-omega.
    """
    total, counted = 0.0, 0
    for h, delta in zip(states, deltas):
        slope = 1 - h * h if act == "tanh" else h * (1 - h)  # σ'(x_k), written with h = σ(x_k)
        r = ((W_rec.T @ (slope * delta)) ** 2).sum(0)
        s = (delta**2).sum(0)
        keep = s >= bound
        total = total + torch.where(keep, (r / torch.where(keep, s, 1.0) - 1) ** 2, 0.0).sum()
        counted += int(keep.sum())
    return total / max(counted, 1)


def omega_and_immediate_grad(net: RNN, states: list[torch.Tensor], deltas: list[torch.Tensor],
                             bound: float = 1e-20) -> tuple[torch.Tensor, torch.Tensor]:
    """Ω and ``∂⁺Ω/∂W_rec`` of Eq. (10): the states and the errors δ_k are held constant
    (detached), so only the explicit ``W_rec`` is differentiated — the paper's approximation."""
    W_rec = net.W_rec.detach().requires_grad_(True)
    value = omega(W_rec, [h.detach() for h in states], [d.detach() for d in deltas], net.act, bound)
    (grad,) = torch.autograd.grad(value, W_rec)
    return value.detach(), grad


def loss_and_grads(net: RNN, u: torch.Tensor, target: torch.Tensor, readout: str,
                   reg_weight: float | None = None, bound: float = 1e-20):
    """BPTT by autograd: the loss, ``∂E/∂θ`` (Eqs. 3-5, summed by autograd), and Ω (or ``None``).

    With ``reg_weight`` α, ``α ∂⁺Ω/∂W_rec`` (Eq. 10) is added to the gradient of ``W_rec``, before
    any clipping, as the authors' code does. Returns ``(loss, grads, omega)``; ``grads`` by name.
    """
    leaves = {name: p.detach().requires_grad_(True) for name, p in net.params().items()}
    live = replace(net, **leaves)
    states = run(live, u)
    loss = cost(live, states, target, readout)
    found = torch.autograd.grad(loss, [*leaves.values(), *states])
    grads, deltas = dict(zip(NAMES, found)), list(found[len(NAMES):])  # deltas: ∂E/∂σ(x_k)
    if reg_weight is None:
        return loss.detach(), grads, None
    value, g_omega = omega_and_immediate_grad(net, states, deltas, bound)
    grads["W_rec"] = grads["W_rec"] + reg_weight * g_omega
    return loss.detach(), grads, value


def clip(grads: dict[str, torch.Tensor], threshold: float) -> tuple[dict[str, torch.Tensor], torch.Tensor, bool]:
    """Algorithm 1: ``if ||ĝ|| ≥ threshold: ĝ ← (threshold / ||ĝ||) ĝ``, one norm over all of θ.

    Returns the clipped gradients, the norm before clipping and whether it clipped. The engine
    tests ``||ĝ|| > threshold`` (as the authors' code): at equality the factor is exactly 1, so
    the step is the same and only the flag differs.
    """
    norm = torch.sqrt(sum((g**2).sum() for g in grads.values()))
    clipped = bool(norm >= threshold)
    scale = threshold / norm if clipped else 1.0
    return {name: g * scale for name, g in grads.items()}, norm, clipped


def safety_net(grads: dict[str, torch.Tensor], net: RNN, norm: torch.Tensor) -> tuple[dict[str, torch.Tensor], bool]:
    """The authors' code only (back/paper_in_numbers.ipynb, pn-code): if ``||ĝ||`` is NaN, infinite or
    above 1e10, the step becomes ``ĝ_W_rec = 0.02 W_rec`` and 0 for every other parameter."""
    if norm <= 1e10:
        return grads, False
    return {name: 0.02 * net.W_rec if name == "W_rec" else torch.zeros_like(g) for name, g in grads.items()}, True


def sgd_update(net: RNN, u: torch.Tensor, target: torch.Tensor, readout: str, *, lr: float,
               threshold: float = math.inf, reg_weight: float | None = None, safety: bool = False):
    """One update of MSGD (``threshold = inf``), MSGD-C (+ Algorithm 1) or MSGD-CR (+ α Ω, Eq. 10):
    ``θ ← θ - lr ĝ``. Returns the new network and ``(loss, norm before clipping, clipped?, Ω)``."""
    loss, grads, value = loss_and_grads(net, u, target, readout, reg_weight)
    grads, norm, clipped = clip(grads, threshold)
    if safety:
        grads, _ = safety_net(grads, net, norm)
    new = replace(net, **{name: p - lr * grads[name] for name, p in net.params().items()})
    return new, (loss, norm, clipped, value)


def from_engine(params, batch, e: int, act: str):
    """Model ``e`` of the engine's ensemble as ``(RNN, u, target)``, its padding steps dropped.

    The engine's row vectors give ``W_rec = W_hh^T``, ``W_in = W_uh^T``, ``W_out = W_hy^T``."""
    net = RNN(params.W_hh[e].T, params.W_uh[e].T, params.b_h[e], params.W_hy[e].T, params.b_y[e], act)
    start = int(batch.start[e])
    target = batch.target[e]
    if target.dim() == 2:  # per-step classes (T, B) or real targets (B, n_out)
        target = target[start:] if target.dtype == torch.long else target.T
    elif target.dim() == 3:  # per-step 0/1 frames (T, B, n_out)
        target = target[start:].transpose(1, 2)
    return net, batch.u[e, start:].transpose(1, 2), target


def slope(h: torch.Tensor, act: str) -> torch.Tensor:
    """σ'(x) written with ``h = σ(x)``: ``1 - h²`` for tanh, ``h (1 - h)`` for the sigmoid."""
    return 1 - h * h if act == "tanh" else h * (1 - h)


def loss_and_grads_error_clipped(net: RNN, u: torch.Tensor, target: torch.Tensor, readout: str,
                                 cutoff: float) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """BPTT written out by hand, with Mikolov's clipping of the back-propagated error (§3.1).

    The rule the paper contrasts with Algorithm 1 clips the *temporal* components: in Mikolov's
    RNNLM the error arriving at the hidden layer is clipped element-wise at every step of the
    backward pass (the toolkit's ``gradient_cutoff``; how exactly RNNLM places it is not in the
    paper). Here, going back from ``t = T`` to 1, the error at the pre-activations ::

        z_t = (∂E_t/∂σ(x_t) + W_rec^T z_{t+1}) ⊙ σ'(x_t)        (z_{T+1} = 0)

    has each component clamped to ``[-cutoff, cutoff]``; the clamped ``z_t`` is both what step
    ``t`` adds to the gradients (``z_t σ(x_{t-1})^T`` to ``W_rec``, ``z_t u_t^T`` to ``W_in``, ``z_t``
    to ``b``) and what travels on to step ``t - 1``. With ``cutoff = inf`` this is exact BPTT (the
    gradient of Eqs. 3-5, :func:`loss_and_grads`). The read-out's gradients and the direct errors
    ``∂E_t/∂σ(x_t)`` come from autograd of :func:`cost` with the states held fixed.

    Returns ``(loss, grads by name, number of clamped components over all steps and sequences)``.
    """
    states = [h.detach() for h in run(net, u)]
    leaves = {name: net.params()[name].detach().requires_grad_(True) for name in ("W_out", "b_out")}
    live_states = [h.clone().requires_grad_(True) for h in states]
    loss = cost(replace(net, **leaves), live_states, target, readout)
    found = torch.autograd.grad(loss, [*leaves.values(), *live_states], allow_unused=True)
    grads = {"W_out": found[0], "b_out": found[1]}
    direct = [torch.zeros_like(h) if d is None else d for h, d in zip(states, found[2:])]
    W_rec = net.W_rec.detach()
    g_rec, g_in, g_b = torch.zeros_like(W_rec), torch.zeros_like(net.W_in), torch.zeros_like(net.b)
    z_next, clamped = None, 0
    for t in range(len(states) - 1, -1, -1):
        error = direct[t] if z_next is None else direct[t] + W_rec.T @ z_next   # ∂E/∂σ(x_t), all paths
        z = error * slope(states[t], net.act)                                   # ∂E/∂x_t
        clamped += int((z.abs() > cutoff).sum())
        z = z.clamp(-cutoff, cutoff)
        h_before = states[t - 1] if t > 0 else torch.zeros_like(states[0])      # σ(x_0) = 0
        g_rec += z @ h_before.T
        g_in += z @ u[t].T
        g_b += z.sum(1)
        z_next = z
    grads.update(W_rec=g_rec, W_in=g_in, b=g_b)
    return loss.detach(), {name: grads[name] for name in NAMES}, clamped
