"""Shared code of the book *On the difficulty of training recurrent neural networks*, reproduced.

One module per idea: ``tasks`` (the paper's synthetic problems), ``streams`` (every run's own
random numbers, drawn for all runs at once), ``model`` (the RNN, its
initialisations and an explicit BPTT), ``cpu_kernel`` (the same training pass compiled
from ``csrc/bptt.c``, what a CPU trains with), ``clipping`` (Algorithm 1), ``regularizer`` (Eqs. 9-10),
``training`` (whole sweeps as one batched computation), ``workspace`` (the engine's reused
scratch memory), ``cuda_graphs`` (an update recorded once and replayed on a GPU), ``workers``
(a sweep shared among processes), ``experiments`` (declared grids and protocols), ``results``
(result files with provenance), ``cli`` (``python -m rnnbook``),
``gradients`` (the paper-form gradient and transport factors of Chapters 1 and 2.1),
``dynamics`` (the one-unit networks of Chapters 2.2-2.3), ``diagrams`` (Figs. 1-2),
``plotting`` (the book's figure style) and ``runtime`` (seeds, threads). ``errors`` holds the
one exception a user should ever see for bad input.
"""

__version__ = "0.1.0"
