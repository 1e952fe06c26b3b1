"""One training update of every model of an ensemble: BPTT, clipping, an SGD step (§3.2-3.3).

The update is the same whatever computes the pass: the ``backend`` (:mod:`rnnbook.engine.backend`)
returns the loss and the exact gradients, Omega's immediate gradient already added for the
models that use it; then every model's gradient is clipped by its own threshold (Algorithm 1),
the code's safety net replaces a non-finite or huge step where asked, and the weights move by
``-lr * g``. Nothing here waits for the device, so on a GPU the whole update can be recorded once
and replayed (:mod:`rnnbook.engine.cuda_graphs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from rnnbook.clipping import apply_safety_net_, clip_grad_norm_
from rnnbook.model import Params
from rnnbook.tasks import Batch, Task

if TYPE_CHECKING:
    from rnnbook.engine.backend import Backend


@dataclass
class UpdateStats:
    """What one update of an ensemble reports per model, all ``(E,)``: the training loss, the
    gradient norm before clipping, whether it was clipped, and Omega (``None`` unless asked)."""

    loss: torch.Tensor
    grad_norm: torch.Tensor
    clipped: torch.Tensor
    omega: torch.Tensor | None


def sgd_step_(params: Params, grads: Params, lr: torch.Tensor) -> None:
    """``theta <- theta - lr * g`` for every model, in place (``lr`` is ``(E,)``)."""
    for p, g in zip(params.tensors(), grads.tensors()):
        p.addcmul_(g, lr.view(-1, *([1] * (g.dim() - 1))), value=-1)


def sgd_update_(
    params: Params,
    backend: "Backend",
    task: Task,
    batch: Batch,
    *,
    lr: torch.Tensor,
    threshold: torch.Tensor,
    reg_weight: torch.Tensor | None = None,
    safety: torch.Tensor | None = None,
) -> UpdateStats:
    """One training update of every model, in place; the pass is computed by ``backend``.

    ``lr``, ``threshold`` (``inf``: plain MSGD) and ``reg_weight`` (0: no Omega term; ``None``:
    Omega not computed at all) are ``(E,)``. ``safety`` ``(E,)`` bool switches the code's
    NaN/Inf fallback on for those models (``None``: for none).
    """
    step = backend.loss_and_grads(params, task, batch, reg_weight=reg_weight)
    norm, clipped = clip_grad_norm_(step.grads, threshold)
    if safety is not None:  # only models that asked for it can trigger the fallback
        apply_safety_net_(step.grads, params, torch.where(safety, norm, 0.0))
    sgd_step_(params, step.grads, lr)
    return UpdateStats(step.loss, norm, clipped, step.omega)
