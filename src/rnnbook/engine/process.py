"""How a process computes: torch's threads, denormal floats flushed to zero, every generator seeded.

The engine's batched products are too small to gain from several threads (two processes with
two threads each thrash on a 2-core machine), and vanishing gradients drive float32 values into
the subnormal range, several times slower on a CPU unless flushed. Both were measured:
``benchmarks/README.md``, "Measurements behind the code's choices".
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

THREADS_ENV = "BOOK_TORCH_THREADS"


def configure_torch(threads: int | None = None) -> int:
    """Pin torch's intra-op threads (default: ``$BOOK_TORCH_THREADS`` or 1) and flush denormals."""
    if threads is None:
        threads = int(os.environ.get(THREADS_ENV, "1"))
    if threads < 1:
        raise ValueError(f"torch threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    return threads


def seed_everything(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """Seed Python's, NumPy's and torch's global generators; return fresh explicit ones."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed), torch.Generator().manual_seed(seed)
