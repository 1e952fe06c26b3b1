"""Chapter 4.4's modern baseline (rnnbook.studies.modern): Adam as a grad_transform, the LSTM's
forget-gate bias, the study's file and its resumption, the command's errors."""

import math

import pytest
import torch

from rnnbook.engine.clipping import clip_grad_norm_
from rnnbook.engine.update import sgd_step_
from rnnbook.paper.model import Params
from rnnbook.studies import modern
from rnnbook.studies.lstm import LSTMClassifier, set_forget_bias_, train_lstm
from rnnbook.synthetic.experiments import get_experiment
from rnnbook.synthetic.training import Ensemble

SHAPES = [(2, 4), (4, 4), (4,), (4, 3), (3,)]


def _params(E, scale=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return Params(*(scale * torch.randn(E, *s, generator=gen, dtype=torch.float64) for s in SHAPES))


def _inf(E):
    return torch.full((E,), math.inf, dtype=torch.float64)


def test_adam_transform_then_the_engines_sgd_step_is_torch_adam():
    E, lr = 3, 1e-3
    params = _params(E)
    ref = [t.clone().requires_grad_(True) for t in params.tensors()]
    opt = torch.optim.Adam(ref, lr=lr)  # PyTorch's defaults: betas 0.9/0.999, eps 1e-8
    adam = modern.Adam(modern.ADAM["betas"], modern.ADAM["eps"])
    for k in range(6):
        grads = _params(E, scale=10.0 ** (k - 2), seed=k + 1)  # norms over five decades
        for r, g in zip(ref, grads.tensors()):
            r.grad = g.clone()
        opt.step()
        adam(grads, params, _inf(E))
        sgd_step_(params, grads, torch.full((E,), lr, dtype=torch.float64))
        for mine, theirs in zip(params.tensors(), ref):
            torch.testing.assert_close(mine, theirs.detach(), rtol=1e-12, atol=1e-15)


def test_clipping_comes_before_adam_and_reports_the_raw_norm():
    E = 2
    grads, params = _params(E, scale=30.0, seed=5), _params(E)
    clipped_first = grads.clone()
    raw_norm, _ = clip_grad_norm_(clipped_first, torch.ones(E, dtype=torch.float64))
    plain = modern.Adam()
    plain(clipped_first, params, _inf(E))
    norm, was = modern.Adam()(grads, params, torch.ones(E, dtype=torch.float64))
    torch.testing.assert_close(norm, raw_norm)
    assert bool(was.all())
    for a, b in zip(grads.tensors(), clipped_first.tensors()):
        torch.testing.assert_close(a, b)


def test_adam_state_follows_members_that_leave():
    held = [0, 1, 2]
    shared = modern.Adam(members=lambda: held)
    alone = [modern.Adam() for _ in range(3)]
    params = _params(3)
    for k in range(4):
        if k == 2:
            held[:] = [0, 2]  # run 1 solved and left its slot
        grads = _params(len(held), seed=10 + k)
        mine = grads.clone()
        shared(mine, params.select(list(range(len(held)))), _inf(len(held)))
        for slot, run in enumerate(held):
            one = grads.select([slot])
            alone[run](one, params.select([slot]), _inf(1))
            for a, b in zip(mine.select([slot]).tensors(), one.tensors()):
                torch.testing.assert_close(a, b)
    held[:] = [0, 2, 7]
    with pytest.raises(modern.ConfigError, match="join"):
        shared(_params(3), params, _inf(3))


def test_forget_bias_makes_the_summed_forget_bias_one_and_leaves_the_rest():
    torch.manual_seed(4)
    default = LSTMClassifier(2, 50, 2)
    torch.manual_seed(4)
    opened = LSTMClassifier(2, 50, 2)
    set_forget_bias_(opened.lstm, 1.0)
    H = 50
    total = opened.lstm.bias_ih_l0[H:2 * H] + opened.lstm.bias_hh_l0[H:2 * H]
    assert torch.equal(total, torch.ones(H))
    for name in ("bias_ih_l0", "bias_hh_l0"):
        a, b = getattr(default.lstm, name), getattr(opened.lstm, name)
        assert torch.equal(torch.cat([a[:H], a[2 * H:]]), torch.cat([b[:H], b[2 * H:]]))
    assert torch.equal(default.lstm.weight_hh_l0, opened.lstm.weight_hh_l0)


def test_train_lstm_refuses_an_unknown_optimizer():
    with pytest.raises(modern.ConfigError, match="optimizer"):
        train_lstm(10, 0, 1, optimizer="rmsprop")


@pytest.mark.parametrize("row", ["rnn_adam", "rnn_adam_c"])
def test_rnn_rows_start_from_fig7s_weights(row):
    """Same seed, init and length: the same initial weights as Fig. 7's run (and the same stream)."""
    ours = modern.rnn_config(row, 50, 3, modern.PROTOCOLS["paper"])
    fig7 = next(c for c in get_experiment("temporal_order").runs("paper")
                if c.init == "basic_tanh" and c.method == ours.method and c.min_length == 50 and c.seed == 3)
    assert (ours.lr, ours.effective_threshold) == (1e-3, math.inf if row == "rnn_adam" else 1.0)
    a = Ensemble(ours.make_task(), [(0, ours)], 1, "cpu").params
    b = Ensemble(fig7.make_task(), [(0, fig7)], 1, "cpu").params
    assert all(torch.equal(x, y) for x, y in zip(a.tensors(), b.tensors()))


TINY = {"lengths": [10], "seeds": [0, 1], "cap": 20, "check_every": 10, "n_valid": 100, "hidden": 8, "batch": 4,
        "success_error": 0.01}


def test_the_study_file_and_resumption_skip_finished_groups(tmp_path, monkeypatch):
    monkeypatch.setitem(modern.PROTOCOLS, "tiny", TINY)
    said = []
    study = modern.run_study("tiny", tmp_path, say=said.append)
    assert [(g["row"], g["length"]) for g in study["groups"]] == [(r, 10) for r in modern.ROWS]
    for group in study["groups"]:
        assert [r["seed"] for r in group["runs"]] == [0, 1]
        for r in group["runs"]:
            assert r["outcome"] in ("solved", "censored", "diverged")
            assert r["updates"] <= 20 and r["checks"] == [10, 20][:len(r["checks"])]
            assert len(r["valid_error"]) == len(r["checks"]) and r["grad_norm_max"] > 0
    again = modern.run_study("tiny", tmp_path, say=said.append)
    assert len(said) == 3  # the second sitting trained nothing
    assert again["groups"] == modern.read_study(modern.results_path(tmp_path, "tiny"))["groups"] == study["groups"]
    assert len(again["sessions"]) == 2 and again["sessions"][0]["code"]["rnnbook"]


@pytest.mark.parametrize("argv, words", [(["--budget", "soon"], "--budget"), (["--protocol", "nope"], "nope"),
                                         (["--colour"], "unrecognized")])
def test_bad_input_is_one_line(argv, words, capsys, tmp_path):
    assert modern.main([*argv, "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnbook: error:") and words in err
    assert not (tmp_path / "modern_baseline").exists()


def test_the_page_reads_fisher_as_conditional_on_the_total_and_counts_at_the_cap():
    from rnnbook.book import modern_plots as mp

    assert mp.rejectable_splits(5, 5, 5) == [(0, 5), (5, 0)] and mp.rejectable_splits(5, 5, 10) == []
    study = {"groups": [{"row": "rnn_adam", "length": 50, "runs": [
        {"first_success_update": 4000, "outcome": "solved", "updates": 4000},
        {"first_success_update": None, "outcome": "diverged", "updates": 6000},
        {"first_success_update": None, "outcome": "censored", "updates": 10_000}]}]}
    c = mp.modern_counts(study, 10_000)[("rnn_adam", 50)]
    assert (c.n, c.solved, c.diverged, c.censored, c.median) == (3, 1, 1, 1, 4000)
    assert mp.modern_counts(study, 3000)[("rnn_adam", 50)].solved == 0
    both = {("rnn_adam", 50): mp.Count(5, 5), ("msgd", 50): mp.Count(5, 5)}
    row = mp.comparison_rows(both, [("rnn_adam", "msgd", "the optimizer")], [50, 100])
    assert row[0]["reading"].startswith("uninformative") and row[1]["reading"] == "not run"
