"""A run's state between two sittings: what a long sweep keeps so that no training is lost.

The paper let every run train for up to 5 million updates; a CPU gives a sweep an hour or two
at a time. So a run can stop, keep its state, and go on later, on this machine or another one,
as if it had never stopped. A :class:`RunState` is everything a run's future depends on, taken
right after one of its validation checks (when the statistics it averages between checks are
empty): its weights, its update count, how many random draws of each purpose its stream has
made (:class:`rnnbook.paper.streams.Stream` is counter-based, so the counts *are* its position), the
curves recorded so far, and its best validation error. Training resumed from it gives the same
bits as training without the stop (tests/test_checkpoints.py).

Two kinds are kept:

``censored``
    A run that reached its update cap without succeeding. Raising the cap continues it
    (``python -m rnnbook run ... --set max_updates=N``). Only a cap that is a multiple of the
    run's ``check_every`` leaves a continuable state: a check at any other update would not
    happen in the longer run, and its validation draws would shift every later one.
``checkpoint``
    A run still training, saved every few minutes of wall time (``--checkpoint-every``), so a
    killed sweep loses at most those minutes.
``solved``
    A run that succeeded: its trained weights, for tests beyond the training lengths
    (:mod:`rnnbook.synthetic.generalisation`). Nothing continues from it.

The states of a results file ``results/<experiment>/<protocol>.json`` live beside it in
``<protocol>.states.pt``: one compact binary file (``torch.save`` of plain Python values and
tensors), written atomically, committed with the results so that a sweep continues from a
fresh clone. A run of 50 units takes ~12 kB of weights plus its curves.

Each state is stored with a SHA-256 of its contents (:func:`state_digest`); a state that no
longer matches its digest (a flipped bit on a disk, a damaged copy) is refused with a one-line
error and never trained on. A states file without digests was written before they existed: it is
refused too, in one line naming the one-off migration that adds them (:mod:`rnnbook.store.outdated`).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rnnbook.errors import ConfigError
from rnnbook.store.atomic import write_atomic
from rnnbook.store.outdated import outdated

STATES_FORMAT = "rnnbook-states/1"
KINDS = ("censored", "checkpoint", "solved")


@dataclass
class RunState:
    """Everything a run's future depends on, taken right after one of its checks."""

    key: str  #: the run's :meth:`~rnnbook.synthetic.runs.RunConfig.key` (the cap is not part of it)
    kind: str  #: "censored" (reached its cap), "checkpoint" (still training) or "solved"
    updates: int
    weights: dict[str, torch.Tensor]  #: one model's tensors, as :class:`~rnnbook.paper.model.Params` names them, without the model axis
    stream_calls: dict[str, int]  #: draws made per purpose (:class:`~rnnbook.paper.streams.Stream`)
    curves: dict[str, list[float]]  #: every check so far, not thinned
    best_valid_error: float
    wall_time_s: float  #: training time spent so far, over all sittings
    sittings: int = 1  #: how many times the run has been started or resumed

    def __getstate__(self) -> dict[str, Any]:
        # Pickled by value (numpy arrays), not as torch tensors: torch would pass a tensor between
        # processes as a shared-memory handle, which dies with the worker process that sent it.
        d = dict(self.__dict__)
        d["weights"] = {k: v.detach().cpu().numpy().copy() for k, v in self.weights.items()}
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        d = dict(d)
        d["weights"] = {k: torch.from_numpy(v) for k, v in d["weights"].items()}
        self.__dict__.update(d)

    def to_plain(self) -> dict[str, Any]:
        d = asdict(self)
        d["weights"] = {k: v.detach().cpu().clone() for k, v in self.weights.items()}
        return d

    @staticmethod
    def from_plain(d: dict[str, Any]) -> "RunState":
        return RunState(**d)


def states_path(results_file: str | Path) -> Path:
    """``results/x/paper.json`` -> ``results/x/paper.states.pt``."""
    p = Path(results_file)
    return p.with_name(p.stem + ".states.pt")


def load_states(path: str | Path) -> dict[str, RunState]:
    """The states kept beside a results file, by run key (empty if there is no file)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- any unreadable file is one clear error
        raise ConfigError(f"cannot read run states {str(path)!r}: {load_error(exc)}") from None
    if not isinstance(data, dict) or data.get("format") != STATES_FORMAT:
        raise ConfigError(f"{str(path)!r} is not an {STATES_FORMAT} file")
    raw, digests = data.get("states"), data.get("sha256")
    if not isinstance(raw, dict) or not (digests is None or isinstance(digests, dict)):
        raise ConfigError(f"{str(path)!r} is a damaged {STATES_FORMAT} file (no table of states)")
    if digests is None:
        raise outdated(path, "has no SHA-256 digests")
    out = {}
    for key, plain in raw.items():
        try:
            state = RunState.from_plain(plain)
            ok = isinstance(state.weights, dict) and all(isinstance(w, torch.Tensor) for w in state.weights.values())
        except (TypeError, AttributeError, ValueError):
            ok = False
        if not ok or state.key != key or state.kind not in KINDS:
            raise ConfigError(f"{str(path)!r} is a damaged {STATES_FORMAT} file (state {key!r} is malformed); "
                              "move it away: its runs then train again from the start")
        if digests.get(key) != state_digest(plain):
            raise ConfigError(f"{str(path)!r} is corrupt: state {key!r} does not match its SHA-256; move it "
                              "away (or restore it from a copy): its runs then train again from the start")
        out[key] = state
    return out


def load_error(exc: BaseException) -> str:
    """What ``torch.load(..., weights_only=True)`` found wrong, in one short phrase: without torch's
    advice to load with ``weights_only=False``, which would run whatever code a damaged or hostile
    file holds."""
    keep = []
    for line in str(exc).splitlines():
        line = line.split("WeightsUnpickler error:", 1)[-1].strip()
        if line and not line.startswith(("Weights only load failed", "Check the documentation", "Please file")):
            keep.append(line)
    return " ".join(keep) or "not a file of plain values and tensors"


def save_states(path: str | Path, states: dict[str, RunState]) -> None:
    """Write ``states`` atomically (temporary file + ``os.replace``); remove the file if empty."""
    path = Path(path)
    if not states:
        if path.exists():
            path.unlink()
        return
    plain = {k: states[k].to_plain() for k in sorted(states)}
    buf = io.BytesIO()
    torch.save({"format": STATES_FORMAT, "states": plain, "sha256": {k: state_digest(v) for k, v in plain.items()}},
               buf)
    write_atomic(path, buf.getvalue())


def state_digest(plain: dict[str, Any]) -> str:
    """SHA-256 of a state as stored (:meth:`RunState.to_plain`): every tensor's name, dtype,
    shape and bytes, then every other field as canonical JSON."""
    h = hashlib.sha256()
    weights = plain.get("weights") or {}
    for name in sorted(weights):
        t = weights[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    rest = {k: v for k, v in plain.items() if k != "weights"}
    h.update(json.dumps(rest, sort_keys=True, default=repr).encode())
    return h.hexdigest()
