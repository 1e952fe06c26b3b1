"""A Table 1 run's training state and its file ``<protocol>.state.pt``: what makes a resume bit for bit.

A run of a natural problem trains for hours, and may be stopped at any update (Ctrl-C, SIGTERM, a
full disk, a kill). To continue it so that the result is the very one an uninterrupted run gives,
everything the rest of the run depends on is kept in one :class:`TrainState`:

* the weights of the three models and their learning rates (halved by ``lr_halving``),
* where the run is: the epoch being trained and how many of its updates are done (the
  minibatches themselves are not kept: :meth:`rnnbook.natural.data.Data.plan` lays them out
  again from the seed),
* this epoch's running sums and the per-update trace (gradient norm, cost, Omega),
* the history of finished epochs, each method's best-validation weights, which methods diverged
  (frozen) or stopped early, and the weights at the start of the epoch (a diverged method falls
  back to them).

:meth:`TrainState.to_bytes` saves it as a ``torch.save`` dictionary with a SHA-256 of its contents
(:func:`state_digest`): :meth:`TrainState.from_file` refuses a damaged file in one line rather
than train on it, and a state from before the one-off migration in another
(:mod:`rnnbook.store.outdated`). :func:`open_state` continues a state only with the settings it
was made with, ``epochs`` aside (a larger ``epochs`` trains on).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from rnnbook.errors import ConfigError
from rnnbook.methods import DTYPES, METHODS
from rnnbook.natural.experiments import ADDED_LATER, SETTINGS, NaturalConfig
from rnnbook.natural.task import SequenceTask
from rnnbook.paper.model import Params, init_params
from rnnbook.store.checkpoints import load_error
from rnnbook.store.outdated import outdated

FORMAT = "rnnbook-natural-1"  # both files of a run carry it: the state and the results file


@dataclass
class TrainState:
    """Everything the rest of a run depends on; saved in ``<protocol>.state.pt``."""

    config: dict[str, Any]
    params: Params  # one model per trained method (config's ``methods``; the paper's three by default)
    lr: torch.Tensor  # (models,)
    epoch: int = 1  # the epoch being trained (1-based)
    position: int = 0  # updates of that epoch already done
    frozen: list[bool] = field(default_factory=lambda: [False] * len(METHODS))
    stopped: list[int] = field(default_factory=lambda: [0] * len(METHODS))  # early stopping: the epoch it stopped after (0: training)
    sums: dict[str, list[float]] = field(default_factory=dict)  # this epoch's running sums
    trace: dict[str, list[list[float]]] = field(default_factory=dict)  # per update, per method
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per finished epoch
    best: dict[str, Any] = field(default_factory=dict)  # method -> {"epoch", "valid", "params"}
    epoch_start: Params | None = None  # weights at the start of the epoch (divergence fallback)
    wall_time_s: float = 0.0
    experiment: str = ""  # whose state this is (set by open_state)

    def idle(self) -> list[bool]:
        """Per method, whether it trains no more: diverged (frozen) or stopped early."""
        return [f or bool(s) for f, s in zip(self.frozen, self.stopped)]

    def to_bytes(self) -> bytes:
        keep_start = self.epoch_start is not None and self.position > 0  # at an epoch's end it equals params
        d = asdict(self) | {"params": self.params.tensors(), "format": FORMAT,
                            "epoch_start": self.epoch_start.tensors() if keep_start else None}
        d["best"] = {m: dict(b, params=b["params"].tensors()) for m, b in self.best.items()}
        d["sha256"] = state_digest(d)  # checked on load: a damaged file is refused, never trained on
        buf = io.BytesIO()
        torch.save(d, buf)
        return buf.getvalue()

    @staticmethod
    def from_file(path: Path) -> "TrainState":
        try:
            d = torch.load(path, weights_only=True)
        except Exception as exc:  # a damaged file must say so in one line
            raise ConfigError(f"cannot read run state {str(path)!r}: {load_error(exc)}") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ConfigError(f"{str(path)!r} is not an {FORMAT} state file")
        _check_complete(path, d)
        if d.pop("sha256") != state_digest(d):
            raise ConfigError(f"{str(path)!r} is corrupt: it does not match its SHA-256; restore it from a copy, "
                              "or move it and its results file away to train afresh")
        return TrainState.from_plain(d)

    @staticmethod
    def from_plain(d: dict[str, Any]) -> "TrainState":
        """The state whose saved dictionary (as :meth:`to_bytes` writes it, digest aside) is ``d``."""
        d = {k: v for k, v in d.items() if k != "format"}
        d["config"] = {k: SETTINGS[k].default for k in ADDED_LATER} | d["config"]  # saved before they existed
        d["params"] = Params(*d["params"])
        d["epoch_start"] = None if d["epoch_start"] is None else Params(*d["epoch_start"])
        d["best"] = {m: dict(b, params=Params(*b["params"])) for m, b in d["best"].items()}
        return TrainState(**d)


def _check_complete(path: Path, d: Mapping[str, Any]) -> None:
    """Refuse in one line a state saved before one of its fields or settings existed (its digest,
    ``experiment``, ``stopped``, ``patience``, ...): the one-off migration completes it. The settings
    declared since (``ADDED_LATER``) need none: :meth:`TrainState.from_plain` gives them their defaults."""
    missing = [name for name in [f.name for f in fields(TrainState)] + ["sha256"] if name not in d]
    config = d.get("config")
    if isinstance(config, Mapping):
        missing += [f"config.{k}" for k, s in SETTINGS.items()
                    if not s.required and k not in config and k not in ADDED_LATER]
    if missing:
        raise outdated(path, f"is a state without {', '.join(missing)}")


def state_digest(value: Any) -> str:
    """SHA-256 of a state as saved (nested dicts, lists, tensors, numbers), independent of how
    torch lays the file out: tensors by dtype, shape and bytes, the rest as canonical JSON."""
    h = hashlib.sha256()

    def feed(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
            return
        try:  # plain values (the long per-update traces): in one go
            h.update(json.dumps(v, sort_keys=True).encode())
            return
        except TypeError:  # holds tensors: piece by piece
            pass
        if isinstance(v, dict):
            h.update(b"{")
            for k in sorted(v, key=str):
                h.update(json.dumps(str(k)).encode() + b":")
                feed(v[k])
            h.update(b"}")
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for x in v:
                feed(x)
                h.update(b",")
            h.update(b"]")
        else:
            h.update(repr(v).encode())

    feed({k: x for k, x in value.items() if k != "sha256"})
    return h.hexdigest()


def state_path(results_file: Path) -> Path:
    """The state file beside a results file: ``<protocol>.json`` -> ``<protocol>.state.pt``."""
    return results_file.with_suffix(".state.pt")


def comparable_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a run's continuation must share with it: all but ``epochs``."""
    return {k: v for k, v in config.items() if k != "epochs"}


