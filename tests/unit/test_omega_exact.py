"""The exact gradient of Omega (autograd through states and errors) against finite differences,
and its immediate part against the engine's Eq. (10) gradient (rnnbook.engine.omega)."""

import pytest
import torch

from rnnbook.engine.batched import loss_and_grads
from rnnbook.engine.omega import omega_from_states
from rnnbook.engine.omega_exact import omega_gradients, omega_value
from rnnbook.paper.model import init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import get_task


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
    _, engine = omega_from_states(params.W_hh, step.states, step.dh, act, batch.start)
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


# ---- what Omega controls, and what it does not (Chapter 3.3)

def test_several_costs_omega_vanishes_while_the_far_component_vanishes_too():
    import numpy as np

    from rnnbook.engine.omega_exact import several_costs_chain

    T, shrink = 30, 0.1
    out = several_costs_chain(T, shrink=shrink)
    steps_back = np.arange(1, T)                               # k = T-1, ..., 1
    np.testing.assert_allclose(out["long_term"], shrink ** steps_back, rtol=1e-12)
    assert (out["omega_sq"][3:] < 1e-10).all() and (out["omega_plain"][3:] < 1e-10).all()
    assert out["total"][-1] > out["total"][0]                  # the total error does not vanish
    # Omega would see the far component if it were alone: with no direct costs every step shrinks it
    alone = several_costs_chain(T, direct=0.0, shrink=shrink)
    np.testing.assert_allclose(alone["q"], shrink)
    assert (alone["omega_sq"] > 0.9).all()


def test_penalty_slopes_plain_and_squared():
    import numpy as np

    from rnnbook.engine.omega_exact import penalty_slopes

    q = np.array([1e-3, 0.5, 1.0, 2.0])
    s = penalty_slopes(q)
    np.testing.assert_allclose(s["plain"], 2 * (q - 1))
    np.testing.assert_allclose(s["squared"], 4 * q * (q**2 - 1))
    assert abs(s["squared"][0]) < 0.005 and s["plain"][0] < -1.99


def test_mean_penalty_of_spread_shrinkage_fades_like_one_over_T_squared():
    import math

    from rnnbook.engine.omega_exact import spread_shrinkage_penalty

    L = math.log(1e6)
    a, b = spread_shrinkage_penalty(L, 1000), spread_shrinkage_penalty(L, 2000)
    assert abs(a["mean"] / b["mean"] - 4) < 0.1 and abs(a["sum"] / b["sum"] - 2) < 0.03
    assert abs(b["sum"] * 2000 / (4 * L * L) - 1) < 0.02       # sum ~ 4 L^2 / T


def test_a_step_on_the_immediate_gradient_brings_the_ratios_towards_one():
    import numpy as np

    from rnnbook.engine.omega_exact import omega_step_ratios
    from rnnbook.paper.model import init_params
    from rnnbook.paper.streams import Stream
    from rnnbook.paper.tasks import get_task

    task = get_task("torder")
    p = init_params("smart_tanh", task.n_in, 12, task.n_out, [torch.Generator().manual_seed(0)], dtype=torch.float64)
    batch = task.sample([Stream(3)], 8, [12], dtype=torch.float64)
    r = omega_step_ratios(p, "tanh", task, batch, 0.02)
    spread = lambda q: float(np.mean((q**2 - 1) ** 2))
    assert abs(spread(r["before"]) - r["omega"][0]) < 1e-12          # the ratios are Omega's
    assert spread(r["after_fixed"]) < spread(r["before"])            # Eq. 10's own promise
    assert r["omega"][1] < r["omega"][0]                             # ... and it holds after recomputing
