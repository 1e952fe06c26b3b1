"""Chapters 2.2-2.3 (paper §2.2-§2.3): the one-unit network of Eq. (8) as a dynamical system and
its error surface.

Mirrors every numerical assert of chapters/02_exploding_vanishing/02_dynamical_systems.ipynb and
03_geometry.ipynb, and checks the forward-mode derivatives against torch.autograd.
"""

import numpy as np
import pytest
import torch

from rnnbook.book import runtime
from rnnbook.paper import bistability, boundaries, one_unit, surface
from rnnbook.paper import dynamics as D

W5 = D.W_DOYA
S05, DS05 = D.logistic(0.5), D.dlogistic(0.5)


# ---------------------------------------------------------------- §2.2: fixed points, bifurcations


def test_fixed_points_and_multipliers_at_b_minus_2_5():
    fp = D.fixed_points(W5, -2.5)
    assert np.allclose(fp, [-1.7760, 0.0, 1.7760], atol=1e-4) and abs(fp[1]) < 1e-12
    assert np.allclose(D.multiplier(fp, W5), [0.6191, 1.25, 0.6191], atol=1e-4)
    assert np.isnan(D.fixed_points(W5, -1.5)[1:]).all()
    assert np.allclose(D.step(fp, W5, -2.5), fp, atol=1e-12)


def test_bifurcation_points_analytic_algebra_and_simulation():
    bif = D.bifurcation_points(W5)
    assert abs(bif.b_1 + 2.3444) < 5e-5 and abs(bif.b_2 + 2.6556) < 5e-5
    assert abs(bif.x_1 + 0.9624) < 5e-5 and abs(bif.x_2 - 0.9624) < 5e-5
    b_fine = np.linspace(-3.0, -2.0, 10001)
    n_fixed = np.sum(~np.isnan(D.fixed_points(W5, b_fine)), axis=-1)
    assert abs(b_fine[n_fixed == 3].min() - bif.b_2) <= 1e-4 and abs(b_fine[n_fixed == 3].max() - bif.b_1) <= 1e-4
    lo, hi, _ = D.bistable_window_by_simulation(W5, b_fine, T=5000)
    assert abs(lo - bif.b_2) <= 2e-4 and abs(hi - bif.b_1) <= 2e-4


def test_monotone_map_has_one_attracting_fixed_point():
    for w in (-3.0, 1.0, 3.9):
        fp = D.fixed_points(w, np.linspace(-4, 4, 9))
        assert np.isnan(fp[:, 1:]).all() and np.all(np.abs(D.multiplier(fp[:, 0], w)) < 1)
    with pytest.raises(ValueError):
        D.bifurcation_points(3.0)


def test_attractors_and_asymptotic_states_agree():
    b = np.linspace(-4.0, -1.0, 121)
    x_inf = D.asymptotic_states(W5, b, x0s=np.linspace(-4, 4, 9), T=3000)
    assert np.nanmin(np.abs(x_inf[..., None] - D.fixed_points(W5, b)[None]), axis=-1).max() < 1e-3
    off = np.nanmin(np.abs(x_inf[..., None] - D.attractors(W5, b)[None]), axis=-1) > 1e-3
    # only the run started exactly on the repelling fixed point (x_0 = 0 at b = -2.5) is not on an attractor
    assert off.sum() == 1 and b[np.nonzero(off)[1][0]] == -2.5


def test_sensitivities_match_autograd():
    x0, w, b, T = 0.3, 5.0, -2.4, 50
    p = torch.tensor([x0, w, b], dtype=torch.float64, requires_grad=True)
    x = p[0]
    for _ in range(T):
        x = p[1] * torch.sigmoid(x) + p[2]
    x.backward()
    s = D.sensitivities(x0, w, b, T)
    assert np.allclose([s.dx0, s.dw, s.db], p.grad.numpy(), rtol=1e-9)
    assert abs(s.x_T - x.item()) < 1e-12


@pytest.fixture(scope="module")
def gradient_map():
    b_grid = np.linspace(-3.0, -2.0, 501)
    x0_grid = np.linspace(-3.0, 3.0, 501)
    Bg, X0g = np.meshgrid(b_grid, x0_grid)
    return b_grid, x0_grid, D.sensitivities(X0g, W5, Bg, 50)


