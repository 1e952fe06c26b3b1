"""Train many runs of the paper's protocol at once, as batched ensembles (§4.1; back/paper_in_numbers.ipynb, pn-protocols).

One run = one model trained by MSGD (plain minibatch SGD, constant learning rate, no momentum,
§4 and back/paper_in_numbers.ipynb, pn-code), optionally with gradient norm clipping (MSGD-C, Algorithm 1) and the
regularizer (MSGD-CR, Eqs. 9-10). Every ``check_every`` updates the run is validated on
``n_valid`` *freshly drawn* sequences (in chunks of ``valid_chunk``, each chunk with its own
random length, drawn from the run's own stream — the code's protocol, back/paper_in_numbers.ipynb, pn-code);
it succeeds, and stops, when fewer than ``success_error`` (1 %) of them are wrong (§4.1.1). The
authors' code only stopped at exactly 0 errors; ``success_error=1e-4`` reproduces that with
10,000 sequences.

Runs that can share one batched computation (same task, activation, sizes, dtype — see
:meth:`RunConfig.group_key`) are trained together as an ensemble of up to ``max_parallel``
members. A run's initial weights come from a :class:`torch.Generator` seeded with its
``seed``, its training and validation data from its own :class:`~rnnbook.paper.streams.Stream`
(the same seed; training and validation draws are counted apart, so how often a run is
validated does not change the data it trains on): a run's trajectory does not depend on
which other runs share the batch. (Two runs with the same seed and init start from the same
weights and see the same minibatches — a paired comparison of methods, like the authors' seeds.)

:class:`Ensemble` is the book's one training loop (:meth:`Ensemble.run`: update, then check the
members that are due). What differs between its users is plugged in, as minGPT's ``Trainer``
takes callbacks, through :class:`Hooks`:

* ``on_update(stats)`` after every batched update, with its
  :class:`~rnnbook.engine.update.UpdateStats` (one entry per member, in slot order):
  :func:`rnnbook.synthetic.traces.trace_runs` records every update with it, and
  :func:`rnnbook.studies.baselines.train_trajectory` keeps snapshots of the weights;
* ``grad_transform(grads, params, threshold)`` replaces Algorithm 1 inside the update (an L2
  term, element-wise clipping: :func:`rnnbook.studies.baselines.train_trajectory`);
* ``on_result`` and ``on_checkpoint`` receive finished runs and the states of unfinished ones.

``until`` says when a member is done: at its first success (``"success"``, :func:`train_runs`),
at its cap whatever happens (``"cap"``), or once every member has succeeded (``"all_succeed"``).
Validation is :func:`rnnbook.synthetic.validation.validation_errors`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from rnnbook.engine import Backend, UpdateSettings, choose_backend
from rnnbook.engine.update import GradTransform, UpdateStats
from rnnbook.errors import ConfigError, check_at_least, check_choice
from rnnbook.paper.model import Params, activation_of, init_params
from rnnbook.paper.streams import Stream
from rnnbook.paper.tasks import Task, sample_length
from rnnbook.store.checkpoints import RunState
from rnnbook.synthetic.runs import DTYPES, RunConfig, RunResult
from rnnbook.synthetic.validation import validation_errors

CURVE_NAMES = (
    "update", "train_loss", "grad_norm", "clip_fraction", "spectral_radius", "sigma_max", "omega", "valid_error",
)
#: What an ensemble sums over the updates between two checks (the curves record their means).
SUMMED = ("train_loss", "grad_norm", "clip_fraction", "omega")


@dataclass
class _Member:
    """Book-keeping of one run while it occupies a slot of an ensemble."""

    index: int
    config: RunConfig
    stream: Stream
    started: float
    updates: int = 0
    curves: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in CURVE_NAMES})
    best_valid_error: float = math.inf
    first_success_update: int | None = None
    finished: bool = False
    diverged: bool = False
    wall_before: float = 0.0  # training time of earlier sittings
    sittings: int = 1
    parked: bool = False  # set aside unfinished at ``stop_at``, its state handed to on_checkpoint
    last_saved: float = field(default_factory=time.perf_counter)

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def state(self, weights: Params, kind: str) -> RunState:
        """This run's :class:`RunState` (take it right after a check); ``weights`` holds this model alone."""
        return RunState(
            key=self.config.key(), kind=kind, updates=self.updates,
            weights={name: t[0].detach().cpu().clone() for name, t in weights.items()},
            stream_calls=dict(self.stream.calls), curves={k: list(v) for k, v in self.curves.items()},
            best_valid_error=self.best_valid_error, wall_time_s=self.wall_time(), sittings=self.sittings,
        )

    def result(self, weights: Params | None = None) -> RunResult:
        """The run's outcome; ``weights`` (this model alone) to keep a censored run's state."""
        valid = self.curves["valid_error"]
        censored = (self.first_success_update is None and not self.diverged
                    and self.updates >= self.config.max_updates)
        continuable = censored and weights is not None and self.updates % self.config.check_every == 0
        solved = self.first_success_update is not None and weights is not None
        return RunResult(
            config=self.config,
            success=self.first_success_update is not None,
            updates=self.updates,
            first_success_update=self.first_success_update,
            best_valid_error=self.best_valid_error,
            final_valid_error=valid[-1] if valid else math.nan,
            curves=self.curves,
            wall_time_s=self.wall_time(),
            diverged=self.diverged,
            state=self.state(weights, "censored") if continuable else self.state(weights, "solved") if solved else None,
            sittings=self.sittings,
        )


