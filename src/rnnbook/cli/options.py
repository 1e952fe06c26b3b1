"""What the commands share: the option blocks, declared once, and the checks and signal handling
around a long run.

``run``, ``natural`` and ``campaign`` take many of the same options (``--results-dir``,
``--threads``, ``--checkpoint-every``, ...). :data:`OPTIONS` declares each once; a command adds
the ones it takes with :func:`add_options`, in the order its ``--help`` lists them, and may give
one a help text or default of its own (``--checkpoint-every`` saves runs of a sweep, but states
of a campaign).

Nothing here imports torch at module level: ``--help`` and ``list`` start without it.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import threading
from typing import Iterator, Sequence

from rnnbook.errors import ArgumentParser, ConfigError

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 2, 130, 143


#: argparse whose usage errors are one line on stderr (no usage dump) and exit status 2 (defined in
#: :mod:`rnnbook.errors`, where the studies' command lines find it too).
Parser = ArgumentParser


def int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {v}")
        return v

    return parse


positive_int, nonneg_int = int_at_least(1), int_at_least(0)

#: Every option two or more commands take, declared once: ``add_argument``'s keywords by flag.
OPTIONS: dict[str, dict] = {
    "--protocol": dict(default="quick", help="quick (minutes, default) or paper"),
    "--set": dict(action="append", default=[], metavar="NAME=VALUE", dest="overrides"),
    "--device": dict(default="cpu", help="cpu (default) or cuda[:N]"),
    "--max-parallel": dict(type=positive_int, default=64, metavar="N",
                           help="models trained together as one batched computation (default 64)"),
    "--workers": dict(type=positive_int, default=1, metavar="N"),
    "--cuda-graph": dict(action="store_true"),
    "--results-dir": dict(default="results", metavar="DIR", help="default: results"),
    "--config": dict(metavar="FILE"),
    "--checkpoint-every": dict(type=float, default=300.0, metavar="SECONDS"),
    "--threads": dict(type=positive_int, default=None, metavar="N",
                      help="torch threads (default $BOOK_TORCH_THREADS or 1)"),
    "--no-progress": dict(action="store_true"),
}


def add_options(parser: argparse.ArgumentParser, *flags: str, **changes) -> None:
    """Add the shared options ``flags`` to ``parser``, each with ``changes`` (e.g. its own ``help=``)."""
    for flag in flags:
        parser.add_argument(flag, **{**OPTIONS[flag], **changes})


def check_device(device: str, cuda_graph: bool = False) -> str:
    """``--device`` (and ``--cuda-graph``) checked against this machine, before anything starts."""
    import torch  # here, not above: `--help` and `list` start without torch

    if device == "cpu":
        if cuda_graph:
            raise ConfigError("--cuda-graph needs --device cuda")
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but CUDA is not available on this machine")
        try:
            idx = torch.device(device).index
        except RuntimeError:
            raise ConfigError(f"invalid device {device!r}") from None
        if idx is not None and idx >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return device
    raise ConfigError(f"unknown device {device!r} (use cpu or cuda)")


def check_checkpoint_every(seconds: float) -> float:
    if not seconds > 0:
        raise ConfigError(f"--checkpoint-every must be > 0 seconds, got {seconds}")
    return seconds


def command_line(argv: Sequence[str]) -> str:
    """The command that resumes what ``argv`` started (it is the same command)."""
    return "python -m rnnbook " + " ".join(shlex.quote(a) for a in argv)


class Terminated(KeyboardInterrupt):
    """SIGTERM during a long command: unwinds like Ctrl-C (finished runs saved, workers stopped)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, ``timeout``, a job scheduler) raises :class:`Terminated`,
    so a long command saves what it finished and stops its workers as on Ctrl-C. Only the main
    thread may set a signal handler; elsewhere (a test's thread) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
