"""One training update of every model of an ensemble: BPTT, clipping, an SGD step (§3.2-3.3).

The update is the same whatever computes the pass: a ``loss_and_grads`` callable (a backend's,
:mod:`rnnbook.engine.backend`) returns the loss and the exact gradients, Omega's immediate
gradient already added for the models that use it; then every model's gradient is clipped by
its own threshold (Algorithm 1), the code's safety net replaces a non-finite or huge step where
asked, and the weights move by ``-lr * g``. Nothing here waits for the device, so on a GPU the
whole update can be recorded once and replayed (:mod:`rnnbook.engine.cuda_graphs`).

The per-model settings travel together, as one :class:`UpdateSettings`. This module knows no
backend: it is handed the one function it needs (``loss_and_grads``), so the calls go one way,
``Backend.update -> sgd_update_ -> loss_and_grads``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from rnnbook.engine.clipping import apply_safety_net_, clip_grad_norm_
from rnnbook.paper.model import Params
from rnnbook.paper.tasks import Batch, Task

#: ``grad_transform(grads, params, threshold) -> (norm, clipped)``: what is done to the gradients
#: between the pass and the SGD step, in place. The default is Algorithm 1 (:func:`norm_clipping`).
GradTransform = Callable[[Params, Params, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class UpdateSettings:
    """The per-model settings of an update, each ``(E,)``, in one object.

    ``lr``; ``threshold`` (``inf``: plain MSGD); ``reg_weight`` (0: no Omega term; ``None``:
    Omega not computed at all); ``safety`` (bool: the code's NaN/Inf fallback for those models;
    ``None``: for none). A recorded update (:class:`~rnnbook.engine.cuda_graphs.CapturedUpdate`)
    reads these tensors *by address* at every replay: change their values in place
    (``settings.lr.copy_(...)``), never rebind them — which a frozen object already forbids.
    """

    lr: torch.Tensor
    threshold: torch.Tensor
    reg_weight: torch.Tensor | None = None
    safety: torch.Tensor | None = None


@dataclass
class UpdateStats:
    """What one update of an ensemble reports per model, all ``(E,)``: the training loss, the
    gradient norm before clipping, whether it was clipped, and Omega (``None`` unless asked)."""

    loss: torch.Tensor
    grad_norm: torch.Tensor
    clipped: torch.Tensor
    omega: torch.Tensor | None


def norm_clipping(grads: Params, params: Params, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The default ``grad_transform``: Algorithm 1 (:func:`rnnbook.engine.clipping.clip_grad_norm_`)."""
    return clip_grad_norm_(grads, threshold)


def sgd_step_(params: Params, grads: Params, lr: torch.Tensor) -> None:
    """``theta <- theta - lr * g`` for every model, in place (``lr`` is ``(E,)``)."""
    for p, g in zip(params.tensors(), grads.tensors()):
        p.addcmul_(g, lr.view(-1, *([1] * (g.dim() - 1))), value=-1)


def sgd_update_(
    params: Params,
    loss_and_grads,
    task: Task,
    batch: Batch,
    settings: UpdateSettings,
    *,
    grad_transform: GradTransform | None = None,
) -> UpdateStats:
    """One training update of every model, in place, with ``settings`` (:class:`UpdateSettings`).

    ``loss_and_grads(params, task, batch, reg_weight=...)`` computes the pass (a backend's
    method, e.g. ``backend.loss_and_grads``). ``grad_transform`` replaces Algorithm 1 between
    the pass and the step (e.g. an L2 term and element-wise clipping, :mod:`rnnbook.studies.baselines`).
    """
    step = loss_and_grads(params, task, batch, reg_weight=settings.reg_weight)
    norm, clipped = (grad_transform or norm_clipping)(step.grads, params, settings.threshold)
    if settings.safety is not None:  # only models that asked for it can trigger the fallback
        apply_safety_net_(step.grads, params, torch.where(settings.safety, norm, 0.0))
    sgd_step_(params, step.grads, settings.lr)
    return UpdateStats(step.loss, norm, clipped, step.omega)