def test_transport_factor_peaks_on_the_basin_boundary(gradient_map):
    b_grid, x0_grid, sens = gradient_map
    bif = D.bifurcation_points(W5)
    inside = (b_grid > bif.b_2 + 0.02) & (b_grid < bif.b_1 - 0.02)
    peak_x0 = x0_grid[np.abs(sens.dx0[:, inside]).argmax(axis=0)]
    assert np.all(np.abs(peak_x0 - D.basin_boundary(W5, b_grid)[inside]) <= 2 * (x0_grid[1] - x0_grid[0]))


def test_transport_factor_on_boundary_and_attractor():
    fp = D.fixed_points(W5, -2.5)
    assert abs(D.sensitivities(0.0, W5, -2.5, 50).dx0 / 1.25**50 - 1) < 1e-12
    assert abs(D.sensitivities(fp[2], W5, -2.5, 50).dx0 / D.multiplier(fp[2], W5) ** 50 - 1) < 1e-9


def test_boundary_crossing_vs_bifurcation_crossing():
    bif = D.bifurcation_points(W5)
    scan = np.linspace(-3.0, -2.0, 100001)
    spike = {x0: scan[np.abs(D.sensitivities(x0, W5, scan, 50).db).argmax()] for x0 in (0.0, 2.0, -2.0)}
    assert abs(spike[0.0] + 2.5) < 1e-3
    assert abs(spike[2.0] - bif.b_2) < 0.03
    assert abs(spike[-2.0] - bif.b_1) < 0.03
    near_b2 = np.abs(scan - bif.b_2) < 0.05
    assert np.abs(D.sensitivities(-2.0, W5, scan[near_b2], 50).db).max() < 5


def test_driven_trajectories_split_at_the_driven_boundary():
    session = runtime.setup(seed=2013, quiet=True)
    u = session.rng.normal(0.0, 0.2, size=50)
    x_star = D.driven_boundary(W5, -2.5, u, lo=-1.0, hi=1.0)
    path = D.driven_trajectory(np.array([x_star - 0.01, x_star + 0.01]), W5, -2.5, u)
    gap = abs(path.x[-1, 1] - path.x[-1, 0])
    assert np.sign(path.x[-1, 0]) == -1 and np.sign(path.x[-1, 1]) == 1 and gap > 2.5 and gap / 0.02 > 100
    x0_line = np.linspace(-1.0, 1.0, 4001)
    sens_line = np.abs(D.driven_sensitivity(x0_line, W5, -2.5, u))
    assert abs(x0_line[sens_line.argmax()] - x_star) <= 2 * (x0_line[1] - x0_line[0])
    assert abs(D.driven_sensitivity(x_star, W5, -2.5, u)) > 1e4 and max(sens_line[0], sens_line[-1]) < 1e-6
    # the split into F̃ and U_t reproduces the plain step
    assert np.allclose(path.x[1:], path.f_tilde + u[:, None])


def test_driven_path_without_input_is_the_autonomous_map():
    path = D.driven_trajectory(np.array([0.3]), W5, -2.5, np.zeros(20))
    assert np.allclose(path.x[:, 0], D.trajectory(0.3, W5, -2.5, 20))


# ---------------------------------------------------------------- §2.3: the error surface and the wall


def _autograd_error(w, b, x0=0.5, T=50, target=0.7):
    p = torch.tensor([w, b], dtype=torch.float64, requires_grad=True)

    def E(q):
        x = torch.tensor(x0, dtype=torch.float64)
        for _ in range(T):
            x = q[0] * torch.sigmoid(x) + q[1]
        return (torch.sigmoid(x) - target) ** 2

    g = torch.autograd.grad(E(p), p)[0].numpy()
    H = torch.autograd.functional.hessian(E, p).numpy()
    return g, H


@pytest.mark.parametrize("w,b", [(3.0, -1.0), (4.5, -2.3), (6.0, -3.2348), (8.0, -4.0), (2.0, 0.5)])
def test_error_surface_gradient_and_hessian_match_autograd(w, b):
    s = D.error_surface(w, b)
    g, H = _autograd_error(w, b)
    scale_g, scale_H = max(np.abs(g).max(), 1e-12), max(np.abs(H).max(), 1e-12)
    assert np.abs(s.grad - g).max() / scale_g < 1e-8
    assert np.abs(s.hess - H).max() / scale_H < 1e-8


