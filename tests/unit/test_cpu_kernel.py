"""The compiled CPU kernel (rnnbook.engine.cpu_kernel) against autograd, the torch path and itself."""

import math
import os

import pytest
import torch
from test_model_gradients import TASKS, reference, rel_err, setup

from rnnbook.engine import CompiledBackend, TorchBackend, UpdateSettings, choose_backend, cpu_kernel, sgd_update_
from rnnbook.engine.batched import Workspace, loss_and_grads, predict
from rnnbook.errors import ConfigError
from rnnbook.paper.model import INITS, Params, activation_of, init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import Batch, get_task

AVAILABLE = cpu_kernel.build().lib is not None
needs_kernel = pytest.mark.skipif(not AVAILABLE, reason=f"no compiled kernel here: {cpu_kernel.build().detail}")


def test_ci_builds_the_kernel():
    """CI must exercise the compiled kernel, not silently fall back to torch."""
    if not os.environ.get("CI"):
        pytest.skip("only required in CI")
    assert AVAILABLE, cpu_kernel.build().detail
    assert cpu_kernel.status().startswith("compiled")


@needs_kernel
@pytest.mark.parametrize("task_name", [*TASKS, "perm"])
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("with_omega", [False, True])
@pytest.mark.parametrize("chunk", [3, cpu_kernel.CHUNK_STEPS])
def test_matches_autograd_in_float64(task_name, init, with_omega, chunk, monkeypatch):
    """Loss, all five gradients and Omega equal autograd on a plain time loop, with padding.

    With Omega, one model has weight 0 (Omega computed, gradient untouched) and two do not.
    Chunks of 3 steps put chunk boundaries inside every model's sequence (10-14 steps).
    """
    monkeypatch.setattr(cpu_kernel, "CHUNK_STEPS", chunk)
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    weight = torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64) if with_omega else None
    got = cpu_kernel.loss_and_grads(params, act, task, batch, reg_weight=weight)
    loss, grads, _, omega = reference(params, act, task, batch, weight)
    assert batch.start.tolist() != [0, 0, 0]
    assert rel_err(got.loss, loss) < 1e-12
    for name, g in grads.items():
        assert rel_err(getattr(got.grads, name), g) < 1e-10, name
    assert (got.omega is None) == (not with_omega)
    if with_omega:
        assert rel_err(got.omega, omega) < 1e-10
    torch_path = loss_and_grads(params, act, task, batch, keep_states=False, reg_weight=weight)
    assert rel_err(got.output, torch_path.output) < 1e-12
    if with_omega:
        assert rel_err(got.omega, torch_path.omega) < 1e-12


@needs_kernel
@pytest.mark.parametrize("task_name", ["torder", "mem"])
def test_computing_omega_changes_no_gradient_bit(task_name):
    """A model with regularizer weight 0 gets exactly the loss and gradients of a pass without Omega
    (mem: the direct loss terms at every step are added in the same order on both paths)."""
    task, params, batch = setup(task_name, "smart_tanh")
    params, batch = params.map(torch.Tensor.float), Batch(batch.u.float(), batch.target, batch.start)
    plain = cpu_kernel.loss_and_grads(params, "tanh", task, batch)
    tracked = cpu_kernel.loss_and_grads(params, "tanh", task, batch,
                             reg_weight=torch.zeros(3))
    assert torch.equal(plain.loss, tracked.loss) and (tracked.omega > 0).all()
    assert all(torch.equal(a, b) for a, b in zip(plain.grads.tensors(), tracked.grads.tensors()))


@needs_kernel
@pytest.mark.parametrize("task_name", ["torder", "mem"])
def test_omega_bound_rule(task_name):
    """Steps whose ||dE/dh_k||^2 is below ``bound`` are not counted: with the bound at the median
    of those norms, Omega and its gradient still equal the torch path's (tested against a
    direct computation in tests/unit/test_regularizer.py)."""
    task, params, batch = setup(task_name, "basic_tanh")
    full = loss_and_grads(params, "tanh", task, batch)  # keeps dh
    real = torch.arange(batch.u.shape[1])[None] >= batch.start[:, None]
    norms = full.dh.square().sum(-1)[real].flatten().sort().values
    mid = len(norms) // 2
    bound = (norms[mid - 1] + norms[mid]).item() / 2  # between two norms: no tie that rounding could tip
    weight = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    got = cpu_kernel.loss_and_grads(params, "tanh", task, batch, reg_weight=weight,
                         bound=bound)
    want = loss_and_grads(params, "tanh", task, batch, keep_states=False, reg_weight=weight,
                          bound=bound)
    assert rel_err(got.omega, want.omega) < 1e-12 and rel_err(got.grads.W_hh, want.grads.W_hh) < 1e-12
    everything = cpu_kernel.loss_and_grads(params, "tanh", task, batch, reg_weight=weight)
    assert rel_err(got.omega, everything.omega) > 1e-3  # the bound did exclude steps


