"""The natural problems of §4.2 (rnnbook.natural.task, .data, .state, .training, .results): the engine's per-step
Bernoulli read-out against the reference model, minibatches and scores against their definitions,
the summed-to-mean cost conversion, and resuming a Table 1 run bit for bit."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnbook.engine.batched import loss_and_grads
from rnnbook.engine.clipping import clip_grad_norm_
from rnnbook.errors import ConfigError
from rnnbook.natural.data import Data
from rnnbook.natural.data import load_data as nt_load_data
from rnnbook.natural.experiments import EXPERIMENTS, NaturalConfig, get_experiment
from rnnbook.natural.results import table_entry, without_provenance
from rnnbook.natural.task import (
    SequenceTask,
    epoch_plan,
    evaluate,
    generate,
    make_batch,
    mean_cost_settings,
    piece_chunks,
    piece_plan,
    sequences_of,
    windows,
)
from rnnbook.natural.training import train_natural
from rnnbook.paper import reference as R
from rnnbook.paper.model import init_params

torch.set_num_threads(1)
ENGINE_NAMES = {"W_rec": "W_hh", "W_in": "W_uh", "b": "b_h", "W_out": "W_hy", "b_out": "b_y"}


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def music_stream(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 88)) < 0.06).astype(np.uint8)


def params_for(task, hidden=12, models=3, dtype=torch.float64, noise=0.3):
    gens = [torch.Generator().manual_seed(e) for e in range(models)]
    p = init_params("sigmoid", task.n_in, hidden, task.n_out, gens, dtype=dtype)
    g = torch.Generator().manual_seed(5)
    return p.map(lambda t: t + noise * torch.randn(t.shape, generator=g, dtype=t.dtype))


# -- the Bernoulli read-out ---------------------------------------------------------------------


@pytest.mark.parametrize("reg", [None, [0.0, 2.0, 0.5]])
def test_bernoulli_pass_equals_reference(reg):
    """Loss, the five gradients and Omega of the engine's per-step Bernoulli read-out, model by model."""
    task = SequenceTask.music()
    stream = music_stream()
    p = params_for(task)
    batch = make_batch(task, stream, np.array([3, 50, 120, 300]), 3, 20, torch.float64)
    reg_t = None if reg is None else torch.tensor(reg, dtype=torch.float64)
    got = loss_and_grads(p, "sigmoid", task, batch, reg_weight=reg_t)
    for e in range(3):
        net, u, target = R.from_engine(p, batch, e, "sigmoid")
        loss, grads, omega = R.loss_and_grads(net, u, target, "bernoulli", None if reg is None else reg[e])
        assert rel_err(got.loss[e], loss) < 1e-12
        for name, g in grads.items():
            mine = getattr(got.grads, ENGINE_NAMES[name])[e]
            assert rel_err(mine, g.T if g.dim() == 2 else g) < 1e-12, name
        if reg is not None:
            assert rel_err(got.omega[e], omega) < 1e-12


def test_bernoulli_loss_is_the_negative_log_likelihood_per_step():
    """Against torch's own binary cross-entropy: summed over the 88 keys, averaged over steps x batch."""
    task = SequenceTask.music()
    p = params_for(task, models=1)
    batch = make_batch(task, music_stream(), np.array([0, 100]), 1, 15, torch.float64)
    got = loss_and_grads(p, "sigmoid", task, batch)
    logits = got.output[0]  # (T, B, 88)
    want = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch.target[0], reduction="sum") / (15 * 2)
    assert abs(got.loss[0].item() - want.item()) < 1e-12


def test_engine_gradient_matches_finite_differences_on_text():
    """The per-step softmax read-out with a target 5 characters ahead: d loss / d W_hh by central differences."""
    task = SequenceTask.text(7, ahead=5)
    ids = np.random.default_rng(1).integers(0, 7, 400).astype(np.uint8)
    p = params_for(task, hidden=6, models=1)
    batch = make_batch(task, ids, np.array([0, 37, 211]), 1, 12, torch.float64)
    got = loss_and_grads(p, "sigmoid", task, batch)
    eps = 1e-6
    for i, j in [(0, 0), (2, 5), (4, 1)]:
        plus, minus = p.clone(), p.clone()
        plus.W_hh[0, i, j] += eps
        minus.W_hh[0, i, j] -= eps
        fd = (loss_and_grads(plus, "sigmoid", task, batch).loss - loss_and_grads(minus, "sigmoid", task, batch).loss) / (2 * eps)
        assert abs(fd.item() - got.grads.W_hh[0, i, j].item()) < 1e-7


