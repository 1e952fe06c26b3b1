"""Verdicts a statistician would sign: the paper's claims, once, and the rules that judge them.

``records``   what a stored run says (solved, diverged with its cause, censored) and typed selectors of runs
``rules``     the verdict rules: per grid point first, then the claim; power; undecided runs tried every way
``evidence``  the kinds of test a claim can have (a rate per point, an ordering, a check, ...)
``checks``    the analytic claims' numerical checks
``claims``    the registry: every checkable claim, its source, the paper's number, its test

The scoreboard (:mod:`rnnbook.scoreboard`), the chapters' claims tables and ``python -m rnnbook show``
read verdicts from :func:`rnnbook.verdicts.claims.judge` only.
"""
