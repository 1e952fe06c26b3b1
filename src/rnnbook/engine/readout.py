"""The read-out and its cost, for many models at once: what turns hidden states into a loss.

The engine's forward pass (:mod:`rnnbook.engine.batched`) gives the states ``h_t``; here they
become logits ``y_t = h_t W_hy + b_y``, the task's cost (§9.7: a softmax at the last step, a
softmax at every step for the memorisation tasks, a squared error for the real-valued ones, and
independent Bernoullis for Table 1's piano rolls) and the gradient that starts the backward pass:
dloss/dlogits, then the read-out's weight gradients and the direct term dloss/dh_t.
"""

from __future__ import annotations

import torch

from rnnbook.paper.model import Params
from rnnbook.paper.tasks import PER_STEP_READOUTS, Batch, Task, real_steps


def readout(
    params: Params, task: Task, states: torch.Tensor, batch: Batch
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss, logits and dloss/dlogits for time-major ``states (T, E, B, H)`` (§9.7).

    Costs as in the code: ``last_softmax`` cross-entropy averaged over the batch; ``softmax``
    (mem) cross-entropy averaged over real steps x batch; ``last_linear`` squared error summed
    over outputs and averaged over the batch. ``bernoulli`` (the piano rolls of §4.2, not in
    the code): one independent Bernoulli per output, ``-log p(frame)`` summed over the outputs
    and averaged over real steps x batch, i.e. the negative log-likelihood per time step.
    Logits are ``(E, B, n_out)``, or time-major ``(T, E, B, n_out)`` for the per-step read-outs.
    """
    T, E, B, _ = states.shape
    b_y = params.b_y.unsqueeze(1)
    if task.readout in PER_STEP_READOUTS:
        logits = torch.stack([torch.baddbmm(b_y, h, params.W_hy) for h in states.unbind(0)])
        target = batch.target.transpose(0, 1)  # (T, E, B), or (T, E, B, n_out) for bernoulli
        real = real_steps(batch.start, T).T.to(states.dtype)  # (T, E)
        weight = (real / (real.sum(0) * B)).unsqueeze(-1)  # 1 / (real steps x batch), 0 at padding
    else:
        logits = torch.baddbmm(b_y, states[-1], params.W_hy)
        target = batch.target
        weight = torch.full((E, 1), 1.0 / B, dtype=states.dtype, device=states.device)
    if task.readout == "last_linear":
        diff = logits - target
        loss = diff.square().sum(-1).mean(1)
        return loss, logits, diff.mul_(2.0 / B)
    if task.readout == "bernoulli":
        # -log p = softplus(y) - target * y per output; d/dy = sigmoid(y) - target
        nll = (torch.nn.functional.softplus(logits) - target * logits).sum(-1)  # (T, E, B)
        per_step, loss = (nll * weight).sum(-1), torch.zeros(E, dtype=states.dtype, device=states.device)
        for term in per_step.unbind(0):  # step-ordered, as for softmax
            loss += term
        dlogits = torch.sigmoid(logits).sub_(target)
        return loss, logits, dlogits.mul_(weight.unsqueeze(-1))
    log_p = torch.log_softmax(logits, -1)
    index = target.unsqueeze(-1)
    nll = -log_p.gather(-1, index).squeeze(-1)  # (E, B) or (T, E, B)
    loss = (nll * weight).sum(-1)
    if task.readout == "softmax":  # a step-ordered sum: a run's loss must not depend on its padding
        per_step, loss = loss, torch.zeros_like(loss[0])
        for term in per_step.unbind(0):
            loss += term
    dlogits = log_p.exp_()
    dlogits.scatter_add_(-1, index, torch.full_like(index, -1, dtype=dlogits.dtype))
    return loss, logits, dlogits.mul_(weight.unsqueeze(-1))


def readout_backward(
    params: Params, states: torch.Tensor, dlogits: torch.Tensor, dh_steps: list[torch.Tensor], per_step: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The read-out's gradients ``g_W_hy, g_b_y``; writes its direct term dloss/dh_t = dlogits_t W_hy^T
    into ``dh_steps`` (every step for per-step read-outs, else the last step only)."""
    W_hy_T = params.W_hy.mT
    if per_step:
        # step-ordered sums: a model's gradient must not depend on which models share the pass
        g_W_hy = sum(torch.bmm(h.mT, d) for h, d in zip(states.unbind(0), dlogits.unbind(0)))
        g_b_y = sum(d.sum(1) for d in dlogits.unbind(0))
        for d, out in zip(dlogits.unbind(0), dh_steps):
            torch.bmm(d, W_hy_T, out=out)
        return g_W_hy, g_b_y
    torch.bmm(dlogits, W_hy_T, out=dh_steps[-1])  # earlier steps receive only the recurrent term
    return torch.bmm(states[-1].mT, dlogits), dlogits.sum(1)
