"""Kaplan–Meier (scipy's) against hand computation and the product-limit formula written out, and the band
against the log-log (exponential Greenwood) formula."""

import math

import pytest

from rnnbook.verdicts.survival import kaplan_meier

Z95 = 1.959963984540054  # the normal distribution's 97.5 % point


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


def test_quantile_and_median_read_the_estimate_not_the_finished_runs():
    km = kaplan_meier([10, None, 20, 20, None], [10, 15, 20, 20, 30])
    assert km.quantile(0.2) == 10 and km.median == 20 and km.follow_up == 30
    # two events among ten runs, eight censored at the cap: half are never estimated solved
    km = kaplan_meier([1_000, 2_000] + [None] * 8, [1_000, 2_000] + [100_000] * 8)
    assert km.median is None and km.solved_by(100_000) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        km.quantile(0.0)


def _product_limit(success, stops):
    """The oracle: the product-limit estimate and its exponential Greenwood band, written out."""
    S, v, out = 1.0, 0.0, []
    for t in sorted({s for s in success if s is not None}):
        n = sum(1 for s, c in zip(success, stops) if (s is not None and s >= t) or (s is None and c >= t))
        d = sum(1 for s in success if s == t)
        S *= 1 - d / n
        if n > d:
            v += d / (n * (n - d))
        if 0 < S < 1 and v > 0:
            w = Z95 * math.sqrt(v) / math.log(S)
            a, b = S ** math.exp(w), S ** math.exp(-w)
            out.append((t, n, 1 - S, 1 - max(a, b), 1 - min(a, b)))
        else:
            out.append((t, n, 1 - S, 1 - S, 1 - S))
    return out


def test_kaplan_meier_is_the_product_limit_formula_on_censored_and_diverged_runs():
    import numpy as np

    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(2, 30))
        times = [int(t) for t in rng.integers(1, 40, n) * 1_000]
        observed = rng.random(n) < 0.6
        success = [t if o else None for t, o in zip(times, observed)]
        stops = [math.inf if (not o and rng.random() < 0.2) else t for t, o in zip(times, observed)]  # some diverged
        km = kaplan_meier(success, stops)
        ref = _product_limit(success, stops)
        assert km.updates == [r[0] for r in ref] and km.at_risk == [r[1] for r in ref]
        for got, want in ((km.solved, 2), (km.low, 3), (km.high, 4)):
            assert got == pytest.approx([r[want] for r in ref], abs=1e-12)


def _plateau_run(end, updates, *, success=False):
    # a run whose mean training loss sits at ln 4 until `end` (None: never leaves), checked every 1,000
    checks = list(range(1_000, updates + 1, 1_000))
    loss = [math.log(4) if end is None or u < end else 0.5 for u in checks]
    return {"updates": updates, "success": success, "curves": {"update": checks, "train_loss": loss}}


def test_the_plateau_statistic_counts_runs_still_on_the_plateau():
    from rnnbook.verdicts.outcomes import plateau_end, plateau_survival

    runs = [_plateau_run(2_000, 3_000, success=True), _plateau_run(4_000, 6_000, success=True)]
    runs += [_plateau_run(None, 100_000) for _ in range(8)]
    assert [plateau_end(r) for r in runs[:3]] == [2_000, 4_000, None]
    km = plateau_survival(runs)
    # ignoring the eight censored runs would give a median of 3,000 updates; they are 80 % of the runs
    assert km.median is None and km.n_censored == 8
    assert 1 - km.solved_by(100_000) == pytest.approx(0.8)
    # read at a common cap of 3,000, the run that left at 4,000 is censored there
    at_cap = plateau_survival(runs, cap=3_000)
    assert at_cap.updates == [2_000] and at_cap.n_censored == 9 and at_cap.follow_up == 3_000
    # once most runs leave, the median is the estimate's, not the middle of the finished runs
    runs = [_plateau_run(e, 50_000) for e in (1_000, 5_000, 9_000)] + [_plateau_run(None, 6_000)] * 2
    assert plateau_survival(runs).median == 9_000
