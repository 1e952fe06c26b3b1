"""Writing a file so that readers see the old version or the new one, never half of either.

The bytes are written to a temporary file in the same folder, flushed to disk, then moved over
the target with ``os.replace`` (atomic on POSIX and Windows). On any failure the temporary file
is removed and the old file is left as it was. Results files and run states are written this
way, so a sweep killed at any moment leaves readable files behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path``'s contents with ``data`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
