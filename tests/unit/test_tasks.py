"""The synthetic tasks match fact sheet §9 (the authors' generators)."""

import pytest
import torch

from rnnbook.errors import ConfigError
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import TASK_NAMES, errors, get_task, sample_length

torch.set_num_threads(1)


def gens(*seeds):
    """One fresh stream per seed."""
    return [Stream(s) for s in seeds]


def symbols(u):
    """(E, T, B) argmax channel, -1 where the input is all zero (padding)."""
    return torch.where(u.sum(-1) > 0, u.argmax(-1), -1)


def test_sample_length_uniform_on_half_open_range():
    g = gens(0)[0]
    draws = {sample_length(g, 50, 55) for _ in range(500)}
    assert draws == {50, 51, 52, 53, 54}
    assert sample_length(g, 7, 7) == 7
    with pytest.raises(ConfigError, match="min_length"):
        sample_length(g, 8, 7)


@pytest.mark.parametrize("name,n_bits", [("torder", 2), ("torder3", 3)])
def test_temporal_order_positions_and_labels(name, n_bits):
    task = get_task(name)
    L, B = 100, 500
    b = task.sample(gens(1), B, [L])
    s = symbols(b.u)[0]  # (T, B)
    assert b.u.shape == (1, L, B, 6) and task.n_out == 2**n_bits
    windows = [(10, 20), (50, 60)] if n_bits == 2 else [(10, 20), (30, 40), (60, 70)]
    relevant = s < 2
    assert (relevant.sum(0) == n_bits).all()  # exactly one A/B per window, distractors elsewhere
    label = torch.zeros(B, dtype=torch.long)
    for bit, (lo, hi) in enumerate(windows):
        inside = relevant[lo:hi]
        assert (inside.sum(0) == 1).all()
        pos = inside.float().argmax(0) + lo
        label += s[pos, torch.arange(B)] << bit  # first symbol is the low bit
    assert torch.equal(label, b.target[0])
    assert set(s[~relevant].unique().tolist()) == {2, 3, 4, 5}
    assert set(b.target[0].unique().tolist()) == set(range(2**n_bits))


@pytest.mark.parametrize("name", ["add", "mul"])
def test_arithmetic_lengths_markers_and_targets(name):
    task = get_task(name)
    T, B = 100, 50
    seen_lengths = set()
    for seed in range(40):
        b = task.sample(gens(seed), B, [T])
        u, L = b.u[0], b.u.shape[1]
        seen_lengths.add(L)
        marker, value = u[..., 0], u[..., 1]
        assert (marker.sum(0) == 2).all()
        first = marker.argmax(0)
        second = L - 1 - marker.flip(0).argmax(0)
        assert (first < int(0.1 * L)).all() and (second >= int(0.1 * L)).all() and (second < int(0.5 * L)).all()
        assert (value >= 0).all() and (value < 1).all()
        a, c = value[first, torch.arange(B)], value[second, torch.arange(B)]
        expected = (a + c) / 2 if name == "add" else a * c
        torch.testing.assert_close(b.target[0, :, 0], expected)
    assert min(seen_lengths) >= T and max(seen_lengths) < 110 and len(seen_lengths) > 3


def test_permutation_first_symbol_is_target():
    task = get_task("perm")
    b = task.sample(gens(3), 200, [30])
    s = symbols(b.u)[0]
    assert b.u.shape == (1, 30, 200, 100)
    assert torch.equal(s[0], b.target[0]) and set(b.target[0].tolist()) == {0, 1}
    assert (s[1:] >= 2).all() and (s[1:] <= 99).all()


@pytest.mark.parametrize("n_values,n_pos", [(5, 10), (2, 5)])
def test_memorization_layout(n_values, n_pos):
    task = get_task("mem", n_values=n_values, n_pos=n_pos)
    T, B = 20, 300
    b = task.sample(gens(4), B, [T])
    s, tgt = symbols(b.u)[0], b.target[0]
    assert b.u.shape == (1, T + 2 * n_pos, B, n_values + 2) and task.n_out == n_values + 1
    blank, trigger = n_values, n_values + 1
    pattern = s[:n_pos]
    assert (pattern < n_values).all()
    assert (s[n_pos:T + n_pos] == blank).all() and (s[T + n_pos] == trigger).all()
    assert (s[T + n_pos + 1:] == blank).all()
    assert (tgt[:T + n_pos] == blank).all() and torch.equal(tgt[T + n_pos:], pattern)
    assert set(pattern.unique().tolist()) == set(range(n_values))


@pytest.mark.parametrize("name", TASK_NAMES)
def test_deterministic_and_independent_streams(name):
    task = get_task(name)
    a = task.sample(gens(5, 6), 8, [20, 30])
    b = task.sample(gens(5, 6), 8, [20, 30])
    assert torch.equal(a.u, b.u) and torch.equal(a.target, b.target)
    alone = task.sample(gens(6), 8, [30])  # model 1 drawn alone: same data, no padding
    s = int(a.start[1])
    assert torch.equal(a.u[1, s:], alone.u[0]) and s == 0
    c = task.sample(gens(7, 6), 8, [20, 30])
    assert not torch.equal(a.u[0, int(a.start[0]):], c.u[0, int(c.start[0]):])


def test_left_padding():
    task = get_task("mem", n_values=2, n_pos=3)
    b = task.sample(gens(1, 2), 4, [10, 20])
    assert b.start.tolist() == [10, 0] and b.lengths.tolist() == [16, 26]
    assert (b.u[0, :10] == 0).all() and (b.u[0, 10:].sum(-1) == 1).all()


def test_errors_criteria():
    add = get_task("add")
    out = torch.tensor([[[0.5], [0.5], [float("nan")]]])
    tgt = torch.tensor([[[0.6], [0.8], [0.5]]])  # squared errors 0.01, 0.09, nan
    assert errors(add, out, tgt, torch.zeros(1, dtype=torch.long)).tolist() == pytest.approx([2 / 3])
    torder = get_task("torder")
    logits = torch.tensor([[[0.0, 1, 0, 0], [1, 0, 0, 0]]])
    assert errors(torder, logits, torch.tensor([[1, 1]]), torch.zeros(1, dtype=torch.long)).tolist() == [0.5]
    mem = get_task("mem", n_values=2, n_pos=1)
    logits = torch.zeros(1, 3, 2, 3)
    logits[0, :, :, 2] = 1  # always predicts blank
    target = torch.tensor([[[0, 0], [2, 2], [2, 1]]])  # step 0 is padding (start=1)
    assert errors(mem, logits, target, torch.tensor([1])).tolist() == [0.5]


def test_bad_task_settings():
    with pytest.raises(ConfigError, match="unknown task 'foo'; choose one of: add, mem, mul, perm, torder, torder3"):
        get_task("foo")
    with pytest.raises(ConfigError, match="takes no parameters"):
        get_task("add", n_pos=3)
    with pytest.raises(ConfigError, match="n_pos"):
        get_task("mem", n_pos=0)
    with pytest.raises(ConfigError, match="needs length >= 10"):
        get_task("torder").sample(gens(0), 2, [5])
    with pytest.raises(ConfigError, match="batch"):
        get_task("perm").sample(gens(0), 0, [5])