@needs_kernel
@pytest.mark.parametrize("task_name", ["torder", "mem", "add"])
def test_float32_agrees_with_the_torch_path(task_name):
    """At the benchmark's size (50 units, batch 20, T up to 100) in float32, Omega included: equal to rounding."""
    task = get_task(task_name, **TASKS.get(task_name, {}))
    E = 6
    lengths = [100, 93, 100, 71, 88, 100]
    params = init_params("smart_tanh", task.n_in, 50, task.n_out, [torch.Generator().manual_seed(e) for e in range(E)])
    batch = task.sample([Stream(e) for e in range(E)], 20, lengths)
    weight = torch.full((E,), 2.0)
    a = cpu_kernel.loss_and_grads(params, "tanh", task, batch, reg_weight=weight)
    b = loss_and_grads(params, "tanh", task, batch, keep_states=False, reg_weight=weight)
    assert rel_err(a.loss.double(), b.loss.double()) < 1e-5
    assert rel_err(a.omega.double(), b.omega.double()) < 1e-4
    for name, g in b.grads.items():
        assert rel_err(getattr(a.grads, name).double(), g.double()) < 1e-4, name


@needs_kernel
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_member_equals_model_alone(init, dtype):
    """Each model of an 18-model pass gets exactly the bits it gets alone, and without padding (Omega on)."""
    E = 18
    task = get_task("torder")
    params = init_params(init, task.n_in, 50, task.n_out, [torch.Generator().manual_seed(100 + e) for e in range(E)],
                         dtype=dtype)
    batch = task.sample([Stream(100 + e) for e in range(E)], 20, [30 + 3 * (e % 4) for e in range(E)], dtype=dtype)
    act = activation_of(init)
    weight = torch.tensor([0.0, 2.0, 4.0] * 6, dtype=dtype)
    full = cpu_kernel.loss_and_grads(params, act, task, batch, reg_weight=weight)
    for e in range(E):
        s = int(batch.start[e])  # alone and unpadded: the steps from the model's start on
        one = cpu_kernel.loss_and_grads(params.map(lambda t: t[e:e + 1]), act, task,
                             Batch(batch.u[e:e + 1, s:], batch.target[e:e + 1], batch.start[e:e + 1] * 0), reg_weight=weight[e:e + 1])
        assert torch.equal(full.loss[e:e + 1], one.loss) and torch.equal(full.omega[e:e + 1], one.omega), e
        for (name, g), g1 in zip(full.grads.items(), one.grads.tensors()):
            assert torch.equal(g[e:e + 1], g1), (e, name)


@needs_kernel
@pytest.mark.parametrize("task_name", [*TASKS, "perm"])
@pytest.mark.parametrize("init", ["sigmoid", "smart_tanh"])
def test_predict_matches_the_torch_path(task_name, init):
    """Validation's forward pass: the same logits (float64), and each model's alone and unpadded."""
    task, params, batch = setup(task_name, init)
    act = activation_of(init)
    got = cpu_kernel.predict(params, act, task, batch.u, batch.start)
    assert rel_err(got, predict(params, act, task, batch.u, batch.start)) < 1e-12
    default = choose_backend("cpu", act, task.readout, batch.u.dtype)  # what training chooses on a CPU
    assert torch.equal(got, default.predict(params, task, batch.u, batch.start))
    for e in range(3):
        s = int(batch.start[e])
        one = cpu_kernel.predict(params.map(lambda t: t[e:e + 1]), act, task, batch.u[e:e + 1, s:], batch.start[e:e + 1] * 0)
        assert torch.equal(got[e:e + 1, s:] if task.readout == "softmax" else got[e:e + 1], one)


@needs_kernel
def test_deterministic_and_independent_of_memory_layout():
    task, params, batch = setup("mem", "sigmoid", lengths=(9, 12, 10))
    params = params.map(torch.Tensor.float)
    u = batch.u.float()
    assert not u.is_contiguous()  # a view of the sampler's time-major buffer
    ws = Workspace()
    runs = [cpu_kernel.loss_and_grads(params, "sigmoid", task, Batch(x, batch.target, batch.start), workspace=ws)
            for x in (u, u.contiguous(), u)]
    for r in runs[1:]:
        assert torch.equal(r.loss, runs[0].loss) and torch.equal(r.output, runs[0].output)
        assert all(torch.equal(a, b) for a, b in zip(r.grads.tensors(), runs[0].grads.tensors()))


