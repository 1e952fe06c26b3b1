"""Per-update traces (rnnbook.synthetic.traces) are the runs that training.train_runs trains, update by update."""

import math
from pathlib import Path

import numpy as np
import pytest

from rnnbook.errors import ConfigError
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.traces import trace_runs
from rnnbook.synthetic.training import train_runs


def _configs(**over):
    base = dict(task="torder", init="basic_tanh", min_length=12, max_length=16, max_updates=300, check_every=100,
                n_valid=200, valid_chunk=100)
    base.update(over)
    return [RunConfig(method=m, seed=s, threshold=t, **base)
            for m, s, t in (("msgd", 0, 1.0), ("msgd_c", 0, 0.3), ("msgd_c", 1, 1.0), ("msgd_cr", 2, 0.5))]


def test_trace_averages_are_the_training_curves():
    """Same weights, minibatches, validation: every per-check average equals train_runs' curve, bit for bit."""
    configs = _configs()
    traces = trace_runs(configs)
    results = train_runs([RunConfig(**{**c.to_dict(), "success_error": 0.0}) for c in configs])  # no early stop
    for tr, r in zip(traces, results):
        assert len(tr.loss) == len(tr.grad_norm) == len(tr.clipped) == 300
        windows = lambda x: x.reshape(3, 100).mean(1)
        assert np.array_equal(windows(tr.loss), r.curves["train_loss"])
        assert np.array_equal(windows(tr.grad_norm), r.curves["grad_norm"])
        assert np.array_equal(windows(tr.clipped.astype(float)), r.curves["clip_fraction"])
        assert np.array_equal(tr.valid_error, r.curves["valid_error"]) and list(tr.check_update) == r.curves["update"]
        if tr.omega is not None:
            assert np.allclose(windows(tr.omega), r.curves["omega"], rtol=1e-12)
    plain, tight = traces[0], traces[1]
    assert not plain.clipped.any() and plain.threshold == math.inf and (plain.step_scale == 1).all()
    assert tight.clipped.any() and np.array_equal(tight.clipped, tight.grad_norm > 0.3)
    assert np.allclose(tight.step_scale[tight.clipped] * tight.grad_norm[tight.clipped], 0.3)
    assert not any(t.safety_net_fires.any() for t in traces)
    assert np.array_equal(traces[0].loss[:1], traces[1].loss[:1])  # same seed, same first minibatch and weights


def test_success_is_the_first_good_check_and_can_stop_early():
    configs = [RunConfig(task="torder", init="basic_tanh", method="msgd_cr", min_length=20, max_length=20, seed=1,
                         max_updates=1500, check_every=250, n_valid=500, valid_chunk=250)]  # succeeds at 750
    full = trace_runs(configs)[0]
    early = trace_runs(configs, stop_at_success=True)[0]
    trained = train_runs(configs)[0]
    assert trained.success and full.first_success_update == early.first_success_update == trained.first_success_update
    assert len(early.loss) == early.first_success_update < len(full.loss)
    assert np.array_equal(early.loss, full.loss[:len(early.loss)])


def test_safety_net_fires_on_bad_norms_and_mixed_groups_are_refused():
    trace = trace_runs(_configs(max_updates=3, check_every=3)[:1])[0]
    trace.grad_norm = np.array([1.0, math.nan, 2e10])
    assert trace.safety_net_fires.tolist() == [False, True, True]
    trace.grad_norm = np.array([1.0, 2.0, 1.0, 3.0, 25.0, 1.0, 30.0, 2.0])
    assert np.flatnonzero(trace.spikes(factor=10, window=3)).tolist() == [4]  # 25 > 10 x 2; 30 is not > 10 x 3
    assert np.flatnonzero(trace.spikes(factor=5, window=1)).tolist() == [4, 6]
    assert not trace.spikes(window=8).any()
    with pytest.raises(ConfigError, match="must share"):
        trace_runs([*_configs(max_updates=3, check_every=3)[:1], *_configs(max_updates=3, check_every=3, hidden=8)[:1]])


def test_msgd_and_msgd_c_are_one_run_until_the_first_clip():
    """Same seed: same weights and minibatches, so the losses agree up to the first clipped update."""
    plain, clipped = trace_runs([RunConfig(method=m, seed=4, task="torder", init="basic_tanh", min_length=12,
                                           max_length=12, threshold=0.5, max_updates=200, check_every=200,
                                           n_valid=100, valid_chunk=100) for m in ("msgd", "msgd_c")])
    k = int(np.argmax(clipped.clipped))
    assert clipped.clipped.any() and 0 < k < 199
    assert np.array_equal(plain.loss[:k + 1], clipped.loss[:k + 1]) and plain.loss[k + 1] != clipped.loss[k + 1]


FACTORS = (0.5, 1.0, 2.0, 5.0, 10.0)


def _study():
    from rnnbook.book.plotting import book_root
    from rnnbook.synthetic import experiments, results

    names = {f: f"clip_threshold_x{f:g}" for f in FACTORS} | {None: "clip_threshold_none"}
    data = {f: results.load_results(book_root(Path(__file__)) / "results" / n / "paper.json") for f, n in names.items()}
    declared = {f: experiments.get_experiment(n).protocol("paper").settings["threshold"] for f, n in names.items()}
    return data, declared


def test_threshold_study_of_chapter_3_2():
    """The committed length-30 study (results/clip_threshold_*/paper.json), as Chapter 3.2 reads it."""
    from rnnbook.verdicts.stats import fisher_exact

    data, declared = _study()
    k, medians = {}, {}
    for f, d in data.items():
        assert d["completed"] == d["planned"] == 10
        for r in d["runs"]:
            c = r["config"]
            assert c["threshold"] == declared[f] and c["method"] == ("msgd" if f is None else "msgd_c")
            assert (c["min_length"], c["max_updates"], c["n_valid"], c["check_every"]) == (30, 25_000, 10_000, 1_000)
            assert len(r["curves"]["grad_norm"]) == math.ceil(r["updates"] / c["check_every"])
            # a window mean times the window length bounds every norm in it: the safety net never fired
            assert max(r["curves"]["grad_norm"]) * c["check_every"] < 1e10 and not r["diverged"]
            assert r["success"] or r["censored"]
        k[f] = sum(r["success"] for r in d["runs"])
        if k[f]:
            medians[f] = float(np.median([r["first_success_update"] for r in d["runs"] if r["success"]]))
    for f in FACTORS:
        assert abs(declared[f] - f * declared[1.0]) <= 1e-4 * f
    best = max(FACTORS, key=lambda f: k[f])
    p = {f: fisher_exact(k[f], 10, k[best], 10) for f in FACTORS}
    assert [f for f in FACTORS if p[f] < 0.05] == [0.5]
    assert medians[1.0] > medians[2.0] >= medians[5.0] >= medians[10.0]
    assert fisher_exact(k[None], 10, k[best], 10) >= 0.05


def test_the_declared_average_norm_is_measured_again():
    """Chapter 3.2's thresholds are multiples of the mean MSGD norm over 2,000 updates, seeds 0-7, length 30."""
    _, declared = _study()
    measured = trace_runs([RunConfig(task="torder", init="basic_tanh", method="msgd", min_length=30, max_length=30,
                                     seed=s, max_updates=2000, check_every=2000, n_valid=1000, valid_chunk=500)
                           for s in range(8)])
    g_bar = float(np.mean(np.concatenate([t.grad_norm for t in measured])))
    assert abs(g_bar / declared[1.0] - 1) < 0.05
