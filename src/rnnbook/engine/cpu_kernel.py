"""The compiled CPU training pass: forward, read-out and BPTT of a whole ensemble in one C call.

:func:`rnnbook.engine.batched.loss_and_grads` in torch runs each time step as about seven batched calls
over all models of the ensemble. On a CPU that costs twice: every call pays a dispatch, and a
model's states (T x B x H numbers, 400 kB at T = 100) leave the core's cache between its
forward and its backward pass. ``csrc/bptt.c`` computes the same quantities one model at a
time -- forward, read-out (§9.7), backward recursion (Eqs. 3-5), the regularizer Omega and
its immediate gradient (Eqs. 9-10), the weight gradients -- while that model's states stay in
L2 and its weights in L1, with register-blocked matrix tiles written in GCC/Clang vector
extensions. It is faster than the torch path both per update and for whole training,
validation included (measured: ``benchmarks/README.md``, "Measurements behind the code's
choices").

It is built on first use with the machine's C compiler (``$CC``, else ``cc``; ``-O3
-march=native``) into a cache directory (``$RNNBOOK_CACHE``, else
``$XDG_CACHE_HOME/rnnbook`` or ``~/.cache/rnnbook``), once per source version, compiler and
CPU. Where no compiler works, the torch path is used and :func:`status` says why.
``RNNBOOK_CPU_KERNEL`` chooses: ``auto`` (default: compiled if it builds), ``compiled``
(fail if it does not), ``torch`` (never compile).

The kernel covers what training runs: the lean pass (no states or ``dh`` kept), with or
without Omega, and validation's forward pass (:func:`predict`), on a CPU, in float32 or
float64. Passes that keep states and ``dh`` (the chapters' inspections) and GPUs stay in
torch. The two paths compute the same sums in different orders, so they agree to rounding
(tests/unit/test_cpu_kernel.py: float64 loss, gradients and Omega within 1e-10 of autograd), not
bit for bit. Each is deterministic, and with the kernel a model's numbers depend neither on
the other models of its ensemble nor on how its sequences are padded.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnbook.engine.batched import StepResult
from rnnbook.engine.omega import DEFAULT_BOUND
from rnnbook.engine.workspace import scratch
from rnnbook.errors import ConfigError
from rnnbook.paper.model import Params

SOURCE_DIR = Path(__file__).resolve().parent / "csrc"
SOURCES = ("bptt.c", "bptt_impl.h")
FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-std=gnu11", "-fPIC", "-shared")
PORTABLE_FLAGS = tuple(f for f in FLAGS if f != "-march=native")  # for compilers that reject -march=native
CHOICES = ("auto", "compiled", "torch")
ENV = "RNNBOOK_CPU_KERNEL"

_ACTS = {"tanh": 0, "sigmoid": 1}
_READOUTS = {"last_softmax": 0, "last_linear": 1, "softmax": 2, "bernoulli": 3}
_PER_STEP = ("softmax", "bernoulli")  # logits and targets at every step
_ALIGN = 64  # bytes; the kernel's vectors are loaded aligned
CHUNK_STEPS = 32
"""Steps per chunk of the backward pass: the kernel forms a chunk's weight gradients as soon as
its ``dpre`` are known, while they are in cache, and keeps two chunks of them instead of all T
steps. Any value gives the same quantities to rounding (tests run 3 and 32 against autograd).
Chunks pay at T = 200 and make no difference at T = 100: one model's T = 100 states and dpre
fit a 2 MB L2 anyway, at T = 200 they do not (measured: ``benchmarks/README.md``, "Measurements
behind the code's choices")."""


@dataclass(frozen=True)
class Build:
    """The outcome of building the kernel: the loaded library, or why there is none."""

    lib: ctypes.CDLL | None
    detail: str  # compiler and vector width, or the reason for falling back


def choice() -> str:
    """``RNNBOOK_CPU_KERNEL`` (default ``auto``), checked."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ConfigError(f"{ENV}={value!r}: expected one of {', '.join(CHOICES)}")
    return value


def cache_dir() -> Path:
    """Where built kernels are kept: ``$RNNBOOK_CACHE``, else the user's cache directory."""
    if os.environ.get("RNNBOOK_CACHE"):
        return Path(os.environ["RNNBOOK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnnbook"


def _cpu_signature() -> str:
    """The CPU's model and feature flags: -march=native code is only valid on such a CPU."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    keep = [ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags", "Features", "CPU part")]
    return "\n".join(dict.fromkeys(keep))


def _compiler() -> str | None:
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


def _compile(cc: str, flags: tuple[str, ...], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        subprocess.run([cc, *flags, "-o", tmp, str(SOURCE_DIR / SOURCES[0]), "-lm"],
                       check=True, capture_output=True, text=True, timeout=120)
        os.replace(tmp, target)  # atomic: concurrent builders (pytest -n 2, sweep workers) never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _failure(exc: Exception) -> str:
    err = (getattr(exc, "stderr", None) or str(exc)).strip()
    return f"building the C kernel failed: {err.splitlines()[-1] if err else exc}"


@functools.lru_cache(maxsize=1)
def build() -> Build:
    """Compile (once per source, compiler, flags and CPU) and load the kernel; never raises.

    Tries ``-march=native`` first and, where the compiler rejects it (older Apple clang), the
    same flags without it: narrower vectors and, on x86 without FMA instructions, products
    rounded once more per term (the same numbers to rounding, not bit for bit).
    """
    cc = _compiler()
    if cc is None:
        return Build(None, "no C compiler found (set CC)")
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return Build(None, _failure(exc))
    failure = ""
    for flags in (FLAGS, PORTABLE_FLAGS):
        digest = hashlib.sha256()
        for name in SOURCES:
            digest.update((SOURCE_DIR / name).read_bytes())
        for text in (version, " ".join(flags), platform.machine(), _cpu_signature()):
            digest.update(text.encode())
        target = cache_dir() / f"bptt-{digest.hexdigest()[:16]}.so"
        try:
            if not target.exists():
                _compile(cc, flags, target)
            lib = ctypes.CDLL(str(target))
            break
        except (OSError, subprocess.SubprocessError) as exc:
            failure = failure or _failure(exc)
    else:
        return Build(None, failure)
    lib.rnnbook_kernel_vector_bytes.restype = ctypes.c_int
    for suffix in ("f32", "f64"):
        for name, (restype, arguments) in PROTOTYPES.items():
            fn = getattr(lib, f"{name}_{suffix}")
            fn.restype, fn.argtypes = restype, [ctype for _, ctype in arguments]
    first = version.splitlines()[0] if version else Path(cc).name
    native = "" if flags == FLAGS else ", without -march=native"
    return Build(lib, f"{first}; {lib.rnnbook_kernel_vector_bytes() * 8}-bit vectors{native}")


_INT, _LONG, _DOUBLE, _POINTER = ctypes.c_int, ctypes.c_long, ctypes.c_double, ctypes.c_void_p
_SIZES = [("E", _INT), ("T", _INT), ("B", _INT), ("n_in", _INT), ("H", _INT), ("O", _INT)]
_WEIGHTS = [(name, _POINTER) for name in ("W_uh", "W_hh", "b_h", "W_hy", "b_y")]
_INPUTS = [("u", _POINTER), ("su0", _LONG), ("su1", _LONG), ("su2", _LONG), ("su3", _LONG)]

#: The C entry points (``csrc/bptt_impl.h``; each exists as ``<name>_f32`` and ``<name>_f64``), argument
#: by argument, in the prototypes' order: the one place the Python side declares them.
#: ``tests/unit/test_cpu_kernel.py`` reads the C prototypes and checks every name and type against this table.
PROTOTYPES: dict[str, tuple[type, list[tuple[str, type]]]] = {
    "rnnbook_scratch_size": (_LONG, [("T", _INT), ("B", _INT), ("n_in", _INT), ("H", _INT), ("O", _INT),
                                     ("chunk", _INT)]),
    "rnnbook_loss_and_grads": (_INT, [
        *_SIZES, ("act", _INT), ("readout", _INT), *_WEIGHTS, *_INPUTS,
        ("target_idx", _POINTER), ("target_val", _POINTER), ("start", _POINTER), ("loss", _POINTER),
        ("logits", _POINTER), *[(f"g_{name}", _POINTER) for name, _ in _WEIGHTS],
        ("reg_weight", _POINTER), ("bound", _DOUBLE), ("omega", _POINTER), ("chunk", _INT), ("scratch", _POINTER)]),
    "rnnbook_predict_scratch_size": (_LONG, [("B", _INT), ("n_in", _INT), ("H", _INT)]),
    "rnnbook_predict": (_INT, [*_SIZES, ("act", _INT), ("readout", _INT), *_WEIGHTS, *_INPUTS, ("start", _POINTER),
                               ("logits", _POINTER), ("scratch", _POINTER)]),
}


def enabled() -> bool:
    """Whether CPU training passes go to the compiled kernel (see ``RNNBOOK_CPU_KERNEL``)."""
    mode = choice()
    if mode == "torch":
        return False
    built = build()
    if built.lib is None and mode == "compiled":
        raise ConfigError(f"{ENV}=compiled, but {built.detail}")
    return built.lib is not None


def status() -> str:
    """One line for provenance: which CPU engine trains, and with what."""
    if choice() == "torch":
        return f"torch ({ENV}=torch)"
    built = build()
    return f"compiled ({built.detail})" if built.lib is not None else f"torch ({built.detail})"


def supports(act: str, task_readout: str, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether the kernel computes this pass (the caller adds: a lean result)."""
    return (device.type == "cpu" and dtype in (torch.float32, torch.float64) and act in _ACTS
            and task_readout in _READOUTS)


def _scratch(name: str, size: int, like: torch.Tensor, workspace) -> torch.Tensor:
    """``size`` numbers of scratch memory starting at an address aligned for the kernel's vectors.

    The caller must hold the returned tensor while the kernel runs (it owns the memory).
    """

    block = scratch(workspace, name, (size + _ALIGN // like.dtype.itemsize,), like)
    return block[(-block.data_ptr() % _ALIGN) // like.dtype.itemsize:]


def _check_shapes(params, u: torch.Tensor, start: torch.Tensor, target: torch.Tensor | None = None,
                  readout: str = "", reg_weight: torch.Tensor | None = None) -> None:
    """The kernel trusts its sizes: refuse inconsistent ones here, as torch's products would."""
    E, T, B, n_in = u.shape
    H, O = params.W_hh.shape[-1], params.W_hy.shape[-1]
    want = {"W_uh": (E, n_in, H), "W_hh": (E, H, H), "b_h": (E, H), "W_hy": (E, H, O), "b_y": (E, O)}
    for name, tensor in params.items():
        if tuple(tensor.shape) != want[name]:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}; inputs {tuple(u.shape)} need {want[name]}")
    if tuple(start.shape) != (E,):
        raise ValueError(f"start has shape {tuple(start.shape)}, expected ({E},)")
    if reg_weight is not None and tuple(reg_weight.shape) != (E,):
        raise ValueError(f"reg_weight has shape {tuple(reg_weight.shape)}, expected ({E},)")
    if target is not None:
        shape = {"last_softmax": (E, B), "softmax": (E, T, B), "last_linear": (E, B, O),
                 "bernoulli": (E, T, B, O)}[readout]
        if tuple(target.shape) != shape:
            raise ValueError(f"target has shape {tuple(target.shape)}, expected {shape} for read-out {readout!r}")


def _library():
    lib = build().lib
    if lib is None:
        raise RuntimeError(f"the C kernel is not available: {build().detail}")
    return lib


@dataclass
class _KernelCall:
    """What both entry points hand the kernel: sizes, the weights as contiguous tensors of the
    inputs' dtype, the start steps, and an output buffer for the logits."""

    lib: ctypes.CDLL
    suffix: str
    sizes: dict[str, int]  # E, T, B, n_in, H, O
    weights: dict[str, torch.Tensor]
    start: torch.Tensor
    logits: torch.Tensor

    @staticmethod
    def prepare(params, task, u: torch.Tensor, start: torch.Tensor, target: torch.Tensor | None = None,
                reg_weight: torch.Tensor | None = None) -> _KernelCall:
        lib = _library()
        _check_shapes(params, u, start, target, task.readout, reg_weight)
        E, T, B, n_in = u.shape
        H, O = params.W_hh.shape[-1], params.W_hy.shape[-1]
        logits = torch.empty((E, T, B, O) if task.readout in _PER_STEP else (E, B, O), dtype=u.dtype)
        return _KernelCall(lib, "f32" if u.dtype == torch.float32 else "f64",
                           dict(E=E, T=T, B=B, n_in=n_in, H=H, O=O),
                           {name: t.to(u.dtype).contiguous() for name, t in params.items()},
                           start.to(torch.int64).contiguous(), logits)

    def invoke(self, name: str, **arguments) -> int:
        """Call ``name`` with its arguments by name (tensors as pointers), in :data:`PROTOTYPES` order."""
        _, declared = PROTOTYPES[name]
        missing = [a for a, _ in declared if a not in arguments]
        extra = set(arguments) - {a for a, _ in declared}
        if missing or extra:
            raise TypeError(f"{name}: missing {missing}, unexpected {sorted(extra)}")
        values = [arguments[a].data_ptr() if isinstance(arguments[a], torch.Tensor) else arguments[a]
                  for a, _ in declared]
        return getattr(self.lib, f"{name}_{self.suffix}")(*values)

    def inputs(self, u: torch.Tensor) -> dict:
        return dict(u=u, **{f"su{i}": stride for i, stride in enumerate(u.stride())})


def _checked(code: int) -> None:
    if code != 0:
        raise RuntimeError(f"the C kernel refused its arguments (code {code})")


def predict(params, act: str, task, u: torch.Tensor, start: torch.Tensor, *, workspace=None) -> torch.Tensor:
    """Read-out logits, as :func:`rnnbook.engine.batched.predict` (forward pass only; validation)."""
    call = _KernelCall.prepare(params, task, u, start)
    size = call.invoke("rnnbook_predict_scratch_size", B=call.sizes["B"], n_in=call.sizes["n_in"], H=call.sizes["H"])
    scratch = _scratch("cpu_kernel_predict", size, u, workspace)
    _checked(call.invoke("rnnbook_predict", **call.sizes, act=_ACTS[act], readout=_READOUTS[task.readout],
                         **call.weights, **call.inputs(u), start=call.start, logits=call.logits, scratch=scratch))
    return call.logits


def loss_and_grads(params, act: str, task, batch, *, workspace=None, reg_weight=None, bound=None):
    """Loss, read-out logits and the five gradients of every model, by the compiled kernel.

    Same contract as :func:`rnnbook.engine.batched.loss_and_grads` with ``keep_states=False``: with
    ``reg_weight`` ``(E,)`` also Omega (``bound``: the threshold on ``||dE/dh_k||^2``,
    default :data:`rnnbook.engine.omega.DEFAULT_BOUND`) and ``reg_weight[e] d+Omega/dW_hh``
    added to ``grads.W_hh``. Returns a :class:`rnnbook.engine.batched.StepResult` without ``dh`` and
    ``states``.
    """

    u = batch.u
    call = _KernelCall.prepare(params, task, u, batch.start, batch.target, reg_weight)
    E, O = call.sizes["E"], call.sizes["O"]
    dtype = u.dtype
    if task.readout in ("last_linear", "bernoulli"):
        target_idx, target_val = None, batch.target.to(dtype).contiguous()
    else:
        target_idx, target_val = batch.target.to(torch.int64).contiguous(), None
        if target_idx.numel() and not (0 <= int(target_idx.min()) and int(target_idx.max()) < O):
            raise ValueError(f"class targets must lie in [0, {O}); the kernel would read outside the logits")
    loss = torch.empty(E, dtype=dtype)
    grads = Params(**{name: torch.empty_like(w) for name, w in call.weights.items()})
    weight = None if reg_weight is None else reg_weight.to(dtype).contiguous()
    omega = None if reg_weight is None else torch.empty(E, dtype=dtype)
    chunk = CHUNK_STEPS
    sizes = {k: call.sizes[k] for k in ("T", "B", "n_in", "H", "O")}
    scratch = _scratch("cpu_kernel", call.invoke("rnnbook_scratch_size", **sizes, chunk=chunk), u, workspace)
    _checked(call.invoke(
        "rnnbook_loss_and_grads", **call.sizes, act=_ACTS[act], readout=_READOUTS[task.readout],
        **call.weights, **call.inputs(u), target_idx=target_idx, target_val=target_val, start=call.start,
        loss=loss, logits=call.logits, **{f"g_{name}": g for name, g in grads.items()},
        reg_weight=weight, bound=DEFAULT_BOUND if bound is None else float(bound), omega=omega, chunk=chunk,
        scratch=scratch,
    ))
    return StepResult(loss, grads, None, call.logits, None, omega)
