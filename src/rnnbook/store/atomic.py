"""Writing a file so that readers see the old version or the new one, never half of either.

The bytes are written to a temporary file in the same folder, flushed to disk, then moved over
the target with ``os.replace`` (atomic on POSIX and Windows). On any failure the temporary file
is removed and the old file is left as it was. Results files and run states are written this
way, so a sweep killed at any moment leaves readable files behind.

A process killed outright (``kill -9``, a power cut) cannot remove its temporary file: the next
writer of the same file removes such leftovers (:func:`remove_stale_temps`, called under the
file's lock, :mod:`rnnbook.store.lock`). The file gets the permissions of any new file (``0666``
less the user's umask, e.g. ``0644``), not the private ``0600`` of a temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    try:  # Linux says it without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path``'s contents with ``data`` in one step (mode ``0666`` less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
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


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temporary files that writers of ``path`` killed outright left beside it.

    Only call this while holding ``path``'s lock: another writer's temporary file is not stale.
    Returns the files removed.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(_temp_prefix(path) + "*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed
