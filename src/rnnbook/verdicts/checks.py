"""The analytic claims' numerical checks: small computations of the book's own code, run when a
page is built. Each returns ``(holds, the book's number, how it was computed, a headline value)``."""

from __future__ import annotations

import math

import numpy as np
import torch

from rnnbook.engine.batched import loss_and_grads
from rnnbook.engine.omega import omega_from_states
from rnnbook.engine.omega_exact import error_norms_through_chain, norm_preserving_jacobian_2d
from rnnbook.paper import dynamics as D
from rnnbook.paper import gradients as G
from rnnbook.paper import reference
from rnnbook.paper.model import init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import get_task
from rnnbook.studies.baselines import clip_by_norm, clip_elementwise, cosine


def decomposition() -> tuple[bool, str, str, float]:
    g = torch.Generator().manual_seed(0)
    net = G.PaperRNN.random(8, 3, 2, scale=1.1, act="tanh", generator=g)
    T = 30
    u = torch.randn(T, 3, dtype=torch.float64, generator=g)
    y = torch.randn(T, 2, dtype=torch.float64, generator=g)
    x0 = torch.zeros(8, dtype=torch.float64)
    err = G.max_relative_error(G.gradient_by_contributions(net, u, y, x0), G.autograd_gradient(net, u, y, x0))
    return (err < 1e-10, f"max relative difference {err:.1e} from autograd",
            "8 units, T = 30, float64, one random network", err)


def sufficient_condition() -> tuple[bool, str, str, float]:
    g = torch.Generator().manual_seed(1)
    worst_ratio, last = 0.0, 0.0
    for _ in range(5):
        W = G.random_recurrent(20, spectral_norm=0.9, generator=g)
        curve = G.transport_curve(W, "tanh", T=100, input_scale=1.0, generator=g)
        worst_ratio = max(worst_ratio, float((curve.norms / curve.bound()).max()))
        last = max(last, float(curve.norms[-1]))
    ok = worst_ratio <= 1 + 1e-12 and last < 1e-3
    return (ok, f"‖∂x_t/∂x_0‖ ≤ (λ₁γ)^t at every step (max ratio {worst_ratio:.3f}); after 100 steps ≤ {last:.1e}",
            "5 random tanh networks, 20 units, λ₁ = 0.9, T = 100, random inputs", worst_ratio)


def linear_case() -> tuple[bool, str, str, float]:
    """Linear case: spectral radius below 1 makes every power of W vanish (so above 1 is necessary
    for explosion), and above 1 the powers grow."""
    rng = np.random.default_rng(3)
    small, large = [], []
    for _ in range(5):
        W = rng.standard_normal((20, 20))
        W /= np.max(np.abs(np.linalg.eigvals(W)))
        small.append(np.linalg.norm(np.linalg.matrix_power(0.9 * W, 200), 2))
        large.append(np.linalg.norm(np.linalg.matrix_power(1.1 * W, 200), 2))
    ok = max(small) < 1e-3 and min(large) > 1e3
    return (ok, f"‖W²⁰⁰‖ ≤ {max(small):.1e} at ρ = 0.9; ≥ {min(large):.1e} at ρ = 1.1",
            "5 random 20×20 matrices rescaled to spectral radius 0.9 and 1.1", float(max(small)))


def bifurcations() -> tuple[bool, str, str, float]:
    bif = D.bifurcation_points(5.0)
    lo, hi, _ = D.bistable_window_by_simulation(5.0, np.linspace(-3.0, -2.0, 2001))
    ok = abs(lo - bif.b_2) < 2e-3 and abs(hi - bif.b_1) < 2e-3
    return (ok, f"b₂ = {bif.b_2:.4f}, b₁ = {bif.b_1:.4f} (analytic); simulation ({lo:.4f}, {hi:.4f})",
            "w = 5, one sigmoid unit, bias grid step 0.0005, 5,000 steps per start", hi - lo)


def wall() -> tuple[bool, str, str, float]:
    w = np.linspace(4.5, 9.0, 46)
    s05 = float(D.logistic(0.5))
    surf = D.error_surface(w, 0.5 - w * s05)
    curv = np.abs(surf.curvature_along_gradient())
    slope = float(np.polyfit(np.log10(surf.grad_norm), np.log10(curv), 1)[0])
    return (slope > 1, f"log curvature / log ‖∇E‖ slope {slope:.2f} along the wall",
            "Fig. 6's model (one sigmoid unit, T = 50), exact derivatives on the wall line, 4.5 ≤ w ≤ 9", slope)


def clipped_descent() -> tuple[bool, str, str, float]:
    """Algorithm 1 only rescales: the clipped step has the gradient's direction (a descent direction for
    the minibatch), while clipping element by element turns it."""
    g = torch.Generator().manual_seed(4)
    worst_norm, worst_elem = 1.0, 1.0
    for _ in range(100):
        v = torch.randn(500, dtype=torch.float64, generator=g) * torch.rand(500, dtype=torch.float64, generator=g) ** 4 * 100
        worst_norm = min(worst_norm, cosine(clip_by_norm(v, 1.0), v))
        worst_elem = min(worst_elem, cosine(clip_elementwise(v, 0.05), v))
    ok = worst_norm > 1 - 1e-12
    return (ok, f"cosine with the gradient ≥ {worst_norm:.12f} (element-wise clipping: down to {worst_elem:.2f})",
            "100 random heavy-tailed 500-dimensional gradients, threshold 1 (element-wise: 0.05)", worst_norm)


def omega_gradient() -> tuple[bool, str, str, float]:
    """Eq. (10)'s gradient of Ω as the engine computes it, against the slow reference model's."""
    task = get_task("torder")
    params = init_params("smart_tanh", task.n_in, 50, task.n_out, [torch.Generator().manual_seed(0)], dtype=torch.float64)
    batch = task.sample([Stream(7)], 20, [50], dtype=torch.float64)
    step = loss_and_grads(params, "tanh", task, batch, reg_weight=torch.zeros(1, dtype=torch.float64), keep_states=True)
    engine = omega_from_states(params.W_hh, step.states, step.dh, "tanh", batch.start)[1][0]
    net, u, target = reference.from_engine(params, batch, 0, "tanh")
    _, plain, _ = reference.loss_and_grads(net, u, target, task.readout)
    _, reg, _ = reference.loss_and_grads(net, u, target, task.readout, reg_weight=1.0)
    err = float(((reg["W_rec"] - plain["W_rec"]).T - engine).norm() / engine.norm())
    return (err < 1e-8, f"engine and reference model agree to {err:.1e} (relative)",
            "50 smart-tanh units, temporal order at length 50, 20 sequences, float64", err)


def omega_direction() -> tuple[bool, str, str, float]:
    """Ω asks for norm preservation along the error only: a 2×2 Jacobian with singular values 1.3 and
    0.2 can have Ω_k = 0 along δ; a chain of such Jacobians carries the norm 50 steps back, while
    the same singular values in random orientations let it vanish."""
    s1, s2 = 1.3, 0.2
    delta = np.array([math.cos(0.5), math.sin(0.5)])
    J = norm_preserving_jacobian_2d(delta, s1, s2, 1.2)
    omega = (np.linalg.norm(delta @ J) ** 2 - 1) ** 2
    kept = error_norms_through_chain(delta, s1, s2, 50, np.random.default_rng(0), preserving=True)
    lost = error_norms_through_chain(delta, s1, s2, 50, np.random.default_rng(1), preserving=False)
    ok = omega < 1e-24 and max(abs(np.array(kept) - 1)) < 1e-9 and lost[-1] < 1e-3
    return (ok, f"Ω_k = {omega:.0e} along δ; after 50 steps the error keeps norm {kept[-1]:.3f} "
            f"(random orientations: {lost[-1]:.1e})", "exact 2×2 construction, singular values 1.3 and 0.2", float(lost[-1]))


def error_clipping_direction(study: dict) -> tuple[bool, str, str, float]:
    """Norm clipping keeps the gradient's direction (cosine 1 by construction); Mikolov's per-step
    error clipping, at the cutoffs that clamp as many minibatches as norm clipping, turns it."""
    spec = study["spec"]
    clipped = np.array(study["norm"]) > spec["threshold"]
    modified, cosine = np.array(study["modified"]), np.array(study["cosine"])
    matched = [j for j in range(len(modified)) if (modified[j] == clipped).all() and clipped.any()]
    if not matched:
        return False, "no cutoff clamps the same minibatches as norm clipping", "-", float("nan")
    medians = [float(np.median(cosine[j][modified[j]])) for j in matched]
    ok = max(medians) < 1 - 1e-6
    return (ok, f"per-step error clipping: median cosine with the gradient {min(medians):.2f}–{max(medians):.2f} "
            f"on the clamped minibatches; norm clipping: 1",
            f"one MSGD-C run (length {spec['length']}, {spec['init']}, seed {spec['seed']}), a minibatch every "
            f"{spec['every']} updates of {spec['updates']:,}", max(medians))
