"""The engine on a GPU, and the update recorded as a CUDA graph (rnnbook.engine.cuda_graphs).

Tests marked ``cuda`` run only where torch sees a GPU (the project's CI has none). The ones
that existed at commit 3b34329 passed on a lent H200 (``benchmarks/gpu/tests.txt``); those
added after it (minibatches drawn on the GPU, training with ``cuda_graph=True``) have not run
on a GPU yet. The others check, on any machine, what makes an update recordable: a host-side
padding count that changes no number, the static-buffer plumbing of
:class:`~rnnbook.engine.cuda_graphs.CapturedUpdate`, and training on left-padded, re-recorded
updates giving the very same curves.
"""

import dataclasses

import pytest
import torch
from test_model_gradients import TASKS, reference, rel_err, setup

from rnnbook.engine import TorchBackend, UpdateSettings, sgd_update_
from rnnbook.engine.batched import loss_and_grads, predict
from rnnbook.engine.cuda_graphs import CapturedUpdate
from rnnbook.errors import ConfigError
from rnnbook.paper.model import INITS, activation_of, init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import Batch, get_task
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.training import train_runs

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _with_pad(batch, pad):
    return Batch(batch.u, batch.target, batch.start, pad)


@pytest.mark.parametrize("task_name", TASKS)
def test_host_side_pad_changes_no_bit(task_name):
    """``Batch.pad`` = max(start) (what sample() sets), None (read from start) or T: same bits."""
    task, params, batch = setup(task_name, "smart_tanh", lengths=(16, 11, 14))
    T = batch.u.shape[1]
    assert batch.pad == int(batch.start.max()) > 0
    weight = torch.tensor([4.0, 0.0, 2.0], dtype=torch.float64)
    ref = loss_and_grads(params, "tanh", task, _with_pad(batch, None), reg_weight=weight)
    for pad in (batch.pad, T):
        for keep_states in (True, False):
            got = loss_and_grads(params, "tanh", task, _with_pad(batch, pad), reg_weight=weight,
                                 keep_states=keep_states)
            assert torch.equal(got.loss, ref.loss) and torch.equal(got.omega, ref.omega), (pad, keep_states)
            assert all(torch.equal(a, b) for a, b in zip(got.grads.tensors(), ref.grads.tensors()))
        assert torch.equal(predict(params, "tanh", task, batch.u, batch.start, pad=pad),
                           predict(params, "tanh", task, batch.u, batch.start))


