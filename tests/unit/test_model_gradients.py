"""The explicit batched BPTT equals torch.autograd (float64), and the inits follow §8.1."""

import pytest
import torch

from rnnbook.engine.batched import Workspace, forward, loss_and_grads, predict
from rnnbook.engine.clipping import clip_grad_norm_
from rnnbook.errors import ConfigError
from rnnbook.paper.model import INITS, Params, activation_of, init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import get_task

torch.set_num_threads(1)
TASKS = {"torder": {}, "mem": {"n_values": 2, "n_pos": 3}, "add": {}}


def reference(params, act, task, batch, reg_weight=None):
    """Loss, gradients, dh and Omega (or None) by autograd on a plain time loop (costs of §9.7)."""
    p = params.map(lambda t: t.detach().clone().requires_grad_(True))
    E, T, B, _ = batch.u.shape
    f = torch.tanh if act == "tanh" else torch.sigmoid
    h = torch.zeros(E, B, p.W_hh.shape[-1], dtype=batch.u.dtype)
    hs = []
    for t in range(T):
        keep = (t >= batch.start).to(h.dtype)[:, None, None]
        h = f(h @ p.W_hh + batch.u[:, t] @ p.W_uh + p.b_h[:, None]) * keep
        h.retain_grad()
        hs.append(h)
    if task.readout == "softmax":
        logp = torch.log_softmax(torch.stack(hs, 1) @ p.W_hy[:, None] + p.b_y[:, None, None], -1)
        nll = -logp.gather(-1, batch.target[..., None])[..., 0]
        real = (torch.arange(T)[None] >= batch.start[:, None]).to(h.dtype)
        loss = (nll * real[..., None]).sum((1, 2)) / (real.sum(1) * B)
    else:
        y = h @ p.W_hy + p.b_y[:, None]
        if task.readout == "last_linear":
            loss = ((y - batch.target) ** 2).sum(-1).mean(1)
        else:
            loss = -torch.log_softmax(y, -1).gather(-1, batch.target[..., None])[..., 0].mean(1)
    loss.sum().backward()
    real = (torch.arange(T)[None] >= batch.start[:, None]).to(h.dtype)[:, :, None, None]
    dh = torch.stack([x.grad for x in hs], 1) * real  # h is a constant at padding steps
    grads = p.map(lambda t: t.grad)
    omega = None
    if reg_weight is not None:  # Omega as the code writes it, h and dh detached (§10.3)
        W = params.W_hh.detach().clone().requires_grad_(True)
        H = torch.stack(hs, 1).detach()
        d = dh.detach()
        z = d * ((1 - H**2) if act == "tanh" else H * (1 - H))
        r = ((z @ W.mT[:, None]) ** 2).sum(-1)
        s = (d**2).sum(-1)
        ok = s >= 1e-20
        om = (torch.where(ok, r / torch.where(ok, s, 1), 1) - 1) ** 2
        omega = om.mean(2).sum(1) / ok.to(om.dtype).mean(2).sum(1)
        omega.sum().backward()
        grads.W_hh = grads.W_hh + reg_weight[:, None, None] * W.grad
        omega = omega.detach()
    return loss.detach(), grads, dh, omega


def setup(task_name, init, lengths=(10, 14, 12), hidden=16, batch=5, seed=0):
    task = get_task(task_name, **TASKS.get(task_name, {}))
    gens = [torch.Generator().manual_seed(seed + i) for i in range(len(lengths))]
    params = init_params(init, task.n_in, hidden, task.n_out, gens, dtype=torch.float64)
    noise = torch.Generator().manual_seed(99)  # move away from the tiny initial weights
    params = params.map(lambda t: t + 0.3 * torch.randn(t.shape, generator=noise, dtype=t.dtype))
    streams = [Stream(seed + i) for i in range(len(lengths))]
    return task, params, task.sample(streams, batch, list(lengths), dtype=torch.float64)


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


@pytest.mark.parametrize("task_name", TASKS)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("with_omega", [False, True])
@pytest.mark.parametrize("defer", [False, True])
def test_bptt_matches_autograd(task_name, init, with_omega, defer):
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    weight = torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64) if with_omega else None
    result = loss_and_grads(params, act, task, batch, reg_weight=weight, defer_weight_grads=defer)
    loss, grads, dh, omega = reference(params, act, task, batch, weight)
    assert batch.start.tolist() != [0, 0, 0]  # padding is exercised
    assert rel_err(result.loss, loss) < 1e-12
    for name, g in grads.items():
        assert rel_err(getattr(result.grads, name), g) < 1e-8, name
    assert rel_err(result.dh, dh) < 1e-8
    assert (result.omega is not None) == with_omega
    if with_omega:  # the engine accumulates Omega inside its backward pass: its value, too
        assert rel_err(result.omega, omega) < 1e-10


