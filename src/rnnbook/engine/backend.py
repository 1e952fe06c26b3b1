"""Which code computes an ensemble's passes, decided once per ensemble.

Three backends compute the same quantities (tests/unit/test_reference.py holds each to the readable
reference model in float64):

``CompiledBackend``
    A CPU's: one model's whole pass at a time in C (:mod:`rnnbook.engine.cpu_kernel`), its
    states in cache. The default wherever it applies and a C compiler is found.
``TorchBackend``
    The batched torch code (:mod:`rnnbook.engine.batched`): what a GPU runs, and a CPU without
    a compiler. It decides once how to work: in groups of models on a CPU, with the weight
    gradients deferred to one product on a GPU (both measured, ``benchmarks/README.md``).
``CudaGraphBackend``
    The torch update recorded as a CUDA graph and replayed (:mod:`rnnbook.engine.cuda_graphs`),
    recorded again when the ensemble's members change. On a CPU it runs the same padded update
    eagerly, with the CPU's backend inside.

:func:`choose_backend` reads the user's choice (``RNNBOOK_CPU_KERNEL=auto|compiled|torch``) once;
nothing below it re-reads the environment, and no kernel choice, workspace, grouping or
deferral travels down the call chain: each backend owns its settings and scratch memory.
"""

from __future__ import annotations

import copy
import dataclasses

import torch

from rnnbook.engine import batched, cpu_kernel
from rnnbook.engine.cuda_graphs import CapturedUpdate
from rnnbook.engine.update import GradTransform, UpdateSettings, UpdateStats, sgd_update_
from rnnbook.engine.workspace import Workspace
from rnnbook.errors import ConfigError, check_choice
from rnnbook.paper.model import Params, check_activation
from rnnbook.paper.tasks import Batch, Task

KERNELS = ("compiled", "torch")


class Backend:
    """Computes the passes of one ensemble: the activation and the device are fixed at creation."""

    name = "backend"

    def __init__(self, act: str) -> None:
        check_activation(act)
        self.act = act
        self.workspace = Workspace()

    def loss_and_grads(self, params: Params, task: Task, batch: Batch, *,
                       reg_weight: torch.Tensor | None = None) -> batched.StepResult:
        """Loss, logits and exact gradients of every model (Omega's term added where ``reg_weight`` says)."""
        raise NotImplementedError

    def predict(self, params: Params, task: Task, u: torch.Tensor, start: torch.Tensor,
                pad: int | None = None) -> torch.Tensor:
        """Read-out logits of every model (the forward pass only: validation)."""
        raise NotImplementedError

    def update(self, params: Params, task: Task, batch: Batch, settings: UpdateSettings, *,
               grad_transform: GradTransform | None = None) -> UpdateStats:
        """One training update of every model, in place: :func:`rnnbook.engine.update.sgd_update_`
        around this backend's :meth:`loss_and_grads` (the one step a backend supplies).

        ``settings``: the per-model :class:`~rnnbook.engine.update.UpdateSettings`;
        ``grad_transform`` replaces Algorithm 1.
        """
        return sgd_update_(params, self.loss_and_grads, task, batch, settings, grad_transform=grad_transform)

    def reset(self, max_steps: int | None = None) -> None:
        """The ensemble's members changed; ``max_steps``: the longest minibatch they can draw now."""

    def fresh(self) -> "Backend":
        """The same backend with scratch memory of its own."""
        other = copy.copy(self)
        other.workspace = Workspace()
        return other

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.act!r})"


