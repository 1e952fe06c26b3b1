"""Chapter 2.1 (paper §2.1): the transport factor, the vanishing/exploding conditions, both errata.

Mirrors every numerical assert of chapters/02_exploding_vanishing/01_mechanics.ipynb, with the
same seed and the same order of random draws.
"""

import numpy as np
import pytest
import torch

from rnnbook.book import runtime
from rnnbook.paper import gradients as G

CASES = {
    "linear, ρ = 0.9": ("linear", "spectral_radius", 0.9, 0.5, False),
    "linear, ρ = 1.1": ("linear", "spectral_radius", 1.1, 0.5, False),
    "tanh, λ₁ = 0.9": ("tanh", "spectral_norm", 0.9, 0.5, False),
    "tanh, λ₁ = 4": ("tanh", "spectral_norm", 4.0, 0.5, False),
    "tanh, λ₁ = 4, strong input": ("tanh", "spectral_norm", 4.0, 2.0, False),
    "sigmoid, λ₁ = 3.6": ("sigmoid", "spectral_norm", 3.6, 0.5, True),
    "sigmoid, λ₁ = 16": ("sigmoid", "spectral_norm", 16.0, 0.5, True),
    "sigmoid, λ₁ = 16, b = 0": ("sigmoid", "spectral_norm", 16.0, 0.5, False),
}


@pytest.fixture(scope="module")
def notebook():
    """Everything the notebook computes, in the notebook's order of random draws."""
    session = runtime.setup(seed=2013, quiet=True)
    g = session.generator
    curves = {
        name: [
            G.transport_curve(G.random_recurrent(50, **{which: value}, generator=g), act, T=200, input_scale=scale, generator=g, centred=centred)
            for _ in range(6)
        ]
        for name, (act, which, value, scale, centred) in CASES.items()
    }
    rates = {name: np.array([G.rate_per_step(c.norms, 50, 150) for c in cs]) for name, cs in curves.items()}
    W = G.random_recurrent(6, spectral_norm=2.0, generator=g)
    x = torch.randn(6, dtype=torch.float64, generator=g)
    W_nn = G.non_normal_matrix(0.95, 2.0)
    nn = {
        "linear": G.transport_curve(W_nn, "linear", T=300, input_scale=0.0, generator=g, m=2, x0_scale=0.01),
        "tanh": G.transport_curve(W_nn, "tanh", T=300, input_scale=0.01, generator=g, m=2, x0_scale=0.01),
        "sigmoid": G.transport_curve(4 * W_nn, "sigmoid", T=300, input_scale=0.01, generator=g, m=2, centred=True, x0_scale=0.01),
    }
    return {"curves": curves, "rates": rates, "W": W, "x": x, "W_nn": W_nn, "nn": nn}


def test_linear_rate_is_the_spectral_radius(notebook):
    for name in ("linear, ρ = 0.9", "linear, ρ = 1.1"):
        assert np.all(np.abs(notebook["rates"][name] - CASES[name][2]) < 0.005)


def test_eq6_and_eq7_bounds_hold_on_every_curve(notebook):
    for cs in notebook["curves"].values():
        for c in cs:
            eta = G.spectral_norm(c.W_rec) * G.GAMMA[c.act]
            assert G.step_jacobian_norms(c.W_rec, c.xs, c.act).max().item() <= eta * (1 + 1e-12)
            assert torch.all(c.norms <= c.bound() * (1 + 1e-9))


def test_below_threshold_vanishes(notebook):
    for name in ("tanh, λ₁ = 0.9", "sigmoid, λ₁ = 3.6"):
        assert notebook["rates"][name].max() < 0.9


def test_above_threshold_is_necessary_not_sufficient(notebook):
    r = notebook["rates"]
    assert (r["tanh, λ₁ = 4"] > 1).sum() >= 4
    assert (r["sigmoid, λ₁ = 16"] > 1).sum() >= 4
    assert max(r["tanh, λ₁ = 4"].max(), r["sigmoid, λ₁ = 16"].max()) < 1.2
    for name in ("tanh, λ₁ = 4, strong input", "sigmoid, λ₁ = 16, b = 0"):
        assert np.all(r[name] < 1)


def test_erratum_transpose(notebook):
    W, x = notebook["W"], notebook["x"]
    J_autograd = G.autograd_step_jacobian(W, x, "tanh")
    J_book = G.step_jacobian(W, x, "tanh")
    J_printed = W.T * G.dsigma(x, "tanh")[None, :]
    assert (J_autograd - J_book).abs().max().item() < 1e-14
    assert (J_autograd - J_printed).abs().max().item() / J_autograd.abs().max().item() > 0.1
    eta = G.spectral_norm(W) * G.dsigma(x, "tanh").max().item()
    for J in (J_autograd, J_book, J_printed):
        assert torch.linalg.matrix_norm(J, ord=2).item() <= eta * (1 + 1e-12)


def test_erratum_eigenvalue_vs_singular_value(notebook):
    W_nn, nn = notebook["W_nn"], notebook["nn"]
    l = np.arange(301)
    closed_form = l * 2.0 * 0.95 ** np.maximum(l - 1, 0)
    exact = np.array([np.linalg.norm(np.linalg.matrix_power(W_nn.numpy(), k), 2) for k in l])
    assert np.allclose(nn["linear"].norms.numpy(), exact, rtol=1e-10)
    assert np.all(exact >= closed_form * (1 - 1e-12))
    for c in nn.values():
        norms = c.norms.numpy()
        assert G.spectral_radius(c.W_rec) * G.GAMMA[c.act] < 1
        assert 10 <= norms.argmax() <= 20 and norms.max() > 9.5
        assert np.nonzero(norms > 1)[0].max() >= 80
        assert norms[-1] < 1e-3
        assert G.spectral_norm(c.W_rec) * G.GAMMA[c.act] > 1


def test_closed_form_of_the_non_normal_power():
    W = G.non_normal_matrix(0.9, 3.0)
    for l in (1, 5, 17):
        expected = torch.tensor([[0.9**l, l * 3.0 * 0.9 ** (l - 1)], [0.0, 0.9**l]], dtype=torch.float64)
        assert torch.allclose(torch.linalg.matrix_power(W, l), expected, rtol=1e-12)


def test_rescaling_helpers():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(20, 20, dtype=torch.float64, generator=g)
    assert abs(G.spectral_radius(G.with_spectral_radius(A, 0.7)) - 0.7) < 1e-12
    assert abs(G.spectral_norm(G.with_spectral_norm(A, 2.5)) - 2.5) < 1e-12
    assert G.spectral_radius(A) <= G.spectral_norm(A)
    with pytest.raises(ValueError):
        G.random_recurrent(3, spectral_radius=1.0, spectral_norm=1.0)


def test_rate_per_step_of_a_geometric_sequence():
    norms = torch.tensor([3.0 * 1.07**k for k in range(40)], dtype=torch.float64)
    assert abs(G.rate_per_step(norms, 5, 30) - 1.07) < 1e-12
    with pytest.raises(ValueError):
        G.rate_per_step(norms, 30, 5)
