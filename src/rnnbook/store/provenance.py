"""Where a number came from: the code, the software and the machine that produced it.

Every results file records, per sitting (a *session*), when it ran, which version of rnnbook
(with the git commit and whether the checkout had uncommitted changes: :func:`code_version`)
and on what (:func:`environment`: Python, torch, numpy, the CPU by name, the GPU if any). The
book's build page reports the machine the same way (:func:`cpu_name`). A session still marked
``"running"`` when a file is read back was killed outright (:func:`mark_killed`).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy
import torch

import rnnbook

COMMIT_ENV = "RNNBOOK_CODE_COMMIT"
"""Names the commit of a copy of the code sent to another machine (a lent GPU), whose ``.git``
may be missing or stale; when set, it is recorded as the commit (what git says there is kept beside)."""


def now() -> str:
    """The current time in UTC, to the second, as ISO 8601 text (``2026-01-31T12:00:00+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def mark_killed(session: dict[str, Any]) -> dict[str, Any]:
    """A session read back from a file: one still ``"running"`` was killed outright (its command
    holds the file's lock while it runs, so a reader that holds the lock knows it is gone)."""
    if session.get("status") == "running":
        session["status"] = "killed"
        session["interrupted"] = True
    return session


def _git(*args: str, cwd: Path) -> str | None:
    """What ``git ARGS`` prints in ``cwd``, or None if git is missing or fails."""
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def code_version() -> dict[str, Any]:
    """rnnbook's version, and the git commit + dirty flag of the checkout it runs from (or "unknown")."""
    root = Path(rnnbook.__file__).resolve().parent
    head = _git("rev-parse", "HEAD", cwd=root)
    commit: Any = head.strip() if head is not None else "unknown"
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=root)
    dirty: Any = (bool(status.strip()) or commit == "unknown") if status is not None else "unknown"
    if os.environ.get(COMMIT_ENV):  # a copy of the tree sent elsewhere: its .git, if any, may be stale
        return {"rnnbook": rnnbook.__version__, "git_commit": os.environ[COMMIT_ENV], "git_dirty": "unknown",
                "commit_from": COMMIT_ENV, "git_in_copy": {"commit": commit, "dirty": dirty}}
    return {"rnnbook": rnnbook.__version__, "git_commit": commit, "git_dirty": dirty}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` says, else "unknown")."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device: str = "cpu") -> dict[str, Any]:
    """Software and machine the runs ran on."""
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "node": platform.node(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if not str(device).startswith("cuda"):  # which engine trains on a CPU (rnnbook.engine.cpu_kernel)
        from rnnbook.engine import cpu_kernel

        env["cpu_kernel"] = cpu_kernel.status()
    if str(device).startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
        env["cuda"] = torch.version.cuda
    return env
