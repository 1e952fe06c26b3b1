"""The exact (Clopper–Pearson) interval of rnnbook.verdicts.stats against closed forms and beta quantiles."""

import math

import numpy as np
import pytest

from rnnbook.verdicts.stats import binomial_cdf, clopper_pearson


def beta_cdf(x, a, b, points=400_001):
    """Regularised incomplete beta by numerical integration of the density (independent of the module)."""
    t = np.linspace(0.0, x, points)
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.exp(log_norm + (a - 1) * np.log(t) + (b - 1) * np.log1p(-t))
    density[~np.isfinite(density)] = 0.0
    return float(np.trapezoid(density, t))


@pytest.mark.parametrize("n", [1, 5, 8, 20])
def test_all_or_nothing_have_closed_forms(n):
    lo, hi = clopper_pearson(0, n)
    assert lo == 0.0 and abs(hi - (1 - 0.025 ** (1 / n))) < 1e-12
    lo, hi = clopper_pearson(n, n)
    assert hi == 1.0 and abs(lo - 0.025 ** (1 / n)) < 1e-12


@pytest.mark.parametrize("k,n", [(1, 5), (2, 5), (3, 8), (7, 20), (1, 10)])
def test_ends_are_beta_quantiles(k, n):
    lo, hi = clopper_pearson(k, n)
    assert abs(beta_cdf(lo, k, n - k + 1) - 0.025) < 1e-6  # lower = Beta(k, n-k+1) quantile 0.025
    assert abs(beta_cdf(hi, k + 1, n - k) - 0.975) < 1e-6  # upper = Beta(k+1, n-k) quantile 0.975
    assert 0 < lo < k / n < hi < 1


def test_known_values_and_symmetry():
    lo, hi = clopper_pearson(2, 5)
    assert round(lo, 4) == 0.0527 and round(hi, 4) == 0.8534  # the textbook interval for 2 of 5
    for k in range(6):
        a, b = clopper_pearson(k, 5)
        c, d = clopper_pearson(5 - k, 5)
        assert abs(a - (1 - d)) < 1e-12 and abs(b - (1 - c)) < 1e-12
    narrow, wide = clopper_pearson(3, 8, 0.5), clopper_pearson(3, 8, 0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


def test_binomial_cdf_and_bad_input():
    assert abs(binomial_cdf(2, 5, 0.3) - sum(math.comb(5, i) * 0.3**i * 0.7 ** (5 - i) for i in range(3))) < 1e-15
    assert binomial_cdf(-1, 5, 0.3) == 0.0 and binomial_cdf(5, 5, 0.3) == 1.0
    for k, n in ((3, 2), (-1, 4), (1, 0), (1.0, 3)):
        with pytest.raises(ValueError):
            clopper_pearson(k, n)
    with pytest.raises(ValueError):
        clopper_pearson(1, 3, level=1.0)


def test_fisher_exact_against_hand_computed_tables():
    from rnnbook.verdicts.stats import fisher_exact

    # 5/5 vs 0/5: only the two extreme tables are as unlikely: 2 / C(10, 5)
    assert fisher_exact(5, 5, 0, 5) == pytest.approx(2 / 252)
    # 5/5 vs 3/5 (8 successes): tables a = 3, 4, 5 have weights 10, 25, 10 (of C(10, 8) = 45);
    # the observed a = 5 and the equally likely a = 3 count
    assert fisher_exact(5, 5, 3, 5) == pytest.approx(20 / 45)
    assert fisher_exact(2, 4, 2, 4) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        fisher_exact(6, 5, 0, 5)