def _ensemble(device, dtype=torch.float32, E=6, T=30, seed=0, task_name="torder"):
    task = get_task(task_name)
    gens = [torch.Generator().manual_seed(seed + e) for e in range(E)]
    params = init_params("basic_tanh", task.n_in, 50, task.n_out, gens, dtype=dtype, device=device)
    lengths = [T - 2 * (e % 3) for e in range(E)]  # padding for some models
    streams = [Stream(seed + e) for e in range(E)]
    batches = [task.sample(streams, 20, lengths, dtype=dtype, device=device) for _ in range(4)]
    settings = UpdateSettings(
        lr=torch.full((E,), 0.01, dtype=dtype, device=device),
        threshold=torch.tensor([1.0, 0.1, float("inf")] * (E // 3), dtype=dtype, device=device),
        reg_weight=torch.tensor([4.0, 0.0] * (E // 2), dtype=dtype, device=device),
        safety=torch.tensor([True, False] * (E // 2), device=device),
    )
    return task, params, batches, settings


def _check_replays_equal_eager(device, exact, defer=False):
    task, params, batches, settings = _ensemble(device)
    backend = TorchBackend("tanh", device, defer_weight_grads=defer)
    eager_params = params.clone()
    before = params.clone()
    captured = CapturedUpdate(params, backend.fresh(), task, batches[0], settings, max_pad=batches[0].u.shape[1])
    for a, b in zip(params.tensors(), before.tensors()):  # recording (and its warm-up) changed nothing
        assert torch.equal(a, b)
    for batch in batches:
        got = captured(batch)
        want = sgd_update_(eager_params, backend.loss_and_grads, task, batch, settings)
        pairs = [(got.loss, want.loss), (got.grad_norm, want.grad_norm), (got.omega, want.omega),
                 *zip(params.tensors(), eager_params.tensors())]
        assert torch.equal(got.clipped, want.clipped)
        for a, b in pairs:
            if exact:
                assert torch.equal(a, b)
            else:
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    return captured


def test_captured_update_plumbing_on_cpu():
    """On a CPU nothing is recorded: the static buffers must still give the eager update's bits."""
    for defer in (False, True):
        captured = _check_replays_equal_eager("cpu", exact=True, defer=defer)
        assert captured.graph is None
    task, _, batches, _ = _ensemble("cpu", T=31)
    with pytest.raises(ConfigError, match="does not fit the recorded update"):
        captured(batches[0])
    task, params, batches, settings = _ensemble("cpu")
    tight = CapturedUpdate(params, TorchBackend("tanh"), task, _with_pad(batches[0], 0), settings)
    with pytest.raises(ConfigError, match="padding steps"):
        tight(batches[0])
    with pytest.raises(ConfigError, match="max_pad"):
        CapturedUpdate(params, TorchBackend("tanh"), task, batches[0], settings, max_pad=99)


def test_settings_cannot_be_rebound():
    """A recorded update reads the settings' tensors by address: UpdateSettings is frozen."""
    _, _, _, settings = _ensemble("cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = settings.lr * 2  # a recorded update reads the tensors by address: change them in place


@cuda
@pytest.mark.parametrize("task_name", TASKS)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("defer", [False, True])
def test_gradients_on_gpu_match_autograd(task_name, init, defer):
    """float64 on the GPU: the engine equals autograd (CPU) as tightly as on the CPU."""
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    weight = torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64)
    loss, grads, _, omega = reference(params, act, task, batch, weight)
    gpu = Batch(batch.u.cuda(), batch.target.cuda(), batch.start.cuda(), batch.pad)
    result = loss_and_grads(params.map(lambda t: t.cuda()), act, task, gpu, reg_weight=weight.cuda(),
                            keep_states=False, defer_weight_grads=defer)
    assert rel_err(result.loss.cpu(), loss) < 1e-12
    assert rel_err(result.omega.cpu(), omega) < 1e-10
    for name, g in grads.items():
        assert rel_err(getattr(result.grads, name).cpu(), g) < 1e-8, name


@cuda
def test_float32_on_gpu_close_to_float64():
    task, params, batch = setup("torder", "smart_tanh", lengths=(50, 40, 30))
    r64 = loss_and_grads(params, "tanh", task, batch)
    gpu = Batch(batch.u.float().cuda(), batch.target.cuda(), batch.start.cuda(), batch.pad)
    r32 = loss_and_grads(params.map(lambda t: t.float().cuda()), "tanh", task, gpu)
    assert rel_err(r32.grads.W_hh.double().cpu(), r64.grads.W_hh) < 1e-4


@cuda
@pytest.mark.parametrize("defer", [False, True])
def test_captured_update_equals_eager_on_gpu(defer):
    """Replaying the recorded graph gives the eager update's numbers (padding, Omega, clipping, safety net)."""
    captured = _check_replays_equal_eager("cuda", exact=False, defer=defer)
    assert captured.graph is not None


@cuda
def test_training_on_gpu_is_deterministic_and_agrees_with_cpu():
    runs = [RunConfig(task="torder", init=init, method=method, min_length=20, max_length=30, seed=seed,
                      max_updates=40, check_every=20, n_valid=200, valid_chunk=100)
            for init in ("basic_tanh", "smart_tanh") for method in ("msgd_c", "msgd_cr") for seed in (0, 1)]
    first, second = train_runs(runs, device="cuda"), train_runs(runs, device="cuda")
    cpu = train_runs(runs, device="cpu")
    for a, b, c in zip(first, second, cpu):
        assert a.curves == b.curves and a.updates == b.updates  # same seed, same numbers
        # the GPU's float32 sums round differently: the same run, to float32 accuracy
        torch.testing.assert_close(torch.tensor(a.curves["train_loss"]), torch.tensor(c.curves["train_loss"]),
                                   rtol=1e-3, atol=1e-5)


@cuda
@pytest.mark.parametrize("task_name", ["torder", "add", "perm", "mem"])
def test_minibatches_drawn_on_gpu_equal_those_drawn_on_cpu(task_name):
    """The streams are integer arithmetic: a run's data are the same bits on either device."""
    task = get_task(task_name, **TASKS.get(task_name, {}))
    lengths = [20, 30, 25]
    cpu = task.sample([Stream(s) for s in (1, 2, 3)], 6, lengths)
    gpu = task.sample([Stream(s) for s in (1, 2, 3)], 6, lengths, device="cuda")
    assert torch.equal(gpu.u.cpu(), cpu.u) and torch.equal(gpu.target.cpu(), cpu.target)
    assert torch.equal(gpu.start.cpu(), cpu.start) and gpu.pad == cpu.pad


def _mixed_runs():
    """Three tasks (each read-out type), fixed lengths and ranges, more runs than slots (refills)."""
    return [RunConfig(task=t, init="basic_tanh", method=m, min_length=lo, max_length=hi, seed=s, max_updates=mu,
                      check_every=20, n_valid=100, valid_chunk=50, hidden=8,
                      task_params={"n_values": 2, "n_pos": 2} if t == "mem" else {})
            for t in ("torder", "mem", "add") for m in ("msgd_c", "msgd_cr")
            for s, (lo, hi, mu) in enumerate([(10, 10, 40), (12, 20, 60), (15, 15, 20)])]


def _same_curves(a, b):
    for x, y in zip(a, b):
        assert x.updates == y.updates and x.success == y.success
        for name in x.curves:
            assert torch.equal(torch.tensor(x.curves[name]).nan_to_num(-1.0),
                               torch.tensor(y.curves[name]).nan_to_num(-1.0)), (x.config.key(), name)


def test_training_with_the_recorded_update_changes_no_number_on_cpu():
    """cuda_graph=True pads every minibatch to the ensemble's longest sequence and records the
    update again whenever members change; on a CPU (nothing recorded) that must give the very
    same curves as training without it -- the padding and the re-recording change no bit."""
    runs = _mixed_runs()
    _same_curves(train_runs(runs, max_parallel=4), train_runs(runs, max_parallel=4, cuda_graph=True))


@cuda
def test_training_with_cuda_graphs_agrees_with_eager_training():
    runs = _mixed_runs()
    eager, graphed = train_runs(runs, max_parallel=4, device="cuda"), train_runs(runs, max_parallel=4, device="cuda",
                                                                                   cuda_graph=True)
    for x, y in zip(eager, graphed):  # deferred weight gradients sum the padding's zeros in another order
        torch.testing.assert_close(torch.tensor(x.curves["train_loss"]), torch.tensor(y.curves["train_loss"]),
                                   rtol=1e-4, atol=1e-6)
