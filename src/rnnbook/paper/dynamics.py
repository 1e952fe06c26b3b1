"""The one-unit recurrent network of the paper's Eq. (8) as a dynamical system (Chapter 2).

The paper's §2.2 and §2.3 study a single recurrent unit without input,

    x_t = w σ(x_{t-1}) + b,                                                     (8)

with σ the logistic sigmoid; for w = 5 this is the network of Doya (1993) behind the paper's
Fig. 3, and with x_0 = 0.5, T = 50 and the target 0.7 it gives the error surface of Fig. 6.
Everything is NumPy float64 and vectorised: ``w``, ``b`` and ``x0`` may be arrays of any
broadcastable shapes, so a whole (b, x_0) or (w, b) grid is one call.

The chapters read it as one namespace (``from rnnbook.paper import dynamics as D``); it is
written in four modules, in the order Chapter 2 uses them:

* :mod:`rnnbook.paper.one_unit` -- the map F(x) = w σ(x) + b, its trajectories, cobwebs and
  slope F'(x) = w σ'(x) (§2.2);
* :mod:`rnnbook.paper.bistability` -- its fixed points (all of them, by bracketed bisection),
  their stability, the two saddle-node bifurcations analytically (:func:`bifurcation_points`)
  and from simulation alone (:func:`bistable_window_by_simulation`) (§2.2, Fig. 3);
* :mod:`rnnbook.paper.boundaries` -- the forward-mode sensitivities ∂x_T/∂x_0, ∂x_T/∂b,
  ∂x_T/∂w (:func:`sensitivities`), which explode on the basin boundary, and the input-driven
  step split into the fixed map F̃ and the input map U_t (§2.2, Figs. 4-5);
* :mod:`rnnbook.paper.surface` -- the error E_T = (σ(x_T) − target)² with its exact gradient and
  Hessian in (w, b) (:func:`error_surface`), and gradient descent on it with and without the
  norm clipping of the paper's Algorithm 1 (:func:`gradient_descent`) (§2.3, Fig. 6).
"""

from __future__ import annotations

from rnnbook.paper.bistability import (
    Bifurcations,
    asymptotic_states,
    attractors,
    basin_boundary,
    bifurcation_points,
    bisect_root,
    bistable_window_by_simulation,
    fixed_points,
    turning_points,
)
from rnnbook.paper.boundaries import (
    DrivenPath,
    Sensitivities,
    cell_maximum,
    driven_boundary,
    driven_sensitivity,
    driven_trajectory,
    sensitivities,
)
from rnnbook.paper.one_unit import (
    W_DOYA,
    cobweb,
    d2logistic,
    dlogistic,
    final_state,
    logistic,
    logit,
    multiplier,
    step,
    trajectory,
)
from rnnbook.paper.surface import (
    T_FIG6,
    TARGET_FIG6,
    X0_FIG6,
    DescentPath,
    ErrorSurface,
    clip_by_norm,
    describe_runs,
    error_surface,
    gradient_descent,
    linear_derivatives,
    valley_outcomes,
    wall_offset,
)

__all__ = [
    # the map (one_unit)
    "W_DOYA", "logistic", "dlogistic", "d2logistic", "logit", "step", "trajectory", "cobweb",
    "final_state", "multiplier",
    # fixed points and bifurcations (bistability)
    "turning_points", "Bifurcations", "bifurcation_points", "bisect_root", "fixed_points",
    "basin_boundary", "attractors", "bistable_window_by_simulation", "asymptotic_states",
    # sensitivities, driven paths, boundaries (boundaries)
    "Sensitivities", "sensitivities", "cell_maximum", "DrivenPath", "driven_trajectory",
    "driven_sensitivity", "driven_boundary",
    # the error surface of Fig. 6 and descent on it (surface)
    "X0_FIG6", "T_FIG6", "TARGET_FIG6", "ErrorSurface", "error_surface", "linear_derivatives",
    "clip_by_norm", "DescentPath", "gradient_descent", "valley_outcomes", "wall_offset", "describe_runs",
]
