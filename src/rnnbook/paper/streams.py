"""Every run's own random numbers, drawn for many runs at once (SplitMix64 by position).

A sweep trains hundreds of runs as one batched computation, and every run must see the data
it would see alone: its numbers may depend on its seed and on nothing else. Giving each run a
:class:`torch.Generator` does that, but then a minibatch for E runs is E separate draws -- a
Python loop that, on a GPU, cost many times the update itself (``benchmarks/README.md``,
"Measurements behind the code's choices").

So the data are drawn from a *counter-based* generator instead: the ``n``-th number of a
stream is a fixed function of the stream's key and ``n``, computed for every run and position
at once, on any device. The function is SplitMix64 (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014; the generator Java's ``SplittableRandom`` and
the xoshiro authors use)::

    mix(z):  z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9;  z = (z ^ z >> 27) * 0x94D049BB133111EB;  z ^ z >> 31
    n-th output of the stream with state s:  mix(s + (n + 1) * 0x9E3779B97F4A7C15)      (mod 2^64)

A run's stream is a :class:`Stream`: its seed and how many minibatches of each purpose it has
drawn (``"train"``, ``"valid"``). Minibatch ``k`` of purpose ``p`` gets the key
``h(seed, p, k)`` (``h`` chains ``mix``), and each quantity a task draws (its *field*, e.g.
the distractor symbols or the position of the first marker) gets the key ``h(key, field)``;
element ``n`` of a field is SplitMix64's ``n``-th output for that key. So a run's training
data do not depend on how often it is validated, on which runs share its batch, on the
padding, or on the device: integer arithmetic gives the same bits on a CPU and a GPU.

A number in ``[0, 1)`` is an output's top 53 bits over 2^53; an integer in ``[0, n)`` is
``(top 32 bits) * n >> 32`` (Lemire's multiply-shift; each value's probability is within
``n / 2^32`` of ``1 / n``).

torch has no unsigned 64-bit arithmetic; the numbers live in ``int64`` with the same bits
(products wrap modulo 2^64 on both devices, and shifts are made logical by a mask).
``tests/unit/test_streams.py`` checks the torch version against SplitMix64's published outputs and
against the plain-Python version used on the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rnnbook.errors import check_choice

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
_C1, _C2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
PURPOSES = ("train", "valid", "train_length", "valid_length")


def _as_int64(x: int) -> int:
    """The int64 with the same 64 bits as the unsigned ``x``."""
    x &= MASK64
    return x - (1 << 64) if x >> 63 else x


def mix64(z: int) -> int:
    """SplitMix64's output function on a Python int (unsigned 64-bit)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * _C1) & MASK64
    z = ((z ^ (z >> 27)) * _C2) & MASK64
    return z ^ (z >> 31)


def hash64(*words: int) -> int:
    """A 64-bit key from several integers, by chaining :func:`mix64`."""
    h = 0
    for w in words:
        h = mix64((h ^ (w & MASK64)) + GAMMA)
    return h


def on_device(values: Sequence[int], device: str | torch.device) -> torch.Tensor:
    """An int64 tensor of host ``values`` on ``device``, without waiting for a GPU.

    ``torch.tensor(values, device="cuda")`` copies from pageable memory, which makes the host
    wait until the GPU has finished the work queued before it; a minibatch needs several such
    small tensors, and the wait would keep the host from queueing the next update while the
    GPU runs this one. Pinned memory and a non-blocking copy avoid it.
    """
    host = torch.tensor(values, dtype=torch.int64)
    if torch.device(device).type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


