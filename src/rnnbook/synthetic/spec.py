"""What an experiment is: a declared grid (:class:`Experiment`) and how much of it to run (:class:`Protocol`).

An :class:`Experiment` fixes *what* is compared: a task (with its parameters), the
initialisations, the training methods, and a short title. A :class:`Protocol` fixes *how much*:
the sequence lengths (fixed-length points and/or ``(min, max)`` ranges that draw a random length
per minibatch), the seeds, and the training settings (the fields of
:class:`rnnbook.synthetic.runs.RunConfig`), each with where its value comes from (``provenance``).
``Experiment.runs(protocol)`` expands the grid, in the order init → method → length → seed,
into one ``RunConfig`` per training run.

The paper's experiments are declared as data in ``src/rnnbook/registry/*.toml`` and read by
:mod:`rnnbook.synthetic.config_file`, the loader users' config files go through; :mod:`rnnbook.synthetic.experiments`
holds the resulting table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from rnnbook.errors import ConfigError
from rnnbook.settings import parse_override
from rnnbook.synthetic.runs import RUN_SETTINGS, RunConfig

#: Settings a protocol may set, declared once in ``RunConfig`` (:mod:`rnnbook.settings`) and passed on
#: to it unchanged: their types, allowed values and meanings all come from there.
SETTINGS = tuple(RUN_SETTINGS)

# A rough cost model, for `rnnbook list` only: model-time-steps (updates x steps) one CPU core trains
# per second with the compiled kernel, validation and the regularizer included, rounded down because
# longer sequences run slower per step. The measurement behind it is in benchmarks/README.md
# ("Measurements behind the code's choices").
STEPS_PER_CORE_SECOND = 150_000.0


@dataclass(frozen=True)
class Protocol:
    """How much of an experiment to run: lengths, seeds and training settings."""

    name: str
    label: str
    seeds: tuple[int, ...]
    lengths: tuple[int, ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: setting (or "lengths", "seeds", ...) -> where its value comes from
    provenance: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    @property
    def length_points(self) -> tuple[tuple[int, int], ...]:
        """Every grid point as ``(min_length, max_length)``; fixed lengths have min == max."""
        return tuple((n, n) for n in self.lengths) + tuple(self.ranges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "seeds": list(self.seeds),
            "lengths": list(self.lengths),
            "ranges": [list(r) for r in self.ranges],
            "settings": dict(sorted(self.settings.items())),
            "provenance": dict(sorted(self.provenance.items())),
        }


@dataclass(frozen=True)
class Experiment:
    """A declared grid: task × inits × methods × (lengths × seeds of a protocol)."""

    name: str
    title: str
    task: str
    inits: tuple[str, ...]
    methods: tuple[str, ...]
    protocols: Mapping[str, Protocol]
    task_params: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_params", MappingProxyType(dict(self.task_params)))
        object.__setattr__(self, "protocols", MappingProxyType(dict(self.protocols)))

    def protocol(self, name: str) -> Protocol:
        try:
            return self.protocols[name]
        except KeyError:
            raise ConfigError(
                f"experiment {self.name!r} has no protocol {name!r} "
                f"(it has: {', '.join(self.protocols)})"
            ) from None

    def runs(self, protocol: str | Protocol) -> list:
        """One validated ``RunConfig`` per run, in grid order init → method → length → seed."""
        p = protocol if isinstance(protocol, Protocol) else self.protocol(protocol)
        out = []
        for init in self.inits:
            for method in self.methods:
                for lo, hi in p.length_points:
                    for seed in p.seeds:
                        try:
                            cfg = RunConfig(
                                task=self.task,
                                task_params=dict(self.task_params),
                                init=init,
                                method=method,
                                min_length=lo,
                                max_length=hi,
                                seed=seed,
                                **dict(p.settings),
                            )
                            cfg.validate()
                        except ConfigError as exc:
                            raise ConfigError(f"experiment {self.name!r}/{p.name}: {exc}") from None
                        except (TypeError, ValueError) as exc:
                            raise ConfigError(f"experiment {self.name!r}/{p.name}: {exc}") from None
                        out.append(cfg)
        return out

    def n_runs(self, protocol: str) -> int:
        p = self.protocol(protocol)
        return len(self.inits) * len(self.methods) * len(p.length_points) * len(p.seeds)

    def worst_case(self, protocol: str) -> dict[str, float]:
        """Runs, total update cap, and a rough single-core time if every run hits its cap."""
        p = self.protocol(protocol)
        n = self.n_runs(protocol)
        cap = int(p.settings["max_updates"])
        mean_t = sum((lo + hi) / 2 for lo, hi in p.length_points) / len(p.length_points)
        updates = n * cap
        # model-time-steps of training; the task may add a few steps (memorization: + 2 n_pos)
        extra = 2 * int(self.task_params.get("n_pos", 10)) if self.task == "mem" else 0
        hidden = int(p.settings.get("hidden", 50))
        steps = updates * (mean_t + extra) * (hidden / 50.0) ** 2
        return {
            "runs": n,
            "max_updates": updates,
            "core_hours": steps / STEPS_PER_CORE_SECOND / 3600.0,
        }

    def to_dict(self, protocol: str | None = None) -> dict[str, Any]:
        """A plain-JSON description (one protocol, or all)."""
        names = [protocol] if protocol is not None else list(self.protocols)
        return {
            "name": self.name,
            "title": self.title,
            "task": self.task,
            "task_params": dict(sorted(self.task_params.items())),
            "inits": list(self.inits),
            "methods": list(self.methods),
            "notes": self.notes,
            "protocols": {n: self.protocol(n).to_dict() for n in names},
        }


def with_overrides(experiment: Experiment, protocol: str, overrides: Iterable[str]) -> Experiment:
    """``experiment`` with ``NAME=VALUE`` settings of ``protocol`` replaced (``--set`` on the command line).

    VALUE is read as TOML (``2``, ``0.5``, ``true``, ``"float64"``; a bare word is taken as a
    string) and checked like a config file's setting. The overrides are recorded in the
    protocol's label and provenance, so the results file says what was changed.
    """
    p = experiment.protocol(protocol)
    settings, provenance, said = dict(p.settings), dict(p.provenance), []
    for item in overrides:
        name, value = parse_override(item, RUN_SETTINGS)
        settings[name] = value
        provenance[name] = "set on the command line (--set)"
        said.append(f"{name}={value!r}")
    changed = Protocol(name=p.name, label=f"{p.label} [--set {', '.join(said)}]", seeds=p.seeds,
                       lengths=p.lengths, ranges=p.ranges, settings=settings, provenance=provenance)
    return Experiment(name=experiment.name, title=experiment.title, task=experiment.task,
                      inits=experiment.inits, methods=experiment.methods,
                      protocols={**experiment.protocols, p.name: changed},
                      task_params=experiment.task_params, notes=experiment.notes)
