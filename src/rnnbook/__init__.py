"""Shared code of the book *On the difficulty of training recurrent neural networks*, reproduced.

One module per idea: ``tasks`` (the paper's synthetic problems), ``model`` (the RNN, its
initialisations and an explicit BPTT), ``clipping`` (Algorithm 1), ``regularizer`` (Eqs. 9-10),
``training`` (whole sweeps as one batched computation), ``experiments`` (declared grids and
protocols), ``results`` (result files with provenance), ``gradients`` and ``dynamics`` (the
analysis of Chapters 1-2), ``plotting`` (the book's figure style) and ``runtime`` (seeds,
threads).
"""

__version__ = "0.1.0"
