"""rnnbook.book.clipping_study on small fabricated inputs: the facts Chapter 3.2 quotes."""

import math

import numpy as np
import pytest

from rnnbook.book import clipping_study as CS
from rnnbook.paper.tasks import get_task
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.traces import Trace


def _config(method, seed, threshold=1.0):
    return RunConfig(task="torder", init="basic_tanh", method=method, seed=seed, max_updates=8, check_every=4,
                     threshold=threshold, min_length=20, max_length=20)


def _trace(method, seed, norms, loss, valid=(0.5, 0.4)):
    norms = np.asarray(norms, dtype=float)
    cfg = _config(method, seed)
    clipped = norms > cfg.effective_threshold
    return Trace(cfg, np.asarray(loss, dtype=float), norms, clipped, None, np.array([4, 8]), np.asarray(valid))


def _record(success, updates, first=None, diverged=False, clip=(0.0,), cap=100):
    return dict(config={"max_updates": cap}, success=success, diverged=diverged, updates=updates,
                first_success_update=first, curves={"clip_fraction": list(clip)},
                censored=not success and not diverged)


# ---------------------------------------------------------------------------------------------
# the threshold study
# ---------------------------------------------------------------------------------------------


def test_threshold_summary_counts_successes_intervals_and_censored_runs():
    runs = {1.0: [_record(True, 40, 40, clip=(0.2, 0.4)), _record(False, 100, clip=(0.0, 0.2)),
                  _record(True, 60, 60, clip=(0.3, 0.3))],
            None: [_record(False, 100), _record(False, 30, diverged=True)]}
    s = CS.threshold_summary(runs, level=0.95)
    assert (s[1.0]["k"], s[1.0]["n"], s[1.0]["updates"], s[1.0]["censored"]) == (2, 3, [40, 60], 1)
    assert s[1.0]["clip"] == pytest.approx((0.3 + 0.1 + 0.3) / 3)     # the mean over runs of each run's mean
    lo, hi = s[1.0]["ci"]
    assert 0 < lo < 2 / 3 < hi < 1
    assert (s[None]["k"], s[None]["censored"], s[None]["ci"][0]) == (0, 1, 0.0)   # the diverged run is not censored


def test_threshold_rows_show_msgd_without_a_threshold_and_a_dash_without_successes():
    s = CS.threshold_summary({2.0: [_record(True, 10, 10), _record(True, 30, 30)], None: [_record(False, 100)]})
    rows = CS.threshold_rows(s, average=0.5)
    assert rows[0][:3] == ["2 x", "1", "2 of 2"] and rows[0][4] == "20"
    assert rows[1][:3] == ["none (MSGD)", "—", "0 of 1"] and rows[1][4] == "—"


def test_at_cap_reads_a_run_at_a_lower_cap():
    assert CS.at_cap(_record(True, 50, 50, cap=200), 100) == ("solved", 50)
    assert CS.at_cap(_record(True, 150, 150, cap=200), 100) == ("censored", 100)   # solved only after the cap
    assert CS.at_cap(_record(False, 80, diverged=True, cap=200), 100) == ("diverged", 80)
    assert CS.at_cap(_record(False, 180, diverged=True, cap=200), 100) == ("censored", 100)
    assert CS.at_cap(_record(False, 60, cap=60), 100) == ("censored", 60)           # its own cap is lower


def test_points_put_msgd_at_no_clip_and_leave_out_settings_with_no_finished_run():
    s = CS.threshold_summary({0.5: [_record(True, 10, 10)], None: [_record(False, 100)]})
    assert CS.rate_points(s, unit=0.4, cap=100, no_clip=25.0) == [(0.2, 1, 1, [10], 0, 100), (25.0, 0, 1, [], 1, 100)]
    outcomes = {0.5: dict(done=[("solved", 7), ("censored", 100)], tau=0.25), 1.0: dict(done=[], tau=0.5),
                "MSGD": dict(done=[("diverged", 3)], tau=None)}
    assert CS.outcome_points(outcomes, average=0.5, cap=100, no_clip=25.0) == [
        (0.5, 1, 2, [7], 1, 100), (25.0, 0, 1, [], 0, 100)]


