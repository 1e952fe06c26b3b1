"""The six pathological synthetic problems of §4.1, exactly as the authors' code draws them.

The authors' code is the source of truth (back/paper_in_numbers.ipynb, pn-tasks): the paper
defers the task definitions to its supplementary material, so we follow
``pascanur/trainingRNNs`` (files ``tempOrder.py``, ``tempOrder3bit.py``, ``addition.py``,
``multiplication.py``, ``permutation.py``, ``memorization.py``), including its quirks:

* temporal order: the first symbol sits in ``[0.1 L, 0.2 L)`` (the code), not ``[1, L/10]``
  (its docstring); there are no start/end trigger symbols;
* addition/multiplication: the actual length is jittered to ``[T, 1.1 T)`` and the addition
  target is the *mean* of the two marked values;
* memorization: the actual length is ``T + 2 n_pos``.

Positions use ``int(fraction * L)`` like the code (Python truncation of a float product).
The only deliberate difference is the random number generator: the code used one
``numpy.random.RandomState``; here every run draws from its own counter-based stream
(:mod:`rnnbook.paper.streams`), all runs of a batch at once, so a run's data do not depend on the
other runs it is batched with, on its padding or on the device.

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
from rnnbook.paper.streams import Draw, Stream, on_device

TASK_NAMES = ("add", "mem", "mul", "perm", "torder", "torder3")
READOUTS = ("last_softmax", "softmax", "last_linear", "bernoulli")
PER_STEP_READOUTS = ("softmax", "bernoulli")  # a loss term at every real step, not only the last
MIN_LENGTH = 2
SQUARED_ERROR_TOLERANCE = 0.04  # add/mul: a sequence is wrong if its squared error exceeds this


@dataclass
class Batch:
    """One minibatch for each of ``E`` models, left-padded to a common length ``T_max``.

    ``u``: inputs ``(E, T_max, B, n_in)``, zero at padding steps (any memory layout works;
    :meth:`Task.sample` returns a view of a time-major buffer, which is fastest).
    ``target``: ``(E, B)`` class indices (``last_softmax``), ``(E, T_max, B)`` class indices
    per step (``softmax``; padding steps hold 0 and must be masked), ``(E, B, n_out)`` real
    targets (``last_linear``) or ``(E, T_max, B, n_out)`` 0/1 targets per step (``bernoulli``:
    the natural problems' piano rolls, :mod:`rnnbook.natural.task`).
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


def sample_length(stream: Stream, min_length: int, max_length: int, purpose: str = "train_length") -> int:
    """The code's length rule: ``min_length + randint(max_length - min_length)``.

    Uniform on ``[min_length, max_length)`` (the upper end is excluded, as in numpy's
    ``randint``) and exactly ``min_length`` when the two are equal (back/paper_in_numbers.ipynb, pn-tasks), drawn from
    the run's own ``stream`` (``purpose`` ``"train_length"`` or ``"valid_length"``; a fixed
    length draws nothing).
    """
    if min_length > max_length:
        raise ConfigError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    if max_length == min_length:
        return min_length
    return min_length + int(stream.uniform(purpose) * (max_length - min_length))


@dataclass
class Grid:
    """Where each run's sequence sits in a left-padded minibatch (all tensors on the device).

    ``local (T_max, E, 1)``: the step within the run's own sequence (negative at padding);
    ``real``: ``local >= 0``; ``cell (T_max, E, B)``: a position for per-step, per-sequence
    numbers (``local * B + b``), so a run's numbers do not depend on the padding;
    ``seq (E, B)``: a position for one number per sequence; ``start (E,)``; ``steps``: each
    run's actual number of steps (on the host).
    """

    E: int
    T: int
    B: int
    steps: list[int]
    start: torch.Tensor
    local: torch.Tensor
    real: torch.Tensor
    cell: torch.Tensor
    seq: torch.Tensor

    @staticmethod
    def of(steps: Sequence[int], batch: int, device: str | torch.device) -> Grid:
        E, T = len(steps), max(steps)
        start = on_device([T - s for s in steps], device)
        local = (torch.arange(T, device=device).view(T, 1) - start.view(1, E)).unsqueeze(-1)
        b = torch.arange(batch, device=device)
        cell = local.clamp_min(0) * batch + b
        return Grid(E, T, batch, list(steps), start, local, local >= 0, cell, b.expand(E, batch))

    def at(self, local_step: torch.Tensor) -> torch.Tensor:
        """Global step index of per-run local steps ``(E, ...)`` (for ``scatter_`` along time)."""
        return local_step + self.start.view(-1, *([1] * (local_step.dim() - 1)))


class Task:
    """A synthetic problem: how to draw sequences and how to read out and score a model.

    Subclasses set ``name, n_in, n_out, readout, min_length`` and implement :meth:`_draw`,
    which draws the minibatches of all runs at once on a :class:`Grid`: either symbols
    ``(T_max, E, B)`` (a LongTensor, -1 at padding, one-hot encoded by :meth:`sample`) or dense
    float64 inputs ``(T_max, E, B, n_in)`` (zero at padding), together with the target.
    Tasks whose actual length differs from the nominal one override :meth:`_steps`.
    """

    name: str
    n_in: int
    n_out: int
    readout: str
    min_length: int = MIN_LENGTH

    def _steps(self, draw: Draw, lengths: list[int]) -> list[int]:
        """Actual number of steps of each run's sequences."""
        return lengths

    def _draw(self, draw: Draw, grid: Grid, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
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
        streams: Sequence[Stream],
        batch: int,
        lengths: Sequence[int],
        *,
        purpose: str = "train",
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> Batch:
        """Draw one minibatch for each of ``E = len(streams)`` runs, all at once, on ``device``.

        Run ``e`` draws only from ``streams[e]`` (its next draw of ``purpose``: ``"train"``
        or ``"valid"``) with nominal length ``lengths[e]``, so every run has its own
        reproducible data, the same whichever runs share the batch and on every device. The
        result is left-padded to the longest actual length; ``u`` is a transposed view of a
        time-major buffer, the layout the engine steps through fastest.
        """
        if len(streams) != len(lengths) or not streams:
            raise ConfigError(f"need one length per stream, got {len(streams)} streams and {len(lengths)} lengths")
        check_at_least("batch", batch, 1)
        lengths = [int(length) for length in lengths]
        for length in lengths:
            self.check_length(length)
        draw = Draw([s.next_key(purpose) for s in streams], device)
        grid = Grid.of(self._steps(draw, lengths), batch, device)
        inputs, target = self._draw(draw, grid, lengths)
        if inputs.dtype == torch.long:  # symbols: one-hot, and all zero at padding (-1)
            one_hot = torch.zeros(*inputs.shape, self.n_in, dtype=dtype, device=inputs.device)
            real = grid.real.expand_as(inputs).unsqueeze(-1).to(dtype)
            inputs = one_hot.scatter_(-1, inputs.clamp_min(0).unsqueeze(-1), real)
        if self.readout == "last_linear":
            target = target.to(dtype)
        return Batch(inputs.to(dtype).transpose(0, 1), target, grid.start, pad=grid.T - min(grid.steps))


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

    def _draw(self, draw: Draw, grid: Grid, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        dev = grid.start.device
        window = on_device([int(L * 0.1) for L in lengths], dev).view(-1, 1)
        symbols = draw.integers("distractors", 2, 6, grid.cell, run_dim=1)
        symbols.masked_fill_(~grid.real, -1)
        target = torch.zeros(grid.E, grid.B, dtype=torch.long, device=dev)
        for bit, offset in enumerate(self.offsets):
            first = on_device([int(L * offset) for L in lengths], dev).view(-1, 1)
            position = draw.integers(f"position{bit}", 0, window, grid.seq) + first  # local step, (E, B)
            value = draw.integers(f"value{bit}", 0, 2, grid.seq)
            symbols.scatter_(0, grid.at(position).unsqueeze(0), value.unsqueeze(0))
            target += value << bit
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

    def _steps(self, draw: Draw, lengths: list[int]) -> list[int]:
        jitter = draw.host_uniform("length jitter")
        return [L + int(u * int(L * 0.1)) for L, u in zip(lengths, jitter)]

    def _draw(self, draw: Draw, grid: Grid, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        dev = grid.start.device
        steps = grid.steps
        tenth = on_device([int(s * 0.1) for s in steps], dev).view(-1, 1)
        four_tenths = on_device([int(s * 0.4) for s in steps], dev).view(-1, 1)
        p0 = grid.at(draw.integers("position0", 0, tenth, grid.seq))
        p1 = grid.at(draw.integers("position1", 0, four_tenths, grid.seq) + tenth)
        values = draw.uniform("values", grid.cell, run_dim=1).masked_fill_(~grid.real, 0.0)  # (T, E, B)
        marks = torch.zeros_like(values)
        for p in (p0, p1):
            marks.scatter_(0, p.unsqueeze(0), 1.0)
        a, b = values.gather(0, p0.unsqueeze(0))[0], values.gather(0, p1.unsqueeze(0))[0]
        target = (a + b) / 2 if self.name == "add" else a * b
        return torch.stack((marks, values), -1), target.unsqueeze(-1)


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

    def _draw(self, draw: Draw, grid: Grid, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        symbols = draw.integers("symbols", 2, 100, grid.cell, run_dim=1)
        value = draw.integers("value", 0, 2, grid.seq)
        symbols.scatter_(0, grid.at(torch.zeros_like(value)).unsqueeze(0), value.unsqueeze(0))
        return symbols.masked_fill_(~grid.real, -1), value


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

    def _steps(self, draw: Draw, lengths: list[int]) -> list[int]:
        return [L + 2 * self.n_pos for L in lengths]

    def _draw(self, draw: Draw, grid: Grid, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        dev, n = grid.start.device, self.n_pos
        blank, trigger = self.n_values, self.n_values + 1
        where = torch.arange(n, device=dev).view(n, 1, 1)  # the pattern's local steps
        pattern = draw.integers("pattern", 0, self.n_values, where * grid.B + grid.seq, run_dim=1)  # (n, E, B)
        symbols = torch.full((grid.T, grid.E, grid.B), blank, dtype=torch.long, device=dev)
        symbols.scatter_(0, (where + grid.start.view(1, -1, 1)).expand_as(pattern), pattern)
        symbols[grid.T - n] = trigger  # local step T + n_pos: every sequence ends at step T_max - 1
        target = torch.full_like(symbols, blank)
        target[grid.T - n:] = pattern  # the last n_pos steps, for every run
        target.masked_fill_(~grid.real, 0)  # padding holds 0 (masked by the loss)
        return symbols.masked_fill_(~grid.real, -1), target.transpose(0, 1).contiguous()


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
    """Fraction of wrongly solved sequences per model, ``(E,)`` float64 (back/paper_in_numbers.ipynb, pn-tasks).

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
