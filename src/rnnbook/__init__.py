"""Shared code of the book *On the difficulty of training recurrent neural networks*, reproduced.

One module per idea, in layers; a module uses only those on its own line or above it::

    errors  settings  atomic  streams         bad input, declared run settings, safe writes, random numbers
    tasks                                     the paper's synthetic problems, as the authors' code makes them
    reference                                 the paper's RNN written to be read: Eqs. 1-2, 9-10, Algorithm 1
    model  workspace  regularizer  clipping   the fast engine: batched explicit BPTT of many models ...
    cpu_kernel (csrc/)  cuda_graphs           ... compiled for a CPU, recorded for a GPU (tested against reference)
    training  checkpoints  workers            runs as ensembles, their saved states, several processes
    experiments  results  sweeps  cli         declared grids, result files, sweeps over sittings, python -m rnnbook
    generalisation  outcomes  stats  survival  scoreboard    what the results say, against the paper
    gradients  dynamics  diagrams  traces  baselines  omega_exact  plotting  runtime    the chapters' tools

(One exception to the layering remains: ``model`` picks the compiled kernel itself, so ``model`` and
``cpu_kernel`` import each other lazily; moving the engine behind one backend object is open work.)
"""

__version__ = "0.1.0"
