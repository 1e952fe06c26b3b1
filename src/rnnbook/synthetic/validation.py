"""Validation: the share of fresh sequences a model gets wrong (§4.1.1; back/paper_in_numbers.ipynb, pn-code).

Every place that measures a model does the same four things, chunk by chunk: draw each chunk's
length from the run's own stream (a fixed length draws nothing), sample the chunk's sequences
as *validation* draws (counted apart from the training minibatches, so validating does not
change what a run trains on), predict with the forward pass only, and count the wrong answers
by the task's own rule (:func:`rnnbook.paper.tasks.errors`). :func:`validation_errors` is that loop,
for every model of an ensemble at once; training's checks, traces, the baselines' measurements
and the generalisation tests (longer sequences than trained on) all call it.

>>> chunk_sizes(2500, 1000)
[1000, 1000, 500]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnbook.paper.model import Params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import Task, errors, sample_length

VALIDATION_BUDGET = 2**25  # numbers per validation batch of inputs + states (~128 MiB in float32)


def chunk_sizes(n: int, chunk: int) -> list[int]:
    """``n`` sequences as chunks of ``chunk``, the last one smaller if ``chunk`` does not divide ``n``."""
    return [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])


def validation_errors(backend, task: Task, params: Params, streams: Sequence[Stream],
                      lengths: Sequence[tuple[int, int]], n: int, chunk: int, *, dtype: torch.dtype,
                      device: str | torch.device = "cpu", budget: int | None = VALIDATION_BUDGET) -> torch.Tensor:
    """Error fraction of every model of ``params`` on ``n`` fresh sequences, ``(E,)`` float64.

    Model ``e`` draws from ``streams[e]``: per chunk of ``chunk`` sequences one length from
    ``lengths[e] = (min_length, max_length)`` (the code's rule, :func:`rnnbook.paper.tasks.sample_length`;
    ``(L, L)`` is the fixed length ``L``), then the sequences. ``backend`` computes the forward
    pass (:meth:`rnnbook.engine.backend.Backend.predict`, or anything with that method: the
    LSTM of :mod:`rnnbook.studies.baselines` is validated by the same loop). ``budget``: the models are validated
    in sub-groups small enough to keep one chunk's inputs and states within that many numbers
    (``None``: all at once).
    """
    E = len(streams)
    size = E
    if budget is not None:
        longest = max(task.max_steps(hi) for _, hi in lengths)
        size = max(1, budget // (longest * chunk * (task.n_in + params.W_hh.shape[-1] + task.n_out)))
    wrong = torch.zeros(E, dtype=torch.float64)
    for lo in range(0, E, size):
        group = list(range(lo, min(E, lo + size)))
        group_params = params if len(group) == E else params.select(group)
        group_streams = [streams[e] for e in group]
        for c in chunk_sizes(n, chunk):
            drawn = [sample_length(streams[e], *lengths[e], "valid_length") for e in group]
            batch = task.sample(group_streams, c, drawn, purpose="valid", dtype=dtype, device=device)
            output = backend.predict(group_params, task, batch.u, batch.start, pad=batch.pad)
            wrong[lo:lo + len(group)] += errors(task, output, batch.target, batch.start).cpu() * c
    return wrong / n
