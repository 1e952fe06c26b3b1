"""Reproducibility and speed settings shared by every notebook, test and command.

Every chapter's first code cell calls :func:`setup`. It seeds every random number generator,
pins PyTorch to one thread (two processes with two threads each thrash on a 2-core machine)
and flushes denormal floats to zero (vanishing gradients drive float32 values into the
subnormal range, which is several times slower on a CPU). Both were measured:
``benchmarks/README.md``, "Measurements behind the code's choices".
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

import numpy as np
import torch

import rnnbook
from rnnbook.book import plotting
from rnnbook.engine.process import THREADS_ENV, configure_torch, seed_everything  # noqa: F401 (the CLI and tests call them here)


@dataclass(frozen=True)
class Session:
    """What :func:`setup` did, so a notebook can print it and pass the generators on."""

    seed: int
    threads: int
    rng: np.random.Generator
    generator: torch.Generator

    def __str__(self) -> str:
        return (
            f"rnnbook {rnnbook.__version__} | torch {torch.__version__} | numpy {np.__version__} | "
            f"python {platform.python_version()} | seed {self.seed} | torch threads {self.threads}"
        )


def setup(seed: int = 2013, threads: int | None = None, *, quiet: bool = False) -> Session:
    """Seed everything, pin threads, set the book's plotting style; print versions.

    The same seed gives the same numbers on the same machine (and the same software versions).
    """
    n = configure_torch(threads)
    rng, gen = seed_everything(seed)
    plotting.use_book_style()
    session = Session(seed=seed, threads=n, rng=rng, generator=gen)
    if not quiet:
        print(session, file=sys.stdout)
    return session
