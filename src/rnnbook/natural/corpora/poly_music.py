"""The paper's own music: the four piano-roll data sets of Boulanger-Lewandowski et al. (2012).

Table 1 of the paper scores polyphonic music on Piano-midi.de, Nottingham and MuseData "as
prepared by" Boulanger-Lewandowski, Bengio & Vincent (2012); their release has a fourth set, JSB
Chorales. The book ships the four MATLAB files of that release in ``data/poly-music/`` (with
``PROVENANCE.md``: where they were copied from, their credit and licence, and ``SHA256SUMS``).

Format: each file holds ``traindata``, ``validdata`` and ``testdata``, each a 1 x N cell array of
pieces; a piece is a (frames x 88) 0/1 matrix over the 88 piano keys A0..C8 (key ``k`` is MIDI
pitch ``k + 21``). :func:`load_poly_music` reads one file with :func:`scipy.io.loadmat` and returns
the pieces of each split as ``uint8`` arrays ``(T, 88)``, in the file's order.

Every load first checks the file's SHA-256 against :data:`DATASETS` (the same digests as
``SHA256SUMS``): a missing or altered file is a one-line :class:`~rnnbook.errors.ConfigError`,
never numbers computed from other data. Reading a file takes well under a second, so nothing is
cached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnbook.errors import ConfigError, check_choice

N_KEYS = 88
SPLITS = ("train", "valid", "test")
_MAT_KEYS = {"train": "traindata", "valid": "validdata", "test": "testdata"}
#: the folder the book ships the files in (``data/poly-music`` at the repository's root)
DATA_DIR = Path(__file__).resolve().parents[4] / "data" / "poly-music"


@dataclass(frozen=True)
class PolyMusicSet:
    """One data set of the 2012 release: its file, the SHA-256 of that file, and its title."""

    name: str
    file: str
    sha256: str
    title: str
    in_paper: bool  # one of Table 1's rows (JSB Chorales is not)


#: name -> data set; the digests are those of data/poly-music/SHA256SUMS
DATASETS: dict[str, PolyMusicSet] = {s.name: s for s in (
    PolyMusicSet("jsb", "JSB_Chorales.mat", "ac0e608527cc411c7e21ef7d38be47f0de7fb6b13b3ae168b8eccf1c2a9b18d4",
                 "JSB Chorales", False),
    PolyMusicSet("piano_midi", "Piano_midi.mat", "990a8a71d5764a7eaa3e78d9e5023d1470380fe2db3a1448265a97a24c8b1c34",
                 "Piano-midi.de", True),
    PolyMusicSet("nottingham", "Nottingham.mat", "d154f7ca2e90799dc1dc011d8fc048f2fc6ef3f7c69d974b9cf27a471634fbea",
                 "Nottingham", True),
    PolyMusicSet("musedata", "MuseData.mat", "e8d9eb422ec3833c25f43a9f854d4ee0b9118a20b45f2c183395cdc30ffa14ff",
                 "MuseData", True),
)}


@dataclass
class PolyMusic:
    """The pieces of one data set by split: ``uint8`` piano rolls ``(T, 88)``."""

    name: str
    title: str
    train: list[np.ndarray] = field(repr=False)
    valid: list[np.ndarray] = field(repr=False)
    test: list[np.ndarray] = field(repr=False)
    source: dict[str, Any]

    def split(self, name: str) -> list[np.ndarray]:
        check_choice("split", name, SPLITS)
        return getattr(self, name)

    def sizes(self) -> dict[str, tuple[int, int]]:
        """``{split: (pieces, frames)}``."""
        return {s: (len(getattr(self, s)), sum(len(r) for r in getattr(self, s))) for s in SPLITS}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified_file(name: str, data_dir: str | Path | None = None) -> Path:
    """The path of data set ``name``'s file after checking that it is there and unaltered."""
    check_choice("music data set", name, DATASETS)
    spec = DATASETS[name]
    path = Path(data_dir if data_dir is not None else DATA_DIR) / spec.file
    if not path.is_file():
        raise ConfigError(f"{spec.title}: {str(path)!r} is missing (the book ships it in data/poly-music/)")
    digest = sha256_of(path)
    if digest != spec.sha256:
        raise ConfigError(f"{spec.title}: {str(path)!r} is altered (sha256 {digest[:12]}..., expected "
                          f"{spec.sha256[:12]}...; see data/poly-music/SHA256SUMS)")
    return path


def _pieces(cells: Any, where: str) -> list[np.ndarray]:
    if not isinstance(cells, np.ndarray) or cells.dtype != object or cells.ndim != 2 or cells.shape[0] != 1:
        raise ConfigError(f"{where} is not a 1 x N cell array of pieces")
    out = []
    for i, piece in enumerate(cells[0]):
        piece = np.asarray(piece)
        if piece.ndim != 2 or piece.shape[1] != N_KEYS or not np.isin(piece, (0, 1)).all():
            raise ConfigError(f"{where}, piece {i}: not a frames x {N_KEYS} 0/1 matrix (shape {piece.shape})")
        out.append(np.ascontiguousarray(piece, dtype=np.uint8))
    return out


def load_poly_music(name: str, *, data_dir: str | Path | None = None) -> PolyMusic:
    """Data set ``name`` (``jsb``, ``piano_midi``, ``nottingham``, ``musedata``) as piano rolls per split.

    ``data_dir``: the folder holding the ``.mat`` files (default: the book's ``data/poly-music``).
    """
    path = verified_file(name, data_dir)
    from scipy.io import loadmat

    spec = DATASETS[name]
    mat = loadmat(path)
    splits = {}
    for split, key in _MAT_KEYS.items():
        if key not in mat:
            raise ConfigError(f"{spec.title}: {str(path)!r} has no {key!r}")
        splits[split] = _pieces(mat[key], f"{spec.title} {key}")
    source = {"file": spec.file, "sha256": spec.sha256, "release": "Boulanger-Lewandowski, Bengio & Vincent (2012)",
              "pieces": {s: len(v) for s, v in splits.items()},
              "frames": {s: int(sum(len(p) for p in v)) for s, v in splits.items()}}
    return PolyMusic(name=name, title=spec.title, **splits, source=source)
