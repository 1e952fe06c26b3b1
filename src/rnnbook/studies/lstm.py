"""An LSTM on the RNN's tasks, trained by plain SGD, its gradient norm logged at every update (§3.1).

§3.1 lists the LSTM among the earlier remedies: its memory cells address *vanishing* gradients,
and the paper's point is that they do nothing against *exploding* ones. Chapter 3.1 therefore
trains a ``torch.nn.LSTM`` on the temporal-order task, with the RNN's data stream and cost, and
looks at the norm of its gradient update by update:

* :class:`LSTMClassifier` is the network: one LSTM layer (PyTorch's initialisation) and a linear
  read-out of the last state, the cost the RNN's (softmax, cross-entropy).
* :func:`train_lstm` trains it by minibatch SGD (or, for Chapter 4.4's modern baseline, Adam),
  with or without Algorithm 1 over all its parameters, and validates it with the engine's validation loop
  (:func:`rnnbook.synthetic.validation.validation_errors`), the LSTM standing in for a backend.
* :data:`LSTM_STUDY` and :func:`lstm_study` are the study the chapter shows, fixed before it was
  run and written to results/ by ``python -m rnnbook.studies.baselines lstm``.

Why not the engine's loop (:class:`rnnbook.synthetic.training.Ensemble`)? That loop trains the paper's RNN,
whose five weight tensors (:class:`rnnbook.paper.model.Params`) its explicit BPTT, Omega and SGD step
are written for; an LSTM is a ``torch.nn.Module`` trained by autograd and ``torch.optim``. Only
the validation is shared. Every name here is also importable from :mod:`rnnbook.studies.baselines`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from rnnbook.errors import ConfigError, check_choice
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import Batch, Task, get_task
from rnnbook.synthetic.validation import validation_errors


class LSTMClassifier(torch.nn.Module):
    """``torch.nn.LSTM`` (one layer, PyTorch's default initialisation) and a linear read-out of
    the last state; the read-out and the cost are the RNN's (softmax, cross-entropy averaged
    over the minibatch, for the ``last_softmax`` tasks)."""

    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(n_in, hidden)
        self.readout = torch.nn.Linear(hidden, n_out)

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # u: (T, B, n_in), time-major
        out, _ = self.lstm(u)
        return self.readout(out[-1])


@dataclass
class LSTMRun:
    """An LSTM run: per-update loss and gradient norm (before clipping), validation checks.

    ``diverged``: training stopped at a non-finite loss; ``stopped``: it stopped at a check past
    ``stop_at`` (unfinished)."""

    loss: torch.Tensor
    grad_norm: torch.Tensor
    checks: list[int] = field(default_factory=list)
    valid_error: list[float] = field(default_factory=list)
    first_success: int | None = None
    model: LSTMClassifier | None = None
    diverged: bool = False
    stopped: bool = False


def set_forget_bias_(lstm: torch.nn.LSTM, value: float) -> None:
    """Start the forget gate at ``sigmoid(value)`` (Gers et al. 2000; Jozefowicz et al. 2015: 1).

    PyTorch's gates are ``sigmoid(W_ih x + b_ih + W_hh h + b_hh)``, in the order (input, forget,
    cell, output): the forget gate's bias is the *sum* of two slices, rows ``H:2H`` of ``b_ih``
    and of ``b_hh``. Both are set, ``b_ih``'s to ``value`` and ``b_hh``'s to 0, so that the bias
    of the textbook LSTM, which has one, is ``value`` (setting both to ``value`` would give ``2 value``).
    """
    H = lstm.hidden_size
    with torch.no_grad():
        for name, share in (("bias_ih_l0", value), ("bias_hh_l0", 0.0)):
            getattr(lstm, name)[H:2 * H].fill_(share)


class _LSTMPredictor:
    """An LSTM as a validation backend (:func:`rnnbook.synthetic.validation.validation_errors`): the logits
    of its last state, for the one model it is (``params`` is not used)."""

    def __init__(self, model: LSTMClassifier) -> None:
        self.model = model

    def predict(self, params, task: Task, u: torch.Tensor, start: torch.Tensor, pad: int | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.model(u[0]).unsqueeze(0)


def _lstm_errors(model: LSTMClassifier, task: Task, stream: Stream, length: int, n: int) -> float:
    return float(validation_errors(_LSTMPredictor(model), task, None, [stream], [(length, length)], n, 500,
                                   dtype=torch.float32, budget=None)[0])


def train_lstm(
    length: int,
    seed: int,
    updates: int,
    *,
    task: str = "torder",
    hidden: int = 50,
    lr: float = 0.01,
    batch: int = 20,
    threshold: float | None = None,
    check_every: int = 500,
    n_valid: int = 1000,
    success_error: float = 0.01,
    optimizer: str = "sgd",
    forget_bias: float | None = None,
    stop_at: float | None = None,
) -> LSTMRun:
    """Train an LSTM by plain minibatch SGD on ``task`` at a fixed ``length`` (float32).

    The minibatches are the RNN run's with the same ``seed`` (the same :class:`Stream`).
    ``threshold``: norm clipping (Algorithm 1) over all LSTM parameters; ``None``: none.
    Validation every ``check_every`` updates on ``n_valid`` fresh sequences; training stops
    at the first check below ``success_error``, or at a non-finite loss (``diverged``).
    ``optimizer="adam"``: ``torch.optim.Adam`` at ``lr`` (its default betas and eps) instead of
    SGD, after the clipping; ``forget_bias``: :func:`set_forget_bias_` (``None``: PyTorch's
    initialisation); ``stop_at`` (a :func:`time.time` deadline): stop at the first check past it.
    """
    # Not the engine's loop: see the module's docstring.
    t = get_task(task)
    if t.readout != "last_softmax":
        raise ConfigError(f"train_lstm handles the last-step classification tasks, not {task!r}")
    t.check_length(length)
    torch.manual_seed(seed)
    check_choice("optimizer", optimizer, ("sgd", "adam"))
    model = LSTMClassifier(t.n_in, hidden, t.n_out)
    if forget_bias is not None:
        set_forget_bias_(model.lstm, forget_bias)
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(model.parameters(), lr=lr)
    stream = Stream(seed)
    loss_log = torch.full((updates,), math.nan, dtype=torch.float64)
    norm_log = torch.full((updates,), math.nan, dtype=torch.float64)
    run = LSTMRun(loss_log, norm_log, model=model)
    for k in range(updates):
        data: Batch = t.sample([stream], batch, [length])
        logits = model(data.u[0])
        loss = torch.nn.functional.cross_entropy(logits, data.target[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf if threshold is None else threshold)
        opt.step()
        loss_log[k], norm_log[k] = float(loss.detach()), float(norm)
        if not math.isfinite(loss_log[k]):
            run.diverged = True
            run.loss, run.grad_norm = loss_log[: k + 1], norm_log[: k + 1]
            break
        if (k + 1) % check_every == 0:
            err = _lstm_errors(model, t, stream, length, n_valid)
            run.checks.append(k + 1)
            run.valid_error.append(err)
            if err < success_error:
                run.first_success = k + 1
                run.loss, run.grad_norm = loss_log[: k + 1], norm_log[: k + 1]
                break
            if stop_at is not None and time.time() >= stop_at and k + 1 < updates:
                run.stopped = True
                break
    return run


#: The protocol of the LSTM study, fixed before it was run. The length and the learning rate
#: come from a pilot: at length 50, plain SGD with lr 0.01 (the RNN's) or 0.1 left a 50-unit
#: LSTM at chance level for 6,000 updates (seed 0), so the study uses length 20 and lr 0.1.
LSTM_STUDY = {"length": 20, "seeds": [0, 1, 2], "updates": 5000, "lr": 0.1, "hidden": 50, "batch": 20,
              "thresholds": [None, 1.0], "check_every": 500, "n_valid": 1000, "success_error": 0.01}


def lstm_study(spec: dict | None = None) -> dict:
    """Run the LSTM study (``LSTM_STUDY``): per seed and threshold, the gradient-norm trace and checks."""
    spec = dict(LSTM_STUDY if spec is None else spec)
    runs = []
    for threshold in spec["thresholds"]:
        for seed in spec["seeds"]:
            run = train_lstm(spec["length"], seed, spec["updates"], hidden=spec["hidden"], lr=spec["lr"],
                             batch=spec["batch"], threshold=threshold, check_every=spec["check_every"],
                             n_valid=spec["n_valid"], success_error=spec["success_error"])
            runs.append({"seed": seed, "threshold": threshold, "grad_norm": run.grad_norm.tolist(),
                         "loss": run.loss.tolist(), "checks": run.checks, "valid_error": run.valid_error,
                         "first_success": run.first_success})
    return {"format": "rnnbook-lstm-study/1", "spec": spec, "torch": torch.__version__, "runs": runs}
