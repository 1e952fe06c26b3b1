"""Kaplan–Meier against hand computation, and the band against the log-log (exponential Greenwood) formula."""

import math

import pytest

from rnnbook.survival import Z95, kaplan_meier


def test_product_limit_by_hand():
    # 5 runs: solved at 10; censored at 15; solved at 20; solved at 20; still unsolved at cap 30
    km = kaplan_meier([10, None, 20, 20, None], [10, 15, 20, 20, 30])
    assert km.updates == [10, 20] and km.at_risk == [5, 3]
    assert km.solved[0] == pytest.approx(1 - 4 / 5)
    assert km.solved[1] == pytest.approx(1 - (4 / 5) * (1 / 3))
    assert km.solved_by(19) == pytest.approx(0.2) and km.solved_by(5) == 0.0
    assert km.n_runs == 5 and km.n_censored == 2


def test_counting_censored_runs_as_failures_would_understate_success():
    km = kaplan_meier([100, None, None, 300], [100, 150, 150, 300])
    naive = 2 / 4
    assert km.solved[-1] == pytest.approx(1.0) and km.solved[-1] > naive


def test_band_is_the_exponential_greenwood_interval():
    km = kaplan_meier([1, 2, None, 3, None, 5], [1, 2, 2, 3, 4, 5])
    S, v = 1.0, 0.0
    for i, (n, d) in enumerate([(6, 1), (5, 1), (3, 1)]):
        S *= 1 - d / n
        v += d / (n * (n - d))
        w = Z95 * math.sqrt(v) / math.log(S)
        a, b = S ** math.exp(w), S ** math.exp(-w)
        assert 1 - km.solved[i] == pytest.approx(S)
        assert (km.low[i], km.high[i]) == pytest.approx((1 - max(a, b), 1 - min(a, b)))
        assert km.low[i] <= km.solved[i] <= km.high[i]


def test_a_diverged_run_stays_at_risk_and_never_solves():
    km = kaplan_meier([5, None], [5, math.inf])
    assert km.solved == [0.5] and km.at_risk == [2]
    with pytest.raises(ValueError):
        kaplan_meier([1], [1, 2])
