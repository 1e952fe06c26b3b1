"""The six pathological synthetic problems of §4.1, exactly as the authors' code draws them.

Fact sheet §9 is the source of truth: the paper defers the task definitions to its
supplementary material, so we follow ``pascanur/trainingRNNs`` (files ``tempOrder.py``,
``tempOrder3bit.py``, ``addition.py``, ``multiplication.py``, ``permutation.py``,
``memorization.py``), including its quirks:

* temporal order: the first symbol sits in ``[0.1 L, 0.2 L)`` (the code), not ``[1, L/10]``
  (its docstring); there are no start/end trigger symbols;
* addition/multiplication: the actual length is jittered to ``[T, 1.1 T)`` and the addition
  target is the *mean* of the two marked values;
* memorization: the actual length is ``T + 2 n_pos``.

Positions use ``int(fraction * L)`` like the code (Python truncation of a float product).
The only deliberate difference is the random number generator: every model of an ensemble
draws from its own :class:`torch.Generator` (the code used one ``numpy.random.RandomState``),
so the data stream of a run does not depend on the other runs it is batched with.

Shapes follow the engine's convention: a leading model axis ``E``, then time, then the
minibatch. Sequences of different models are *left*-padded to a common length ``T_max``: for
model ``e`` the steps ``t < start[e]`` are padding (zero input, no loss) and all sequences end
at step ``T_max - 1``, where the ``last_*`` read-outs look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rnnbook.errors import ConfigError, check_at_least, check_choice

TASK_NAMES = ("add", "mem", "mul", "perm", "torder", "torder3")
READOUTS = ("last_softmax", "softmax", "last_linear")
MIN_LENGTH = 2
SQUARED_ERROR_TOLERANCE = 0.04  # add/mul: a sequence is wrong if its squared error exceeds this


@dataclass
class Batch:
    """One minibatch for each of ``E`` models, left-padded to a common length ``T_max``.

    ``u``: inputs ``(E, T_max, B, n_in)``, zero at padding steps (any memory layout works;
    :meth:`Task.sample` returns a view of a time-major buffer, which is fastest).
    ``target``: ``(E, B)`` class indices (``last_softmax``), ``(E, T_max, B)`` class indices
    per step (``softmax``; padding steps hold 0 and must be masked) or ``(E, B, n_out)`` real
    targets (``last_linear``).
    ``start``: ``(E,)`` first real step of each model; steps ``t < start[e]`` are padding.
    ``pad``: ``max(start)`` known on the host, or any larger step count up to ``T_max`` (the
    engine then masks a few more steps, multiplying by exactly 1); ``None``: read from
    ``start`` when needed, which on a GPU waits for the device (and cannot be recorded in a
    CUDA graph). :meth:`Task.sample` fills it in.
    """

    u: torch.Tensor
    target: torch.Tensor
    start: torch.Tensor
    pad: int | None = None

    def padding_steps(self) -> int:
        """Number of leading steps that are padding for at least one model (``pad``)."""
        return int(self.start.max()) if self.pad is None else self.pad

    @property
    def lengths(self) -> torch.Tensor:
        """Actual sequence length of each model, ``(E,)``."""
        return self.u.shape[1] - self.start


def sample_length(gen: torch.Generator, min_length: int, max_length: int) -> int:
    """The code's length rule: ``min_length + randint(max_length - min_length)``.

    Uniform on ``[min_length, max_length)`` (the upper end is excluded, as in numpy's
    ``randint``) and exactly ``min_length`` when the two are equal (fact sheet §9).
    """
    if min_length > max_length:
        raise ConfigError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    if max_length == min_length:
        return min_length
    return min_length + _randint(gen, 0, max_length - min_length, ()).item()


def _randint(gen: torch.Generator, low: int, high: int, size: tuple[int, ...]) -> torch.Tensor:
    return torch.randint(low, high, size, generator=gen)


class Task:
    """A synthetic problem: how to draw sequences and how to read out and score a model.

    Subclasses set ``name, n_in, n_out, readout, min_length`` and implement :meth:`_draw`,
    which draws one model's minibatch as either a LongTensor of one-hot symbols ``(T, B)`` or
    dense float64 inputs ``(T, B, n_in)``, together with the target.
    """

    name: str
    n_in: int
    n_out: int
    readout: str
    min_length: int = MIN_LENGTH

    def _draw(self, gen: torch.Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def max_steps(self, length: int) -> int:
        """Largest actual number of steps a sequence of nominal length ``length`` can have."""
        return length

    def check_length(self, length: int) -> None:
        """Raise :class:`ConfigError` if ``length`` is too short for this task."""
        if not length >= self.min_length:
            raise ConfigError(f"task {self.name!r} needs length >= {self.min_length}, got {length!r}")

    def sample(
        self,
        gens: Sequence[torch.Generator],
        batch: int,
        lengths: Sequence[int],
        *,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> Batch:
        """Draw one minibatch for each of ``E = len(gens)`` models.

        Model ``e`` draws only from ``gens[e]`` with nominal length ``lengths[e]``, so every
        model has its own reproducible data stream. The result is left-padded to the longest
        actual length. ``u`` is a transposed view of a time-major buffer, the layout the
        engine steps through fastest.
        """
        if len(gens) != len(lengths) or not gens:
            raise ConfigError(f"need one length per generator, got {len(gens)} generators and {len(lengths)} lengths")
        check_at_least("batch", batch, 1)
        for length in lengths:
            self.check_length(length)
        drawn = [self._draw(gen, batch, int(length)) for gen, length in zip(gens, lengths)]
        steps = torch.tensor([inputs.shape[0] for inputs, _ in drawn])
        n_models, t_max = len(drawn), int(steps.max())
        start = t_max - steps
        one_hot = drawn[0][0].dtype == torch.long
        if one_hot:
            symbols = torch.full((t_max, n_models, batch), -1, dtype=torch.long)  # -1: padding
        else:
            u_tm = torch.zeros(t_max, n_models, batch, self.n_in, dtype=dtype)  # stored time-major
        if self.readout == "last_linear":
            target = torch.empty(n_models, batch, self.n_out, dtype=dtype)
        elif self.readout == "softmax":
            target = torch.zeros(n_models, t_max, batch, dtype=torch.long)
        else:
            target = torch.empty(n_models, batch, dtype=torch.long)
        for e, (inputs, tgt) in enumerate(drawn):
            s = int(start[e])
            if one_hot:
                symbols[s:, e] = inputs
            else:
                u_tm[s:, e] = inputs
            if self.readout == "softmax":
                target[e, s:] = tgt
            else:
                target[e] = tgt
        if one_hot:
            u_tm = (symbols.unsqueeze(-1) == torch.arange(self.n_in)).to(dtype)
        return Batch(u_tm.to(device).transpose(0, 1), target.to(device), start.to(device), pad=int(start.max()))


class TemporalOrder(Task):
    """Temporal order with 2 (``torder``, §9.1) or 3 (``torder3``, §9.2) relevant symbols.

    Six one-hot input channels: 0 = A, 1 = B, 2-5 = distractors c, d, e, f, one random
    distractor per step. Symbol ``i`` (A or B, value ``v_i`` in {0, 1}) is placed at a random
    position in ``[int(a_i L), int(a_i L) + int(0.1 L))`` with ``a = (0.1, 0.5)`` for two bits
    and ``(0.1, 0.3, 0.6)`` for three. Target class ``sum_i v_i 2^i`` (first symbol = low bit:
    AA->0, BA->1, AB->2, BB->3), read from the last step.
    """

    n_in = 6
    readout = "last_softmax"
    min_length = 10  # int(0.1 L) must be >= 1 for the code's randint

    def __init__(self, n_bits: int) -> None:
        self.n_bits = n_bits
        self.name = "torder" if n_bits == 2 else "torder3"
        self.n_out = 2**n_bits
        self.offsets = (0.1, 0.5) if n_bits == 2 else (0.1, 0.3, 0.6)

    def _draw(self, gen: torch.Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = int(length * 0.1)
        positions, values = [], []
        for offset in self.offsets:
            positions.append(_randint(gen, 0, window, (batch,)) + int(length * offset))
            values.append(_randint(gen, 0, 2, (batch,)))
        symbols = _randint(gen, 2, 6, (length, batch))
        target = torch.zeros(batch, dtype=torch.long)
        for bit, (pos, val) in enumerate(zip(positions, values)):
            symbols.scatter_(0, pos.unsqueeze(0), val.unsqueeze(0))  # symbols[pos[b], b] = val[b]
            target += val << bit
        return symbols, target


class Arithmetic(Task):
    """Addition (``add``, §9.3) and multiplication (``mul``, §9.4).

    Actual length ``T' = T + randint(int(0.1 T))`` in ``[T, 1.1 T)``. Two channels: channel 0
    marks two positions ``p0`` in ``[0, 0.1 T')`` and ``p1`` in ``[0.1 T', 0.5 T')``, channel 1
    holds values ``~ U[0, 1)``. Target: the mean (add) or product (mul) of the two marked
    values, read linearly from the last step.
    """

    n_in = 2
    n_out = 1
    readout = "last_linear"
    min_length = 10  # int(0.1 T) must be >= 1

    def __init__(self, name: str) -> None:
        self.name = name

    def max_steps(self, length: int) -> int:
        return length + int(length * 0.1) - 1

    def _draw(self, gen: torch.Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        steps = length + _randint(gen, 0, int(length * 0.1), ()).item()
        p0 = _randint(gen, 0, int(steps * 0.1), (batch,))
        p1 = _randint(gen, 0, int(steps * 0.4), (batch,)) + int(steps * 0.1)
        inputs = torch.zeros(steps, batch, 2, dtype=torch.float64)
        inputs[:, :, 1] = torch.rand(steps, batch, generator=gen, dtype=torch.float64)
        columns = torch.arange(batch)
        inputs[p0, columns, 0] = 1.0
        inputs[p1, columns, 0] = 1.0
        a, b = inputs[p0, columns, 1], inputs[p1, columns, 1]
        target = (a + b) / 2 if self.name == "add" else a * b
        return inputs, target.unsqueeze(-1)


class Permutation(Task):
    """Random permutation (``perm``, §9.5).

    ``T + 1`` symbols uniform on {2, ..., 99}; symbol 0 and symbol ``T`` are overwritten with
    the same ``val`` in {0, 1}. Input: symbols ``0 .. T-1`` one-hot over 100 channels; target:
    symbol ``T`` (= the first symbol), one of 100 classes read from the last step.
    """

    name = "perm"
    n_in = 100
    n_out = 100
    readout = "last_softmax"

    def _draw(self, gen: torch.Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        symbols = _randint(gen, 2, 100, (length + 1, batch))
        val = _randint(gen, 0, 2, (batch,))
        symbols[0] = val
        symbols[length] = val
        return symbols[:length], symbols[length].clone()


class Memorization(Task):
    """Noiseless memorization (``mem``, §9.6); the "5-bit" problem is ``n_values=2, n_pos=5``.

    A pattern of ``n_pos`` symbols from ``n_values`` is shown first, then ``T`` blanks, then a
    trigger, then ``n_pos - 1`` more blanks: total length ``T + 2 n_pos``. Input channels:
    ``0 .. n_values-1`` pattern symbols, ``n_values`` blank, ``n_values + 1`` trigger (at step
    ``T + n_pos``). Output classes ``0 .. n_values`` with ``n_values`` = blank: the target is
    blank up to step ``T + n_pos - 1`` and the pattern during the last ``n_pos`` steps. A
    softmax reads every step.
    """

    name = "mem"
    readout = "softmax"

    def __init__(self, n_values: int = 5, n_pos: int = 10) -> None:
        for what, value in (("mem n_values", n_values), ("mem n_pos", n_pos)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{what} must be an integer, got {value!r}")
            check_at_least(what, value, 1)
        self.n_values, self.n_pos = n_values, n_pos
        self.n_in = n_values + 2
        self.n_out = n_values + 1

    def max_steps(self, length: int) -> int:
        return length + 2 * self.n_pos

    def _draw(self, gen: torch.Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        blank, trigger = self.n_values, self.n_values + 1
        pattern = _randint(gen, 0, self.n_values, (self.n_pos, batch))
        symbols = torch.full((length + 2 * self.n_pos, batch), blank, dtype=torch.long)
        symbols[: self.n_pos] = pattern
        symbols[length + self.n_pos] = trigger
        target = torch.full_like(symbols, blank)
        target[-self.n_pos :] = pattern
        return symbols, target


def get_task(name: str, **params: int) -> Task:
    """The task called ``name`` (one of :data:`TASK_NAMES`); only ``mem`` takes parameters."""
    check_choice("task", name, TASK_NAMES)
    if name == "mem":
        unknown = set(params) - {"n_values", "n_pos"}
        if unknown:
            raise ConfigError(f"unknown parameter(s) for task 'mem': {', '.join(sorted(unknown))}; allowed: n_pos, n_values")
        return Memorization(**params)
    if params:
        raise ConfigError(f"task {name!r} takes no parameters, got: {', '.join(sorted(params))}")
    if name in ("torder", "torder3"):
        return TemporalOrder(2 if name == "torder" else 3)
    if name in ("add", "mul"):
        return Arithmetic(name)
    return Permutation()


def real_steps(start: torch.Tensor, t_max: int) -> torch.Tensor:
    """Boolean mask ``(E, T_max)``: True where step ``t`` is a real (non-padding) step."""
    return torch.arange(t_max, device=start.device) >= start.unsqueeze(1)


def errors(task: Task, output: torch.Tensor, target: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """Fraction of wrongly solved sequences per model, ``(E,)`` float64 (fact sheet §9.7).

    ``last_softmax``: argmax of the last output differs from the target. ``softmax`` (mem): any
    real step's argmax is wrong. ``last_linear``: squared error (summed over outputs) > 0.04.
    A sequence whose output is not finite always counts as wrong.
    """
    if task.readout == "last_linear":
        squared_error = (output - target).square().sum(-1)
        wrong = ~(squared_error <= SQUARED_ERROR_TOLERANCE)
    else:
        wrong = (output.argmax(-1) != target) | ~torch.isfinite(output).all(-1)
        if task.readout == "softmax":
            wrong = (wrong & real_steps(start, output.shape[1]).unsqueeze(-1)).any(1)
    return wrong.to(torch.float64).mean(1)
