"""The claims Chapter 3 (pages 3.1 and 3.3) asserts in its notebooks, at test scale.

Each test mirrors an assertion of chapters/03_remedies/01_previous_solutions.ipynb or
03_regularizer.ipynb on a smaller run (same code paths, fixed seeds: deterministic).
"""

import math

import numpy as np
import pytest
import torch

from rnnbook.engine.omega_exact import error_norms_through_chain, norm_preserving_jacobian_2d, random_jacobian_2d
from rnnbook.studies import baselines as BL
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.training import sigma_max


def _cfg(**kw):
    base = dict(task="torder", init="smart_tanh", method="msgd_c", min_length=10, max_length=10, seed=0,
                max_updates=800, check_every=800)
    base.update(kw)
    return RunConfig(**base)


def test_l2_penalty_contraction_single_attractor_and_no_learning():
    """3.1 experiment 1: without the penalty the task is learned and lambda_1 > 1; a strong
    penalty drives lambda_1 below 1 (one attractor near 0) and the error stays at chance."""
    free = BL.train_trajectory(_cfg())
    strong = BL.train_trajectory(_cfg(), l2=0.1)
    assert float(BL.validation_error(free.final, _cfg(), 500)[0]) < 0.01
    assert float(sigma_max(free.final.W_hh)[0]) > 1 and BL.autonomous_endpoints(free.final, "tanh")[0] > 1
    assert float(sigma_max(strong.final.W_hh)[0]) < 1 and BL.autonomous_endpoints(strong.final, "tanh")[0] == 1
    assert float(BL.validation_error(strong.final, _cfg(), 500)[0]) > 0.5


def test_norm_clipping_keeps_direction_elementwise_turns_it_on_real_gradients():
    """3.1 experiment 2, on the raw gradients of a short MSGD-C run with spikes."""
    tr = BL.train_trajectory(_cfg(min_length=20, max_length=20, max_updates=1200), keep_grads=True)
    G = torch.stack(tr.grads)
    norms = torch.linalg.vector_norm(G, dim=1)
    big = norms > 1.0
    assert big.sum() > 0
    for g in G[big]:
        assert BL.cosine(BL.clip_by_norm(g, 1.0), g) == pytest.approx(1.0, abs=1e-12)
    largest = G.abs().amax(1)
    c_star = float(largest.sort(descending=True).values[int(big.sum())])
    cos = torch.tensor([BL.cosine(BL.clip_elementwise(g, c_star), g) for g in G[largest > c_star]])
    assert float(cos.max()) < 1 and float(cos.median()) < 0.99


def test_omega_keeps_the_early_error_signal():
    """3.3: after the same updates from the same start, the error reaching the first step is
    larger with Omega (MSGD-CR) than without (MSGD-C)."""
    for seed in (0, 1):
        ratio = {}
        for method in ("msgd_c", "msgd_cr"):
            c = _cfg(method=method, min_length=30, max_length=30, seed=seed, max_updates=500, hidden=20)
            dh, _, _ = BL.error_signal_norms(BL.train_trajectory(c).final, c, batch=50)
            ratio[method] = float((dh[0, 0] / dh[0, -1]).median())
        assert ratio["msgd_cr"] > 2 * ratio["msgd_c"], (seed, ratio)


def test_norm_preserving_jacobians_carry_the_error_and_random_ones_do_not():
    """3.3, the 2x2 picture: Omega_k = 0 along delta, > 0 along the shrunk direction; a chain of
    preserving Jacobians keeps the error's norm, random ones with the same singular values lose it."""
    delta = np.array([math.cos(0.5), math.sin(0.5)])
    J = norm_preserving_jacobian_2d(delta, 1.3, 0.2, 1.2)
    assert np.allclose(np.linalg.svd(J, compute_uv=False), [1.3, 0.2])
    assert abs(np.linalg.norm(delta @ J) - 1) < 1e-12
    shrunk = np.linalg.svd(J)[0][:, 1]
    assert abs(np.linalg.norm(shrunk @ J) - 0.2) < 1e-12
    kept = error_norms_through_chain(delta, 1.3, 0.2, 50, np.random.default_rng(0), preserving=True)
    lost = error_norms_through_chain(delta, 1.3, 0.2, 50, np.random.default_rng(1), preserving=False)
    rng = np.random.default_rng(2)
    assert np.abs(kept - 1).max() < 1e-9 and lost[-1] < 1e-3
    assert np.allclose(np.linalg.svd(random_jacobian_2d(rng, 2.0, 0.5), compute_uv=False), [2.0, 0.5])
    with pytest.raises(Exception):
        norm_preserving_jacobian_2d(delta, 0.9, 0.3, 0.0)


def test_the_declared_averages_of_the_threshold_studies_are_what_the_committed_runs_give():
    """3.2: clip_threshold50_x* are declared as multiples of 0.743, the mean gradient norm of the
    fifteen MSGD runs at length 50 (basic tanh, Fig. 7 and the extra-seeds study) over their
    first 10^5 updates; the safety-net controls are the diverged runs with only the net switched on."""
    from pathlib import Path

    from rnnbook.synthetic.experiments import get_experiment
    from rnnbook.synthetic.results import load_results

    root = Path(__file__).resolve().parents[2] / "results"
    runs = [r for name in ("temporal_order", "temporal_order_seeds")
            for r in load_results(root / name / "paper.json")["runs"]
            if r is not None and r["config"]["init"] == "basic_tanh" and r["config"]["method"] == "msgd"
            and r["config"]["min_length"] == r["config"]["max_length"] == 50]
    assert len(runs) == 15
    g = np.mean([np.mean([v for u, v in zip(r["curves"]["update"], r["curves"]["grad_norm"]) if u <= 100_000])
                 for r in runs])
    for f in (0.5, 1.0, 2.0, 5.0, 10.0):
        assert get_experiment(f"clip_threshold50_x{f:g}").protocol("paper").settings["threshold"] == round(f * round(g, 3), 4)
    for name, original in (("safety_net_torder3", "temporal_order3"), ("safety_net_torder", "temporal_order")):
        orig = [r for r in load_results(root / original / "paper.json")["runs"] if r is not None]
        for cfg in get_experiment(name).runs("paper"):
            twins = [r for r in orig if all(r["config"][k] == v for k, v in cfg.to_dict().items()
                                            if k not in ("safety_net", "max_updates"))]
            assert len(twins) == 1 and twins[0]["diverged"] and cfg.safety_net and not twins[0]["config"]["safety_net"]