def _activation(act, x):
    """act(x) as the kernel computes it: a one-unit model with W_uh = 1 and a linear read-out h."""
    one = lambda *s: torch.ones(1, *s, dtype=x.dtype)  # noqa: E731
    zero = lambda *s: torch.zeros(1, *s, dtype=x.dtype)  # noqa: E731
    params = Params(one(1, 1), zero(1, 1), zero(1), one(1, 1), zero(1))
    n = x.numel()
    batch = Batch(x.view(1, 1, n, 1), torch.zeros(1, n, 1, dtype=x.dtype), torch.zeros(1, dtype=torch.long))
    return cpu_kernel.loss_and_grads(params, act, get_task("add"), batch).output.view(-1)


@needs_kernel
def test_activations_are_accurate():
    """float32 tanh within 5 ulp and sigmoid within 3 ulp of the exact value; NaN stays NaN."""
    x = torch.cat([torch.linspace(-20, 20, 400_001), torch.logspace(-30, 1.3, 3000), -torch.logspace(-30, 1.3, 3000)])
    exact = {"tanh": torch.tanh(x.double()), "sigmoid": torch.sigmoid(x.double())}
    for act, bound in (("tanh", 5), ("sigmoid", 3)):
        got = _activation(act, x).double()
        ref = exact[act]
        ulp = (torch.nextafter(ref.float(), torch.tensor(math.inf)).double() - ref.float().double()).abs()
        assert ((got - ref).abs() / ulp).max() <= bound, act
        assert rel_err(_activation(act, x.double()), ref) < 1e-15  # float64: the C library's functions
    special = _activation("tanh", torch.tensor([math.nan, math.inf, -math.inf, 0.0]))
    assert math.isnan(special[0]) and special[3] == 0 and special[1] == -special[2]
    assert 0 < 1 - special[1] <= 4 * 2.0**-24  # the rational form saturates at 1 - 2^-22, 4 ulp below 1
    assert math.isnan(_activation("sigmoid", torch.tensor([math.nan]))[0])


@needs_kernel
def test_training_updates_take_the_kernel_and_agree():
    """The backend training chooses on a CPU is the kernel; ten updates agree with the torch backend."""
    task = get_task("torder")
    E = 4
    init = init_params("basic_tanh", task.n_in, 50, task.n_out, [torch.Generator().manual_seed(e) for e in range(E)])
    settings = UpdateSettings(lr=torch.full((E,), 0.01), threshold=torch.full((E,), 1.0))
    finals = {}
    for kernel in (None, "compiled", "torch"):
        backend = choose_backend("cpu", "tanh", task.readout, torch.float32, kernel=kernel)
        assert isinstance(backend, TorchBackend if kernel == "torch" else CompiledBackend)
        params, streams = init.clone(), [Stream(e) for e in range(E)]
        for _ in range(10):
            sgd_update_(params, backend.loss_and_grads, task, task.sample(streams, 20, [60] * E), settings)
        finals[kernel] = params
    assert all(torch.equal(a, b) for a, b in zip(finals[None].tensors(), finals["compiled"].tensors()))
    for a, b in zip(finals["compiled"].tensors(), finals["torch"].tensors()):
        assert rel_err(a.double(), b.double()) < 1e-5


def test_choices_and_their_errors(monkeypatch):
    task, params, batch = setup("torder", "basic_tanh")
    choose = lambda **kw: choose_backend("cpu", "tanh", task.readout, torch.float64, **kw)  # noqa: E731
    monkeypatch.setenv(cpu_kernel.ENV, "fortran")
    with pytest.raises(ConfigError, match="RNNBOOK_CPU_KERNEL='fortran'"):
        choose()
    monkeypatch.setenv(cpu_kernel.ENV, "torch")
    assert not cpu_kernel.enabled() and cpu_kernel.status().startswith("torch")
    assert isinstance(choose(), TorchBackend)
    with pytest.raises(ConfigError, match="unknown kernel"):
        choose(kernel="cuda")
    with pytest.raises(ConfigError, match="on a CPU"):
        choose_backend("cpu", "tanh", task.readout, torch.float16, kernel="compiled")
    if AVAILABLE:  # what the C code would read out of bounds is refused before it runs
        bad = Batch(batch.u, batch.target + task.n_out, batch.start)
        with pytest.raises(ValueError, match="class targets"):
            cpu_kernel.loss_and_grads(params, "tanh", task, bad)
        with pytest.raises(ValueError, match="W_uh has shape"):
            cpu_kernel.loss_and_grads(params, "tanh", task, Batch(batch.u[..., :-1], batch.target, batch.start))
        with pytest.raises(ValueError, match="target has shape"):
            cpu_kernel.loss_and_grads(params, "tanh", task, Batch(batch.u, batch.target[:, :-1], batch.start))
        with pytest.raises(ValueError, match="start has shape"):
            cpu_kernel.predict(params, "tanh", task, batch.u, batch.start[:-1])


