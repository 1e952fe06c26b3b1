"""Chapter 3's small runs: the single-run trainer equals the engine, and each remedy does what it says."""


import pytest
import torch

from rnnbook.errors import ConfigError
from rnnbook.methods import EXTRA_METHODS, METHODS
from rnnbook.paper.model import init_params
from rnnbook.studies import baselines, lstm
from rnnbook.studies.baselines import (
    autonomous_endpoints,
    clip_by_norm,
    clip_elementwise,
    cosine,
    error_clipping_directions,
    error_signal_norms,
    flatten,
    spike_statistics,
    train_trajectory,
    validation_error,
)
from rnnbook.studies.lstm import LSTMClassifier, lstm_study, train_lstm
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.training import train_runs

SMALL = dict(task="torder", init="basic_tanh", hidden=8, batch=4, n_valid=60, valid_chunk=30, dtype="float64",
             min_length=10, max_length=14, seed=1, max_updates=30, check_every=10)


def cfg(**changes):
    return RunConfig(**{**SMALL, "method": "msgd_c", **changes})


@pytest.mark.parametrize("method", ["msgd", "msgd_c", "msgd_cr", "msgd_r"])
def test_trajectory_equals_the_engine(method):
    config = cfg(method=method, threshold=0.5)
    engine = train_runs([config])[0]
    traj = train_trajectory(config, snapshot_every=10)
    assert traj.snapshot_updates == [0, 10, 20, 30]
    for i in range(3):
        part = slice(10 * i, 10 * (i + 1))
        assert float(traj.loss[part].mean()) == pytest.approx(engine.curves["train_loss"][i], rel=1e-12)
        assert float(traj.grad_norm[part].mean()) == pytest.approx(engine.curves["grad_norm"][i], rel=1e-12)
        assert float(traj.clipped[part].mean()) == pytest.approx(engine.curves["clip_fraction"][i], abs=1e-12)
    sigma = torch.linalg.matrix_norm(traj.final.W_hh[0], ord=2)
    assert float(sigma) == pytest.approx(engine.curves["sigma_max"][-1], rel=1e-9)
    if method in ("msgd", "msgd_r"):
        assert float(traj.clipped.sum()) == 0  # no clipping
    if method in ("msgd_cr", "msgd_r"):
        assert torch.isfinite(traj.omega).all()


def test_msgd_r_is_msgd_cr_without_clipping():
    """With a threshold no gradient reaches, MSGD-CR and MSGD-R make the same updates."""
    a = train_trajectory(cfg(method="msgd_cr", threshold=1e30))
    b = train_trajectory(cfg(method="msgd_r", threshold=0.01))
    torch.testing.assert_close(a.final.W_hh, b.final.W_hh, rtol=0, atol=0)
    c = train_trajectory(cfg(method="msgd_cr", threshold=0.01))
    assert not torch.equal(c.final.W_hh, b.final.W_hh)


def test_l2_penalty_adds_its_gradient_and_shrinks_w_hh():
    config = cfg(method="msgd", max_updates=1)
    plain = train_trajectory(config, keep_grads=True)
    pen = train_trajectory(config, l2=0.5, keep_grads=True)
    W0 = flatten(plain.snapshots[0])
    n_uh = SMALL["hidden"] * 6
    diff = pen.grads[0] - plain.grads[0]
    H = SMALL["hidden"]
    torch.testing.assert_close(diff[n_uh:n_uh + H * H], 0.5 * W0[n_uh:n_uh + H * H])
    assert float(diff[:n_uh].abs().max()) == 0 and float(diff[n_uh + H * H:].abs().max()) == 0
    strong = train_trajectory(cfg(method="msgd", max_updates=200, lr=0.05), l2=5.0)
    assert float(torch.linalg.matrix_norm(strong.final.W_hh[0], ord=2)) < 0.5 * float(
        torch.linalg.matrix_norm(strong.snapshots[0].W_hh[0], ord=2))


def test_clipping_rules_on_vectors():
    g = torch.tensor([3.0, -4.0, 0.1], dtype=torch.float64)
    n = clip_by_norm(g, 1.0)
    assert float(n.norm()) == pytest.approx(1.0) and cosine(n, g) == pytest.approx(1.0)
    e = clip_elementwise(g, 1.0)
    assert e.tolist() == [1.0, -1.0, 0.1]
    assert cosine(e, g) < 0.99  # the direction changes
    assert torch.equal(clip_by_norm(g, 10.0), g)


def test_elementwise_training_clamps_each_component():
    traj = train_trajectory(cfg(method="msgd_c", threshold=0.01, max_updates=1), clip="elementwise", keep_grads=True)
    assert traj.clipped.sum() == 1
    step = (flatten(traj.snapshots[0]) - flatten(traj.snapshots[1])) / 0.01  # lr 0.01
    torch.testing.assert_close(step, clip_elementwise(traj.grads[0], 0.01))
    assert cosine(step, traj.grads[0]) < 0.999