# -- minibatches and scores ---------------------------------------------------------------------


def test_make_batch_follows_its_definition():
    task = SequenceTask.text(10, ahead=5)
    ids = np.arange(300, dtype=np.uint8) % 10
    starts = np.array([4, 100])
    b = make_batch(task, ids, starts, 2, 8, torch.float32)
    assert b.u.shape == (2, 8, 2, 10) and b.target.shape == (2, 8, 2)
    for k, s in enumerate(starts):
        assert b.u[1, :, k].argmax(-1).tolist() == ids[s:s + 8].tolist()
        assert b.target[0, :, k].tolist() == ids[s + 5:s + 13].tolist()
    assert torch.equal(b.u[0], b.u[1])  # every method sees the same data


def test_epoch_plan_is_reproducible_and_covers_each_window_once():
    n, T, ahead, B = 1000, 30, 5, 4
    a, b = epoch_plan(n, T, ahead, B, seed=3, epoch=2), epoch_plan(n, T, ahead, B, seed=3, epoch=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, epoch_plan(n, T, ahead, B, seed=3, epoch=3))
    starts = a.ravel()
    assert len(set(starts.tolist())) == len(starts)
    assert (starts + T + ahead <= n).all()
    offset = starts.min() % T
    assert set((starts - offset) % T) == {0}  # one grid of non-overlapping windows
    assert len(starts) == (len(windows(n, T, ahead, int(offset))) // B) * B


def test_too_short_a_stream_is_a_clear_error():
    with pytest.raises(ConfigError, match="no window"):
        windows(10, 20, 1)
    with pytest.raises(ConfigError, match="no minibatch"):
        epoch_plan(100, 20, 1, 50, 0, 1)


def test_evaluate_equals_the_training_cost_on_the_same_windows():
    """Scoring whole sequences from h_0 = 0 gives the engine's cost when the sequences are its windows."""
    task = SequenceTask.music()
    stream = music_stream()
    p = params_for(task)
    starts = np.array([7, 90, 250])
    T = 25
    batch = make_batch(task, stream, starts, 3, T, torch.float64)
    cost = loss_and_grads(p, "sigmoid", task, batch).loss
    seqs = [stream[s:s + T + 1] for s in starts]  # T inputs and T targets each
    assert torch.allclose(evaluate(p, "sigmoid", task, seqs), cost, rtol=1e-12, atol=0)


def test_evaluate_text_columns_and_unequal_lengths():
    task = SequenceTask.text(5)
    ids = np.random.default_rng(0).integers(0, 5, 203).astype(np.uint8)
    cols = sequences_of(task, ids, 4)
    assert [len(c) for c in cols] == [50] * 4 and np.array_equal(np.concatenate(cols), ids[:200])
    p = params_for(task, models=2)
    together = evaluate(p, "sigmoid", task, [ids[:30], ids[30:90]], group=2)
    alone = [evaluate(p, "sigmoid", task, [s]) for s in (ids[:30], ids[30:90])]
    # a mean over all predictions: 29 from the first sequence, 59 from the second
    assert torch.allclose(together, (alone[0] * 29 + alone[1] * 59) / 88, rtol=1e-12)


def test_summed_cost_settings_take_the_same_step():
    """SGD + clipping on T x cost with (lr, c) moves exactly as on the mean cost with (lr T, c / T)."""
    task = SequenceTask.text(9)
    ids = np.random.default_rng(2).integers(0, 9, 500).astype(np.uint8)
    p = params_for(task, models=1)
    T, lr, c = 40, 0.01, 0.05
    batch = make_batch(task, ids, np.array([0, 100, 200]), 1, T, torch.float64)
    g_mean = loss_and_grads(p, "sigmoid", task, batch).grads
    g_sum = g_mean.map(lambda g: g * T)
    clip_grad_norm_(g_sum, torch.tensor([c], dtype=torch.float64))
    lr_m, c_m = mean_cost_settings(lr, c, T)
    clip_grad_norm_(g_mean, torch.tensor([c_m], dtype=torch.float64))
    for a, b in zip(g_sum.tensors(), g_mean.tensors()):
        assert torch.allclose(lr * a, lr_m * b, rtol=1e-12, atol=1e-15)


def test_generate_continues_a_prime_reproducibly():
    task = SequenceTask.music()
    p = params_for(task, dtype=torch.float32)
    prime = music_stream(10)
    a = generate(p, 1, "sigmoid", task, prime, 16, torch.Generator().manual_seed(0))
    b = generate(p, 1, "sigmoid", task, prime, 16, torch.Generator().manual_seed(0))
    assert a.shape == (16, 88) and a.dtype == np.uint8 and np.array_equal(a, b)
    text = SequenceTask.text(6)
    out = generate(params_for(text), 0, "sigmoid", text, np.array([1, 2], dtype=np.uint8), 9,
                   torch.Generator().manual_seed(1))
    assert out.shape == (9,) and out.max() < 6
    with pytest.raises(ConfigError):
        generate(params_for(text), 0, "sigmoid", SequenceTask.text(6, 5), np.array([1]), 3, torch.Generator())


# -- runs: resume, train on, refuse other settings ------------------------------------------------


def small_data():
    """Music: synthetic pieces, trained piece by piece (chunks of at most 20 steps)."""
    task = SequenceTask.music()
    rng = np.random.default_rng(0)
    pieces = [(rng.random((int(rng.integers(12, 45)), 88)) < 0.07).astype(np.uint8) for _ in range(24)]
    scored = {"train": sequences_of(task, pieces[:16]), "valid": sequences_of(task, pieces[16:20]),
              "test": sequences_of(task, pieces[20:])}
    return Data(task, np.concatenate(pieces[:16]), scored, {"name": "synthetic"}, None, pieces[:16])


def small_text(ahead=5):
    """Text: one stream of characters, trained in windows."""
    task = SequenceTask.text(7, ahead)
    ids = np.random.default_rng(3).integers(0, 7, 3000).astype(np.uint8)
    scored = {split: sequences_of(task, part, 4) for split, part in
              (("train", ids[:2000]), ("valid", ids[2000:2500]), ("test", ids[2500:]))}
    return Data(task, ids[:2000], scored, {"name": "synthetic"})


CFG = NaturalConfig(hidden=10, seq_len=20, batch=1, epochs=3, lr_msgd=1.0, lr_msgd_c=1.0, lr_msgd_cr=1.0,
                    threshold=0.5, reg_weight=0.5)
TEXT_CFG = NaturalConfig(hidden=10, seq_len=25, batch=8, epochs=3, lr_msgd=0.5, lr_msgd_c=2.0, lr_msgd_cr=2.0,
                         threshold=0.3, reg_weight=0.5)
EXP = get_experiment("music_jsb")


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    data = small_data()
    whole = train_natural(EXP, CFG, tmp_path / "a.json", data=data)
    for stop in (5, 9):  # mid-epoch, twice
        train_natural(EXP, CFG, tmp_path / "b.json", data=data, stop_after_updates=stop)
    resumed = train_natural(EXP, CFG, tmp_path / "b.json", data=data)
    assert json.dumps(without_provenance(whole)) == json.dumps(without_provenance(resumed))
    assert whole["epochs_done"] == 3 and len(whole["history"]) == 9


def test_resumed_text_run_equals_an_uninterrupted_one(tmp_path):
    data, exp = small_text(), get_experiment("text_5ahead")
    whole = train_natural(exp, TEXT_CFG, tmp_path / "a.json", data=data)
    train_natural(exp, TEXT_CFG, tmp_path / "b.json", data=data, stop_after_updates=13)
    resumed = train_natural(exp, TEXT_CFG, tmp_path / "b.json", data=data)
    assert json.dumps(without_provenance(whole)) == json.dumps(without_provenance(resumed))
    assert whole["updates_done"] == sum(r["updates"] for r in whole["history"]) // 3


def test_piece_chunks_cover_every_prediction_once():
    lengths, T, ahead = [5, 20, 21, 47, 2], 20, 1
    chunks = piece_chunks(lengths, T, ahead)
    for i, n in enumerate(lengths):
        mine = chunks[chunks[:, 0] == i]
        covered = [s + k for _, s, steps in mine for k in range(steps)]
        assert covered == list(range(n - ahead))  # each prediction once, in order
        assert (mine[:, 2] <= T).all()
    plan = piece_plan(lengths, T, ahead, seed=1, epoch=4)
    assert sorted(map(tuple, plan)) == sorted(map(tuple, chunks))
    assert np.array_equal(plan, piece_plan(lengths, T, ahead, seed=1, epoch=4))


def test_a_music_piece_is_trained_alone_from_h0():
    """One update's batch is one chunk of one piece: its inputs and targets are that piece's frames."""
    data = small_data()
    row = data.plan(CFG, 1)[0]
    b = data.batch(row, CFG, 3, torch.float64)
    piece, start, steps = (int(x) for x in row)
    p = data.train_pieces[piece]
    assert b.u.shape[1] == steps and torch.equal(b.u[0, :, 0], torch.from_numpy(p[start:start + steps]).double())
    assert torch.equal(b.target[0, :, 0], torch.from_numpy(p[start + 1:start + steps + 1]).double())


def test_music_needs_batch_one():
    cfg = NaturalConfig(**{**CFG.__dict__, "batch": 4})
    with pytest.raises(ConfigError, match="one piece per update"):
        nt_load_data(get_experiment("music_jsb"), cfg)


def test_raising_epochs_trains_on(tmp_path):
    data = small_data()
    longer = NaturalConfig(**{**CFG.__dict__, "epochs": 4})
    whole = train_natural(EXP, longer, tmp_path / "a.json", data=data)
    train_natural(EXP, CFG, tmp_path / "b.json", data=data)
    on = train_natural(EXP, longer, tmp_path / "b.json", data=data)
    assert json.dumps(without_provenance(whole)) == json.dumps(without_provenance(on))


def test_the_three_methods_differ_only_where_they_should(tmp_path):
    data = small_data()
    out = train_natural(EXP, CFG, tmp_path / "a.json", data=data)
    rows = {(r["epoch"], r["method"]): r for r in out["history"]}
    assert rows[(1, "msgd")]["clipped_fraction"] == 0.0  # never clipped
    assert rows[(1, "msgd_c")]["clipped_fraction"] > 0
    assert rows[(2, "msgd_cr")]["reg_weight"] == pytest.approx(0.25)  # 0.5 / epoch
    assert rows[(2, "msgd_c")]["reg_weight"] == 0.0
    # the halving rule: a method's lr halves exactly after an epoch whose validation loss rose
    for m in ("msgd", "msgd_c", "msgd_cr"):
        for t in (2, 3):
            rose = rows[(t - 1, m)]["valid"] > (rows[(t - 2, m)]["valid"] if t > 2 else math.inf)
            assert rows[(t, m)]["lr"] == pytest.approx(rows[(t - 1, m)]["lr"] / (2 if rose else 1))
    best = table_entry(out["history"], "msgd_c")
    assert best["valid"] == min(r["valid"] for r in out["history"] if r["method"] == "msgd_c")


def test_other_settings_are_refused(tmp_path):
    data = small_data()
    train_natural(EXP, CFG, tmp_path / "a.json", data=data, stop_after_updates=2)
    other = NaturalConfig(**{**CFG.__dict__, "threshold": 2.0})
    with pytest.raises(ConfigError, match="threshold"):
        train_natural(EXP, other, tmp_path / "a.json", data=data)


def test_declared_protocols_are_valid_and_text_settings_follow_the_paper():
    for exp in EXPERIMENTS.values():
        for cfg in exp.protocols.values():
            cfg.validate()
    paper = EXPERIMENTS["text_next"].protocols["paper"]
    assert paper.seq_len == 200 and paper.hidden == 500
    assert paper.threshold == pytest.approx(45 / 200)  # [arXiv-2nd]: 45 for the summed cost
    assert (paper.lr_msgd, paper.lr_msgd_c, paper.lr_msgd_cr) == pytest.approx((0.2, 2.0, 10.0))


@pytest.mark.parametrize("args, message", [
    (["natural", "nosuch"], "unknown natural experiment 'nosuch'"),
    (["natural", "text_next", "--protocol", "huge"], "unknown protocol 'huge'"),
    (["natural", "text_next", "--set", "epochs=0"], "epochs: must be >= 1"),
    (["natural", "text_next", "--set", "colour=2"], "unknown setting"),
])
def test_cli_bad_input_is_one_line(args, message, tmp_path):
    r = subprocess.run([sys.executable, "-m", "rnnbook", *args, "--results-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_show_prints_a_natural_results_file(tmp_path):
    train_natural(EXP, CFG, tmp_path / "a.json", data=small_data())
    r = subprocess.run([sys.executable, "-m", "rnnbook", "show", str(tmp_path / "a.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "3 of 3 epochs" in r.stdout and "nats per frame" in r.stdout
    assert sum(line.strip().startswith(("msgd ", "msgd_c ", "msgd_cr ")) for line in r.stdout.splitlines()) == 3


def test_a_results_file_without_its_state_or_of_another_experiment_is_refused(tmp_path):
    data = small_data()
    train_natural(EXP, CFG, tmp_path / "a.json", data=data, stop_after_updates=2)
    (tmp_path / "a.state.pt").rename(tmp_path / "b.state.pt")
    with pytest.raises(ConfigError, match="does not"):
        train_natural(EXP, CFG, tmp_path / "a.json", data=data)
    with pytest.raises(ConfigError, match="state of 'music_jsb'"):
        train_natural(get_experiment("text_next"), CFG, tmp_path / "b.json", data=data)


def test_too_few_characters_for_the_columns_is_a_clear_error():
    with pytest.raises(ConfigError, match="columns"):
        sequences_of(SequenceTask.text(5, 5), np.zeros(30, dtype=np.uint8), 10)


def test_a_diverging_method_is_restored_and_frozen(tmp_path):
    """MSGD with a learning rate near float32's largest number overflows its weights; it is put back to
    its epoch's start and trains no more, while the other two go on. (A merely large rate does not do
    it: sigmoid units saturate and the loss stays finite, if huge.)"""
    data = small_text()
    cfg = NaturalConfig(**{**TEXT_CFG.__dict__, "lr_msgd": 3e38, "epochs": 2})
    out = train_natural(get_experiment("text_5ahead"), cfg, tmp_path / "a.json", data=data)
    rows = {(r["epoch"], r["method"]): r for r in out["history"]}
    assert rows[(1, "msgd")]["diverged_now"] and rows[(2, "msgd")]["frozen"]
    assert all(math.isfinite(rows[(2, m)]["valid"]) for m in ("msgd", "msgd_c", "msgd_cr"))
    assert not rows[(2, "msgd_c")]["frozen"]
    assert rows[(2, "msgd")]["valid"] == rows[(1, "msgd")]["valid"]  # frozen: not a bit changed


def test_training_still_offers_the_names_callers_import_from_it():
    """cli, campaign, verdicts, book and the chapters import these from rnnbook.natural.training,
    where they lived before it was split into data, state, results and the loop: the same objects."""
    from rnnbook.natural import data, results, state, training

    for module, names in ((data, ["Data", "load_data"]),
                          (state, ["FORMAT", "TrainState", "state_path", "best_params"]),
                          (results, ["json_of", "format_natural", "is_natural", "table_entry", "without_provenance"])):
        for name in names:
            assert getattr(training, name) is getattr(module, name), name
            assert name in training.__all__, name