def _shift_right(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 bits (torch's ``>>`` on int64 is arithmetic)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64_(z: torch.Tensor) -> torch.Tensor:
    """:func:`mix64` elementwise and in place on an int64 tensor (its bits read as unsigned)."""
    t = torch.empty_like(z)
    for shift, multiplier in ((30, _C1), (27, _C2), (31, None)):
        torch.bitwise_right_shift(z, shift, out=t).bitwise_and_((1 << (64 - shift)) - 1)  # logical shift
        z.bitwise_xor_(t)
        if multiplier is not None:
            z.mul_(_as_int64(multiplier))
    return z


def splitmix64(key: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Output ``index`` (0-based) of the SplitMix64 stream whose state starts at ``key`` (int64 bits)."""
    return mix64_(torch.add(index, 1).mul_(_as_int64(GAMMA)).add_(key))


def to_unit(z: torch.Tensor) -> torch.Tensor:
    """float64 in ``[0, 1)`` from the top 53 bits (every value exact)."""
    return _shift_right(z, 11).to(torch.float64).mul_(2.0**-53)


def to_range(z: torch.Tensor, n: torch.Tensor | int) -> torch.Tensor:
    """int64 in ``[0, n)`` from the top 32 bits: ``(z >> 32) * n >> 32`` (``1 <= n < 2^31``).

    Lemire's multiply-shift; each value's probability is within ``n / 2^32`` of ``1 / n``.
    """
    top = _shift_right(z, 32)
    return top.mul_(n).bitwise_right_shift_(32) if isinstance(n, int) else (top * n).bitwise_right_shift_(32)


def unit_from_int(z: int) -> float:
    """:func:`to_unit` for one Python int."""
    return (z >> 11) * 2.0**-53


@dataclass
class Stream:
    """One run's random numbers: its seed and how many draws of each purpose it has made."""

    seed: int
    calls: dict[str, int] = field(default_factory=dict)

    def next_key(self, purpose: str) -> int:
        """Key of this run's next draw of ``purpose`` (and count it)."""
        check_choice("stream purpose", purpose, PURPOSES)
        k = self.calls.get(purpose, 0)
        self.calls[purpose] = k + 1
        return hash64(self.seed, PURPOSES.index(purpose) + 1, k)

    def uniform(self, purpose: str) -> float:
        """One number in ``[0, 1)`` on the host (a sequence length, say)."""
        return unit_from_int(mix64(self.next_key(purpose) + GAMMA))


class Draw:
    """One draw for each of E runs: per field, numbers indexed by position, on ``device``.

    ``keys`` are the runs' keys for this draw (:meth:`Stream.next_key`). A field is named by a
    string; its numbers for run ``e`` are SplitMix64's outputs ``index`` of the key
    ``hash64(keys[e], field)``, so a run's numbers depend on its key, the field and the
    position only.
    """

    def __init__(self, keys: Sequence[int], device: str | torch.device = "cpu") -> None:
        self.keys = list(keys)
        self.device = torch.device(device)
        self._keys64 = torch.tensor([_as_int64(k) for k in self.keys], dtype=torch.int64)

    @staticmethod
    def _code(name: str) -> int:
        return int.from_bytes(name.encode(), "little") & MASK64

    def _field_keys(self, name: str) -> list[int]:
        """``hash64(key, field)`` per run, as Python ints (host side)."""
        code = self._code(name)
        return [hash64(k, code) for k in self.keys]

    def field_keys(self, name: str) -> torch.Tensor:
        """:meth:`_field_keys` as int64 bits, for all runs at once on the host (same bits).

        ``hash64(k, code) = mix(mix(k + GAMMA) ^ code + GAMMA)``; one vectorised pass instead of
        2 E Python calls of :func:`mix64` (~1.3 ms of an 11 ms minibatch for 128 runs).
        """
        gamma = _as_int64(GAMMA)
        h = mix64_(self._keys64 + gamma)
        return mix64_(h.bitwise_xor_(_as_int64(self._code(name))).add_(gamma))

    def host_uniform(self, name: str) -> list[float]:
        """One number in ``[0, 1)`` per run, on the host (output 0 of the field)."""
        return [unit_from_int(mix64(k + GAMMA)) for k in self._field_keys(name)]

    def bits(self, name: str, index: torch.Tensor, run_dim: int = 0) -> torch.Tensor:
        """SplitMix64 outputs (int64 bits) at int64 positions ``index`` (>= 0); axis ``run_dim`` is the run."""
        keys = self.field_keys(name)
        if self.device.type == "cuda":  # see on_device: pinned memory, no wait for the GPU
            keys = keys.pin_memory().to(self.device, non_blocking=True)
        else:
            keys = keys.to(self.device)
        shape = [1] * index.dim()
        shape[run_dim] = -1
        return splitmix64(keys.view(shape), index.to(self.device))

    def uniform(self, name: str, index: torch.Tensor, run_dim: int = 0) -> torch.Tensor:
        """float64 in ``[0, 1)`` at positions ``index`` (see :meth:`bits`)."""
        return to_unit(self.bits(name, index, run_dim))

    def integers(self, name: str, low: torch.Tensor | int, high: torch.Tensor | int, index: torch.Tensor,
                 run_dim: int = 0) -> torch.Tensor:
        """int64 uniform on ``[low, high)`` at positions ``index`` (``low``/``high``: ints or tensors that
        broadcast against ``index``; ``1 <= high - low < 2^31``)."""
        return to_range(self.bits(name, index, run_dim), high - low).add_(low)