def test_msgd_r_is_not_one_of_the_papers_methods():
    assert "msgd_r" not in METHODS and "msgd_r" in EXTRA_METHODS
    assert cfg(method="msgd_r").group_key() == cfg(method="msgd_cr").group_key()  # both compute Omega
    with pytest.raises(ConfigError):
        cfg(method="msgd_x").validate()


def test_contraction_has_one_endpoint_and_a_strong_matrix_has_more():
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    params = init_params("basic_tanh", 6, 10, 4, gens, dtype=torch.float64)
    params.W_hh[0] *= 0.5 / torch.linalg.matrix_norm(params.W_hh[0], ord=2)  # lambda_1 = 0.5: contraction
    params.W_hh[1] = 3.0 * torch.eye(10, dtype=torch.float64)  # each unit bistable: 2^10 attractors
    counts = autonomous_endpoints(params, "tanh", n_starts=64)
    assert counts[0] == 1 and counts[1] > 20


def test_validation_error_and_error_signals_shapes():
    config = cfg()
    params = init_params("basic_tanh", 6, 8, 4, [torch.Generator().manual_seed(0)], dtype=torch.float64)
    err = validation_error(params, config, 200)
    assert err.shape == (1,) and 0.4 < float(err[0]) < 1.0  # untrained: near chance (3/4 wrong)
    dh, dx, h = error_signal_norms(params, config, length=12, batch=7)
    assert dh.shape == dx.shape == (1, 12, 7) and h.shape == (1, 12, 7, 8)
    assert bool((dx <= dh + 1e-15).all())  # |tanh'| <= 1


def test_lstm_trains_and_records_norms():
    run = train_lstm(10, seed=0, updates=60, hidden=8, check_every=30, n_valid=100, lr=0.1)
    assert run.grad_norm.shape == (60,) and torch.isfinite(run.grad_norm).all()
    assert run.checks == [30, 60] and len(run.valid_error) == 2
    clipped = train_lstm(10, seed=0, updates=5, hidden=8, threshold=1e-6, check_every=100, lr=0.1)
    assert torch.isfinite(clipped.grad_norm).all()
    with pytest.raises(ConfigError):
        train_lstm(10, seed=0, updates=5, task="add")
    assert isinstance(run.model, LSTMClassifier)


def test_spike_statistics_finds_spikes():
    x = torch.ones(400, dtype=torch.float64)
    x[[150, 300]] = 50.0
    s = spike_statistics(x)
    assert s["spikes"] == 2 and s["max_over_median"] == pytest.approx(50.0)
    assert spike_statistics(torch.ones(400, dtype=torch.float64))["spikes"] == 0


def test_the_lstm_names_are_importable_from_baselines_too():
    """The chapters and older code import the LSTM study from rnnbook.studies.baselines (its home: rnnbook.studies.lstm)."""
    for name in ("LSTM_STUDY", "LSTMClassifier", "LSTMRun", "lstm_study", "train_lstm"):
        assert getattr(baselines, name) is getattr(lstm, name)


def test_lstm_study_writes_every_run(tmp_path):
    spec = {"length": 10, "seeds": [0, 1], "updates": 20, "lr": 0.1, "hidden": 4, "batch": 4,
            "thresholds": [None, 1.0], "check_every": 10, "n_valid": 20, "success_error": 0.01}
    data = lstm_study(spec)
    assert [(r["seed"], r["threshold"]) for r in data["runs"]] == [(0, None), (1, None), (0, 1.0), (1, 1.0)]
    assert all(len(r["grad_norm"]) == 20 and r["checks"] == [10, 20] for r in data["runs"])
    # same seed, same data and initial weights: the first update's gradient is the same with or without clipping
    assert data["runs"][0]["grad_norm"][0] == data["runs"][2]["grad_norm"][0]


def test_error_clipping_directions_against_the_true_gradient():
    cfg = RunConfig(task="torder", init="basic_tanh", method="msgd_c", min_length=12, max_length=12, seed=0,
                    hidden=6, max_updates=1, check_every=1)
    task = cfg.make_task()
    snaps = [init_params("basic_tanh", task.n_in, 6, task.n_out, [torch.Generator().manual_seed(s)]) for s in (0, 1)]
    out = error_clipping_directions(snaps, cfg, [1e9, 1e-6])
    assert not out["modified"][0].any() and out["modified"][1].all()
    torch.testing.assert_close(out["cosine"][0], torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(out["slope"][0], -out["norm"] ** 2)             # no clamping: the gradient itself
    assert (out["cosine"][1] < 1 - 1e-9).all()                                 # clamping every error turns it
