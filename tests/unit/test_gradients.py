"""The paper-form gradient code of Chapter 1 (src/rnnbook/paper/gradients.py) against references."""

import math

import pytest
import torch

from rnnbook.paper import gradients as G


def _problem(act: str, seed: int, n=5, m=3, p=2, T=10, scale=1.3):
    g = torch.Generator().manual_seed(seed)
    net = G.PaperRNN.random(n, m, p, scale=scale, act=act, generator=g)
    u = torch.randn(T, m, dtype=torch.float64, generator=g)
    y = torch.randn(T, p, dtype=torch.float64, generator=g)
    return net, u, y, torch.randn(n, dtype=torch.float64, generator=g) * 0.5


@pytest.mark.parametrize("act", G.ACTIVATIONS)
@pytest.mark.parametrize("seed", [0, 1])
def test_bptt_and_contribution_sum_equal_autograd(act, seed):
    net, u, y, x0 = _problem(act, seed)
    ref = G.autograd_gradient(net, u, y, x0)
    assert G.max_relative_error(G.bptt(net, u, y, x0), ref) < 1e-12
    assert G.max_relative_error(G.gradient_by_contributions(net, u, y, x0), ref) < 1e-12


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_autograd_equals_finite_differences(act):
    net, u, y, x0 = _problem(act, 3)
    fd = G.finite_difference_gradient(net, u, y, x0)
    assert G.max_relative_error(G.autograd_gradient(net, u, y, x0), fd) < 1e-7


def test_printed_transpose_gives_a_wrong_gradient(monkeypatch):
    """The paper's printed W_rec^T diag(σ') (erratum) is not the Jacobian: the check must notice."""
    net, u, y, x0 = _problem("tanh", 4)
    ref = G.autograd_gradient(net, u, y, x0)
    monkeypatch.setattr(G, "step_jacobian", lambda W, x, act: W.T * G.dsigma(x, act)[None, :])
    assert G.max_relative_error(G.bptt(net, u, y, x0), ref) > 1e-3


def test_step_jacobian_matches_autograd_jacobian():
    net, u, y, x0 = _problem("sigmoid", 5)
    x_prev = torch.randn(5, dtype=torch.float64)
    f = lambda x: net.W_rec @ G.sigma(x, "sigmoid") + net.W_in @ u[0] + net.b  # noqa: E731
    J = torch.autograd.functional.jacobian(f, x_prev)
    assert torch.allclose(G.step_jacobian(net.W_rec, x_prev, "sigmoid"), J, atol=1e-14)


def test_transport_factor_is_product_of_jacobians_and_norms_agree():
    net, u, y, x0 = _problem("tanh", 6, T=8)
    xs = G.unroll(net, u, x0)
    f = lambda x: G.unroll(net, u[3:], x)[-1]  # noqa: E731  x_8 as a function of x_3
    J = torch.autograd.functional.jacobian(f, xs[3])
    assert torch.allclose(G.transport_factor(net.W_rec, xs, "tanh", 8, 3), J, atol=1e-12)
    norms = G.transport_norms(net.W_rec, xs, "tanh")
    for t in (0, 4, 8):
        assert norms[t].item() == pytest.approx(torch.linalg.matrix_norm(G.transport_factor(net.W_rec, xs, "tanh", t, 0), ord=2).item(), rel=1e-12)


def test_contribution_norms_match_the_full_decomposition():
    net, u, y, x0 = _problem("tanh", 7, T=9)
    C = G.temporal_contributions(net, u, y, x0)
    for t in (9, 5):
        direct = torch.sqrt(sum((c[t - 1, :t] ** 2).flatten(1).sum(1) for c in C.values()))  # k = 1..t
        assert torch.allclose(G.contribution_norms(net, u, y, x0, t).flip(0), direct, rtol=1e-12)
    # contributions with k > t are zero (the future does not influence the past)
    assert all(torch.count_nonzero(c[2, 5:]) == 0 for c in C.values())


def test_linear_identity_scaled_network_transports_by_powers():
    a = 1.1
    xs = torch.randn(31, 3, dtype=torch.float64)
    norms = G.transport_norms(a * torch.eye(3, dtype=torch.float64), xs, "linear")
    assert torch.allclose(norms, a ** torch.arange(31, dtype=torch.float64), rtol=1e-12)


def test_bad_activation_and_indices_raise():
    with pytest.raises(ValueError, match="unknown activation"):
        G.sigma(torch.zeros(2), "relu")
    with pytest.raises(ValueError, match="need 0 <= k <= t"):
        G.transport_factor(torch.eye(2), torch.zeros(3, 2), "tanh", 1, 2)


@pytest.mark.parametrize("w", [1.5, 3.0, -1.5, -3.0])
def test_one_tanh_unit_beyond_one_settles_where_the_gradient_vanishes(w):
    """Exercise ex-ch2-one-unit: for w > 1 the state goes to a fixed point x* = w tanh x*; for
    w < -1 there is no nonzero fixed point (w tanh x has the opposite sign of x) and the state
    settles on a period-2 orbit ±x*. Either way every factor w(1 - tanh² x) is below 1 there."""
    W = torch.tensor([[w]], dtype=torch.float64)
    net = G.PaperRNN(W, torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                     torch.zeros(1, 1, dtype=torch.float64), "tanh")
    xs = G.unroll(net, torch.zeros(400, 1, dtype=torch.float64), torch.tensor([0.1], dtype=torch.float64))[:, 0]
    x_star = abs(xs[-1].item())
    assert abs(x_star - abs(w) * math.tanh(x_star)) < 1e-12 and x_star > 0.1
    if w > 0:
        assert abs(xs[-1] - xs[-2]) < 1e-12                      # a fixed point
    else:
        assert abs(xs[-1] + xs[-2]) < 1e-12 and abs(xs[-1] - xs[-3]) < 1e-12   # ±x*, period 2
        assert not any(abs(x - w * math.tanh(x)) < 1e-9 for x in (x_star, -x_star))  # not fixed points
    factors = G.step_jacobian_norms(W, xs[-50:, None], "tanh")
    assert factors.max().item() < 1 and torch.all(factors > 0)
