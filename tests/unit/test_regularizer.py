"""Omega (Eqs. 9-10 as the code computes them) and its immediate gradient (§4.4)."""

import torch

from rnnbook.engine.batched import forward, loss_and_grads
from rnnbook.engine.omega import omega_from_states
from rnnbook.paper.model import init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import get_task

torch.set_num_threads(1)


def make(act="tanh", lengths=(10, 13)):
    task = get_task("torder")
    gens = [torch.Generator().manual_seed(i) for i in range(len(lengths))]
    params = init_params("basic_tanh" if act == "tanh" else "sigmoid", 6, 7, 4, gens, dtype=torch.float64)
    noise = torch.Generator().manual_seed(5)
    params = params.map(lambda t: t + 0.5 * torch.randn(t.shape, generator=noise, dtype=t.dtype))
    batch = task.sample([Stream(i) for i in range(len(lengths))], 3, list(lengths), dtype=torch.float64)
    return task, params, batch


def test_omega_equals_explicit_jacobian_products():
    for act in ("tanh", "sigmoid"):
        task, params, batch = make(act)
        result = loss_and_grads(params, act, task, batch)
        value = omega_from_states(params.W_hh, result.states, result.dh, act, batch.start)[0]
        f = torch.tanh if act == "tanh" else torch.sigmoid
        E, T, B, _ = batch.u.shape
        for e in range(E):
            terms, counted = 0.0, 0.0
            for k in range(int(batch.start[e]), T):  # every real step, paired delta_k with h_k
                for b in range(B):
                    h_prev = result.states[e, k - 1, b] if k > int(batch.start[e]) else torch.zeros(7, dtype=torch.float64)
                    x_k = batch.u[e, k, b] @ params.W_uh[e] + params.b_h[e]
                    # J[i, j] = d h_k[i] / d h_{k-1}[j], built explicitly by autograd
                    J = torch.autograd.functional.jacobian(lambda h: f(h @ params.W_hh[e] + x_k), h_prev)
                    delta = result.dh[e, k, b]
                    ratio = (delta @ J).square().sum() / delta.square().sum()
                    terms += (ratio - 1) ** 2 / B
                    counted += 1 / B
            torch.testing.assert_close(value[e], torch.as_tensor(terms / counted, dtype=torch.float64))


def test_immediate_gradient_equals_autograd_with_h_and_delta_fixed():
    task, params, batch = make("tanh")
    result = loss_and_grads(params, "tanh", task, batch)
    H, dh = result.states.clone(), result.dh.clone()
    W = params.W_hh.clone().requires_grad_(True)
    # The code's expression (RNN.py), written with plain tensor ops so autograd can see it.
    z = dh * (1 - H**2)
    r = (z @ W.mT.unsqueeze(1)).square().sum(-1)
    s = dh.square().sum(-1)
    ok = s >= 1e-20
    terms = (torch.where(ok, r / torch.where(ok, s, 1.0), 1.0) - 1).square()
    expression = terms.mean(2).sum(1) / ok.double().mean(2).sum(1)
    torch.testing.assert_close(expression, omega_from_states(params.W_hh, H, dh, "tanh", batch.start)[0])
    expression.sum().backward()
    ours = omega_from_states(params.W_hh, H, dh, "tanh", batch.start)[1]
    torch.testing.assert_close(ours, W.grad, rtol=1e-10, atol=1e-12)


def test_steps_with_negligible_gradient_are_not_counted():
    task, params, batch = make("tanh", lengths=(10, 10))
    result = loss_and_grads(params, "tanh", task, batch)
    dh = result.dh.clone()
    dh[:, :5] *= 1e-12  # squared norm below the bound 1e-20: excluded from sum and count
    full = omega_from_states(params.W_hh, result.states, dh, "tanh", batch.start)[0]
    late = omega_from_states(params.W_hh, result.states[:, 5:], dh[:, 5:], "tanh", torch.zeros(2, dtype=torch.long))[0]
    torch.testing.assert_close(full, late)
    nothing = omega_from_states(params.W_hh, result.states, dh * 0, "tanh", batch.start)[0]
    assert nothing.tolist() == [0.0, 0.0]


def test_regularizer_pushes_towards_norm_preservation():
    task, params, batch = make("tanh", lengths=(20, 20))
    params.W_hh *= 0.1  # strongly contracting: Omega large
    result = loss_and_grads(params, "tanh", task, batch)
    before = omega_from_states(params.W_hh, result.states, result.dh, "tanh", batch.start)[0]
    step = omega_from_states(params.W_hh, result.states, result.dh, "tanh", batch.start)[1]
    after = omega_from_states(params.W_hh - 1e-3 * step, result.states, result.dh, "tanh", batch.start)[0]
    assert (after < before).all()
    states = forward(params, "tanh", batch.u, batch.start)
    assert torch.equal(states, result.states)
