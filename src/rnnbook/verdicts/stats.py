"""Exact confidence intervals for a rate of success (k successes out of n runs).

The Clopper–Pearson interval is the set of success probabilities ``p`` that a two-sided binomial
test at level ``1 - level`` would not reject. Its ends are beta quantiles,

    lower = Beta(k, n - k + 1).ppf(a/2),   upper = Beta(k + 1, n - k).ppf(1 - a/2),   a = 1 - level,

and, equivalently, the ``p`` where a binomial tail equals ``a/2``:
``P(X >= k | p) = a/2`` for the lower end and ``P(X <= k | p) = a/2`` for the upper end (lower
= 0 when k = 0, upper = 1 when k = n). The tails are finite sums and increase (decrease)
monotonically in ``p``, so bisection finds each end to machine precision without scipy.

The book's verdicts use scipy's implementations (:mod:`rnnbook.verdicts.rules`:
``scipy.stats.binomtest(...).proportion_ci(method="exact")`` and ``scipy.stats.fisher_exact``);
these short, readable versions are kept to show how the numbers arise and as test oracles
(``tests/book/test_claims.py`` checks that the two agree on every small table).
"""

from __future__ import annotations

import math


def binomial_cdf(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``, summed exactly term by term."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)))


def _solve(f, target: float) -> float:
    """The ``p`` in [0, 1] with ``f(p) = target`` for a decreasing ``f``, by bisection."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval for a success probability, from ``k`` of ``n``."""
    if not (isinstance(k, int) and isinstance(n, int) and 0 <= k <= n and n >= 1):
        raise ValueError(f"need integers 0 <= k <= n, n >= 1; got k={k!r}, n={n!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    a = (1 - level) / 2
    lower = 0.0 if k == 0 else _solve(lambda p: binomial_cdf(k - 1, n, p), 1 - a)  # P(X >= k) = a
    upper = 1.0 if k == n else _solve(lambda p: binomial_cdf(k, n, p), a)  # P(X <= k) = a
    return lower, upper


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test that ``k1`` of ``n1`` and ``k2`` of ``n2`` come from
    the same success probability: the total probability, under the hypergeometric law with the
    margins fixed, of every table no more likely than the observed one (the usual definition,
    as in ``scipy.stats.fisher_exact``)."""
    for k, n in ((k1, n1), (k2, n2)):
        if not (isinstance(k, int) and isinstance(n, int) and 0 <= k <= n and n >= 1):
            raise ValueError(f"need integers 0 <= k <= n, n >= 1; got k={k!r}, n={n!r}")
    successes, total = k1 + k2, n1 + n2
    prob = lambda a: math.comb(n1, a) * math.comb(n2, successes - a) / math.comb(total, successes)
    lo, hi = max(0, successes - n2), min(n1, successes)
    observed = prob(k1)
    return min(1.0, sum(p for p in map(prob, range(lo, hi + 1)) if p <= observed * (1 + 1e-7)))