def fresh_state(cfg: NaturalConfig, task: SequenceTask) -> TrainState:
    """Epoch 1 of a new run: the models (one per trained method) start from the same weights, drawn
    from ``seed``: a method trained alone starts where it does beside the others."""
    dtype = DTYPES[cfg.dtype]
    gens = [torch.Generator().manual_seed(cfg.seed) for _ in cfg.trained]  # the same start for all
    params = init_params("sigmoid", task.n_in, cfg.hidden, task.n_out, gens, dtype=dtype)
    lrs = {"msgd": cfg.lr_msgd, "msgd_c": cfg.lr_msgd_c, "msgd_cr": cfg.lr_msgd_cr}
    lr = torch.tensor([lrs[m] for m in cfg.trained], dtype=dtype)
    n = len(cfg.trained)
    return TrainState(config=asdict(cfg), params=params, lr=lr, frozen=[False] * n, stopped=[0] * n)


def open_state(path: Path, experiment: str, cfg: NaturalConfig, task: SequenceTask) -> TrainState:
    """The state of the run whose results file is ``path``: continued from its state file, or fresh.

    Refused in one line: a results file without its state (it cannot be continued), a state of
    another experiment, or one trained with other settings than ``cfg`` (``epochs`` aside)."""
    spath = state_path(path)
    if path.exists() and not spath.exists():
        raise ConfigError(f"{str(path)!r} exists but its state {str(spath)!r} does not: training cannot continue "
                          "it; move the results file away to start afresh")
    if not spath.exists():
        state = fresh_state(cfg, task)
    else:
        state = TrainState.from_file(spath)
        if state.experiment != experiment:
            raise ConfigError(f"{str(spath)!r} is the state of {state.experiment!r}, not of {experiment!r}")
        wanted, kept = comparable_settings(asdict(cfg)), comparable_settings(state.config)
        if kept != wanted:
            diff = sorted(k for k in wanted if kept.get(k) != asdict(cfg)[k])
            raise ConfigError(f"{str(spath)!r} was trained with other settings ({', '.join(diff)}); "
                              "move it away or use another --results-dir")
        state.config = asdict(cfg)
    state.experiment = experiment
    return state


def best_params(path: str | Path) -> dict[str, Params]:
    """The best-validation weights of each method kept in a run's state file (one model each)."""
    state = TrainState.from_file(state_path(Path(path)))
    return {m: b["params"] for m, b in state.best.items()}
