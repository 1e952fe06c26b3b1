"""What defines one training run, and what it gives: :class:`RunConfig` and :class:`RunResult`.

A run is one model of the paper's protocol (§4.1; back/paper_in_numbers.ipynb): a task, an
initialisation, a method (MSGD, MSGD-C, MSGD-CR), a sequence length or range, a seed, and the
settings a protocol may change, each declared once beside its field (:mod:`rnnbook.settings`).
:mod:`rnnbook.synthetic.training` trains many runs at once; a run's outcome does not depend on which
other runs share its ensemble.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from rnnbook.errors import ConfigError, check_at_least, check_choice
from rnnbook.methods import DTYPES, EXTRA_METHODS, METHOD, METHODS
from rnnbook.paper.model import INIT_VARIANTS, INITS, activation_of
from rnnbook.paper.tasks import Task, get_task
from rnnbook.settings import declared, setting
from rnnbook.store.checkpoints import RunState


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run. Defaults are the ICML protocol (§8.1).

    ``method``: ``msgd`` (plain SGD), ``msgd_c`` (+ clipping at ``threshold``), ``msgd_cr``
    (+ clipping + Omega with weight ``reg_weight``). ``reg_weight=4.0`` is the ICML value for
    Fig. 7 (the code's default and the arXiv appendix use 2). ``task_params`` may be given as a
    dict; it is stored as a sorted tuple of items so the config stays hashable.
    ``track_omega`` also records Omega for runs that do not use it (costs ~40 % per update).
    ``safety_net`` enables the code-only NaN/Inf fallback (:func:`~rnnbook.engine.clipping.apply_safety_net_`).
    """

    task: str
    init: str
    method: str
    min_length: int
    max_length: int
    seed: int
    # The settings a protocol may change, each declared once (rnnbook.settings): allowed values,
    # meaning, default. The validator, config files, --set and the printed tables read them here.
    max_updates: int = setting(">= 1", "update cap: a run not solved by then stops, censored")
    check_every: int = setting(">= 1", "updates between validation checks")
    task_params: tuple[tuple[str, int], ...] | Mapping[str, int] = ()
    lr: float = setting("> 0", "learning rate of plain SGD (no momentum)", 0.01)
    threshold: float = setting("> 0", "clipping threshold on the gradient norm (Algorithm 1)", 1.0)
    reg_weight: float = setting(">= 0", "weight alpha of the regularizer Omega (Eq. 9)", 4.0)
    batch: int = setting(">= 1", "sequences per minibatch", 20)
    hidden: int = setting(">= 1", "hidden units", 50)
    n_valid: int = setting(">= 1", "fresh sequences per validation check", 10_000)
    valid_chunk: int = setting(">= 1", "validation sequences per chunk (each chunk its own length)", 1000)
    success_error: float = setting("in [0, 1]", "a run succeeds when its validation error is below this", 0.01)
    init_variant: str = setting(INIT_VARIANTS, "smart tanh as the paper words it, or as the code does it", "paper")
    safety_net: bool = setting("", "the code's fallback for a NaN/Inf or huge gradient norm", False)
    track_omega: bool = setting("", "record Omega also for runs that do not use it (~40 % dearer)", False)
    dtype: str = setting(tuple(DTYPES), "floating-point type of the weights and states", "float32")

    def __post_init__(self) -> None:
        params = self.task_params
        items = params.items() if isinstance(params, Mapping) else params
        object.__setattr__(self, "task_params", tuple(sorted((str(k), v) for k, v in items)))

    @property
    def effective_threshold(self) -> float:
        """The clipping threshold this run applies (infinity for a method that does not clip)."""
        return METHOD[self.method].threshold(self.threshold)

    @property
    def effective_reg_weight(self) -> float:
        """The weight of Omega this run applies (0 for a method without Omega)."""
        return METHOD[self.method].reg_weight(self.reg_weight)

    @property
    def wants_omega(self) -> bool:
        """Whether an update computes Omega: the method uses it, or ``track_omega`` records it."""
        return METHOD[self.method].omega or self.track_omega

    def make_task(self) -> Task:
        return get_task(self.task, **dict(self.task_params))

    def validate(self) -> None:
        """Raise :class:`~rnnbook.errors.ConfigError` naming the first bad setting."""
        task = self.make_task()
        check_choice("init", self.init, INITS)
        check_choice("method", self.method, METHODS + EXTRA_METHODS)
        for what in ("min_length", "max_length", "seed"):
            value = getattr(self, what)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{what} must be an integer, got {value!r}")
        check_at_least("seed", self.seed, 0)
        task.check_length(self.min_length)
        if self.min_length > self.max_length:
            raise ConfigError(f"min_length ({self.min_length}) must not exceed max_length ({self.max_length})")
        for name, declared_setting in RUN_SETTINGS.items():
            declared_setting.check(getattr(self, name))

    def to_dict(self) -> dict:
        """Plain JSON-friendly dict (``task_params`` as a dict)."""
        d = asdict(self)
        d["task_params"] = dict(self.task_params)
        return d

    @staticmethod
    def from_dict(d: Mapping) -> "RunConfig":
        """The inverse of :meth:`to_dict` (a results file's stored ``config``)."""
        return RunConfig(**d)

    def key(self) -> str:
        """Stable identifier: readable prefix + hash of every field but the cap (used to resume sweeps).

        ``max_updates`` is left out: it says how far a run is taken, not which run it is. A run
        trained to 10^5 updates is the first 10^5 updates of the same run trained to 10^6, so
        raising the cap continues it (:mod:`rnnbook.store.checkpoints`).
        """
        d = self.to_dict()
        del d["max_updates"]
        digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
        params = "".join(f"-{k}{v}" for k, v in self.task_params)
        return f"{self.task}{params}-{self.init}-{self.method}-L{self.min_length}-{self.max_length}-s{self.seed}-{digest}"

    def group_key(self) -> str:
        """Runs with equal group keys can be members of one batched ensemble.

        Members may differ in init (within one activation), method, lr, threshold, reg
        weight, seed, lengths, update caps, check frequency and success level. Runs that need
        Omega (MSGD-CR, or ``track_omega``) get ensembles of their own: an ensemble computes
        Omega for all its members or none, and it makes an update markedly dearer, so a mixed
        ensemble would make MSGD and MSGD-C pay for it too (measured: benchmarks/README.md,
        "Measurements behind the code's choices").
        """
        params = ",".join(f"{k}={v}" for k, v in self.task_params)
        omega = "|omega" if self.wants_omega else ""
        return (f"{self.task}[{params}]|{activation_of(self.init)}|H{self.hidden}|B{self.batch}|{self.dtype}"
                f"|valid{self.n_valid}/{self.valid_chunk}{omega}")


