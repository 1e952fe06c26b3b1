"""Every fast path of the engine against the readable reference model (rnnbook.paper.reference), float64.

The reference is one model, column vectors, autograd; the engine is an ensemble, row vectors
(``W_rec = W_hh^T``), a hand-written BPTT (torch), a C kernel (rnnbook.engine.cpu_kernel) and an update
recorded as a CUDA graph (rnnbook.engine.cuda_graphs). For every task, initialisation and method
(MSGD, MSGD-C, MSGD-CR) they must agree on the loss, the five gradients, Omega, the gradient
norm, the clipping decision and the parameters after one clipped SGD update.
"""

import dataclasses
import math

import pytest
import torch

from rnnbook.engine import CompiledBackend, TorchBackend, UpdateSettings, cpu_kernel, sgd_update_
from rnnbook.engine.clipping import SAFETY_NET_MAX_NORM, apply_safety_net_, clip_grad_norm_
from rnnbook.engine.cuda_graphs import CapturedUpdate
from rnnbook.methods import METHODS
from rnnbook.paper import reference as R
from rnnbook.paper.model import INITS, Params, activation_of, init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import TASK_NAMES, Batch, get_task

torch.set_num_threads(1)
KERNEL = cpu_kernel.build().lib is not None
BACKENDS = {"torch": TorchBackend, "compiled": CompiledBackend}
needs_kernel = pytest.mark.skipif(not KERNEL, reason=f"no compiled kernel here: {cpu_kernel.build().detail}")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TASK_PARAMS = {"mem": {"n_values": 2, "n_pos": 3}}
LENGTHS = (10, 14, 12)  # three models, left-padded to a common length
TOL = 1e-12  # relative; the two sides agree to ~1e-15 (float64 rounding, different sum orders)
ENGINE_NAMES = {"W_rec": "W_hh", "W_in": "W_uh", "b": "b_h", "W_out": "W_hy", "b_out": "b_y"}


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def setup(task_name, init, seed=0):
    task = get_task(task_name, **TASK_PARAMS.get(task_name, {}))
    gens = [torch.Generator().manual_seed(seed + e) for e in range(len(LENGTHS))]
    params = init_params(init, task.n_in, 16, task.n_out, gens, dtype=torch.float64)
    noise = torch.Generator().manual_seed(99)  # away from the tiny initial weights: larger gradients
    params = params.map(lambda t: t + 0.3 * torch.randn(t.shape, generator=noise, dtype=t.dtype))
    batch = task.sample([Stream(seed + e) for e in range(len(LENGTHS))], 5, list(LENGTHS), dtype=torch.float64)
    assert batch.start.tolist() != [0, 0, 0]  # padding is exercised
    return task, params, batch


def settings(method, n=len(LENGTHS)):
    """Per-model settings of one method: thresholds that clip model 0, not model 1, and model 2 maybe."""
    threshold = torch.full((n,), math.inf, dtype=torch.float64)
    if method != "msgd":
        threshold = torch.tensor([1e-3, 1e9, 1.0], dtype=torch.float64)
    reg = torch.tensor([4.0, 2.0, 0.5], dtype=torch.float64) if method == "msgd_cr" else None
    return UpdateSettings(lr=torch.full((n,), 0.01, dtype=torch.float64), threshold=threshold, reg_weight=reg)


def engine_view(grads: dict) -> dict:
    """The reference's gradients in the engine's row-vector layout (matrices transposed)."""
    return {ENGINE_NAMES[k]: (g.T if g.dim() == 2 else g) for k, g in grads.items()}


def reference_pass(params, batch, e, act, task, method):
    net, u, target = R.from_engine(params, batch, e, act)
    s = settings(method)
    reg = None if s.reg_weight is None else float(s.reg_weight[e])
    return R.loss_and_grads(net, u, target, task.readout, reg)


def check_pass(got, params, batch, act, task, method):
    for e in range(len(LENGTHS)):
        loss, grads, omega = reference_pass(params, batch, e, act, task, method)
        assert rel_err(got.loss[e], loss) < TOL
        for name, g in engine_view(grads).items():
            assert rel_err(getattr(got.grads, name)[e], g) < TOL, (e, name)
        assert (got.omega is None) == (omega is None)
        if omega is not None:
            assert omega > 0 and rel_err(got.omega[e], omega) < TOL


@pytest.mark.parametrize("task_name", TASK_NAMES)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kernel", ["torch", pytest.param("compiled", marks=needs_kernel)])
def test_engine_pass_equals_reference(task_name, init, method, kernel):
    """Loss, the five gradients (with alpha d+Omega/dW_rec under MSGD-CR) and Omega, model by model."""
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    got = BACKENDS[kernel](act).loss_and_grads(params, task, batch, reg_weight=settings(method).reg_weight)
    check_pass(got, params, batch, act, task, method)


