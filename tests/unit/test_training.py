"""Batched ensemble training: independence of members, slot refilling, success, validation."""

import dataclasses

import pytest
import torch

from rnnbook.engine.clipping import clip_grad_norm_
from rnnbook.errors import ConfigError
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.training import CURVE_NAMES, Ensemble, Hooks, train_runs

torch.set_num_threads(1)

SMALL = dict(task="torder", init="basic_tanh", hidden=8, batch=4, n_valid=60, valid_chunk=25, dtype="float64")


def run(**changes):
    settings = dict(SMALL, method="msgd_c", min_length=10, max_length=10, seed=0, max_updates=30, check_every=10)
    settings.update(changes)
    return RunConfig(**settings)


def same_curves(a, b):
    """Bit for bit: a member's arithmetic must not depend on the other members or their padding
    (this is what makes a resumed sweep equal an uninterrupted one)."""
    assert a.updates == b.updates and a.success == b.success
    for name in CURVE_NAMES:
        torch.testing.assert_close(torch.tensor(a.curves[name]), torch.tensor(b.curves[name]),
                                   rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_member_of_an_ensemble_equals_the_run_alone(dtype):
    runs = [
        run(seed=1, dtype=dtype),
        run(seed=2, method="msgd_cr", min_length=12, max_length=16, lr=0.05, dtype=dtype),
        run(seed=3, method="msgd", min_length=10, max_length=20, init="smart_tanh", check_every=7, dtype=dtype),
        run(seed=4, method="msgd_cr", min_length=10, max_length=25, dtype=dtype),
    ]
    together = train_runs(runs)
    for config, result in zip(runs, together):
        assert result.config == config
        same_curves(result, train_runs([config])[0])


def test_finished_runs_are_replaced_by_pending_ones():
    runs = [run(seed=s, max_updates=m) for s, m in ((1, 20), (2, 40), (3, 30), (4, 10))]
    finished, updates = [], []
    results = train_runs(runs, max_parallel=2, on_result=finished.append, progress=updates.append)
    assert [r.updates for r in results] == [20, 40, 30, 10]
    assert sorted(r.config.seed for r in finished) == [1, 2, 3, 4]
    assert sum(updates) == 100 and max(updates) == 2  # never more than two members at once
    for config, result in zip(runs, results):
        same_curves(result, train_runs([config])[0])


def test_curves_are_recorded_every_check():
    result = train_runs([run(method="msgd_cr", max_updates=25, check_every=10, threshold=0.01)])[0]
    assert result.curves["update"] == [10, 20, 25]
    assert all(len(result.curves[name]) == 3 for name in CURVE_NAMES)
    assert result.curves["clip_fraction"] == [1.0, 1.0, 1.0]
    assert all(v > 0 for v in result.curves["omega"] + result.curves["grad_norm"] + result.curves["spectral_radius"])
    assert result.final_valid_error == result.curves["valid_error"][-1]
    assert result.best_valid_error == min(result.curves["valid_error"])
    plain = train_runs([run(method="msgd", max_updates=10)])[0]
    assert plain.curves["clip_fraction"] == [0.0]


def test_easy_problem_is_solved():
    config = RunConfig(task="torder", init="smart_tanh", method="msgd_c", min_length=10, max_length=10, seed=0,
                       max_updates=2000, check_every=100, n_valid=1000, valid_chunk=500, lr=0.1)
    result = train_runs([config])[0]
    assert result.success and result.first_success_update == result.updates < 2000
    assert result.final_valid_error < 0.01


def test_float32_and_other_tasks_run():
    for task, params in (("mem", {"n_values": 2, "n_pos": 2}), ("add", {}), ("perm", {})):
        config = run(task=task, task_params=params, dtype="float32", max_updates=3, check_every=3)
        result = train_runs([config])[0]
        assert result.updates == 3 and 0 <= result.final_valid_error <= 1


def test_keys():
    a = run(task="mem", task_params={"n_pos": 3, "n_values": 2})
    assert a.task_params == (("n_pos", 3), ("n_values", 2))
    assert a.key() == run(task="mem", task_params={"n_values": 2, "n_pos": 3}).key()
    assert a.key() != dataclasses.replace(a, seed=1).key()
    assert a.group_key() == dataclasses.replace(a, method="msgd", seed=7, lr=0.1, init="smart_tanh").group_key()
    assert a.group_key() != dataclasses.replace(a, init="sigmoid").group_key()
    # runs that need Omega train apart: the others would pay for it
    assert a.group_key() != dataclasses.replace(a, method="msgd_cr").group_key()
    assert a.group_key() != dataclasses.replace(a, track_omega=True).group_key()
    assert dataclasses.replace(a, method="msgd_cr").group_key() == dataclasses.replace(a, track_omega=True).group_key()
    assert hash(a) == hash(run(task="mem", task_params={"n_pos": 3, "n_values": 2}))


@pytest.mark.parametrize("changes,message", [
    (dict(task="foo"), "unknown task 'foo'; choose one of: add, mem, mul, perm, torder, torder3"),
    (dict(init="relu"), "unknown init 'relu'"),
    (dict(method="adam"), "unknown method 'adam'"),
    (dict(min_length=1, max_length=1, task="perm"), "needs length >= 2"),
    (dict(min_length=30, max_length=20), "min_length \\(30\\) must not exceed max_length \\(20\\)"),
    (dict(threshold=-1.0), "threshold: must be > 0, got -1.0"),
    (dict(lr=-0.1), "lr: must be > 0"),
    (dict(reg_weight=float("nan")), "reg_weight: expected a finite number"),
    (dict(hidden=0), "hidden: must be >= 1"),
    (dict(batch=0), "batch: must be >= 1"),
    (dict(dtype="float16"), "dtype: must be one of 'float32', 'float64'"),
    (dict(task="mem", task_params={"n_bits": 3}), "unknown parameter"),
])
def test_bad_configs_raise_config_error(changes, message):
    with pytest.raises(ConfigError, match=message):
        train_runs([run(**changes)])


def test_every_declared_setting_is_checked_by_its_rule():
    from rnnbook.synthetic.runs import RUN_SETTINGS

    assert set(RUN_SETTINGS) >= {"lr", "threshold", "reg_weight", "max_updates", "dtype", "safety_net"}
    bad = {"lr": 0.0, "threshold": 0.0, "reg_weight": -0.5, "batch": 0, "hidden": 0, "max_updates": 0,
           "check_every": 0, "n_valid": 0, "valid_chunk": 0, "success_error": 1.5, "init_variant": "mine",
           "safety_net": 1, "track_omega": "yes", "dtype": "float16"}
    assert set(bad) == set(RUN_SETTINGS), "a new setting needs a bad value here"
    for name, value in bad.items():
        with pytest.raises(ConfigError, match=name):
            run(**{name: value}).validate()
        RUN_SETTINGS[name].check(getattr(run(), name))  # the defaults pass


def test_bad_max_parallel():
    with pytest.raises(ConfigError, match="max_parallel"):
        train_runs([run()], max_parallel=0)


def test_the_loop_hooks_see_every_update_and_a_grad_transform_replaces_algorithm_1():
    """Ensemble's hooks: on_update once per batched update; a grad_transform that is Algorithm 1
    written out changes no number; until='cap' trains a solved run on to its cap."""
    configs = [run(seed=1), run(seed=2, method="msgd_cr", lr=0.05)]
    seen, calls = [], []

    def by_hand(grads, params, threshold):
        calls.append(1)
        return clip_grad_norm_(grads, threshold)

    hooks = Hooks(on_update=lambda stats: seen.append(stats.grad_norm.clone()), grad_transform=by_hand)
    ensemble = Ensemble(configs[0].make_task(), list(enumerate(configs)), 2, "cpu", hooks)
    results = ensemble.run()
    assert len(seen) == len(calls) == 30 and all(s.shape == (2,) for s in seen)
    for config, result in zip(configs, train_runs(configs)):
        same_curves(results[configs.index(config)], result)
    easy = run(seed=0, max_updates=40, success_error=1.0)  # every check succeeds
    assert train_runs([easy])[0].updates == 10
    capped = Ensemble(easy.make_task(), [(0, easy)], 1, "cpu", until="cap").run()[0]
    assert capped.updates == 40 and capped.first_success_update == 10