def test_linear_derivatives_against_finite_differences():
    x0, w, t, h = 0.5, 1.2, 50, 1e-5
    f = lambda v: D.linear_derivatives(x0, v, t)[0]  # noqa: E731
    _, d1, d2 = D.linear_derivatives(x0, w, t)
    assert abs((f(w + h) - f(w - h)) / (2 * h) / d1 - 1) < 1e-6
    assert abs((f(w + h) - 2 * f(w) + f(w - h)) / h**2 / d2 - 1) < 1e-5
    assert abs(d2 / d1 - (t - 1) / w) < 1e-12


def test_error_surface_plateaus_and_wall():
    w_axis, b_axis = np.linspace(1.0, 10.0, 400), np.linspace(-7.0, 1.0, 400)
    Wg, Bg = np.meshgrid(w_axis, b_axis)
    surf = D.error_surface(Wg, Bg)
    assert 0.48 < surf.E.max() < 0.49 + 1e-9 and surf.E.min() < 1e-6
    for w in (6.0, 8.0):
        bw = 0.5 - w * S05
        below, above = D.error_surface(w, np.array([bw - 0.01, bw + 0.01])).E
        assert below > 0.4 and above < 0.07
    cols = w_axis >= 5.5
    jump_rows = np.abs(np.diff(surf.E, axis=0))[:, cols].argmax(axis=0)
    db = b_axis[1] - b_axis[0]
    assert np.all(np.abs(b_axis[jump_rows] + db / 2 - (0.5 - w_axis[cols] * S05)) <= db)


def test_gradient_and_curvature_on_and_across_the_wall():
    w_line = np.linspace(4.5, 9.0, 46)
    on_wall = D.error_surface(w_line, 0.5 - w_line * S05)
    m = w_line * DS05
    predicted = 2 * abs(S05 - 0.7) * DS05 * np.sqrt(1 + S05**2) * (m**50 - 1) / (m - 1)
    assert np.allclose(on_wall.grad_norm, predicted, rtol=1e-9)
    assert np.all(np.abs(on_wall.x_T - 0.5) < 1e-12)
    curv = np.abs(on_wall.curvature_along_gradient())
    slope, _ = np.polyfit(np.log10(on_wall.grad_norm), np.log10(curv), 1)
    assert 1.9 < slope < 2.1
    assert np.all(np.diff(np.log(on_wall.grad_norm)) > 0) and np.all(np.diff(np.log(curv)) > 0)
    offsets = np.linspace(-0.02, 0.02, 400001)
    across = D.error_surface(6.0, 0.5 - 6.0 * S05 + offsets)
    g, c = across.grad_norm, np.abs(across.curvature_along_gradient())
    assert abs(g.argmax() - c.argmax()) <= 2
    assert g.max() > 1e6 and c.max() > 1e14 and g[0] < 0.1
    normal = np.array([S05, 1.0]) / np.hypot(S05, 1.0)
    steep = g > 10
    cos = np.abs(across.grad[0] * normal[0] + across.grad[1] * normal[1]) / g
    assert cos[steep].min() > 0.9999
    assert offsets[steep].max() - offsets[steep].min() < 1e-5
    valley = offsets[across.E < 0.01]
    assert valley.max() - valley.min() < 1e-6


def test_curvature_helpers_on_a_known_hessian():
    s = D.ErrorSurface(E=np.array(0.0), grad=np.array([1.0, 0.0]), hess=np.array([[2.0, 0.0], [0.0, -5.0]]),
                       x_T=np.array(0.0), dx=np.zeros(2), d2x=np.zeros((2, 2)), residual=np.array(0.0))
    assert s.curvature_along_gradient() == 2.0 and s.largest_curvature() == -5.0


def test_clip_by_norm_is_algorithm_1():
    g, clipped = D.clip_by_norm(np.array([3.0, 4.0]), 1.0)
    assert clipped and np.allclose(g, [0.6, 0.8])
    g, clipped = D.clip_by_norm(np.array([0.3, 0.4]), 1.0)
    assert not clipped and np.allclose(g, [0.3, 0.4])
    _, clipped = D.clip_by_norm(np.array([0.6, 0.8]), 1.0)   # the paper's ">=": norm equal to the threshold is clipped
    assert clipped