def spectral_radius(W_hh: torch.Tensor) -> torch.Tensor:
    """Largest |eigenvalue| per model ``(E,)`` (NaN where ``W_hh`` is not finite)."""
    return _matrix_stat(W_hh, lambda W: torch.linalg.eigvals(W).abs().amax(-1))


def sigma_max(W_hh: torch.Tensor) -> torch.Tensor:
    """Largest singular value per model ``(E,)`` (the lambda_1 of §2.1; NaN if not finite)."""
    return _matrix_stat(W_hh, lambda W: torch.linalg.matrix_norm(W, ord=2))


def _matrix_stat(W_hh: torch.Tensor, stat: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    W = W_hh.detach().to(torch.float64)
    finite = torch.isfinite(W).flatten(1).all(1)
    out = torch.full((W.shape[0],), math.nan, dtype=torch.float64)
    if finite.any():
        out[finite.cpu()] = stat(W[finite]).cpu()
    return out


@dataclass
class Hooks:
    """What a caller plugs into :class:`Ensemble`'s loop (see the module docstring); all optional."""

    on_update: Callable[[UpdateStats], None] | None = None  #: after every batched update
    on_result: Callable[[RunResult], None] | None = None  #: once per finished run
    on_checkpoint: Callable[[RunState], None] | None = None  #: states of unfinished runs
    grad_transform: GradTransform | None = None  #: replaces Algorithm 1 in the update


UNTIL = ("success", "cap", "all_succeed")


class Ensemble:
    """One group of compatible runs trained as a single batched computation: the training loop."""

    def __init__(self, task: Task, pending: list[tuple[int, RunConfig]], max_parallel: int, device: str,
                 hooks: Hooks | None = None, *, cuda_graph: bool = False, resume: Mapping[str, RunState] | None = None,
                 checkpoint_every_s: float = 300.0, stop_at: float | None = None, until: str = "success",
                 backend: Backend | None = None) -> None:
        """``backend``: which code computes the passes (default: :func:`~rnnbook.engine.choose_backend`'s
        choice for ``device``), e.g. one that clips the errors (:mod:`rnnbook.studies.error_clipping_outcomes`)."""
        check_choice("until", until, UNTIL)
        first = pending[0][1]
        self.hooks, self.until, self.resume = hooks or Hooks(), until, resume or {}
        self.checkpoint_every_s, self.stop_at = checkpoint_every_s, stop_at
        self.task, self.device = task, torch.device(device)
        self.act, self.dtype = activation_of(first.init), DTYPES[first.dtype]
        # chosen once for the ensemble: which code computes its passes (and owns their scratch memory)
        self.backend: Backend = backend if backend is not None else choose_backend(
            self.device, self.act, task.readout, self.dtype, cuda_graph=cuda_graph)
        self.batch, self.hidden = first.batch, first.hidden
        self.pending = pending
        self.members: list[_Member] = []
        self.results: dict[int, RunResult] = {}
        starters = [self._new_member() for _ in range(min(max_parallel, len(self.pending)))]
        self.params = Params.cat([p for _, p in starters])
        self.members = [m for m, _ in starters]
        # Sums since the last check, one row per name of SUMMED (per slot: loss, pre-clip norm, clipped?, Omega).
        self.stats = torch.zeros(len(SUMMED), len(self.members), dtype=torch.float64, device=self.device)
        self.steps_since_check = [0] * len(self.members)
        self._refresh_settings()

    def _new_member(self) -> tuple[_Member, Params]:
        index, config = self.pending.pop(0)
        state = self.resume.get(config.key())
        if state is not None:
            return self._resumed_member(index, config, state)
        gen = torch.Generator().manual_seed(config.seed)
        params = init_params(config.init, self.task.n_in, self.hidden, self.task.n_out, [gen], dtype=self.dtype,
                             device=self.device, variant=config.init_variant)
        return _Member(index, config, Stream(config.seed), time.perf_counter()), params

    def _resumed_member(self, index: int, config: RunConfig, state: RunState) -> tuple[_Member, Params]:
        """A run picked up where ``state`` left it: same weights, stream position, curves."""
        if state.updates >= config.max_updates:
            raise ConfigError(f"run {config.key()} already has {state.updates:,} updates; "
                              f"its cap ({config.max_updates:,}) must be higher to continue it")
        if state.updates % config.check_every:
            raise ConfigError(f"run {config.key()}: its state at update {state.updates:,} is not at a check "
                              f"(check_every = {config.check_every:,})")
        params = Params(**{name: t.unsqueeze(0).to(dtype=self.dtype, device=self.device)
                           for name, t in state.weights.items()})
        member = _Member(index, config, Stream(config.seed, dict(state.stream_calls)), time.perf_counter(),
                         updates=state.updates, curves={k: list(v) for k, v in state.curves.items()},
                         best_valid_error=state.best_valid_error, wall_before=state.wall_time_s,
                         sittings=state.sittings + 1)
        return member, params

    def _per_member(self, value: Callable[[RunConfig], float]) -> torch.Tensor:
        return torch.tensor([value(m.config) for m in self.members], dtype=self.dtype, device=self.device)

    def _refresh_settings(self) -> None:
        self.wants_omega = [m.config.wants_omega for m in self.members]
        safety = [m.config.safety_net for m in self.members]  # decided on the host: no device sync per update
        self.settings = UpdateSettings(
            lr=self._per_member(lambda c: c.lr),
            threshold=self._per_member(lambda c: c.effective_threshold),
            reg_weight=self._per_member(lambda c: c.effective_reg_weight) if any(self.wants_omega) else None,
            safety=torch.tensor(safety, device=self.device) if any(safety) else None,
        )
        # members or settings changed: a recorded update is recorded again, for their longest minibatch
        self.backend.reset(max_steps=max((self.task.max_steps(m.config.max_length) for m in self.members), default=None))

    def _reset_statistics(self, slots: list[int]) -> None:
        self.stats[:, slots] = 0.0
        for slot in slots:
            self.steps_since_check[slot] = 0

    def run(self, progress: Callable[[int], None] | None = None) -> dict[int, RunResult]:
        """Train until every member is done; the results by run index (``progress(E)`` per update)."""
        while self.members:
            self.update()
            if progress is not None:
                progress(len(self.members))
            self.check_due()
        return self.results

    def update(self) -> None:
        """One SGD update of every member (sample, BPTT, clip, step), then ``on_update``."""
        lengths = [sample_length(m.stream, m.config.min_length, m.config.max_length) for m in self.members]
        batch = self.task.sample([m.stream for m in self.members], self.batch, lengths, dtype=self.dtype,
                                 device=self.device)
        step = self.backend.update(self.params, self.task, batch, self.settings,
                                   grad_transform=self.hooks.grad_transform)
        if self.hooks.on_update is not None:
            self.hooks.on_update(step)
        omega = step.omega if step.omega is not None else torch.zeros_like(step.loss)
        norm = step.grad_norm
        per_update = {"train_loss": step.loss, "grad_norm": norm, "clip_fraction": step.clipped.to(norm.dtype),
                      "omega": omega}
        self.stats += torch.stack([per_update[name] for name in SUMMED]).to(torch.float64)
        for slot, m in enumerate(self.members):
            m.updates += 1
            self.steps_since_check[slot] += 1

    def check_due(self) -> None:
        """Validate the members whose check is due; retire finished ones, refill or compact."""
        due = [s for s, m in enumerate(self.members)
               if m.updates % m.config.check_every == 0 or m.updates >= m.config.max_updates]
        if not due:
            return
        valid = self._validation_errors(due)
        radius = spectral_radius(self.params.W_hh[due])
        sigma = sigma_max(self.params.W_hh[due])
        finite = self.params.select(due).is_finite()
        means = (self.stats[:, due] / torch.tensor([self.steps_since_check[s] for s in due],
                                                    dtype=torch.float64, device=self.device)).cpu()
        for i, slot in enumerate(due):
            m = self.members[slot]
            error = float(valid[i])
            mean = {name: float(means[row, i]) for row, name in enumerate(SUMMED)}
            row = {"update": m.updates, "train_loss": mean["train_loss"], "grad_norm": mean["grad_norm"],
                   "clip_fraction": mean["clip_fraction"],
                   "spectral_radius": float(radius[i]), "sigma_max": float(sigma[i]),
                   "omega": mean["omega"] if self.wants_omega[slot] else math.nan, "valid_error": error}
            for name, value in row.items():
                m.curves[name].append(value)
            m.best_valid_error = min(m.best_valid_error, error)
            if error < m.config.success_error and m.first_success_update is None:
                m.first_success_update = m.updates
            m.diverged = not bool(finite[i])
        for slot in due:
            self.members[slot].finished = self._finished(self.members[slot])
        self._reset_statistics(due)
        unfinished = [s for s in due if not self.members[s].finished]
        stopping = self.stop_at is not None and time.time() >= self.stop_at
        self._checkpoint(unfinished, force=stopping)
        if stopping:  # past the deadline: every run stops at its check, kept as a checkpoint; none starts
            self.pending.clear()
            for slot in unfinished:
                self.members[slot].parked = True
        self._retire_finished()

    def _finished(self, m: _Member) -> bool:
        """Whether member ``m``, just checked, is done (``until``)."""
        if m.updates >= m.config.max_updates:
            return True
        if self.until == "all_succeed":
            return all(other.first_success_update is not None for other in self.members)
        return self.until == "success" and (m.first_success_update is not None or m.diverged)

    def _checkpoint(self, slots: list[int], force: bool = False) -> None:
        """Hand the states of the runs in ``slots`` (just checked) to ``on_checkpoint``, each at most
        every ``checkpoint_every_s`` seconds of wall time (``force``: now)."""
        if self.hooks.on_checkpoint is None:
            return
        now = time.perf_counter()
        for slot in slots:
            m = self.members[slot]
            if force or now - m.last_saved >= self.checkpoint_every_s:
                self.hooks.on_checkpoint(m.state(self.params.select([slot]), "checkpoint"))
                m.last_saved = now

    def _retire_finished(self) -> None:
        finished = [s for s, m in enumerate(self.members) if m.finished or m.parked]
        if not finished:
            return
        for slot in (s for s in finished if not self.members[s].parked):
            result = self.members[slot].result(self.params.select([slot]))
            self.results[self.members[slot].index] = result
            if self.hooks.on_result is not None:
                self.hooks.on_result(result)
        removed = []
        for slot in finished:
            if self.pending:
                member, params = self._new_member()
                self.members[slot] = member
                self.params.set_model_(slot, params)
                self._reset_statistics([slot])
            else:
                removed.append(slot)
        if removed:
            keep = [s for s in range(len(self.members)) if s not in removed]
            self.members = [self.members[s] for s in keep]
            if keep:
                self.params = self.params.select(keep)
            self.stats = self.stats[:, keep]
            self.steps_since_check = [self.steps_since_check[s] for s in keep]
        self._refresh_settings()

    def _validation_errors(self, slots: list[int]) -> torch.Tensor:
        """Error fraction of each member in ``slots`` on ``n_valid`` fresh sequences (forward only),
        each member drawing from its own stream (:func:`rnnbook.synthetic.validation.validation_errors`)."""
        config = self.members[slots[0]].config
        members = [self.members[s] for s in slots]
        return validation_errors(self.backend, self.task, self.params.select(slots), [m.stream for m in members],
                                 [(m.config.min_length, m.config.max_length) for m in members],
                                 config.n_valid, config.valid_chunk, dtype=self.dtype, device=self.device)




def train_runs(
    runs: list[RunConfig],
    *,
    max_parallel: int = 64,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    cuda_graph: bool = False,
    resume: Mapping[str, RunState] | None = None,
    on_checkpoint: Callable[[RunState], None] | None = None,
    checkpoint_every_s: float = 300.0,
    stop_at: float | None = None,
) -> list[RunResult]:
    """Train every run and return their results in the order of ``runs``.

    Runs are grouped by :meth:`RunConfig.group_key`; each group is trained as one batched
    ensemble of at most ``max_parallel`` members. A member stops at its first successful
    check or at ``max_updates``; its slot is then given to the next pending run of the group,
    or removed, so the cost follows the unfinished runs. Pending runs are started shortest
    first, so members of similar length share a batch (less padding). ``progress(n)`` is
    called after every batched update with the number of model updates it made;
    ``on_result`` once per finished run, as soon as it finishes.

    ``cuda_graph``: each ensemble's update is recorded once as a CUDA graph
    (:class:`~rnnbook.engine.cuda_graphs.CapturedUpdate`, minibatches left-padded to the ensemble's
    longest possible sequence) and recorded again whenever its members change. On a CPU it
    runs the same padded update without recording (same numbers as without it).

    ``resume``: states by run key (:class:`~rnnbook.store.checkpoints.RunState`); a run found there
    goes on from it instead of starting afresh, with the same result, bit for bit, as if it
    had never stopped. ``on_checkpoint(state)`` receives the state of every unfinished run at
    its first check after ``checkpoint_every_s`` seconds (of wall time) since its last one.

    ``stop_at`` (a :func:`time.time` deadline) stops cleanly: past it, each run still training
    hands its state to ``on_checkpoint`` at its next check and stops there, and no run starts;
    runs not finished are left out of the returned list. Resumed, they go on bit for bit.

    Denormal floats are flushed to zero for the whole process (``torch.set_flush_denormal``):
    vanishing gradients drive float32 values into the subnormal range, where a CPU is several
    times slower (benchmarks/README.md, "Measurements behind the code's choices"), and values
    that small do not change any update.
    """
    check_at_least("max_parallel", max_parallel, 1)
    for config in runs:
        config.validate()
    torch.set_flush_denormal(True)
    groups: dict[str, list[tuple[int, RunConfig]]] = {}
    for index, config in enumerate(runs):
        groups.setdefault(config.group_key(), []).append((index, config))
    results: dict[int, RunResult] = {}
    for members in groups.values():
        if stop_at is not None and time.time() >= stop_at:
            break
        members.sort(key=lambda item: (item[1].min_length + item[1].max_length, item[0]))
        ensemble = Ensemble(members[0][1].make_task(), members, max_parallel, device,
                            Hooks(on_result=on_result, on_checkpoint=on_checkpoint), cuda_graph=cuda_graph,
                            resume=resume, checkpoint_every_s=checkpoint_every_s, stop_at=stop_at)
        results.update(ensemble.run(progress))
    return [results[i] for i in range(len(runs)) if i in results]
