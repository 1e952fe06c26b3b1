"""Summaries of a results file: counts per grid point, intervals, censoring, plateaus."""

import math

import pytest

from rnnbook.errors import ConfigError
from rnnbook.paper.tasks import get_task
from rnnbook.verdicts.outcomes import CHANCE_LOSS_4, chance_error, grid_points, plateau_end, plateau_means
from rnnbook.verdicts.stats import clopper_pearson


def rec(seed, success, updates, cap=100, diverged=False, method="msgd_cr", length=50, losses=None):
    losses = losses or [1.39, 1.38, 1.2, 0.5]
    return {
        "config": {"init": "basic_tanh", "method": method, "min_length": length, "max_length": length,
                   "max_updates": cap, "seed": seed},
        "success": success, "diverged": diverged, "updates": updates,
        "first_success_update": updates if success else None,
        "curves": {"update": [25, 50, 75, 100][:len(losses)], "train_loss": losses,
                   "grad_norm": [0.1, 0.1, 2.0, 1.0][:len(losses)]},
    }


def test_points_count_successes_censored_and_diverged_runs():
    data = {"runs": [rec(0, True, 40), rec(1, False, 100), rec(2, False, 30, diverged=True), rec(3, True, 80),
                     rec(0, False, 100, method="msgd")]}
    cr, plain = grid_points(data)
    assert (cr.method, cr.runs, cr.successes, cr.censored, cr.diverged) == ("msgd_cr", 4, 2, 1, 1)
    assert cr.rate == 0.5 and cr.rate_if_censored_succeed == 0.75 and cr.success_updates == [40, 80]
    assert cr.interval == pytest.approx(clopper_pearson(2, 4), abs=1e-12) and cr.length == "50"  # scipy vs the oracle
    assert plain.censored == 1 and plain.successes == 0
    km = cr.survival()
    assert km.updates == [40, 80] and km.solved[0] == pytest.approx(0.25)
    # at 80, the runs at risk are the one solved there and the censored one (the diverged run stays too)
    assert km.at_risk == [4, 3]


def test_plateau_end_is_the_first_check_clearly_below_chance():
    r = rec(0, True, 100)
    assert plateau_end(r) == 75
    assert plateau_end(rec(0, False, 100, losses=[1.39, 1.385, 1.38, 1.37])) is None
    on, after = plateau_means(r, "grad_norm")
    assert on == pytest.approx(0.1) and after == pytest.approx(1.5)
    assert CHANCE_LOSS_4 == pytest.approx(math.log(4))


@pytest.mark.parametrize("ours,paper,expected", [
    ((5, 5, 0), (5, 5), "reproduced"),
    ((2, 5, 0), (5, 5), "consistent"),        # Fisher p = 0.17: five seeds cannot tell
    ((0, 5, 0), (5, 5), "not reproduced"),    # p = 2/252
    ((3, 5, 2), (5, 5), "open"),              # 5/5 if the censored runs succeed, 3/5 if not
    ((0, 5, 5), (5, 5), "open"),
    ((0, 5, 1), (5, 5), "not reproduced"),    # even 1/5 is p < 0.05
    ((0, 0, 0), (5, 5), "not run"),
    ((2, 5, 0), (2, 5), "uninformative"),     # at n = 5 no count could differ from 2/5: an exact match says nothing
    ((0, 5, 5), (2, 5), "uninformative"),     # the permutation row: no outcome could have failed it
])
def test_verdicts(ours, paper, expected):
    from rnnbook.verdicts.outcomes import verdict

    v, why = verdict(*ours, *paper)
    assert v == expected, why


def test_grid_points_read_at_a_cap():
    """At a cap, a run solved later or stopped later counts as censored there, whatever it became."""
    runs = [rec(0, True, 40), rec(1, True, 90), rec(2, False, 100), rec(3, False, 100, diverged=True),
            rec(4, False, 30, diverged=True)]
    (p,) = grid_points({"runs": runs}, cap=50)
    assert (p.runs, p.successes, p.censored, p.diverged) == (5, 1, 3, 1)
    assert p.success_updates == [40] and p.caps == [50] * 5
    (q,) = grid_points({"runs": runs})
    assert (q.successes, q.censored, q.diverged) == (2, 1, 2)


def test_unfinished_runs_are_undecided():
    from rnnbook.verdicts.outcomes import verdict

    assert verdict(1, 1, 0, 5, 5, planned=5)[0] == "open"          # 1/1 is not yet 5/5
    assert verdict(0, 0, 0, 5, 5, planned=5)[0] == "not run"
    assert verdict(5, 5, 0, 5, 5, planned=5)[0] == "reproduced"
    assert "4 undecided of 5" in verdict(1, 1, 0, 5, 5, planned=5)[1]
    with pytest.raises(ValueError):
        verdict(3, 5, 0, 5, 5, planned=4)


# chance_error: the error of the best input-free answer, against its closed form (n = 20,000
# sequences: the binomial standard error is below 0.0035 for every rate here).
@pytest.mark.parametrize("name, params, length, expected", [
    ("torder", {}, 50, 3 / 4),                       # 4 equally likely classes
    ("torder3", {}, 50, 7 / 8),                      # 8 equally likely classes
    ("perm", {}, 50, 1 / 2),                         # the first symbol: 0 or 1
    ("add", {}, 50, 2 * 0.3 ** 2 / 0.5),             # mean of two U[0,1): triangular; |m - 1/2| > 0.2
    ("mul", {}, 50, 1 - (0.45 * (1 - math.log(0.45)) - 0.05 * (1 - math.log(0.05)))),  # P(0.05 < xy < 0.45), F(z) = z(1 - ln z)
    ("mem", {"n_values": 2, "n_pos": 5}, 20, 1 - 2 ** -5),   # any of 5 binary symbols wrong
    ("mem", {}, 20, 1 - 5 ** -10),                  # 10 symbols of 5 values: almost surely wrong
])
def test_chance_error_matches_its_closed_form(name, params, length, expected):
    got = chance_error(get_task(name, **params), length, n=20_000, seed=3)
    assert got == pytest.approx(expected, abs=0.012)


def test_chance_error_refuses_a_read_out_without_an_input_free_answer():
    class Rolls:  # a piano-roll task's read-out: 88 independent keys, no single input-free answer defined
        readout = "bernoulli"

        def sample(self, *a, **k):
            return get_task("torder").sample(*a, **k)

    with pytest.raises(ConfigError, match="bernoulli"):
        chance_error(Rolls(), 50, n=10)
