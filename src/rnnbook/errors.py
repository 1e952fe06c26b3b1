"""The one exception type a user of :mod:`rnnbook` should ever see for bad input.

Every public entry point validates its arguments early and raises :class:`ConfigError` with a
one-line message that names the problem, e.g. ``unknown task 'foo'; choose one of: add, mem,
mul, perm, torder, torder3``. A bad value therefore never surfaces as a shape error or a
traceback from deep inside the numerical code. Command lines follow the same rule:
:class:`ArgumentParser` turns argparse's usage errors into :class:`ConfigError`, which every entry
point prints as one line with :func:`report` (exit status 2), and :func:`parse_budget` reads a
wall-clock budget.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable


class ConfigError(ValueError):
    """A user-supplied setting is invalid (unknown name, out-of-range number, ...)."""


class TrainingFailed(RuntimeError):
    """Training stopped for a reason outside the code's control (a worker process died, ...).

    What was finished is saved; the command line reports it in one line with how to resume.
    """


def check_choice(what: str, value: object, choices: Iterable[str]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    options = sorted(choices)
    if value not in options:
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {', '.join(options)}")


def check_at_least(what: str, value: float, minimum: float) -> None:
    """Raise :class:`ConfigError` unless ``value >= minimum`` (NaN is rejected too)."""
    if not value >= minimum:
        raise ConfigError(f"{what} must be >= {minimum}, got {value!r}")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error raises :class:`ConfigError` (one line, no usage dump) for the entry
    point to print; every command line of the book uses it (``python -m rnnbook``, the studies)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def report(exc: ConfigError) -> int:
    """Print ``exc`` as the book's one-line error (``rnnbook: error: ...``) on stderr; the exit status, 2."""
    print(f"rnnbook: error: {' '.join(str(exc).split())}", file=sys.stderr)
    return 2


def parse_budget(text: str) -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"`` or plain seconds -> seconds (> 0): ``--budget``."""
    text = str(text).strip().lower()
    parts = re.fullmatch(r"((\d+(?:\.\d+)?)h)?((\d+(?:\.\d+)?)m)?((\d+(?:\.\d+)?)s?)?", text)
    if not text or not parts:
        raise ConfigError(f"--budget must look like 2h, 90m, 1h30m, 45s or seconds, got {text!r}")
    h, m, s = (float(parts.group(k) or 0) for k in (2, 4, 6))
    seconds = 3600 * h + 60 * m + s
    if seconds <= 0:
        raise ConfigError(f"--budget must be more than 0 seconds, got {text!r}")
    return seconds