def check_update(update, task_name, init, method, tol=TOL):
    """``update(params, act, task, batch, settings)`` changes params in place and returns UpdateStats."""
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    s = settings(method)
    before = params.clone()
    stats = update(params, act, task, batch, s)
    for e in range(len(LENGTHS)):
        net, u, target = R.from_engine(before, batch, e, act)
        reg = None if s.reg_weight is None else float(s.reg_weight[e])
        new, (loss, norm, clipped, omega) = R.sgd_update(net, u, target, task.readout, lr=0.01,
                                                         threshold=float(s.threshold[e]), reg_weight=reg)
        assert rel_err(stats.loss[e], loss) < tol and rel_err(stats.grad_norm[e], norm) < tol
        assert bool(stats.clipped[e]) == clipped  # (no norm here equals its threshold exactly)
        if omega is not None:
            assert rel_err(stats.omega[e], omega) < tol
        for name, p in engine_view(new.params()).items():  # the update moved the parameters: compare the moves
            moved = getattr(params, name)[e] - getattr(before, name)[e]
            assert rel_err(moved, p - getattr(before, name)[e]) < 1e3 * tol, (e, name)
    if method != "msgd":
        assert stats.clipped.tolist()[:2] == [True, False]


@pytest.mark.parametrize("task_name", TASK_NAMES)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kernel", ["torch", pytest.param("compiled", marks=needs_kernel)])
def test_clipped_sgd_update_equals_reference(task_name, init, method, kernel):
    """engine.sgd_update_ (BPTT, Omega, Algorithm 1, SGD step) against reference.sgd_update."""
    check_update(lambda p, act, *a: sgd_update_(p, BACKENDS[kernel](act).loss_and_grads, *a), task_name, init, method)


def _captured(device):
    def update(params, act, task, batch, s):
        on = lambda t: None if t is None else t.to(device)
        p = params.map(on)
        b = Batch(on(batch.u), on(batch.target), on(batch.start), batch.pad)
        s = UpdateSettings(*(on(t) for t in (s.lr, s.threshold, s.reg_weight, s.safety)))
        stats = CapturedUpdate(p, TorchBackend(act, device), task, b, s)(b)
        for mine, new in zip(params.tensors(), p.tensors()):
            mine.copy_(new.cpu())
        return type(stats)(*(None if t is None else t.cpu() for t in (stats.loss, stats.grad_norm, stats.clipped,
                                                                        stats.omega)))
    return update


@pytest.mark.parametrize("task_name", TASK_NAMES)
@pytest.mark.parametrize("method", METHODS)
def test_captured_update_plumbing_equals_reference_on_cpu(task_name, method):
    """CapturedUpdate on a CPU (nothing recorded: its static buffers and left padding) against the reference."""
    check_update(_captured("cpu"), task_name, "basic_tanh", method)


@cuda
@pytest.mark.parametrize("task_name", TASK_NAMES)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("method", METHODS)
def test_cuda_graph_update_equals_reference(task_name, init, method):
    """The update recorded as a CUDA graph and replayed, float64 on the GPU (other sum orders: 1e-10)."""
    check_update(_captured("cuda"), task_name, init, method, tol=1e-10)


def test_equality_at_the_threshold_changes_no_step():
    """Algorithm 1 says >=, the engine >: at ||g|| = threshold the factor is exactly 1 either way."""
    task, params, batch = setup("torder", "basic_tanh")
    net, u, target = R.from_engine(params, batch, 0, "tanh")
    _, grads, _ = R.loss_and_grads(net, u, target, task.readout)
    _, norm, _ = R.clip(grads, math.inf)
    same, norm_again, clipped = R.clip(grads, float(norm))
    assert clipped and norm_again == norm
    assert all(torch.equal(same[k], grads[k]) for k in grads)
    engine = Params(*(g.unsqueeze(0).clone() for g in engine_view(grads).values()))
    engine_norm, engine_clipped = clip_grad_norm_(engine, norm.reshape(1))
    assert not engine_clipped.item() and engine_norm.item() == norm.item()
    assert all(torch.equal(a[0], b) for a, b in zip(engine.tensors(), engine_view(same).values()))


