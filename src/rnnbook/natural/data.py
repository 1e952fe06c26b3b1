"""What a Table 1 run reads: a corpus cut into the stream or pieces it trains on and the sequences it scores.

A natural problem (§4.2) has three splits. The trainer needs them in two shapes:

* **to train on**, music as its pieces (one piece per update, batch 1: pieces are never glued
  together, so no frame is predicted from the end of another piece) and text as one stream of
  characters that each minibatch cuts ``batch`` windows of ``seq_len`` from;
* **to score** after every epoch, every split as the sequences of
  :func:`rnnbook.natural.task.sequences_of` (at most ``eval_columns`` side by side).

:class:`Data` holds both, with the :class:`~rnnbook.natural.task.SequenceTask` (music: 88 notes
on or off; text: the next, or the fifth next, character) and a description of the corpus that the
results file records. :meth:`Data.plan` lays out an epoch's minibatches from the run's seed, so a
continued run sees the same minibatches in the same order as an uninterrupted one.

``train_items`` and ``eval_items`` cut the corpus short (the quick protocol, the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnbook.errors import ConfigError
from rnnbook.natural import corpora
from rnnbook.natural.experiments import NaturalConfig, NaturalExperiment
from rnnbook.natural.task import SequenceTask, epoch_plan, make_batch, piece_plan, sequences_of, stream_of


@dataclass
class Data:
    """A problem and its splits as the trainer uses them."""

    task: SequenceTask
    train_stream: np.ndarray  # the training split as one stream (what text windows are cut from)
    scored: dict[str, list[np.ndarray]]  # split -> sequences scored after each epoch
    corpus: dict[str, Any]  # what was loaded: sizes, source, split rule
    vocab: str | None = None
    train_pieces: list[np.ndarray] | None = None  # music: trained piece by piece (batch 1), never mixed

    def plan(self, cfg: NaturalConfig, epoch: int) -> np.ndarray:
        """The minibatches of epoch ``epoch``: one row each (a chunk of a piece, or ``batch`` window starts)."""
        if self.train_pieces is not None:
            return piece_plan([len(p) for p in self.train_pieces], cfg.seq_len, self.task.ahead, cfg.seed, epoch)
        return epoch_plan(len(self.train_stream), cfg.seq_len, self.task.ahead, cfg.batch, cfg.seed, epoch)

    def batch(self, row: np.ndarray, cfg: NaturalConfig, n_models: int, dtype: torch.dtype):
        """The engine's :class:`~rnnbook.paper.tasks.Batch` for one row of :meth:`plan`."""
        if self.train_pieces is not None:
            piece, start, steps = (int(x) for x in row)
            return make_batch(self.task, self.train_pieces[piece], np.array([start]), n_models, steps, dtype)
        return make_batch(self.task, self.train_stream, row, n_models, cfg.seq_len, dtype)


def load_data(exp: NaturalExperiment, cfg: NaturalConfig, cache_dir: str | Path | None = None,
              data_dir: str | Path | None = None) -> Data:
    """The corpus of ``exp``, its task, the training stream and the sequences scored each epoch.

    ``data_dir``: the folder of the data files where a corpus is read from files (the paper's music:
    default ``data/poly-music``; Penn Treebank: required, the reader's copy of Mikolov's files).
    """
    if exp.corpus == "ptb" and data_dir is None:
        raise ConfigError(f"{exp.name} trains on Penn Treebank, which the book cannot ship: give --data-dir DIR, "
                          "the folder holding ptb.char.train.txt, ptb.char.valid.txt and ptb.char.test.txt")
    if exp.corpus in corpora.MUSIC_DATASETS and cfg.batch != 1:  # before the corpus is parsed
        raise ConfigError(f"music trains one piece per update (batch 1), got batch {cfg.batch}")
    task, splits, vocab, info = _corpus(exp, cache_dir, data_dir)
    pieces = None
    if task.kind == "music":
        pieces = list(splits["train"])
        if cfg.train_items:  # whole pieces only, as many as fit
            keep = np.cumsum([len(p) for p in pieces]) <= cfg.train_items
            pieces = [p for p, k in zip(pieces, keep) if k]
    stream = stream_of(pieces if pieces is not None else splits["train"])
    if cfg.train_items:
        stream = stream[: cfg.train_items]
    scored = {}
    for split, items in splits.items():
        if task.kind == "text" and cfg.eval_items:
            items = items[: cfg.eval_items]
        scored[split] = sequences_of(task, items, cfg.eval_columns)
    info["train_stream_items"] = int(len(stream))
    info["scored_items"] = {k: int(sum(len(s) for s in v)) for k, v in scored.items()}
    return Data(task, stream, scored, info, vocab, pieces)


def _corpus(exp: NaturalExperiment, cache_dir: str | Path | None, data_dir: str | Path | None):
    """The task of ``exp``, its three splits (music: lists of piano rolls; text: index arrays), the
    vocabulary (text only) and the description of the corpus that the results file records."""
    if exp.corpus in corpora.MUSIC_DATASETS:
        c = corpora.load_poly_music(exp.corpus, data_dir=data_dir)
        splits = {"train": list(c.train), "valid": list(c.valid), "test": list(c.test)}
        info = {"name": c.title, "source": dict(c.source), "pieces": {k: len(v) for k, v in splits.items()},
                "frames": {k: int(sum(map(len, v))) for k, v in splits.items()}}
        return SequenceTask.music(), splits, None, info
    c = corpora.load_ptb_chars(data_dir) if exp.corpus == "ptb" else corpora.load_shakespeare(cache_dir=cache_dir)
    splits = {"train": c.train, "valid": c.valid, "test": c.test}
    name = ("Penn Treebank characters (Mikolov et al. 2012), the reader's files" if exp.corpus == "ptb"
            else "Shakespeare (shakespeare 0.6, 42 modern-spelling works)")
    info = {"name": name, "source": dict(c.source),
            "vocabulary": len(c.vocab), "characters": {k: int(len(v)) for k, v in splits.items()}}
    return SequenceTask.text(len(c.vocab), exp.ahead), splits, c.vocab, info
