"""One writer per results file: an exclusive lock held for as long as a command writes it.

Two processes writing one results file would each keep their own copy and rewrite all of it,
the last writer winning: finished runs would vanish (the reliability review's D1). So every
command that writes a file (``run``, ``campaign``, ``natural``, ``merge``, ``generalise``) first
takes :func:`exclusive` on it, and a second writer is refused at once with a one-line error
that names the holder::

    rnnbook: error: results/x/paper.json is being written by another process (pid 4242 on
    node7, since 2026-12-05T23:50:01+00:00); wait for it to end, or stop it

The lock is ``fcntl.flock`` on ``<file>.lock`` beside the file (``paper.json.lock``). The kernel
releases a flock when its process dies, however it dies (``kill -9`` included), so a stale
lock recovers by itself: the next command simply takes it. The pid, host and start time
written inside serve only the message. The lock file is removed when the lock is released;
because another process may have opened the old file in the meantime, a taker checks that
the file it locked is still the one at that path and retries otherwise. A process may take
the same lock again while it holds it (a campaign running a sweep): the lock counts.

flock works on local file systems and, on Linux, on NFS (as a POSIX lock); on a file system
without locking the lock cannot be taken, which is reported as such.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from rnnbook.errors import ConfigError

try:  # POSIX; on other systems the lock is a no-op (no concurrent-writer protection)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class LockedError(ConfigError):
    """Another process holds the lock of the file this command would write."""


_held: dict[str, list] = {}  # resolved lock path -> [fd, count], the locks this process holds


def lock_path(path: str | Path) -> Path:
    """``results/x/paper.json`` -> ``results/x/paper.json.lock``."""
    p = Path(path)
    return p.with_name(p.name + ".lock")


def holder(path: str | Path) -> str:
    """Who holds the lock of ``path``, as the lock file says (``"pid 12 on host, since ..."``), or ``""``."""
    try:
        text = lock_path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if not fields.get("pid"):
        return ""
    return f"pid {fields['pid']} on {fields.get('host', '?')}, since {fields.get('since', '?')}"


def _acquire(lp: Path, what: Path) -> int:
    while True:
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot create the lock file: {exc.strerror}", str(lp)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = holder(what)
                raise LockedError(
                    f"{what} is being written by another process ({who or 'its pid not yet recorded'}); "
                    "wait for it to end, or stop it (a lock left by a dead process is taken over by itself)"
                ) from None
            raise OSError(exc.errno, f"cannot lock: {exc.strerror}", str(lp)) from None
        try:  # the file we locked may have been removed (and re-created) by the holder we waited behind
            same = os.fstat(fd).st_ino == os.stat(lp).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (a results file) for the ``with`` block.

    Raises :class:`LockedError` (a one-line :class:`~rnnbook.errors.ConfigError`) at once if
    another process holds it. The folder of ``path`` is created if needed.
    """
    path = Path(path)
    if fcntl is None:  # pragma: no cover
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lp = lock_path(path)
    key = str(lp.resolve())
    if key in _held:  # this process holds it already (a campaign running a sweep)
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    fd = _acquire(lp, path)
    _held[key] = [fd, 1]
    try:
        since = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()}\nhost={socket.gethostname()}\nsince={since}\n".encode())
        yield
    finally:
        del _held[key]
        try:  # remove it while still holding it: a process that opened it meanwhile notices (_acquire)
            os.unlink(lp)
        except OSError:
            pass
        os.close(fd)
