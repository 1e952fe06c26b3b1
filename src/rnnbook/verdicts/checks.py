"""The analytic claims' numerical checks: small computations of the book's own code, run when a
page is built. Each returns ``(holds, the book's number, how it was computed, a headline value)``."""

from __future__ import annotations


def decomposition() -> tuple[bool, str, str, float]:
    import torch

    from rnnbook import gradients as G

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
    import torch

    from rnnbook import gradients as G

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
    import numpy as np

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
    import numpy as np

    from rnnbook import dynamics as D

    bif = D.bifurcation_points(5.0)
    lo, hi, _ = D.bistable_window_by_simulation(5.0, np.linspace(-3.0, -2.0, 2001))
    ok = abs(lo - bif.b_2) < 2e-3 and abs(hi - bif.b_1) < 2e-3
    return (ok, f"b₂ = {bif.b_2:.4f}, b₁ = {bif.b_1:.4f} (analytic); simulation ({lo:.4f}, {hi:.4f})",
            "w = 5, one sigmoid unit, bias grid step 0.0005, 5,000 steps per start", hi - lo)


def wall() -> tuple[bool, str, str, float]:
    import numpy as np

    from rnnbook import dynamics as D

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
    import torch

    from rnnbook.baselines import clip_by_norm, clip_elementwise, cosine

    g = torch.Generator().manual_seed(4)
    worst_norm, worst_elem = 1.0, 1.0
    for _ in range(100):
        v = torch.randn(500, dtype=torch.float64, generator=g) * torch.rand(500, dtype=torch.float64, generator=g) ** 4 * 100
        worst_norm = min(worst_norm, cosine(clip_by_norm(v, 1.0), v))
        worst_elem = min(worst_elem, cosine(clip_elementwise(v, 0.05), v))
    ok = worst_norm > 1 - 1e-12
    return (ok, f"cosine with the gradient ≥ {worst_norm:.12f} (element-wise clipping: down to {worst_elem:.2f})",
            "100 random heavy-tailed 500-dimensional gradients, threshold 1 (element-wise: 0.05)", worst_norm)