def test_as_record_calls_a_run_that_neither_succeeded_nor_diverged_censored():
    class Run:
        success, diverged, first_success_update, curves = False, False, None, {"clip_fraction": [0.1]}
    assert CS.as_record(Run())["censored"] is True
    Run.diverged = True
    assert CS.as_record(Run())["censored"] is False


# ---------------------------------------------------------------------------------------------
# traces
# ---------------------------------------------------------------------------------------------


def _traces():
    # seed 0: MSGD and MSGD-C agree until MSGD-C's first clipped update (index 2); a spike at 5
    plain = [_trace("msgd", 0, [0.5, 0.6, 2.0, 0.5, 0.4, 50.0, 0.3, 0.2], [1, .9, .8, .7, .6, .5, .4, .3],
                    valid=(0.2, 0.9))]
    clip = [_trace("msgd_c", 0, [0.5, 0.6, 2.0, 0.5, 0.4, 80.0, 0.3, 1.0], [1, .9, .8, .75, .6, .5, .4, .3])]
    return plain, clip, [np.array([False] * 5 + [True] + [False] * 2)]


def test_trace_facts_count_clipping_spikes_and_ties():
    plain, clip, spikes = _traces()
    f = CS.trace_facts(plain, clip, spikes, spiky=0, learner=0)
    assert f["n-updates"] == 8 and f["n-all-updates"] == 16
    assert f["clip-frac"] == pytest.approx(100 * 2 / 8)                 # 2.0 and 80.0; the tie at 1.0 is not clipped
    assert f["ties"] == 1 and f["near"] == 1
    assert f["first-clip"] == 3                                         # 1-based update number
    assert f["spike-jump"] == pytest.approx(200.0) and f["spike-back"] == 100.0 and f["spike-max"] == 80.0
    assert f["median-scale"] == pytest.approx((1 / 2.0 + 1 / 80.0) / 2) and f["min-scale"] == pytest.approx(1 / 80)
    assert (f["plain-max"], f["plain-max-at"], f["plain-before"], f["plain-after"]) == (50.0, 6, 0.2, 0.9)
    assert f["fires"] == 0 and f["max-norm-all"] == 80.0


def test_trace_checks_name_what_fails():
    plain, clip, spikes = _traces()
    checks = CS.trace_checks(plain, clip, spikes)
    assert checks["MSGD-C clips exactly when ||g|| > tau"] and checks["same steps until the first clipped update"]
    assert checks["MSGD's largest spike undid what it had learned"]
    assert not checks["no tie and no firing of the safety net"]          # the fabricated MSGD-C run has a tie
    clip[0].loss[3] = 0.7                                                # now the runs agree past the first clip
    assert not CS.trace_checks(plain, clip, spikes)["same steps until the first clipped update"]


# ---------------------------------------------------------------------------------------------
# descent
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task():
    return get_task("torder")


def test_descent_case_slope_matches_its_finite_difference(task):
    cs = CS.descent_case(task, 1.5, 0, length=10, lr=0.01, tau=1e-3, hidden=6, batch=4)
    assert cs["norm"] > 1e-3                                             # clipped: c = tau / ||g||
    assert cs["slope"] == pytest.approx(-1e-3 * cs["norm"])
    assert cs["slope_fd"] == pytest.approx(cs["slope"], rel=1e-4)
    assert CS.minibatch_cost(cs["net"], cs["u"], cs["target"], cs["readout"]) == cs["loss"]


def test_without_clipping_the_two_steps_are_the_same(task):
    cs = CS.descent_case(task, 0.95, 1, length=10, lr=0.01, tau=math.inf, hidden=6, batch=4)
    assert cs["clipped_change"] == cs["plain_change"]
    profile = CS.cost_profile(cs, [0.0, 1e-6])
    assert profile[0] == 0.0 and profile[1] < 0                          # a tiny step along -g descends
