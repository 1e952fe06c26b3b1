"""The fast engine's batched torch path: an explicit BPTT of many models at once.

Everything is batched over a leading model axis ``E``: an ensemble of independent networks
(:class:`rnnbook.paper.model.Params`), each with its own weights and data, trained as one
computation. The backward pass is written by hand (no autograd in the hot path): for every
model it is the recursion

    dpre_t = dh_t * act'(h_t),      dh_{t-1} = dE/dh_{t-1} (direct) + dpre_t W_hh^T,

i.e. Eqs. (3)-(5) of §1.1 summed step by step; every parameter gradient accumulates one
batched matrix product per step. ``act'`` is computed from the stored states
(tanh: ``1 - h^2``, sigmoid: ``h (1 - h)``), so the pre-activations are never kept.

This is what runs on a GPU and wherever states are kept; a CPU trains with the same pass
compiled from C (:mod:`rnnbook.engine.cpu_kernel`). Both are tested against the readable
reference model (:mod:`rnnbook.paper.reference`, tests/unit/test_reference.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnbook.engine.omega import DEFAULT_BOUND, OmegaSteps
from rnnbook.engine.readout import readout, readout_backward
from rnnbook.engine.workspace import Workspace, scratch, step_views
from rnnbook.errors import check_at_least
from rnnbook.paper.model import Params, check_activation
from rnnbook.paper.tasks import PER_STEP_READOUTS, Batch, Task, real_steps

__all__ = ["forward", "predict", "loss_and_grads", "StepResult", "Workspace", "CPU_GROUP_SIZE", "DEFER_WEIGHT_GRADS"]


def _activate_(x: torch.Tensor, act: str) -> None:
    """``x <- act(x)`` in place; the result of each element depends on that element alone.

    The sigmoid is written out as ``1 / (1 + exp(-x))`` on purpose: torch's own CPU sigmoid
    (2.13) can round an element differently depending on where it sits in the tensor, so a
    model's states would depend, in their last bits, on which other models share its
    ensemble (found by tests/unit/test_model_gradients.py::test_member_equals_model_alone).
    """
    if act == "tanh":
        x.tanh_()
    else:
        x.neg_().exp_().add_(1.0).reciprocal_()


def _padding_masks(start: torch.Tensor, dtype: torch.dtype, pad: int | None = None) -> list[torch.Tensor]:
    """``keep[t]`` ``(E, 1, 1)`` is 0 for models whose step ``t`` is padding, for ``t < pad``.

    ``pad`` (:attr:`Batch.pad <rnnbook.paper.tasks.Batch>`) defaults to ``max(start)``, read from the
    device; any larger value up to ``T`` gives the same numbers (the extra masks are all 1).
    """
    pad = int(start.max()) if pad is None else pad
    return list(real_steps(start, pad).to(dtype).T.reshape(pad, start.shape[0], 1, 1))


def _augmented_inputs(u_tm: torch.Tensor, workspace: Workspace | None) -> torch.Tensor:
    """``[u_t | 1]`` ``(T, E, B, n_in + 1)``: the inputs with a constant column for the bias.

    With it the input projection and the bias are one product, ``[u_t | 1] [W_uh; b_h]``, and
    ``g_W_uh`` and ``g_b_h`` are one accumulated product, ``[u_t | 1]^T dpre_t``.
    """
    T, E, B, n_in = u_tm.shape
    aug = scratch(workspace, "u_aug", (T, E, B, n_in + 1), u_tm)
    aug[..., :n_in].copy_(u_tm)
    aug[..., n_in].fill_(1.0)
    return aug


def _forward_time_major(
    params: Params,
    act: str,
    u_aug: torch.Tensor,
    start: torch.Tensor,
    states: torch.Tensor,
    workspace: Workspace | None = None,
    pad: int | None = None,
) -> None:
    """Fill ``states (T, E, B, H)`` from augmented time-major inputs ``u_aug (T, E, B, n_in + 1)``."""
    W_in = torch.cat((params.W_uh, params.b_h.unsqueeze(1)), 1)  # (E, n_in + 1, H)
    keep = _padding_masks(start, u_aug.dtype, pad)
    inputs, steps = step_views(workspace, "u_aug", u_aug), step_views(workspace, "states", states)
    prev = None
    for t, h in enumerate(steps):
        # The first product into h_t writes a block that is not in cache; the recurrent one
        # (K = 50) absorbs that miss better than the input one (K = 7): ~6 % per update.
        if prev is None:
            torch.bmm(inputs[t], W_in, out=h)
        else:
            torch.bmm(prev, params.W_hh, out=h)
            h.baddbmm_(inputs[t], W_in)
        _activate_(h, act)
        if t < len(keep):  # some models have not started yet: hold their h at h_0 = 0
            h.mul_(keep[t])
        prev = h


def forward(
    params: Params, act: str, u: torch.Tensor, start: torch.Tensor, *, workspace: Workspace | None = None,
    pad: int | None = None,
) -> torch.Tensor:
    """Hidden states ``(E, T, B, H)`` for inputs ``u (E, T, B, n_in)``; zero at padding steps.

    Internally the states are stored time-major, ``(T, E, B, H)``, so that every step works
    on contiguous ``(E, B, H)`` blocks (a batched matrix product over strided blocks is about
    twice as slow); the result is a transposed view of that buffer.
    """
    check_activation(act)
    E, T, B, _ = u.shape
    u_tm = u.transpose(0, 1)
    states = scratch(workspace, "states", (T, E, B, params.W_hh.shape[-1]), u)
    _forward_time_major(params, act, _augmented_inputs(u_tm, workspace), start, states, workspace, pad)
    return states.transpose(0, 1)


def predict(
    params: Params, act: str, task: Task, u: torch.Tensor, start: torch.Tensor, *, pad: int | None = None,
    workspace: Workspace | None = None,
) -> torch.Tensor:
    """Read-out logits without keeping the states (for validation on large chunks).

    Returns ``(E, B, n_out)`` for the ``last_*`` read-outs and ``(E, T, B, n_out)`` for the
    per-step ones (``softmax``, ``bernoulli``). Same recursion as :func:`forward`, holding only two state buffers.
    """
    check_activation(act)
    E, T, B, _ = u.shape
    u_tm = u.transpose(0, 1)
    keep = _padding_masks(start, u.dtype, pad)
    b_h, b_y = params.b_h.unsqueeze(1), params.b_y.unsqueeze(1)
    h = torch.zeros(E, B, params.W_hh.shape[-1], dtype=u.dtype, device=u.device)
    nxt = torch.empty_like(h)
    per_step, outputs = task.readout in PER_STEP_READOUTS, []
    for t in range(T):
        torch.baddbmm(b_h, u_tm[t], params.W_uh, out=nxt)
        if t > 0:
            nxt.baddbmm_(h, params.W_hh)
        _activate_(nxt, act)
        if t < len(keep):
            nxt.mul_(keep[t])
        if per_step:
            outputs.append(torch.baddbmm(b_y, nxt, params.W_hy))
        h, nxt = nxt, h
    if per_step:
        return torch.stack(outputs, 1)
    return torch.baddbmm(b_y, h, params.W_hy)


@dataclass
class StepResult:
    """What one forward + backward pass over a :class:`~rnnbook.paper.tasks.Batch` produces.

    ``loss (E,)``: the code's training cost (§9.7). ``grads``: dloss/dtheta per model (plus
    ``reg_weight * d+Omega/dW_hh`` when a regularizer weight was given). ``output``: read-out
    logits, ``(E, B, n_out)`` or ``(E, T, B, n_out)``. ``omega (E,)``: the regularizer's
    value, only when ``reg_weight`` was given. With ``keep_states=True`` (the default) also
    ``dh (E, T, B, H)``, the total derivative dloss/dh_t for every step (zero at padding), and
    ``states (E, T, B, H)``, the hidden states -- transposed views of time-major buffers;
    with ``keep_states=False`` both are ``None``. ``error_max (E,)``: only with an ``error_clip``,
    the largest ``|dE/dx_t|`` component met before clamping (the clip acted where it exceeds the cutoff).
    """

    loss: torch.Tensor
    grads: Params
    dh: torch.Tensor | None
    output: torch.Tensor
    states: torch.Tensor | None
    omega: torch.Tensor | None = None
    error_max: torch.Tensor | None = None


CPU_GROUP_SIZE = 32
"""Models per pass when a CPU computes a lean update (``keep_states=False``).

