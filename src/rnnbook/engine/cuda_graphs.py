"""One training update recorded as a CUDA graph and replayed, for ensembles on a GPU.

An update of the engine (:func:`rnnbook.engine.update.sgd_update_`) is a few hundred small kernels
per sequence step: at T = 100 about 700 launches, each a batched product of 50 x 50 matrices
or an element-wise op over ``E x 20 x 50`` numbers. On a GPU the launches, not the arithmetic,
set the pace until E is in the thousands. A CUDA graph records the launches once and replays
them with one call, so the host no longer issues each kernel.

A graph replays the *same* kernels on the *same* memory: the shapes (E, T, minibatch), the
number of padding steps it masks and every tensor the update reads are fixed when it is
recorded. :class:`CapturedUpdate` therefore owns static copies of the minibatch, copies each
new minibatch into them, and updates the caller's parameters in place. The numbers are those
of the eager update (the same kernels run), which ``tests/unit/test_cuda.py`` checks on a GPU.

On a CPU there is nothing to record; the class then runs the eager update on its static
buffers, so that its plumbing is tested on every machine.
"""

from __future__ import annotations

import torch

from rnnbook.engine.update import GradTransform, UpdateSettings, UpdateStats, sgd_update_
from rnnbook.errors import ConfigError
from rnnbook.paper.model import Params
from rnnbook.paper.tasks import Batch, Task


class CapturedUpdate:
    """:func:`~rnnbook.engine.update.sgd_update_` for fixed shapes, recorded once, replayed per minibatch.

    ``example`` fixes the shapes: every later minibatch must have the same ``E``, minibatch
    size and dtype, at most the example's ``T_max`` steps, and at most ``max_pad`` padding
    steps once left-padded to that length (default: the example's ``pad``; give ``T_max`` to
    accept any minibatch that fits, at the cost of one more element-wise op per step and the
    padded steps' work). Left padding changes no model's numbers (tests/unit/test_model_gradients.py). The
    tensors of ``settings`` (:class:`~rnnbook.engine.update.UpdateSettings`) are read by address
    at every replay: change them in place (``settings.lr.copy_(...)``), never rebind them. Calling the
    object performs one update of ``params`` (in place) and returns the per-model statistics
    in static tensors that the next call overwrites. ``steps`` records for minibatches of up to
    that many steps (default: the example's ``T_max``). ``backend`` computes the pass (a
    :class:`~rnnbook.engine.backend.TorchBackend` on a GPU); it is used by this object alone.
    ``grad_transform`` replaces Algorithm 1, as in :func:`~rnnbook.engine.update.sgd_update_`.

    Recording needs a few eager warm-up updates on a side stream (``warmup``); the parameters
    are restored afterwards, so constructing the object changes nothing.
    """

    def __init__(
        self,
        params: Params,
        backend,
        task: Task,
        example: Batch,
        settings: UpdateSettings,
        *,
        max_pad: int | None = None,
        steps: int | None = None,
        warmup: int = 3,
        grad_transform: GradTransform | None = None,
    ) -> None:
        E, T, B, n_in = example.u.shape
        T = T if steps is None else steps  # record for minibatches of up to `steps` steps
        self.max_pad = example.padding_steps() if max_pad is None else max_pad
        if not 0 <= self.max_pad <= T:
            raise ConfigError(f"max_pad must be between 0 and T_max = {T}, got {self.max_pad}")
        self.params, self.backend, self.task = params, backend, task
        self.settings, self.grad_transform = settings, grad_transform
        u_tm = torch.empty(T, E, B, n_in, dtype=example.u.dtype, device=example.u.device)
        target = example.target
        if task.readout == "softmax":  # per-step targets (E, T, B)
            target = target.new_empty(E, T, B)
        self.batch = Batch(u_tm.transpose(0, 1), torch.empty_like(target), torch.empty_like(example.start),
                           pad=self.max_pad)
        self._load(example)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.stats: UpdateStats | None = None
        if example.u.device.type == "cuda":
            self._record(warmup)

    def _update(self) -> UpdateStats:
        return sgd_update_(self.params, self.backend.loss_and_grads, self.task, self.batch, self.settings,
                           grad_transform=self.grad_transform)

    def _record(self, warmup: int) -> None:
        saved = self.params.clone()
        side = torch.cuda.Stream(device=self.batch.u.device)
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # kernels choose their algorithms and allocate before recording
            for _ in range(warmup):
                self._update()
        torch.cuda.current_stream().wait_stream(side)
        for mine, before in zip(self.params.tensors(), saved.tensors()):
            mine.copy_(before)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.stats = self._update()

    def fits(self, batch: Batch) -> bool:
        """Whether ``batch`` can be replayed: same E, minibatch size and dtype, no longer, padding allowed."""
        mine = self.batch
        (E, T, B, n_in), (e, t, b, n) = mine.u.shape, batch.u.shape
        return ((E, B, n_in) == (e, b, n) and t <= T and batch.u.dtype == mine.u.dtype
                and batch.padding_steps() + T - t <= self.max_pad)

    def _load(self, batch: Batch) -> None:
        mine = self.batch
        if not self.fits(batch):
            raise ConfigError(
                f"minibatch of shape {tuple(batch.u.shape)} ({batch.u.dtype}, {batch.padding_steps()} padding steps) "
                f"does not fit the recorded update {tuple(mine.u.shape)} ({mine.u.dtype}, at most {self.max_pad} "
                "padding steps)"
            )
        extra = mine.u.shape[1] - batch.u.shape[1]  # steps of left padding to add
        mine.u[:, :extra].zero_()
        mine.u[:, extra:].copy_(batch.u)
        if mine.target.dim() == 3 and self.task.readout == "softmax":  # per-step targets (E, T, B)
            mine.target[:, :extra].zero_()
            mine.target[:, extra:].copy_(batch.target)
        else:
            mine.target.copy_(batch.target)
        torch.add(batch.start, extra, out=mine.start)

    def __call__(self, batch: Batch) -> UpdateStats:
        """One update of every model on ``batch``; returns the statistics (overwritten next call)."""
        self._load(batch)
        if self.graph is None:
            return self._update()
        self.graph.replay()
        return self.stats
