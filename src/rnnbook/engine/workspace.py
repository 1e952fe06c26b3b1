"""Scratch memory that the engine's passes reuse from one update to the next.

Used by :mod:`rnnbook.paper.model` (the BPTT's state-sized buffers and their per-step views) and
:mod:`rnnbook.engine.omega` (Omega's per-step buffers); one module so that neither has to
import the other for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class Workspace:
    """Scratch memory reused across calls of :func:`rnnbook.engine.batched.loss_and_grads`.

    An update allocates a few state-sized buffers (E x T x B x H numbers each). Allocating
    them afresh every update costs page faults that, for large ensembles, take longer than
    the arithmetic (benchmarks/notes: "memory passes dominate ensembles"). With a workspace
    the buffers are kept and only grow, and so are the per-step views of them that the time
    loops index (building ~6 T views per update costs a few per cent at T = 100). The price:
    tensors in a :class:`rnnbook.engine.batched.StepResult` computed with a workspace are overwritten by the next
    call that uses the same workspace.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}
        self._steps: dict[tuple, tuple[tuple, tuple[torch.Tensor, ...]]] = {}

    def take(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor of ``shape`` with the dtype and device of ``like``."""
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < size or buf.dtype != like.dtype or buf.device != like.device:
            buf = torch.empty(size, dtype=like.dtype, device=like.device)
            self._buffers[name] = buf
        return buf[:size].view(shape)

    def steps(self, name: str, x: torch.Tensor, transposed: bool = False) -> tuple[torch.Tensor, ...]:
        """``x.unbind(0)`` (each step's matrices transposed if ``transposed``), built once.

        The views are kept per shape (a sweep's last model group may be smaller than the
        others) while ``x`` has the same memory and strides: a cached view holds its buffer
        alive, so an equal address means the same memory.
        """
        key = (x.data_ptr(), x.stride(), x.dtype, x.device)
        slot = (name, transposed, tuple(x.shape))
        cached = self._steps.get(slot)
        if cached is None or cached[0] != key:
            views = x.unbind(0)
            cached = (key, tuple(v.mT for v in views) if transposed else views)
            self._steps[slot] = cached
        return cached[1]


def scratch(workspace: Workspace | None, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """``workspace.take(...)``, or a fresh tensor when there is no workspace."""
    if workspace is None:
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    return workspace.take(name, shape, like)


def step_views(workspace: Workspace | None, name: str, x: torch.Tensor, transposed: bool = False) -> Sequence[torch.Tensor]:
    """``workspace.steps(...)``, or the views built afresh when there is no workspace."""
    if workspace is None:
        views = x.unbind(0)
        return [v.mT for v in views] if transposed else views
    return workspace.steps(name, x, transposed)