@pytest.mark.slow
def test_compilers_without_march_native_still_build(monkeypatch, tmp_path):
    """A compiler that rejects -march=native gets the portable flags (and the same numbers, to rounding)."""
    cc = tmp_path / "cc"
    real = cpu_kernel._compiler() or "cc"
    cc.write_text(f"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -march=native ] && {{ echo 'error: no native' >&2; exit 1; }}; done\n"
                  f"exec {real} \"$@\"\n")
    cc.chmod(0o755)
    monkeypatch.setenv("RNNBOOK_CACHE", str(tmp_path / "cache"))
    task, params, batch = setup("mem", "basic_tanh")
    reference_pass = loss_and_grads(params, "tanh", task, batch, keep_states=False)
    monkeypatch.setenv("CC", str(cc))
    cpu_kernel.build.cache_clear()
    try:
        if cpu_kernel.build().lib is None:
            pytest.skip(f"no working compiler here: {cpu_kernel.build().detail}")
        assert "without -march=native" in cpu_kernel.status()
        got = cpu_kernel.loss_and_grads(params, "tanh", task, batch)
        assert rel_err(got.loss, reference_pass.loss) < 1e-12
        assert rel_err(got.grads.W_hh, reference_pass.grads.W_hh) < 1e-10
    finally:
        monkeypatch.undo()
        cpu_kernel.build.cache_clear()


@pytest.mark.parametrize("compiler", ["missing", "broken"])
def test_falls_back_to_torch_without_a_compiler(compiler, monkeypatch, tmp_path):
    """No (working) C compiler: auto trains with torch and says why; 'compiled' is a clear error."""
    if compiler == "missing":
        monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    else:
        cc = tmp_path / "cc"
        cc.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo fake-cc 1.0; exit 0; }\necho 'error: boom' >&2\nexit 1\n")
        cc.chmod(0o755)
        monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("RNNBOOK_CACHE", str(tmp_path / "cache"))
    cpu_kernel.build.cache_clear()
    try:
        assert cpu_kernel.build().lib is None
        assert ("no C compiler" if compiler == "missing" else "boom") in cpu_kernel.status()
        task, params, batch = setup("torder", "basic_tanh")
        backend = choose_backend("cpu", "tanh", task.readout, torch.float64)
        assert isinstance(backend, TorchBackend)  # torch, silently
        lean = backend.loss_and_grads(params, task, batch)
        assert rel_err(lean.loss, reference(params, "tanh", task, batch)[0]) < 1e-12
        monkeypatch.setenv(cpu_kernel.ENV, "compiled")
        with pytest.raises(ConfigError, match="compiled"):
            choose_backend("cpu", "tanh", task.readout, torch.float64)
        assert not list((tmp_path / "cache").glob("*.so"))  # no half-written library left behind
    finally:
        monkeypatch.undo()
        cpu_kernel.build.cache_clear()


def test_the_ctypes_prototypes_match_the_c_source():
    """PROTOTYPES (the Python side's one declaration of the C entry points) against csrc/bptt_impl.h."""
    import ctypes
    import re
    from pathlib import Path

    source = (Path(cpu_kernel.__file__).parent / "csrc" / "bptt_impl.h").read_text()
    c_types = {"int": ctypes.c_int, "long": ctypes.c_long, "double": ctypes.c_double}
    for name, (restype, arguments) in cpu_kernel.PROTOTYPES.items():
        m = re.search(rf"(\w+) TYPED\({name}\)\(([^)]*)\)", source)
        assert m, f"{name} is not declared in bptt_impl.h"
        assert c_types[m.group(1)] is restype, name
        params = [p.split() for p in " ".join(m.group(2).split()).split(",")]
        c_args = [(words[-1].lstrip("*"), ctypes.c_void_p if "*" in " ".join(words) else c_types[words[-2]])
                  for words in params]
        assert c_args == arguments, f"{name}: C has {c_args}"


def test_reg_weight_of_the_wrong_shape_is_refused_before_the_c_code_runs():
    torch.manual_seed(0)
    task = get_task("torder")
    params = init_params("basic_tanh", task.n_in, 8, task.n_out, [torch.Generator().manual_seed(s) for s in range(3)])
    batch = task.sample([Stream(s) for s in range(3)], 4, [10, 10, 10])
    with pytest.raises(ValueError, match="reg_weight has shape"):
        cpu_kernel.loss_and_grads(params, "tanh", task, batch, reg_weight=torch.ones(2))