class TorchBackend(Backend):
    """The batched torch code; ``group_size`` and ``defer_weight_grads`` decided once for the device.

    ``error_clip`` (a cutoff ``c``): Mikolov's per-step clipping of the back-propagated error instead
    of the exact gradient (:func:`rnnbook.engine.batched.loss_and_grads`; the torch path only). Its
    updates then report as ``clipped`` whether the error clip acted (some error component above
    ``c`` somewhere in the pass), so an ensemble's clip-fraction curve counts the error clip.
    """

    name = "torch"

    def __init__(self, act: str, device: str | torch.device = "cpu", *, group_size: int | None = None,
                 defer_weight_grads: bool | None = None, error_clip: float | None = None) -> None:
        super().__init__(act)
        kind = torch.device(device).type
        self.group_size = group_size if group_size is not None else (batched.CPU_GROUP_SIZE if kind == "cpu" else None)
        self.defer_weight_grads = (batched.DEFER_WEIGHT_GRADS.get(kind, False) if defer_weight_grads is None
                                   else defer_weight_grads)
        self.error_clip, self.error_max = error_clip, None
        if error_clip is not None:
            self.name = "torch_error_clip"

    def loss_and_grads(self, params, task, batch, *, reg_weight=None):
        group = self.group_size if self.group_size is not None else batch.u.shape[0]
        step = batched.loss_and_grads(params, self.act, task, batch, reg_weight=reg_weight, workspace=self.workspace,
                                      keep_states=False, group_size=group,
                                      defer_weight_grads=self.defer_weight_grads, error_clip=self.error_clip)
        self.error_max = step.error_max
        return step

    def update(self, params, task, batch, settings, *, grad_transform=None):
        stats = super().update(params, task, batch, settings, grad_transform=grad_transform)
        if self.error_clip is None:
            return stats
        return dataclasses.replace(stats, clipped=self.error_max > self.error_clip)

    def predict(self, params, task, u, start, pad=None):
        return batched.predict(params, self.act, task, u, start, pad=pad, workspace=self.workspace)


class CompiledBackend(Backend):
    """The pass compiled from C, one model at a time (a CPU's)."""

    name = "compiled"

    def __init__(self, act: str) -> None:
        super().__init__(act)
        if cpu_kernel.build().lib is None:
            raise ConfigError(f"the compiled kernel is not available: {cpu_kernel.build().detail}")

    def loss_and_grads(self, params, task, batch, *, reg_weight=None):
        return cpu_kernel.loss_and_grads(params, self.act, task, batch, workspace=self.workspace,
                                         reg_weight=reg_weight)

    def predict(self, params, task, u, start, pad=None):  # the kernel needs no pad: it reads start
        return cpu_kernel.predict(params, self.act, task, u, start, workspace=self.workspace)


class CudaGraphBackend(Backend):
    """Updates recorded as a CUDA graph (on a CPU: the same padded update, eagerly), around ``inner``."""

    name = "cuda_graph"

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.act)
        self.inner = inner
        self.captured = None
        self.max_steps: int | None = None

    def loss_and_grads(self, params, task, batch, *, reg_weight=None):
        return self.inner.loss_and_grads(params, task, batch, reg_weight=reg_weight)

    def predict(self, params, task, u, start, pad=None):
        return self.inner.predict(params, task, u, start, pad)

    def reset(self, max_steps=None):
        self.captured, self.max_steps = None, max_steps

    def update(self, params, task, batch, settings, *, grad_transform=None):
        # recorded with these settings and transform: reset() (members or settings changed) records anew
        if self.captured is None or not self.captured.fits(batch):
            longest = self.max_steps or batch.u.shape[1]
            self.captured = CapturedUpdate(params, self.inner.fresh(), task, batch, settings,
                                           steps=longest, max_pad=longest, grad_transform=grad_transform)
        return self.captured(batch)


def choose_backend(device: str | torch.device, act: str, readout: str, dtype: torch.dtype, *,
                   kernel: str | None = None, cuda_graph: bool = False) -> Backend:
    """The backend for an ensemble on ``device``.

    ``kernel``: ``"compiled"`` or ``"torch"`` for a CPU; ``None`` reads ``RNNBOOK_CPU_KERNEL``
    (``auto``, the default, takes the compiled kernel wherever it applies and a compiler is
    found). ``cuda_graph``: record each update (on a CPU: run the same padded update eagerly).
    """
    device = torch.device(device)
    if kernel is not None:
        check_choice("kernel", kernel, KERNELS)
    fits = cpu_kernel.supports(act, readout, dtype, device)
    if kernel == "compiled" and not fits:
        raise ConfigError("the compiled kernel computes passes on a CPU, in float32 or float64")
    use_compiled = fits and (kernel == "compiled" or (kernel is None and cpu_kernel.enabled()))
    inner = CompiledBackend(act) if use_compiled else TorchBackend(act, device)
    return CudaGraphBackend(inner) if cuda_graph else inner