@pytest.mark.parametrize("task_name", TASKS)
def test_clipped_gradients_match_clipped_autograd(task_name):
    task, params, batch = setup(task_name, "basic_tanh")
    result = loss_and_grads(params, "tanh", task, batch, reg_weight=torch.full((3,), 4.0, dtype=torch.float64))
    _, grads, _, _ = reference(params, "tanh", task, batch, torch.full((3,), 4.0, dtype=torch.float64))
    threshold = torch.tensor([1e-3, 1e9, 0.5], dtype=torch.float64)
    clip_grad_norm_(result.grads, threshold)
    ref_norm = torch.stack([g.flatten(1).square().sum(1) for g in grads.tensors()]).sum(0).sqrt()
    scale = torch.where(ref_norm > threshold, threshold / ref_norm, 1.0)
    for name, g in grads.items():
        assert rel_err(getattr(result.grads, name), g * scale.view(-1, *[1] * (g.dim() - 1))) < 1e-8


def test_forward_predict_workspace_agree():
    task, params, batch = setup("mem", "sigmoid")
    states = forward(params, "sigmoid", batch.u, batch.start)
    assert (states[0, : int(batch.start[0])] == 0).all()
    plain = loss_and_grads(params, "sigmoid", task, batch)
    ws = Workspace()
    loss_and_grads(params, "sigmoid", task, batch, workspace=ws)
    again = loss_and_grads(params, "sigmoid", task, batch, workspace=ws)
    assert torch.equal(again.grads.W_hh, plain.grads.W_hh) and torch.equal(again.states, states)
    torch.testing.assert_close(predict(params, "sigmoid", task, batch.u, batch.start), plain.output)


@pytest.mark.parametrize("task_name", TASKS)
def test_lean_pass_changes_nothing_else(task_name):
    """keep_states=False (what training uses) gives the same loss and gradients, bit for bit.

    The torch path's lean pass; the compiled kernel's is checked in tests/unit/test_cpu_kernel.py.
    """
    task, params, batch = setup(task_name, "basic_tanh")
    full = loss_and_grads(params, "tanh", task, batch)
    lean = loss_and_grads(params, "tanh", task, batch, keep_states=False, workspace=Workspace())
    assert torch.equal(full.loss, lean.loss)
    assert all(torch.equal(a, b) for a, b in zip(full.grads.tensors(), lean.grads.tensors()))
    assert lean.dh is None and lean.states is None


@pytest.mark.parametrize("task_name", ["torder", "mem"])
@pytest.mark.parametrize("regularized", [False, True])
def test_model_groups_change_no_bit(task_name, regularized):
    """A lean pass split into groups of models equals one pass over all of them, bit for bit.

    Five models with different lengths (so the groups have different padding) in groups of
    two: loss, every gradient, the read-out and Omega must not depend on the grouping (the
    torch path; the compiled kernel has no groups, it runs one model at a time).
    """
    task, params, batch = setup(task_name, "smart_tanh", lengths=(16, 11, 14, 10, 13))
    weight = torch.tensor([4.0, 0.0, 2.0, 1.0, 0.5], dtype=torch.float64) if regularized else None
    one = loss_and_grads(params, "tanh", task, batch, reg_weight=weight, keep_states=False, group_size=5)
    ws = Workspace()
    for _ in range(2):  # the second call reuses every group's buffers and cached views
        split = loss_and_grads(params, "tanh", task, batch, reg_weight=weight, keep_states=False,
                               group_size=2, workspace=ws)
        assert torch.equal(one.loss, split.loss) and torch.equal(one.output, split.output)
        assert all(torch.equal(a, b) for a, b in zip(one.grads.tensors(), split.grads.tensors()))
        assert (split.omega is None) if weight is None else torch.equal(one.omega, split.omega)


def test_bad_group_size_is_a_config_error():
    task, params, batch = setup("torder", "basic_tanh")
    with pytest.raises(ConfigError, match="group_size"):
        loss_and_grads(params, "tanh", task, batch, keep_states=False, group_size=0)