#: The declared settings of a run (:mod:`rnnbook.settings`), by name, as ``RunConfig`` declares them.
RUN_SETTINGS = declared(RunConfig)


@dataclass
class RunResult:
    """Outcome of one run; ``curves`` has one entry per check for each name in ``CURVE_NAMES``.

    ``diverged``: the weights became NaN/Inf (the run was stopped early; it could never
    recover). ``best_valid_error`` / ``final_valid_error`` are fractions (0.01 = 1 %).
    ``censored``: the run reached its cap without succeeding (it might still succeed later);
    ``state`` is then what continues it under a higher cap (:mod:`rnnbook.store.checkpoints`), or
    ``None`` if its cap is not a multiple of ``check_every``. A run that succeeded keeps its
    trained weights in ``state`` too (kind "solved"), for tests on longer sequences. ``sittings``: how many times the
    run was started or resumed; ``wall_time_s`` adds up all of them.
    """

    config: RunConfig
    success: bool
    updates: int
    first_success_update: int | None
    best_valid_error: float
    final_valid_error: float
    curves: dict[str, list[float]]
    wall_time_s: float
    diverged: bool = False
    state: RunState | None = None
    sittings: int = 1

    @property
    def censored(self) -> bool:
        return not self.success and not self.diverged and self.updates >= self.config.max_updates
