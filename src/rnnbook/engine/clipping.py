"""Gradient norm clipping — Algorithm 1 of §3.2 — applied to every model of an ensemble.

Algorithm 1 (paper)::

    g <- dE/dtheta                      (all parameters as one vector)
    if ||g|| >= threshold:  g <- (threshold / ||g||) g

The authors' code (back/paper_in_numbers.ipynb, pn-alg1) tests ``||g|| > threshold`` (strict); we follow the code,
which makes no difference in practice. The norm is the L2 norm over *all* five parameter
gradients of one model jointly, taken after the regularizer's term was added to ``g_W_hh``.
Each model has its own threshold and its own clipping decision; ``threshold = inf`` never
clips (plain MSGD).

The code also has a safety net that the paper does not mention (:func:`apply_safety_net_`):
when the norm is NaN, infinite or above 1e10 the whole update is replaced by
``g_W_hh = 0.02 W_hh`` (shrinking ``W_hh``) and zeros elsewhere. The code applies it only when
clipping is on; here it is a separate, opt-in step.
"""

from __future__ import annotations

import torch

from rnnbook.paper.model import Params

SAFETY_NET_MAX_NORM = 1e10
SAFETY_NET_SHRINK = 0.02


def _per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape an ``(E,)`` tensor to broadcast against ``like`` (``(E, ...)``)."""
    return x.view(-1, *([1] * (like.dim() - 1)))


def grad_norm(grads: Params) -> torch.Tensor:
    """L2 norm of all gradients of each model jointly, ``(E,)``."""
    squares = sum(torch.linalg.vecdot(g.flatten(1), g.flatten(1)) for g in grads.tensors())
    return squares.sqrt()


def clip_grad_norm_(grads: Params, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rescale, in place, the gradients of every model whose norm exceeds its threshold.

    ``threshold`` is ``(E,)``. Returns the norm before clipping ``(E,)`` and which models were
    clipped ``(E,)`` bool. A NaN norm is never "greater", so such a model is left alone (see
    :func:`apply_safety_net_`).
    """
    norm = grad_norm(grads)
    threshold = threshold.to(norm.dtype)
    clipped = norm > threshold
    scale = torch.where(clipped, threshold / norm, 1.0)
    for g in grads.tensors():
        g.mul_(_per_model(scale, g))
    return norm, clipped


def clip_by_norm(g: torch.Tensor, threshold: float) -> torch.Tensor:
    """Algorithm 1 on one flat vector (a new tensor): ``g * threshold / ||g||`` when ``||g|| > threshold``."""
    norm = torch.linalg.vector_norm(g)
    return g * (threshold / norm) if norm > threshold else g.clone()


def apply_safety_net_(grads: Params, params: Params, norm: torch.Tensor) -> torch.Tensor:
    """The code's fallback (§10.4, code only): replace unusable updates, in place.

    Where ``norm`` is NaN, infinite or > 1e10: ``g_W_hh = 0.02 W_hh`` and every other gradient
    0, so the SGD step shrinks ``W_hh`` by the factor ``1 - 0.02 lr``. Returns the ``(E,)``
    bool mask of the models it replaced.
    """
    bad = ~(norm <= SAFETY_NET_MAX_NORM)
    for name, g in grads.items():
        fallback = SAFETY_NET_SHRINK * params.W_hh if name == "W_hh" else torch.zeros_like(g)
        g.copy_(torch.where(_per_model(bad, g), fallback, g))
    return bad


def windows_past_the_net(grad_norm_means) -> int:
    """How many check intervals of a run certainly contain an update the safety net would replace.

    ``grad_norm_means`` is a run's ``grad_norm`` curve: the mean norm over each interval between
    two checks. A finite mean above 1e10 needs at least one norm above 1e10 in its interval, so
    the authors' net must have fired there. (A NaN mean, the end of a diverged run, is not
    counted: the net could have fired there or not.) The bound is one-sided: a single norm above
    1e10 among 2,000 ordinary ones leaves the mean above 1e10 / 2,000 only.
    """
    return sum(1 for m in grad_norm_means if m is not None and m == m and m > SAFETY_NET_MAX_NORM)


def runs_past_the_net(data) -> list[dict]:
    """The runs of a loaded results file (:func:`rnnbook.synthetic.results.load_results`) in which the
    authors' safety net would certainly have fired (:func:`windows_past_the_net`), with their
    configuration, how many intervals, the largest interval mean and the outcome."""
    out = []
    for rec in data["runs"]:
        if rec is None:
            continue
        means = rec["curves"].get("grad_norm", [])
        n = windows_past_the_net(means)
        if n:
            outcome = "solved" if rec["success"] else ("diverged" if rec["diverged"] else "censored")
            out.append({"config": rec["config"], "windows": n, "largest": max(m for m in means if m is not None and m == m),
                        "outcome": outcome, "updates": rec["updates"]})
    return out
