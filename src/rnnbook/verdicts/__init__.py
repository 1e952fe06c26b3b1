"""Verdicts a statistician would sign: the paper's claims, once, and the rules that judge them.

``records``   what a stored run says (solved, diverged with its cause, censored) and typed selectors of runs
``rules``     the verdict rules: per grid point first, then the claim; power; undecided runs tried every way
``verdict``   what a claim's test returns (:class:`~rnnbook.verdicts.verdict.Verdict`) and the ``Test`` interface
``evidence``  the kinds of test a claim can have, gathered from four modules by where the evidence comes from:
``evidence_runs``    the synthetic tasks' sweeps (a rate per point, an ordering, a majority, generalisation, ...)
``evidence_table1``  Table 1's natural problems (text: one run per method; music: seeds, paired)
``evidence_checks``  no training runs (an analytic check, a stored study, not run, not attempted)
``evidence_studies`` stored studies of paired seeds (Chapter 3.3's Ω study), per seed, then pooled
``checks``    the analytic claims' numerical checks
``claims``    the registry: every checkable claim, its source, the paper's number, its test

The scoreboard (:mod:`rnnbook.verdicts.scoreboard`), the chapters' claims tables and ``python -m rnnbook show``
read verdicts from :func:`rnnbook.verdicts.claims.judge` only.
"""
