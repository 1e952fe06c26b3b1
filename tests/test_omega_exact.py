"""The exact gradient of Omega (autograd through states and errors) against finite differences,
and its immediate part against the engine's Eq. (10) gradient (rnnbook.regularizer)."""

import pytest
import torch

from rnnbook.model import Params, init_params
from rnnbook.engine.batched import loss_and_grads
from rnnbook.omega_exact import omega_gradients, omega_value
from rnnbook.regularizer import omega_immediate_grad
from rnnbook.streams import Stream
from rnnbook.tasks import get_task


def _setup(init="basic_tanh", act="tanh", T=12, B=5, H=6, seed=3, task="torder"):
    t = get_task(task)
    params = init_params(init, t.n_in, H, t.n_out, [torch.Generator().manual_seed(seed)], dtype=torch.float64)
    params.W_hh.mul_(8.0)  # a regime where the errors neither vanish nor explode: Omega is not tiny
    batch = t.sample([Stream(seed)], B, [T], dtype=torch.float64)
    return t, params, batch


@pytest.mark.parametrize("init,act,task", [("basic_tanh", "tanh", "torder"), ("sigmoid", "sigmoid", "torder"),
                                           ("basic_tanh", "tanh", "add")])
def test_immediate_part_equals_the_engine(init, act, task):
    t, params, batch = _setup(init, act, task=task)
    g = omega_gradients(params, act, t, batch)
    step = loss_and_grads(params, act, t, batch, reg_weight=torch.zeros(1, dtype=torch.float64), keep_states=True)
    assert g.loss == pytest.approx(float(step.loss[0]), rel=1e-12)
    assert g.omega == pytest.approx(float(step.omega[0]), rel=1e-10)
    engine = omega_immediate_grad(params.W_hh, step.states, step.dh, act, batch.start)
    torch.testing.assert_close(g.immediate, engine, rtol=1e-9, atol=1e-12)


def test_exact_gradient_matches_finite_differences():
    t, params, batch = _setup()
    g = omega_gradients(params, "tanh", t, batch)
    eps = 1e-6
    gen = torch.Generator().manual_seed(0)
    for name in ("W_hh", "W_uh", "b_h", "W_hy"):
        tensor = getattr(params, name)
        for _ in range(4):
            idx = tuple(int(torch.randint(n, (1,), generator=gen)) for n in tensor.shape)
            plus, minus = params.clone(), params.clone()
            getattr(plus, name)[idx] += eps
            getattr(minus, name)[idx] -= eps
            fd = (omega_value(plus, "tanh", t, batch) - omega_value(minus, "tanh", t, batch)) / (2 * eps)
            assert float(getattr(g.exact, name)[idx]) == pytest.approx(fd, rel=1e-5, abs=1e-9), (name, idx)


def test_exact_and_immediate_differ():
    """The two are not the same vector: otherwise the comparison in Chapter 3.3 would be empty."""
    t, params, batch = _setup()
    g = omega_gradients(params, "tanh", t, batch)
    assert g.cosine() < 0.999
    assert 0 < g.share_in_W_hh() < 1
