"""Gradients of a recurrent network written the paper's way (Chapter 1, §1.1; Chapter 2, §2.1).

The paper's theory uses the parametrisation of its Eq. (2), with column vectors:

    x_t = W_rec σ(x_{t-1}) + W_in u_t + b,                                     (2)

and a cost E = Σ_t E_t with E_t = L(x_t) (Eq. 3). Here the per-step cost is a squared error of
a linear read-out, E_t = ½ ‖V σ(x_t) − y_t‖², so that every step has a cost and the double sum
of Eq. (4) is not trivial.

Two ways to get ∂E/∂θ are implemented, on purpose:

* :func:`gradient_by_contributions` evaluates Eqs. (3)-(5) literally: a sum over t of a sum over
  k ≤ t of *temporal contributions* (∂E_t/∂x_t)(∂x_t/∂x_k)(∂⁺x_k/∂θ). It costs O(T²) and exists
  to show that the decomposition is exact;
* :func:`bptt` is backpropagation through time, the O(T) recursion that every training code
  uses (the engine in :mod:`rnnbook.paper.model` does the same, batched).

Jacobians follow the *correct* order for Eq. (2): ∂x_i/∂x_{i-1} = W_rec diag(σ'(x_{i-1})). The
paper prints W_rec^T diag(σ'(x_{i-1})) (erratum: back/errata.md, err-transpose); the norm bounds of Eqs. (6)-(7)
hold either way.

Everything is float64 and unbatched: these functions serve derivations and checks, not training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ACTIVATIONS = ("linear", "tanh", "sigmoid")

#: Bound γ on |σ'| (§2.1): 1 for tanh (and the identity), 1/4 for the logistic sigmoid.
GAMMA = {"linear": 1.0, "tanh": 1.0, "sigmoid": 0.25}


def _check_act(act: str) -> None:
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {', '.join(ACTIVATIONS)}")


def sigma(x: torch.Tensor, act: str) -> torch.Tensor:
    """The element-wise non-linearity σ (written out beside its derivative for Chapter 1's
    equations; the engine's is :func:`rnnbook.paper.model.activate`)."""
    _check_act(act)
    if act == "tanh":
        return torch.tanh(x)
    if act == "sigmoid":
        return torch.sigmoid(x)
    return x


def dsigma(x: torch.Tensor, act: str) -> torch.Tensor:
    """Its derivative σ'(x), element-wise."""
    _check_act(act)
    if act == "tanh":
        return 1.0 - torch.tanh(x) ** 2
    if act == "sigmoid":
        s = torch.sigmoid(x)
        return s * (1.0 - s)
    return torch.ones_like(x)


@dataclass
class PaperRNN:
    """Parameters θ = (W_rec, W_in, b) of Eq. (2), plus the read-out V of the per-step cost."""

    W_rec: torch.Tensor  # (n, n)
    W_in: torch.Tensor  # (n, m)
    b: torch.Tensor  # (n,)
    V: torch.Tensor  # (p, n)
    act: str = "tanh"

    @staticmethod
    def random(n: int, m: int, p: int, *, scale: float, act: str = "tanh", generator: torch.Generator | None = None) -> "PaperRNN":
        """A random network with W_rec ~ N(0, scale²/n) (so its spectral radius is about ``scale``)."""
        _check_act(act)
        g = generator
        kw = dict(dtype=torch.float64, generator=g)
        return PaperRNN(
            W_rec=torch.randn(n, n, **kw) * scale / n**0.5,
            W_in=torch.randn(n, m, **kw) / m**0.5,
            b=torch.randn(n, **kw) * 0.1,
            V=torch.randn(p, n, **kw) / n**0.5,
            act=act,
        )

    def parameters(self) -> dict[str, torch.Tensor]:
        """The parameters θ the gradient is taken with respect to (V is the read-out, not θ)."""
        return {"W_rec": self.W_rec, "W_in": self.W_in, "b": self.b}


def unroll(net: PaperRNN, u: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """States x_0..x_T of Eq. (2) for inputs u (T, m): returns a (T+1, n) tensor."""
    xs = [x0]
    for t in range(u.shape[0]):
        xs.append(net.W_rec @ sigma(xs[-1], net.act) + net.W_in @ u[t] + net.b)
    return torch.stack(xs)


def step_costs(net: PaperRNN, xs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E_t = ½‖V σ(x_t) − y_t‖² for t = 1..T (y is (T, p)); returns a (T,) tensor."""
    r = sigma(xs[1:], net.act) @ net.V.T - y
    return 0.5 * (r**2).sum(-1)


def total_cost(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """E = Σ_t E_t, Eq. (3)'s left-hand side."""
    return step_costs(net, unroll(net, u, x0), y).sum()


def cost_gradient_at(net: PaperRNN, xs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂E_t/∂x_t for t = 1..T: how step t's own cost moves with x_t. Returns (T, n)."""
    r = sigma(xs[1:], net.act) @ net.V.T - y
    return (r @ net.V) * dsigma(xs[1:], net.act)


def step_jacobian(W_rec: torch.Tensor, x_prev: torch.Tensor, act: str) -> torch.Tensor:
    """∂x_i/∂x_{i-1} = W_rec diag(σ'(x_{i-1})), one factor of Eq. (5) (in the corrected order)."""
    return W_rec * dsigma(x_prev, act)[None, :]


def transport_factor(W_rec: torch.Tensor, xs: torch.Tensor, act: str, t: int, k: int) -> torch.Tensor:
    """∂x_t/∂x_k of Eq. (5): the product of the t − k step Jacobians (identity when t = k)."""
    if not 0 <= k <= t < xs.shape[0]:
        raise ValueError(f"need 0 <= k <= t <= {xs.shape[0] - 1}, got t={t}, k={k}")
    J = torch.eye(xs.shape[1], dtype=xs.dtype)
    for i in range(k + 1, t + 1):
        J = step_jacobian(W_rec, xs[i - 1], act) @ J
    return J


def transport_norms(W_rec: torch.Tensor, xs: torch.Tensor, act: str) -> torch.Tensor:
    """‖∂x_t/∂x_0‖₂ (largest singular value) for t = 0..T along a trajectory xs (T+1, n).

    Built by one running product, so a whole curve costs T matrix products.
    """
    J = torch.eye(xs.shape[1], dtype=xs.dtype)
    norms = [torch.linalg.matrix_norm(J, ord=2)]
    for i in range(1, xs.shape[0]):
        J = step_jacobian(W_rec, xs[i - 1], act) @ J
        norms.append(torch.linalg.matrix_norm(J, ord=2))
    return torch.stack(norms)


def immediate_grads(net: PaperRNN, xs: torch.Tensor, u: torch.Tensor, g: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """g · ∂⁺x_k/∂θ for a row vector g = ∂E/∂x_k, holding x_{k-1} fixed (the paper's ∂⁺).

    From x_k = W_rec σ(x_{k-1}) + W_in u_k + b: row i of ∂⁺x_k/∂W_rec is σ(x_{k-1}), so the
    product is the outer product g σ(x_{k-1})ᵀ; likewise g u_kᵀ for W_in and g for b.
    """
    return {
        "W_rec": torch.outer(g, sigma(xs[k - 1], net.act)),
        "W_in": torch.outer(g, u[k - 1]),
        "b": g.clone(),
    }


def _walk_back(net: PaperRNN, xs: torch.Tensor, u: torch.Tensor, g: torch.Tensor, t: int):
    """Yield (k, contribution) for k = t, t−1, …, 1, where g = ∂E_t/∂x_t (a row vector).

    Each step back multiplies by one Jacobian of Eq. (5), so after j steps the vector is
    (∂E_t/∂x_t)(∂x_t/∂x_{t−j}) and the yielded contribution is the term k = t − j of Eq. (4).
    """
    for k in range(t, 0, -1):
        yield k, immediate_grads(net, xs, u, g, k)
        g = g @ step_jacobian(net.W_rec, xs[k - 1], net.act)  # now ∂E_t/∂x_{k-1}


def temporal_contributions(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every term of Eq. (4): C[t, k] = (∂E_t/∂x_t)(∂x_t/∂x_k)(∂⁺x_k/∂θ) for 1 ≤ k ≤ t ≤ T.

    Returns, per parameter, a tensor of shape (T, T, *param.shape) indexed [t-1, k-1], zero for
    k > t. Costs O(T²) matrix-vector products.
    """
    xs = unroll(net, u, x0)
    T = u.shape[0]
    dE = cost_gradient_at(net, xs, y)
    out = {name: torch.zeros((T, T, *p.shape), dtype=p.dtype) for name, p in net.parameters().items()}
    for t in range(1, T + 1):
        for k, contribution in _walk_back(net, xs, u, dE[t - 1], t):
            for name, c in contribution.items():
                out[name][t - 1, k - 1] = c
    return out


def contribution_norms(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor, t: int | None = None) -> torch.Tensor:
    """‖(∂E_t/∂x_t)(∂x_t/∂x_k)(∂⁺x_k/∂θ)‖ for k = t, t−1, …, 1 (index j = t − k), one cost E_t.

    The norm is taken over all parameters θ = (W_rec, W_in, b) jointly. ``t`` defaults to the
    last step T. Costs O(t) matrix-vector products.
    """
    xs = unroll(net, u, x0)
    t = u.shape[0] if t is None else t
    g = cost_gradient_at(net, xs, y)[t - 1]
    norms = [
        torch.sqrt(sum((c**2).sum() for c in contribution.values()))
        for _, contribution in _walk_back(net, xs, u, g, t)
    ]
    return torch.stack(norms)


def gradient_by_contributions(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor) -> dict[str, torch.Tensor]:
    """∂E/∂θ as the literal double sum of Eqs. (3)-(4) over all temporal contributions."""
    return {name: c.sum(dim=(0, 1)) for name, c in temporal_contributions(net, u, y, x0).items()}


def bptt(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor) -> dict[str, torch.Tensor]:
    """∂E/∂θ by backpropagation through time: one backward sweep, O(T).

    δ_T = ∂E_T/∂x_T and δ_k = ∂E_k/∂x_k + δ_{k+1} ∂x_{k+1}/∂x_k collect, at each step k, every
    temporal contribution that passes through x_k; then ∂E/∂θ = Σ_k δ_k ∂⁺x_k/∂θ.
    """
    xs = unroll(net, u, x0)
    T = u.shape[0]
    dE = cost_gradient_at(net, xs, y)
    grads = {name: torch.zeros_like(p) for name, p in net.parameters().items()}
    delta = torch.zeros_like(x0)
    for k in range(T, 0, -1):
        delta = dE[k - 1] + (delta @ step_jacobian(net.W_rec, xs[k], net.act) if k < T else 0.0)
        for name, c in immediate_grads(net, xs, u, delta, k).items():
            grads[name] += c
    return grads


def autograd_gradient(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same gradient by torch.autograd, as the reference."""
    params = {name: p.detach().clone().requires_grad_(True) for name, p in net.parameters().items()}
    leaf = PaperRNN(params["W_rec"], params["W_in"], params["b"], net.V, net.act)
    total_cost(leaf, u, y, x0).backward()
    return {name: p.grad for name, p in params.items()}


def finite_difference_gradient(net: PaperRNN, u: torch.Tensor, y: torch.Tensor, x0: torch.Tensor, *, eps: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central finite differences (E(θ + ε e_i) − E(θ − ε e_i)) / 2ε for every parameter entry."""
    grads = {}
    for name, p in net.parameters().items():
        g = torch.zeros_like(p)
        flat, gflat = p.view(-1), g.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = total_cost(net, u, y, x0).item()
            flat[i] = old - eps
            down = total_cost(net, u, y, x0).item()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def max_relative_error(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """max over parameters of ‖a − b‖ / max(‖a‖, ‖b‖, tiny): one number for a gradient check."""
    errs = []
    for name in a:
        num = torch.linalg.vector_norm(a[name] - b[name])
        den = torch.maximum(torch.linalg.vector_norm(a[name]), torch.linalg.vector_norm(b[name])).clamp_min(1e-300)
        errs.append((num / den).item())
    return max(errs)


# ----------------------------------------------------------------------------------------------
# Helpers for Chapter 2, §2.1: matrices on either side of the thresholds, and measured rates
# ----------------------------------------------------------------------------------------------


def spectral_radius(W: torch.Tensor) -> float:
    """ρ(W): the largest absolute value of an eigenvalue."""
    return torch.linalg.eigvals(W).abs().max().item()


def spectral_norm(W: torch.Tensor) -> float:
    """λ₁(W) = ‖W‖₂: the largest singular value (the paper's λ₁ in the ICML text)."""
    return torch.linalg.matrix_norm(W, ord=2).item()


def with_spectral_radius(W: torch.Tensor, rho: float) -> torch.Tensor:
    """W rescaled so that its spectral radius is exactly ``rho``."""
    return W * (rho / spectral_radius(W))


def with_spectral_norm(W: torch.Tensor, lam: float) -> torch.Tensor:
    """W rescaled so that its largest singular value is exactly ``lam``."""
    return W * (lam / spectral_norm(W))


def non_normal_matrix(rho: float, coupling: float, n: int = 2, dtype=torch.float64) -> torch.Tensor:
    """ρ I + a N, with N the n × n shift (ones just above the diagonal): every eigenvalue is ρ,
    yet ‖W‖₂ ≥ a. For n = 2, W^l = [[ρ^l, l a ρ^(l−1)], [0, ρ^l]] exactly."""
    return rho * torch.eye(n, dtype=dtype) + coupling * torch.diag(torch.ones(n - 1, dtype=dtype), 1)


def step_jacobian_norms(W_rec: torch.Tensor, xs: torch.Tensor, act: str) -> torch.Tensor:
    """‖∂x_i/∂x_{i-1}‖₂ for i = 1..T along a trajectory: the per-step factors bounded by Eq. (6)."""
    return torch.stack([torch.linalg.matrix_norm(step_jacobian(W_rec, xs[i - 1], act), ord=2) for i in range(1, xs.shape[0])])


def rate_per_step(norms: torch.Tensor, lo: int, hi: int) -> float:
    """The measured growth factor per step between t − k = lo and hi: (‖·‖_hi / ‖·‖_lo)^(1/(hi − lo)).

    Above 1 the transport factor grows (explodes), below 1 it shrinks (vanishes).
    """
    if not 0 <= lo < hi < norms.shape[0]:
        raise ValueError(f"need 0 <= lo < hi < {norms.shape[0]}, got {lo}, {hi}")
    return float(torch.exp((torch.log(norms[hi]) - torch.log(norms[lo])) / (hi - lo)))


def autograd_step_jacobian(W_rec: torch.Tensor, x_prev: torch.Tensor, act: str) -> torch.Tensor:
    """∂x_i/∂x_{i-1} of x_i = W_rec σ(x_{i-1}) + (input, bias) by torch.autograd: the reference
    for which product order is right (the input and bias do not depend on x_{i-1})."""
    return torch.autograd.functional.jacobian(lambda x: W_rec @ sigma(x, act), x_prev)


def random_recurrent(
    n: int,
    *,
    spectral_radius: float | None = None,
    spectral_norm: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A Gaussian n × n matrix rescaled to the given spectral radius ρ *or* largest singular value λ₁."""
    if (spectral_radius is None) == (spectral_norm is None):
        raise ValueError("give exactly one of spectral_radius, spectral_norm")
    W = torch.randn(n, n, dtype=torch.float64, generator=generator) / n**0.5
    return with_spectral_radius(W, spectral_radius) if spectral_radius is not None else with_spectral_norm(W, spectral_norm)


@dataclass
class TransportCurve:
    """One trajectory of Eq. (2) and ‖∂x_t/∂x_0‖₂ along it (index t − k with k = 0)."""

    W_rec: torch.Tensor
    xs: torch.Tensor  # (T + 1, n)
    norms: torch.Tensor  # (T + 1,)
    act: str

    def bound(self) -> torch.Tensor:
        """(λ₁ γ)^(t−k): the bound of Eqs. (6)-(7), valid for any trajectory."""
        eta = spectral_norm(self.W_rec) * GAMMA[self.act]
        return eta ** torch.arange(self.norms.shape[0], dtype=torch.float64)


def transport_curve(
    W_rec: torch.Tensor,
    act: str,
    *,
    T: int,
    input_scale: float,
    generator: torch.Generator,
    m: int = 5,
    centred: bool = False,
    x0_scale: float = 0.1,
) -> TransportCurve:
    """Drive Eq. (2) with Gaussian inputs (W_in u_t has standard deviation ``input_scale`` per unit)
    for T steps from a small random x_0 (entries with standard deviation ``x0_scale``) and measure
    the transport norms along the way.

    ``centred=True`` sets b = −W_rec·½ so that, for the sigmoid, x = 0 is a fixed point of the
    input-free map and the units sit where σ' = 1/4 is largest (otherwise b = 0).
    """
    n = W_rec.shape[0]
    W_in = torch.randn(n, m, dtype=torch.float64, generator=generator) * (input_scale / m**0.5)
    b = -0.5 * W_rec.sum(1) if centred else torch.zeros(n, dtype=torch.float64)
    net = PaperRNN(W_rec, W_in, b, torch.zeros(1, n, dtype=torch.float64), act)
    u = torch.randn(T, m, dtype=torch.float64, generator=generator)
    x0 = x0_scale * torch.randn(n, dtype=torch.float64, generator=generator)
    xs = unroll(net, u, x0)
    return TransportCurve(W_rec=W_rec, xs=xs, norms=transport_norms(W_rec, xs, act), act=act)