def test_gradient_descent_six_starts():
    lr, threshold, steps = 0.3, 1.0, 400
    ws = np.array([5.0, 6.5, 8.0])
    starts = np.r_[np.c_[ws, 0.5 - ws * S05 - 1.0], np.c_[ws, 0.5 - ws * S05 + 1.0]]
    runs = {"plain": D.gradient_descent(starts, lr, steps), "clipped": D.gradient_descent(starts, lr, steps, threshold)}
    plain, clipped = (D.valley_outcomes(runs[k]) for k in ("plain", "clipped"))
    assert plain["left"].sum() == 3 and np.all(plain["longest_step"][plain["left"]] > 1)
    assert clipped["left"].sum() == 0
    assert np.all(clipped["ended_inside"] == clipped["reached"])
    assert np.all(clipped["longest_step"] <= lr * threshold * (1 + 1e-12))
    # the w = 8 runs: clipping never fires, so both methods coincide; they creep to the wall line
    for k in (2, 5):
        assert clipped["clip_count"][k] == 0 and np.allclose(runs["plain"].theta[:, k], runs["clipped"].theta[:, k])
        assert not plain["reached"][k] and abs(plain["final_wall_offset"][k]) < 0.05 and plain["longest_step"][k] < 0.05
    # every other run gets clipped on the wall, and with clipping ends in the valley
    for k in (0, 1, 3, 4):
        assert clipped["clip_count"][k] > 0 and clipped["ended_inside"][k]
    stories = {name: D.describe_runs(o) for name, o in (("plain", plain), ("clipped", clipped))}
    assert all(stories[m][k].startswith("crept to the wall line") for m in stories for k in (2, 5))
    assert all(stories["clipped"][k].startswith("clipped") for k in (0, 1, 3, 4))
    assert all("threw it out" in stories["plain"][k] for k in np.nonzero(plain["left"])[0])


@pytest.mark.slow
def test_gradient_descent_sweep():
    Wst, Bst = np.meshgrid([5.0, 6.0, 7.0, 8.0, 9.0], [-6.0, -5.0, -4.0, -3.0, -2.0, -1.0])
    grid_starts = np.c_[Wst.ravel(), Bst.ravel()]
    for lr in (0.1, 0.3, 1.0):
        plain = D.valley_outcomes(D.gradient_descent(grid_starts, lr, 400))
        clipped = D.valley_outcomes(D.gradient_descent(grid_starts, lr, 400, 1.0))
        assert clipped["left"].sum() < plain["left"].sum()
        assert clipped["ended_inside"].sum() >= plain["ended_inside"].sum()


# ---------------------------------------------------------------- issue 13: figures and exercises


@pytest.mark.parametrize("x0,b", [(-3.5, -1.5), (3.0, -1.5), (-0.3, -2.5), (0.3, -2.5)])
def test_cobweb_alternates_between_the_diagonal_and_the_map(x0, b):
    cx, cy = D.cobweb(x0, W5, b, 12)
    assert len(cx) == len(cy) == 25
    assert np.allclose(cx[0::2], cy[0::2])                              # (x_n, x_n) on the diagonal
    assert np.allclose(cy[1::2], D.step(cx[1::2], W5, b), atol=1e-12)   # (x_n, F(x_n)) on the curve
    assert np.allclose(cx[1::2], cx[0:-1:2]) and np.allclose(cy[2::2], cy[1::2])  # vertical, then horizontal
    assert np.allclose(cx[0::2], D.trajectory(x0, W5, b, 12))
    assert np.ptp(cy - cx) > 0.1                                         # a zig-zag, not a line on y = x


def test_cell_maximum_sees_a_ridge_narrower_than_a_cell():
    x, y = np.linspace(0, 1, 11), np.linspace(0, 1, 11)
    ridge_y = lambda X: 0.437 + 0.1 * X  # noqa: E731
    f = lambda X, Y: np.exp(-(((Y - ridge_y(X)) / 1e-6) ** 2))  # noqa: E731  a ridge 1e-6 wide
    sampled = f(x[None, :], y[:, None])
    assert sampled.max() < 1e-3                                          # one sample per cell misses it
    xr = np.linspace(0, 1, 101)
    cm = D.cell_maximum(f, x, y, sub=3, ridge=(xr, ridge_y(xr)))
    assert cm.shape == sampled.shape and np.all(cm >= sampled - 1e-15)
    assert np.allclose(cm.max(axis=0), 1.0)                              # every column shows the ridge
    assert np.all(np.abs(y[cm.argmax(axis=0)] - ridge_y(x)) <= 0.05 + 1e-12)


