"""Algorithm 1 (gradient norm clipping) per model, and the code's safety net."""

import math

import torch

from rnnbook.engine.clipping import apply_safety_net_, clip_grad_norm_, grad_norm
from rnnbook.paper.model import Params

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


# ---- Mikolov's clipping of the back-propagated error, per time step (reference.loss_and_grads_error_clipped)

def _small_net(seed=0, n=4, n_in=2, n_out=3):
    g = torch.Generator().manual_seed(seed)
    from rnnbook.paper import reference as R
    shapes = ((n, n), (n, n_in), (n,), (n_out, n), (n_out,))
    return R.RNN(*(0.8 * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes), "tanh")


def test_error_clipping_without_clamping_is_the_gradient_by_finite_differences():
    from rnnbook.paper import reference as R
    net = _small_net()
    g = torch.Generator().manual_seed(1)
    u = torch.randn(6, 2, 5, generator=g, dtype=torch.float64)        # T = 6 steps, batch 5
    target = torch.randint(0, 3, (5,), generator=g)
    loss, grads, clamped = R.loss_and_grads_error_clipped(net, u, target, "last_softmax", 1e9)
    assert clamped == 0
    eps = 1e-6
    for name in R.NAMES:
        p = net.params()[name]
        for i in range(min(p.numel(), 6)):
            def at(sign):
                q = p.clone().flatten()
                q[i] += sign * eps
                moved = R.RNN(**{**net.params(), name: q.view_as(p)}, act="tanh")
                return float(R.cost(moved, R.run(moved, u), target, "last_softmax"))
            fd = (at(1) - at(-1)) / (2 * eps)
            assert abs(fd - float(grads[name].flatten()[i])) < 1e-7 * (1 + abs(fd)), (name, i)


def test_error_clipping_by_hand_on_one_unit_two_steps():
    # x1 = a u1 + b, h1 = tanh x1; x2 = w h1 + a u2 + b, h2 = tanh x2; y = v h2 + c; E = (y - t)^2
    from rnnbook.paper import reference as R
    w, a, b, v, c, u1, u2, t, cut = 1.5, 0.7, 0.1, 2.0, 0.0, 1.0, -0.5, 3.0, 0.5
    net = R.RNN(*(torch.tensor(x, dtype=torch.float64).reshape(s) for x, s in
                  ((w, (1, 1)), (a, (1, 1)), (b, (1,)), (v, (1, 1)), (c, (1,)))), "tanh")
    u = torch.tensor([u1, u2], dtype=torch.float64).reshape(2, 1, 1)
    target = torch.tensor([[t]], dtype=torch.float64)
    h1 = math.tanh(a * u1 + b)
    h2 = math.tanh(w * h1 + a * u2 + b)
    y = v * h2 + c
    z2 = 2 * (y - t) * v * (1 - h2**2)             # about -3.4: clamped to -0.5
    z2c = max(-cut, min(cut, z2))
    z1 = w * z2c * (1 - h1**2)                      # computed from the clamped z2
    z1c = max(-cut, min(cut, z1))
    assert abs(z2) > cut                            # the case exercises the clamp
    loss, grads, clamped = R.loss_and_grads_error_clipped(net, u, target, "last_linear", cut)
    assert clamped == (abs(z2) > cut) + (abs(z1) > cut)
    assert math.isclose(float(loss), (y - t) ** 2, rel_tol=1e-12)
    expect = {"W_rec": z2c * h1, "W_in": z2c * u2 + z1c * u1, "b": z2c + z1c, "W_out": 2 * (y - t) * h2,
              "b_out": 2 * (y - t)}
    for name, value in expect.items():
        assert math.isclose(float(grads[name].flatten()[0]), value, rel_tol=1e-12, abs_tol=1e-15), name
    # ... and it is not the norm-clipped gradient: the clamped step turns the direction
    _, exact, _ = R.loss_and_grads(net, u, target, "last_linear")
    assert float(exact["b"][0]) != float(grads["b"][0])


def test_runs_past_the_net_counts_only_certain_firings():
    from rnnbook.engine.clipping import runs_past_the_net, windows_past_the_net

    assert windows_past_the_net([1.0, 2e10, float("nan"), None, 5e9, 3e12]) == 2
    rec = lambda means, **kw: {"config": {"seed": 0}, "curves": {"grad_norm": means}, "success": False,
                               "diverged": False, "updates": 10, **kw}
    data = {"runs": [rec([1.0, 2.0]), rec([1.0, 4e10, float("nan")], diverged=True), None, rec([1e11], success=True)]}
    found = runs_past_the_net(data)
    assert [(r["windows"], r["largest"], r["outcome"]) for r in found] == [(1, 4e10, "diverged"), (1, 1e11, "solved")]