One update touches every state of every model twice (forward, then backward). With 50 units,
batch 20 and T = 100, 32 models hold ~13 MB of states and ~1 MB of weights and gradients; 128
models four times that, and the recurrent weights alone no longer stay in a core's 2 MB L2
cache between steps. Passes over 32 models were the fastest of the sizes measured
(``benchmarks/README.md``, "Measurements behind the code's choices"). A GPU wants the opposite
(as many models per launch as fit), so there the ensemble is never split.
"""

DEFER_WEIGHT_GRADS: dict[str, bool] = {"cpu": False, "cuda": True}
"""Default of ``loss_and_grads(defer_weight_grads=...)`` per device type, as measured.

On a CPU the per-step products win: they find ``h_{t-1}`` and ``dpre_t`` in cache, while the
deferred products read every state back from memory. On a GPU the per-step kernels are launch-
and latency-bound and two fewer of them per step pay. Both were measured, at every E and T
tried (``benchmarks/README.md``, "Measurements behind the code's choices").
"""

_ACT_BACKWARD = {"tanh": torch.ops.aten.tanh_backward.grad_input, "sigmoid": torch.ops.aten.sigmoid_backward.grad_input}


def loss_and_grads(
    params: Params,
    act: str,
    task: Task,
    batch: Batch,
    *,
    reg_weight: torch.Tensor | None = None,
    bound: float = DEFAULT_BOUND,
    workspace: Workspace | None = None,
    keep_states: bool = True,
    group_size: int | None = None,
    defer_weight_grads: bool | None = None,
    error_clip: float | None = None,
) -> StepResult:
    """Loss and exact gradients of every model by an explicit, batched BPTT (Eqs. 3-5).

    Per step ``t`` (latest first): ``dpre_t = dh_t * act'(x_t)`` (from ``h_t``), then
    ``dh_{t-1} += dpre_t W_hh^T``, ``g_W_hh += h_{t-1}^T dpre_t``, ``g_W_uh += u_t^T dpre_t``.

    When ``reg_weight`` ``(E,)`` is given, the regularizer Omega (Eqs. 9-10 as the code
    computes them, :mod:`rnnbook.engine.omega`) is evaluated from this pass's ``dh`` and its
    immediate gradient, scaled by ``reg_weight[e]``, is added to ``grads.W_hh`` of model ``e``
    -- before any clipping, as the code does (back/paper_in_numbers.ipynb, pn-code). Models with weight 0 get
    Omega's value but an untouched gradient.

    ``keep_states=False`` (what training uses) returns no ``states`` or ``dh``. That lets the
    pass (i) cycle the backward recursion through two cache-resident ``(E, B, H)`` blocks
    instead of writing a ``(T, E, B, H)`` buffer (for read-outs at the last step; per-step
    losses need the whole ``dh`` up front), and (ii) on a CPU, work through the models
    in groups of ``group_size`` (default :data:`CPU_GROUP_SIZE`; never split on other
    devices). The models are independent and every per-model sum runs in the same order
    whatever the group, so the loss, gradients and Omega are bit for bit those of one pass.

    ``defer_weight_grads=True`` keeps every step's ``dpre_t`` and forms ``g_W_hh`` and
    ``g_W_uh, g_b_h`` after the recursion, one product each over all steps and sequences,
    instead of two small products per step: fewer, larger kernels, which is what a GPU wants
    (``None``: :data:`DEFER_WEIGHT_GRADS` for the device). The same sums in another order,
    so the gradients agree to rounding, not bit for bit.

    ``error_clip`` (a cutoff ``c > 0``): Mikolov's rule instead of the exact gradient (§3.1, RNNLM's
    ``gradient_cutoff``): at every step of the backward recursion the error at the pre-activations,
    ``dpre_t``, is clamped element-wise to ``[-c, c]``, and the clamped error is both what step ``t``
    adds to the gradients and what travels on to step ``t - 1``
    (:func:`rnnbook.paper.reference.loss_and_grads_error_clipped` writes it out; Omega, if asked,
    sees the clamped errors). ``None`` (the default) is exact BPTT, with nothing added to the loop.

    A CPU trains with the same pass compiled from C instead (:mod:`rnnbook.engine.cpu_kernel`);
    which of the two an ensemble uses is decided once, by its backend (:mod:`rnnbook.engine.backend`).
    """
    check_activation(act)
    E = batch.u.shape[0]
    if group_size is not None:
        check_at_least("group_size", group_size, 1)
    if group_size is None:
        group_size = CPU_GROUP_SIZE if batch.u.device.type == "cpu" else E
    if defer_weight_grads is None:
        defer_weight_grads = DEFER_WEIGHT_GRADS.get(batch.u.device.type, False)
    if keep_states or group_size >= E:
        return _loss_and_grads(params, act, task, batch, reg_weight, bound, workspace, keep_states, defer_weight_grads,
                               error_clip)
    parts = []
    for lo in range(0, E, group_size):
        part = slice(lo, lo + group_size)
        parts.append(_loss_and_grads(
            params.map(lambda t: t[part]), act, task,
            Batch(batch.u[part], batch.target[part], batch.start[part], batch.pad),  # pad: an upper bound still
            None if reg_weight is None else reg_weight[part], bound,
            workspace, False,  # safe to share: a lean result holds no workspace memory
            defer_weight_grads, error_clip,
        ))
    omega = None if reg_weight is None else torch.cat([r.omega for r in parts])
    error_max = None if error_clip is None else torch.cat([r.error_max for r in parts])
    return StepResult(torch.cat([r.loss for r in parts]), Params.cat([r.grads for r in parts]), None,
                      torch.cat([r.output for r in parts]), None, omega, error_max)


def _loss_and_grads(
    params: Params,
    act: str,
    task: Task,
    batch: Batch,
    reg_weight: torch.Tensor | None,
    bound: float,
    workspace: Workspace | None,
    keep_states: bool,
    defer: bool = False,
    error_clip: float | None = None,
) -> StepResult:
    """:func:`loss_and_grads` for one group of models (all of ``batch``), in four steps: the
    forward pass, the read-out with its loss and gradient, backpropagation through time (with
    Omega accumulated on the way), and Omega's gradient added to ``g_W_hh``."""
    u, start = batch.u, batch.start
    E, T, B, n_in = u.shape
    u_aug = _augmented_inputs(u.transpose(0, 1), workspace)
    states = scratch(workspace, "states", (T, E, B, params.W_hh.shape[-1]), u)
    pad = batch.padding_steps()  # host-side when the batch knows it: no device sync
    _forward_time_major(params, act, u_aug, start, states, workspace, pad)

    loss, logits, dlogits = readout(params, task, states, batch)
    per_step = task.readout in PER_STEP_READOUTS
    dh, dh_steps = _dh_buffers(workspace, states, rolling=not keep_states and not per_step)
    g_W_hy, g_b_y = readout_backward(params, states, dlogits, dh_steps, per_step)
    output = logits.transpose(0, 1) if per_step else logits

    omega_steps = None if reg_weight is None else OmegaSteps(params.W_hh, T, B, start, bound, workspace=workspace, pad=pad)
    error_max = None if error_clip is None else torch.zeros(E, dtype=u.dtype, device=u.device)
    g_W_hh, g_in = _backward_through_time(params, act, states, u_aug, dh_steps, start, pad, workspace,
                                          direct=per_step, defer=defer, omega_steps=omega_steps,
                                          error_clip=None if error_clip is None else (error_clip, error_max))
    grads = Params(g_in[:, :n_in].contiguous(), g_W_hh, g_in[:, n_in].contiguous(), g_W_hy, g_b_y)

    omega = None
    if omega_steps is not None:
        omega, g_omega = omega_steps.result()
        w = reg_weight.to(g_omega.dtype).view(E, 1, 1)
        g_W_hh.add_(torch.where(w != 0, w * g_omega, 0.0))
    if not keep_states:
        return StepResult(loss, grads, None, output, None, omega, error_max)
    return StepResult(loss, grads, dh.transpose(0, 1), output, states.transpose(0, 1), omega, error_max)


