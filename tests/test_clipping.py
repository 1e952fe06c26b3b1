"""Algorithm 1 (gradient norm clipping) per model, and the code's safety net."""

import math

import torch

from rnnbook.clipping import apply_safety_net_, clip_grad_norm_, grad_norm
from rnnbook.model import Params

torch.set_num_threads(1)


def random_grads(E=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(E, 2, 4), (E, 4, 4), (E, 4), (E, 4, 3), (E, 3)]
    return Params(*(torch.randn(s, generator=g, dtype=torch.float64) for s in shapes))


def flat(p, e):
    return torch.cat([t[e].flatten() for t in p.tensors()])


def test_norm_is_joint_over_all_parameters():
    grads = random_grads()
    for e in range(3):
        torch.testing.assert_close(grad_norm(grads)[e], flat(grads, e).norm())


def test_clipping_caps_norm_keeps_direction_and_acts_per_model():
    grads = random_grads()
    before = grads.clone()
    norms = grad_norm(grads)
    threshold = torch.tensor([norms[0] / 2, norms[1] * 2, math.inf], dtype=torch.float64)
    norm, clipped = clip_grad_norm_(grads, threshold)
    torch.testing.assert_close(norm, norms)
    assert clipped.tolist() == [True, False, False]
    torch.testing.assert_close(flat(grads, 0).norm(), threshold[0])
    cosine = torch.dot(flat(grads, 0), flat(before, 0)) / (flat(grads, 0).norm() * flat(before, 0).norm())
    torch.testing.assert_close(cosine, torch.tensor(1.0, dtype=torch.float64))
    for e in (1, 2):  # below threshold / infinite threshold: untouched
        assert torch.equal(flat(grads, e), flat(before, e))


def test_strict_comparison_like_the_code():
    grads = random_grads(E=1)
    norm = grad_norm(grads)
    _, clipped = clip_grad_norm_(grads, norm.clone())
    assert not clipped.item()


def test_safety_net_replaces_unusable_updates():
    grads = random_grads()
    params = random_grads(seed=1)
    grads.W_uh[1, 0, 0] = float("nan")
    grads.b_y[2, 0] = 1e11
    norm, _ = clip_grad_norm_(grads, torch.full((3,), 1.0, dtype=torch.float64))
    kept = flat(grads, 0).clone()
    bad = apply_safety_net_(grads, params, norm)
    assert bad.tolist() == [False, True, True]
    assert torch.equal(flat(grads, 0), kept)
    for e in (1, 2):
        torch.testing.assert_close(grads.W_hh[e], 0.02 * params.W_hh[e])
        assert (grads.W_uh[e] == 0).all() and (grads.b_y[e] == 0).all()
