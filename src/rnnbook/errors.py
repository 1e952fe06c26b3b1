"""The one exception type a user of :mod:`rnnbook` should ever see for bad input.

Every public entry point validates its arguments early and raises :class:`ConfigError` with a
one-line message that names the problem, e.g. ``unknown task 'foo'; choose one of: add, mem,
mul, perm, torder, torder3``. A bad value therefore never surfaces as a shape error or a
traceback from deep inside the numerical code.
"""

from __future__ import annotations

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