def _dh_buffers(workspace: Workspace | None, states: torch.Tensor, rolling: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The buffer of dloss/dh_t and its per-step views ``dh_steps[t]`` ``(E, B, H)``.

    ``rolling`` (a lean pass with a read-out at the last step only): two blocks that the steps
    take in turn, which stay in cache; otherwise one block per step, ``(T, E, B, H)``.
    """
    T, E, B, H = states.shape
    dh = scratch(workspace, "dh_rolling" if rolling else "dh", (2 if rolling else T, E, B, H), states)
    if rolling:
        dh_steps = step_views(workspace, "dh_rolling", dh)
        return dh, [dh_steps[t % 2] for t in range(T)]
    return dh, step_views(workspace, "dh", dh)


def _backward_through_time(
    params: Params, act: str, states: torch.Tensor, u_aug: torch.Tensor, dh_steps: list[torch.Tensor],
    start: torch.Tensor, pad: int | None, workspace: Workspace | None, *,
    direct: bool, defer: bool, omega_steps: OmegaSteps | None,
    error_clip: tuple[float, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The backward recursion, latest step first: returns ``g_W_hh`` and ``g_in`` = ``[g_W_uh; g_b_h]``.

    act' is formed per step while dh_t is in cache. g_in accumulates [u_t | 1]^T dpre_t, i.e.
    g_W_uh and g_b_h together. ``direct``: every step already holds a direct loss term in
    ``dh_steps`` to add the recurrent term to (per-step read-outs); else the recurrent term is
    written. Omega is accumulated as the steps pass (``omega_steps``): it needs
    v_t = dpre_t W_hh^T, which for a read-out at the last step is exactly the new dh_{t-1}
    (before the next step masks it); otherwise (t = 0, or a direct loss term already in
    dh_{t-1}) it is one more product. ``error_clip`` ``(cutoff, error_max)``: every ``dpre_t`` is
    clamped as it is formed (:func:`_clamped_backward`); decided here, before the loop.
    """
    T, E, B, H = states.shape
    if defer:  # every step's dpre is kept for the weight gradients after the loop
        dpre_all = scratch(workspace, "dpre_all", (T, E, B, H), u_aug)
        dpre_steps = step_views(workspace, "dpre_all", dpre_all)
    else:
        pair = (scratch(workspace, "dpre", (E, B, H), u_aug), scratch(workspace, "dpre_next", (E, B, H), u_aug))
        dpre_steps = [pair[t % 2] for t in range(T)]  # dpre_{t+1} is still needed at step t
    g_W_hh = torch.zeros_like(params.W_hh)
    g_in = torch.zeros(E, u_aug.shape[-1], H, dtype=u_aug.dtype, device=u_aug.device)
    W_hh_T = params.W_hh.mT.contiguous()
    keep = _padding_masks(start, u_aug.dtype, pad)
    h_steps = step_views(workspace, "states", states)
    h_steps_T = step_views(workspace, "states", states, transposed=True)
    inputs_T = step_views(workspace, "u_aug", u_aug, transposed=True)
    v = None if omega_steps is None else scratch(workspace, "omega_v", (E, B, H), u_aug)
    r_next = None  # ||v_{t+1}||^2 = ||dh_t||^2 before dh_t is masked (last-step read-outs)
    act_backward = _ACT_BACKWARD[act]  # dpre = dh * act'(h): tanh dh (1 - h^2), sigmoid dh h (1 - h)
    if error_clip is not None:
        act_backward = _clamped_backward(act_backward, *error_clip)
    for t in range(T - 1, -1, -1):
        dh_t, dpre_t = dh_steps[t], dpre_steps[t]
        if t < len(keep):  # h_t is the constant h_0 = 0 for models that have not started
            dh_t.mul_(keep[t])
        act_backward(dh_t, h_steps[t], grad_input=dpre_t)
        if not defer:
            # g_W_hh's term h_t^T dpre_{t+1} is added here rather than at step t + 1: act' has
            # just streamed h_t in from memory, and a matrix product reading it from cache is
            # faster than one that misses (same terms, same order: same bits; measured in
            # benchmarks/README.md, "The torch path: tried, measured, not kept")
            if t < T - 1:
                g_W_hh.baddbmm_(h_steps_T[t], dpre_steps[t + 1])
            g_in.baddbmm_(inputs_T[t], dpre_t)
        v_t = None
        if t > 0:
            if direct:
                dh_steps[t - 1].baddbmm_(dpre_t, W_hh_T)
            else:
                v_t = torch.bmm(dpre_t, W_hh_T, out=dh_steps[t - 1])
        if omega_steps is not None:
            s_t = r_next if r_next is None or t >= len(keep) else r_next * keep[t].view(E, 1)
            from_dh = v_t is not None  # v_t is dh_{t-1}: its norm is the next step's ||delta||^2
            if v_t is None:
                v_t = torch.bmm(dpre_t, W_hh_T, out=v)
            r_t = omega_steps.add(t, dpre_t, dh_t, v_t, s_t)
            r_next = r_t if from_dh else None
    if defer:
        _deferred_weight_grads(dpre_all, states, u_aug, g_W_hh, g_in)
    return g_W_hh, g_in


def _clamped_backward(act_backward, cutoff: float, error_max: torch.Tensor):
    """``act_backward`` followed by Mikolov's clamp of its result, ``dpre_t``, to ``[-cutoff, cutoff]``.

    Before clamping, the largest ``|dpre_t|`` component of each model is folded into ``error_max``
    ``(E,)``, so the caller can tell whether the clip acted in this pass (``error_max > cutoff``).
    Padding steps have ``dpre_t = 0`` and are left as they are.
    """
    def backward(dh_t: torch.Tensor, h_t: torch.Tensor, grad_input: torch.Tensor) -> None:
        act_backward(dh_t, h_t, grad_input=grad_input)
        torch.maximum(error_max, grad_input.abs().flatten(1).amax(1), out=error_max)
        grad_input.clamp_(-cutoff, cutoff)

    return backward


def _deferred_weight_grads(
    dpre_all: torch.Tensor, states: torch.Tensor, u_aug: torch.Tensor, g_W_hh: torch.Tensor, g_in: torch.Tensor
) -> None:
    """``g_W_hh`` and ``g_in`` as two products over all steps t and sequences b (``defer_weight_grads``):
    the sums of h_{t-1}^T dpre_t and of [u_t | 1]^T dpre_t, written into the given tensors."""
    T, E, B, _ = states.shape

    def model_major(x: torch.Tensor) -> torch.Tensor:  # (t, E, B, k) -> (E, t B, k), a copy
        return x.transpose(0, 1).reshape(E, x.shape[0] * x.shape[2], x.shape[-1])

    dpre_mm = model_major(dpre_all)
    torch.bmm(model_major(states[:-1]).mT, dpre_mm[:, B:], out=g_W_hh)
    torch.bmm(model_major(u_aug).mT, dpre_mm, out=g_in)