def test_float32_close_to_float64():
    task, params, batch = setup("torder", "smart_tanh", lengths=(50, 40, 30))
    r64 = loss_and_grads(params, "tanh", task, batch)
    p32 = params.map(lambda t: t.float())
    b32 = type(batch)(batch.u.float(), batch.target, batch.start)
    r32 = loss_and_grads(p32, "tanh", task, b32)
    assert rel_err(r32.grads.W_hh.double(), r64.grads.W_hh) < 1e-4


def test_inits_follow_the_paper():
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    H = 50
    p = init_params("sigmoid", 6, H, 4, gens, dtype=torch.float64)
    assert p.W_hh.shape == (4, H, H) and p.W_uh.shape == (4, 6, H) and p.W_hy.shape == (4, H, 4)
    assert abs(p.W_hh.std().item() - 0.01) < 0.001 and (p.b_h == 0).all() and (p.b_y == 0).all()
    assert abs(init_params("basic_tanh", 6, H, 4, gens).W_hh.std().item() - 0.1) < 0.01
    for variant, dim in (("paper", 1), ("code", 2)):  # paper: 15 per column (incoming); code: per row
        s = init_params("smart_tanh", 6, H, 4, gens, dtype=torch.float64, variant=variant)
        assert ((s.W_hh != 0).sum(dim) == 15).all()
        radius = torch.linalg.eigvals(s.W_hh).abs().amax(-1)
        torch.testing.assert_close(radius, torch.full((4,), 0.95, dtype=torch.float64))
        assert abs(s.W_uh.std().item() - 0.01) < 0.001
    fresh = [torch.Generator().manual_seed(i) for i in range(4)]
    many = init_params("smart_tanh", 6, H, 4, fresh)  # model e depends on gens[e] only
    one = init_params("smart_tanh", 6, H, 4, [torch.Generator().manual_seed(2)])
    assert torch.equal(one.W_hh[0], many.W_hh[2])
    with pytest.raises(ConfigError, match="unknown init 'relu'"):
        init_params("relu", 6, H, 4, gens)
    with pytest.raises(ConfigError, match="hidden"):
        init_params("sigmoid", 6, 0, 4, gens)


def test_params_helpers():
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    p = init_params("basic_tanh", 2, 4, 1, gens)
    sub = p.select([2, 0])
    assert torch.equal(sub.W_hh[0], p.W_hh[2]) and sub.n_models == 2
    both = Params.cat([sub, p.select([1])])
    assert both.n_models == 3 and torch.equal(both.b_y[2], p.b_y[1])
    q = p.clone()
    q.set_model_(0, p.select([1]))
    assert torch.equal(q.W_uh[0], p.W_uh[1]) and not torch.equal(q.W_uh[0], p.W_uh[0])
    q.W_hh[1, 0, 0] = float("nan")
    assert q.is_finite().tolist() == [True, False, True]


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_member_equals_model_alone(init, dtype):
    """Every model of an 18-model pass gets the bits it gets alone: loss, gradients, Omega.

    Eighteen 50-unit models (the elementwise kernels' vector blocks then cut across model
    boundaries at many offsets), lengths with padding, regularizer on; with default grouping
    and with none. The torch path; the compiled kernel's is in tests/unit/test_cpu_kernel.py.
    """
    E = 18
    task = get_task("torder")
    gens = [torch.Generator().manual_seed(100 + e) for e in range(E)]
    params = init_params(init, task.n_in, 50, task.n_out, gens, dtype=dtype)
    batch = task.sample([Stream(100 + e) for e in range(E)], 20, [30 + 3 * (e % 4) for e in range(E)], dtype=dtype)
    act = activation_of(init)
    weight = torch.full((E,), 2.0, dtype=dtype)
    for group_size in (None, E):
        full = loss_and_grads(params, act, task, batch, reg_weight=weight, keep_states=False, group_size=group_size)
        for e in range(E):
            one = loss_and_grads(params.map(lambda t: t[e:e + 1]), act, task,
                                 type(batch)(batch.u[e:e + 1], batch.target[e:e + 1], batch.start[e:e + 1]),
                                 reg_weight=weight[e:e + 1], keep_states=False)
            assert torch.equal(full.loss[e:e + 1], one.loss) and torch.equal(full.omega[e:e + 1], one.omega), e
            for (name, g), g1 in zip(full.grads.items(), one.grads.tensors()):
                assert torch.equal(g[e:e + 1], g1), (e, name)
