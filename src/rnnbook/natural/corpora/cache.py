"""Where converted corpora are kept between sessions, and how a cache file is read back safely.

Converting Shakespeare's works to character ids takes about half a second; reading the
converted arrays back takes a few milliseconds. A cache file is one ``.npz`` archive
(:func:`numpy.savez_compressed`) written with :func:`rnnbook.store.atomic.write_atomic`, so a
conversion killed half-way leaves either no file or the previous one, never half of one.

Every file stores the *key* it was built from (package versions, grid step, format version,
...) as JSON. :func:`load` returns ``None`` -- "build it again" -- when the file is missing,
unreadable (truncated, not an archive, written by a foreign program) or built from another
key, so a stale or damaged cache is rebuilt instead of surfacing as a traceback from numpy.

The folder is ``$RNNBOOK_CACHE`` when set, else ``~/.cache/rnnbook``; every loader also takes
``cache_dir=`` to put it elsewhere (the tests use a temporary folder).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rnnbook.errors import ConfigError
from rnnbook.store.atomic import write_atomic

CACHE_ENV = "RNNBOOK_CACHE"
_KEY = "__key__"


class MissingPackageError(ConfigError):
    """A corpus needs a package that is not installed (the message says how to install it)."""


def package_version(distribution: str, install_hint: str) -> str:
    """Installed version of ``distribution`` (read from its metadata, without importing it)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise MissingPackageError(f"package {distribution!r} is not installed; {install_hint}") from None


def cache_folder(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``$RNNBOOK_CACHE``, else ``~/.cache/rnnbook``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "rnnbook"


def cache_path(folder: Path, prefix: str, key: dict[str, object]) -> Path:
    """``<folder>/<prefix>-<16 hex digits of the key's sha256>.npz``: one file per key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return folder / f"{prefix}-{digest}.npz"


def save(path: Path, key: dict[str, object], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` and ``key`` to ``path`` in one atomic step."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{_KEY: np.array(json.dumps(key, sort_keys=True))})
    write_atomic(path, buffer.getvalue())


def load(path: Path, key: dict[str, object]) -> dict[str, np.ndarray] | None:
    """The arrays stored at ``path`` if it is a readable archive built from ``key``, else ``None``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        return None
    stored = arrays.pop(_KEY, None)
    if stored is None or stored.shape != () or str(stored) != json.dumps(key, sort_keys=True):
        return None
    return arrays