def test_gradient_map_cells_show_the_ridge_on_the_basin_boundary():
    b_grid, x0_grid = np.linspace(-3.0, -2.0, 101), np.linspace(-3.0, 3.0, 101)
    f = lambda B, X0: np.abs(D.sensitivities(X0, W5, B, 50).dx0)  # noqa: E731
    b_fine = np.linspace(-3.0, -2.0, 1001)
    cm = D.cell_maximum(f, b_grid, x0_grid, sub=2, ridge=(b_fine, D.basin_boundary(W5, b_fine)))
    bif = D.bifurcation_points(W5)
    inside = (b_grid > bif.b_2 + 0.02) & (b_grid < bif.b_1 - 0.02)
    m = D.multiplier(D.basin_boundary(W5, b_grid[inside]), W5)
    assert np.all(cm.max(axis=0)[inside] >= 0.999 * m**50)              # the full height of the ridge
    sampled = f(b_grid[None, :], x0_grid[:, None]).max(axis=0)[inside]
    assert np.mean(sampled < 1e-3 * cm.max(axis=0)[inside]) > 0.9     # centre samples miss the ridge almost everywhere


def test_curvature_terms_add_up_and_are_all_quadratic_in_the_gradient_on_the_wall():
    w = np.linspace(4.5, 9.0, 46)
    s = D.error_surface(w, 0.5 - w * S05)
    terms = s.curvature_terms()
    assert np.allclose(sum(terms.values()), s.curvature_along_gradient(), rtol=1e-9)
    gx = np.hypot(s.dx[0], s.dx[1])
    for name, v in terms.items():
        slope, _ = np.polyfit(np.log10(gx), np.log10(np.abs(v)), 1)
        assert 1.9 < slope < 2.1, name                                   # each grows like ‖∇x_50‖²
    # the second derivative of x_50 itself grows like ‖∇x_50‖² (σ''(0.5) ≠ 0), not like ‖∇x_50‖
    slope, _ = np.polyfit(np.log10(gx), np.log10(np.abs(s.d2x[0, 0])), 1)
    assert 1.9 < slope < 2.1 and abs(D.d2logistic(0.5)) > 0.01


def test_wall_offset_is_zero_on_the_wall_line():
    w = np.linspace(4.5, 9, 5)
    assert np.allclose(D.wall_offset(np.c_[w, 0.5 - w * S05]), 0) and np.allclose(D.wall_offset(np.c_[w, 0.6 - w * S05]), 0.1)


def test_exercise_one_fixed_point_attracts_only_for_0_lt_w_le_4():
    # 0 < w <= 4: one fixed point, |F'| <= 1 there, and trajectories converge to it
    for w in (0.5, 2.0, 3.9):
        for b in (-3.0, -1.0, 1.0):
            fp = D.fixed_points(w, b)
            assert np.isnan(fp[1:]).all() and abs(D.multiplier(fp[0], w)) < 1
            assert abs(D.final_state(3.0, w, b, 2000) - fp[0]) < 1e-9
    # w < -4: still one fixed point (F decreasing), but it can repel: |F'| > 1 and a 2-cycle
    w, b = -6.0, 3.0
    fp = D.fixed_points(w, b)
    assert np.isnan(fp[1:]).all() and abs(D.multiplier(fp[0], w)) > 1
    x = D.trajectory(fp[0] + 1e-3, w, b, 4000)
    assert abs(x[-1] - x[-3]) < 1e-9 and abs(x[-1] - x[-2]) > 0.5       # period 2, not a fixed point


def test_dynamics_is_one_namespace_over_its_four_modules():
    """The chapters read ``D.name``; each name is defined once, in the module of its concept."""
    homes = {m.__name__: m for m in (one_unit, bistability, boundaries, surface)}
    for name in D.__all__:
        obj = getattr(D, name)
        owners = [m for m in homes.values() if name in vars(m) and vars(m)[name] is obj]
        assert owners, f"D.{name} comes from none of {sorted(homes)}"
        if callable(obj):
            assert obj.__module__ in homes, (name, obj.__module__)
    defined = {n for m in homes.values() for n, v in vars(m).items() if not n.startswith("_")
               and (n.isupper() or getattr(v, "__module__", None) == m.__name__)}
    assert defined <= set(D.__all__), sorted(defined - set(D.__all__))