def test_clipped_step_is_threshold_long_and_keeps_the_direction():
    task, params, batch = setup("add", "smart_tanh")
    net, u, target = R.from_engine(params, batch, 1, "tanh")
    _, grads, _ = R.loss_and_grads(net, u, target, task.readout, reg_weight=2.0)
    clipped, norm, was = R.clip(grads, 0.1)
    assert was and norm > 0.1
    flat = lambda g: torch.cat([t.flatten() for t in g.values()])
    assert abs(flat(clipped).norm().item() - 0.1) < 1e-15
    assert torch.nn.functional.cosine_similarity(flat(clipped), flat(grads), dim=0).item() > 1 - 1e-15


def test_immediate_gradient_is_not_the_full_gradient_of_omega():
    """Eq. (10) holds the errors and states fixed; differentiating through them gives another matrix."""
    task, params, batch = setup("torder", "basic_tanh")
    net, u, target = R.from_engine(params, batch, 2, "tanh")
    _, grads, _ = R.loss_and_grads(net, u, target, task.readout)
    W = net.W_rec.detach().requires_grad_(True)
    live = R.RNN(W, net.W_in, net.b, net.W_out, net.b_out, "tanh")
    states = R.run(live, u)
    deltas = list(torch.autograd.grad(R.cost(live, states, target, task.readout), states, create_graph=True))
    value, immediate = R.omega_and_immediate_grad(live, states, deltas)  # holds states and deltas fixed
    (full,) = torch.autograd.grad(R.omega(W, states, deltas, "tanh"), W)  # differentiates through them too
    _, grads_again, omega_again = R.loss_and_grads(net, u, target, task.readout, reg_weight=1.0)
    assert rel_err(grads_again["W_rec"] - grads["W_rec"], immediate) < TOL and omega_again == value
    assert value > 0 and rel_err(immediate, full) > 1e-3


def test_safety_net_matches_the_engine():
    """A huge addition target makes ||g|| > 1e10: both replace the step by 0.02 W_rec (W_hh), zeros elsewhere."""
    task, params, batch = setup("add", "basic_tanh")
    batch = Batch(batch.u, batch.target * 1e12, batch.start, batch.pad)
    before = params.clone()
    s = dataclasses.replace(settings("msgd_c"), safety=torch.tensor([True, False, True]))
    sgd_update_(params, TorchBackend("tanh").loss_and_grads, task, batch, s)
    for e in (0, 2):
        net, u, target = R.from_engine(before, batch, e, "tanh")
        new, (_, norm, _, _) = R.sgd_update(net, u, target, task.readout, lr=0.01, threshold=float(s.threshold[e]),
                                            safety=True)
        assert norm > SAFETY_NET_MAX_NORM
        assert torch.equal(new.W_in, net.W_in) and torch.equal(params.W_uh[e], before.W_uh[e])
        assert rel_err(params.W_hh[e], new.W_rec.T) < TOL and rel_err(new.W_rec, net.W_rec * (1 - 0.01 * 0.02)) < TOL
    assert not torch.equal(params.W_uh[1], before.W_uh[1])  # model 1 had no safety net: a clipped step
    grads = dict(net.params())
    for norm in (math.nan, math.inf, 1e10, 2e10):  # NaN, infinite or above 1e10: both fire
        _, fired = R.safety_net(grads, net, torch.tensor(norm))
        engine = Params(*(torch.ones(1, *t.shape) for t in engine_view(grads).values()))
        assert fired == apply_safety_net_(engine, engine, torch.tensor([norm])).item() == (norm != 1e10)


@pytest.mark.parametrize("rho", [0.95, 2.0])
def test_clipped_step_is_a_descent_direction(rho):
    """Chapter 3.2, Eq. (ch3-descent): along d = -c g the minibatch cost has slope -c ||g||^2 < 0."""
    task = get_task("torder")
    p = init_params("basic_tanh", task.n_in, 20, task.n_out, [torch.Generator().manual_seed(3)], dtype=torch.float64)
    p.W_hh[0] *= rho / torch.linalg.eigvals(p.W_hh[0]).abs().max()
    batch = task.sample([Stream(3)], 8, [30], dtype=torch.float64)
    net, u, target = R.from_engine(p, batch, 0, "tanh")
    _, g, _ = R.loss_and_grads(net, u, target, task.readout)
    clipped, norm, _ = R.clip(g, 1.0)
    c = min(1.0, 1.0 / float(norm))

    def cost_at(s):
        moved = R.RNN(*(net.params()[k] + s * clipped[k] * -1 for k in R.NAMES), "tanh")
        return float(R.cost(moved, R.run(moved, u), target, task.readout))

    h = 1e-5 / (1.0 + float(norm))
    slope = (cost_at(h) - cost_at(-h)) / (2 * h)
    assert slope < 0 and abs(slope / (-c * float(norm) ** 2) - 1) < 1e-4
