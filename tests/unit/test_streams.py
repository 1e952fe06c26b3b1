"""The per-run random streams (rnnbook.paper.streams): SplitMix64 exactly, drawn for many runs at once."""

import random

import pytest
import torch

from rnnbook.errors import ConfigError
from rnnbook.paper.streams import (
    GAMMA,
    MASK64,
    Draw,
    Stream,
    mix64,
    mix64_,
    splitmix64,
    to_range,
    to_unit,
)
from rnnbook.paper.tasks import get_task


def _bits(x: int) -> int:
    """The int64 with the same bits as the unsigned ``x``."""
    return x - (1 << 64) if x >> 63 else x


def test_splitmix64_published_outputs():
    """SplitMix64 seeded with 1234567: the first outputs every implementation reproduces."""
    expected = [6457827717110365317, 3203168211198807973, 9817491932198370423]
    state, python = 1234567, []
    for _ in range(3):
        state = (state + GAMMA) & MASK64
        python.append(mix64(state))
    assert python == expected
    torch_out = splitmix64(torch.tensor(1234567), torch.arange(3))
    assert [int(v) & MASK64 for v in torch_out] == expected


def test_tensor_mix_equals_python_mix_on_all_kinds_of_bits():
    rng = random.Random(0)
    values = [0, 1, MASK64, 1 << 63, (1 << 63) - 1] + [rng.getrandbits(64) for _ in range(2000)]
    got = mix64_(torch.tensor([_bits(v) for v in values], dtype=torch.int64))
    assert [int(v) & MASK64 for v in got] == [mix64(v) for v in values]


def test_field_keys_vectorised_equal_the_python_hash():
    """Draw.field_keys (what the device draws use) has exactly the bits of hash64(key, field)."""
    rng = random.Random(1)
    keys = [0, 1, MASK64, 1 << 63] + [rng.getrandbits(64) for _ in range(500)]
    draw = Draw(keys)
    for name in ("a", "distractors", "length jitter", "x" * 8, "x" * 9):  # names over 8 bytes are masked
        got = [int(v) & MASK64 for v in draw.field_keys(name)]
        assert got == draw._field_keys(name), name


def test_unit_and_range_conversions():
    z = torch.tensor([0, -1, _bits(1 << 63), 12345], dtype=torch.int64)  # -1: all 64 bits set
    u = to_unit(z)
    assert u[0] == 0 and u[1] == 1 - 2.0**-53 and u[2] == 0.5 and (u < 1).all()
    assert to_range(z, 10).tolist() == [0, 9, 5, 0]
    draws = to_range(splitmix64(torch.tensor(7), torch.arange(200_000)), 10)
    counts = torch.bincount(draws, minlength=10).double()
    assert draws.min() == 0 and draws.max() == 9
    assert ((counts - 20_000).abs() < 5 * (20_000 * 0.9) ** 0.5).all()  # 5 sigma


def test_streams_count_draws_per_purpose():
    a, b = Stream(3), Stream(3)
    keys = [a.next_key("train"), a.next_key("train")]
    assert keys[0] != keys[1] and b.next_key("train") == keys[0]
    b.next_key("valid")  # validating does not move the training data
    assert b.next_key("train") == keys[1]
    assert Stream(4).next_key("train") != keys[0]
    with pytest.raises(ConfigError, match="stream purpose"):
        a.next_key("test")


def test_draw_is_per_run_and_per_field():
    draw = Draw([11, 22, 33])
    index = torch.arange(5).expand(3, 5)
    x = draw.uniform("a", index)
    assert x.shape == (3, 5) and not torch.equal(x[0], x[1])
    assert torch.equal(Draw([22]).uniform("a", index[:1])[0], x[1])  # run 1 alone: same numbers
    assert not torch.equal(draw.uniform("b", index), x)
    time_major = draw.uniform("a", index.T.contiguous(), run_dim=1)
    assert torch.equal(time_major.T, x)
    ints = draw.integers("c", 2, torch.tensor([[3], [5], [9]]), torch.arange(4000).expand(3, 4000))
    for row, high in zip(ints, (3, 5, 9)):
        assert set(row.tolist()) == set(range(2, high))


@pytest.mark.parametrize("name", ["torder", "add", "mem"])
def test_training_data_do_not_depend_on_validation(name):
    task = get_task(name, **({"n_values": 2, "n_pos": 3} if name == "mem" else {}))
    plain, checked = [Stream(5)], [Stream(5)]
    first = task.sample(plain, 4, [20])
    second = task.sample(plain, 4, [20])
    assert torch.equal(task.sample(checked, 4, [20]).u, first.u)
    task.sample(checked, 7, [30], purpose="valid")
    assert torch.equal(task.sample(checked, 4, [20]).u, second.u)
    assert not torch.equal(first.u, second.u)
