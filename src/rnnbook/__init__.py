"""Shared code of the book *On the difficulty of training recurrent neural networks*, reproduced.

One module per idea, in layers; a module uses only those on its own line or above it::

    errors settings atomic streams stats survival plotting runtime   foundations (settings: declared once)
    tasks                                    the paper's synthetic problems, as the authors' code makes them
    reference                                the paper's RNN written to be read: Eqs. 1-2, 9-10, Algorithm 1
    model workspace regularizer clipping     the fast engine: batched explicit BPTT of many models, ...
    cpu_kernel (csrc/) cuda_graphs           ... compiled for a CPU, recorded for a GPU; tested against reference
    training checkpoints workers             runs as ensembles, their saved states, several processes
    experiments results sweeps generalisation   declared grids, result files, sweeps over several sittings
    gradients dynamics diagrams traces baselines omega_exact   the chapters' own computations
    outcomes scoreboard cli                  what the results say against the paper; python -m rnnbook

Two cycles are left inside the engine: ``model`` picks the compiled kernel itself (``model`` and
``cpu_kernel`` import each other lazily), and ``training`` records CUDA graphs through
``cuda_graphs``, which calls back into it. Moving the engine behind one backend object chosen per
ensemble is open work.
"""

__version__ = "0.1.0"
