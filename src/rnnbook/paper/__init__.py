"""The paper written to be read: the RNN and its initialisations (model), the six problems of §4.1
(tasks) and their random numbers (streams), one training update top to bottom (reference), the
gradients of Eqs. 3-7 (gradients), the one-unit network of §2.2-2.3 (dynamics: one_unit, bistability,
boundaries, surface), Figs. 1-2 (diagrams).
Every fast path in :mod:`rnnbook.engine` is tested against these."""
