"""A compute campaign: an ordered queue of sweeps, advanced a wall-clock budget at a time.

A claim of the paper stays *open* while its runs are censored at a fraction of the paper's
5 x 10^6-update budget. Settling them takes far more compute than one sitting (the book's compute
ledger, front/compute_ledger.ipynb, prices it); the queue ``campaign.toml`` says, in order, what to train next and why. Each ``[[item]]`` is one
sweep, exactly the one ``python -m rnnbook run`` would do::

    [[item]]
    id = "fig7-cr-sigmoid-2e6"
    claim = "fig7-cr-sigmoid"           # the scoreboard's key (rnnbook.verdicts.claims), or a list
    why = "the sigmoid panel's censored runs towards the paper's budget"
    experiment = "temporal_order"       # protocol = "paper" unless given
    inits = ["sigmoid"]                 # a selection, as sweeps/*.toml make one: inits, methods,
    methods = ["msgd_cr"]               #   lengths, ranges, seeds (omitted: the whole grid)
    max_updates = 2000000               # the cap: censored runs continue to it

is ``rnnbook run temporal_order --protocol paper --config SEL --set max_updates=2000000`` with
``SEL`` a config file holding the selection (or ``config = FILE``, such a file itself). An item
with ``epochs = N`` instead of ``max_updates`` trains a Table 1 experiment (``rnnbook natural``).

:func:`advance` trains the items in order until the budget is spent. Every sweep goes through
:func:`rnnbook.synthetic.sweeps.run_sweep` (its lock, its atomic saves), so the files are bit for bit what
separate ``run`` commands give. Before the budget ends the sweep is given a deadline
(``stop_at``): each run still training is checkpointed at its next check and stops, and the
next sitting goes on from there bit for bit. A timer a few seconds before the budget's end is
the backstop (an interrupt: finished runs and the last checkpoints are kept). :mod:`rnnbook.campaign.transfer`
carries a campaign to another machine (a lent GPU) and its results back.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from rnnbook.campaign import rates
from rnnbook.errors import ConfigError
from rnnbook.natural.experiments import EXPERIMENTS as NATURAL
from rnnbook.natural.experiments import results_file as natural_file
from rnnbook.natural.training import json_of, train_natural
from rnnbook.store.jsonio import parse_file
from rnnbook.store.lock import LockedError
from rnnbook.synthetic import sweeps
from rnnbook.synthetic.experiments import EXPERIMENTS, experiment_from_dict, load_config, with_overrides
from rnnbook.synthetic.results import load_results

SELECTION = ("inits", "methods", "lengths", "ranges", "seeds")
_ITEM_KEYS = ("id", "claim", "why", "experiment", "protocol", "config", "max_updates", "epochs", *SELECTION)
SAVE_S = 5.0  #: time kept free for the last saves and the exit
WORKER_START_S = 3.0  #: and for worker processes to start (each imports torch)


@dataclass(frozen=True)
class Item:
    """One entry of the queue: a sweep (``max_updates``) or a Table 1 run (``epochs``)."""

    id: str
    claim: str  #: the scoreboard's key(s) (rnnbook.verdicts.claims), joined by ", "
    why: str
    experiment: str
    protocol: str = "paper"
    config: Path | None = None
    max_updates: int | None = None
    epochs: int | None = None
    selection: Mapping[str, Any] = field(default_factory=dict)

    @property
    def natural(self) -> bool:
        return self.epochs is not None


class Unavailable(ConfigError):
    """An item names an experiment this version of rnnbook does not have (yet)."""


# ---------------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------------


def load_queue(path: str | Path) -> list[Item]:
    """Read a queue file (TOML, ``[[item]]`` tables in order); every problem is a one-line ConfigError."""
    path = Path(path)
    data = parse_file(path, tomllib.loads, "campaign file")
    if set(data) - {"item"} or not isinstance(data.get("item", []), list):
        raise ConfigError(f"{path.name}: expected only [[item]] tables")
    items = [_item(path, i, t) for i, t in enumerate(data.get("item", []))]
    ids = [it.id for it in items]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{path.name}: item ids must be unique, {', '.join(dup)} repeated")
    return items


def _item(path: Path, i: int, t: Mapping[str, Any]) -> Item:
    where = f"{path.name}, item {i + 1}"
    extra = sorted(set(t) - set(_ITEM_KEYS))
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(_ITEM_KEYS)})")
    for key in ("id", "why", "experiment"):
        if not isinstance(t.get(key), str) or not t[key]:
            raise ConfigError(f"{where}: needs '{key}' (a string)")
    for key in ("protocol", "config"):
        if key in t and (not isinstance(t[key], str) or not t[key]):
            raise ConfigError(f"{where} ({t['id']}): '{key}' must be a string, got {t[key]!r}")
    claims = [t["claim"]] if isinstance(t.get("claim"), str) else t.get("claim")
    if not isinstance(claims, list) or not claims or not all(isinstance(c, str) and c for c in claims):
        raise ConfigError(f"{where}: needs 'claim' (a scoreboard key, or a list of them)")
    if ("max_updates" in t) == ("epochs" in t):
        raise ConfigError(f"{where} ({t['id']}): needs either max_updates (a sweep) or epochs (Table 1)")
    cap = t.get("max_updates", t.get("epochs"))
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigError(f"{where} ({t['id']}): the cap must be a positive integer, got {cap!r}")
    selection = {k: t[k] for k in SELECTION if k in t}
    if "epochs" in t and (set(selection) - {"seeds"} or "config" in t):
        raise ConfigError(f"{where} ({t['id']}): a Table 1 item selects seeds only, and takes no config")
    return Item(id=t["id"], claim=", ".join(claims), why=t["why"], experiment=t["experiment"],
                protocol=t.get("protocol", "paper"), config=(path.parent / t["config"]) if "config" in t else None,
                max_updates=t.get("max_updates"), epochs=t.get("epochs"), selection=selection)


def resolve(item: Item):
    """The item's experiment, narrowed by its selection and capped (what ``run`` would train).

    Raises :class:`Unavailable` if the experiment does not exist in this version of rnnbook.
    """

    if item.natural:
        return _natural_runs(item, ".")[0]
    extra = load_config(item.config) if item.config is not None else {}
    if item.experiment not in {**EXPERIMENTS, **extra}:
        raise Unavailable(f"item {item.id}: no experiment {item.experiment!r} in this version of rnnbook "
                          "(see `python -m rnnbook list`)")
    exp = extra.get(item.experiment) or EXPERIMENTS[item.experiment]
    exp.protocol(item.protocol)
    if item.selection:
        if item.experiment in extra:
            raise ConfigError(f"item {item.id}: select the runs of a config file's experiment in that file")
        proto = {k: item.selection[k] for k in ("lengths", "ranges", "seeds") if k in item.selection}
        table = {"base": item.experiment, **{k: item.selection[k] for k in ("inits", "methods") if k in item.selection}}
        if proto:
            table["protocols"] = {item.protocol: proto}
        exp = experiment_from_dict(item.experiment, table, where=f"item {item.id}")
    return with_overrides(exp, item.protocol, [f"max_updates={item.max_updates}"])


def _natural_runs(item: Item, results_dir: str | Path) -> tuple[Any, list[tuple[Any, Path]]]:
    """A Table 1 item: its experiment, and per seed its settings and results file (``rnnbook natural``'s)."""

    if item.experiment not in NATURAL:
        raise Unavailable(f"item {item.id}: no Table 1 experiment {item.experiment!r} in this version of rnnbook")
    exp = NATURAL[item.experiment]
    cfg = exp.protocol(item.protocol).with_overrides([f"epochs={item.epochs}"])
    seeds = item.selection.get("seeds", [cfg.seed])
    return exp, [(cfg.with_overrides([f"seed={k}"]), natural_file(results_dir, exp.name, item.protocol, k))
                 for k in seeds]


def results_file(item: Item, results_dir: str | Path) -> Path:
    return Path(results_dir) / item.experiment / f"{item.protocol}.json"


def load(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A results file and its runs by key (read once while the file is unchanged; do not modify)."""
    st = Path(path).stat()
    return _load(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    data = load_results(path)
    return data, {r["key"]: r for r in data["runs"]}


def _records(item: Item, results_dir: str | Path) -> dict[str, dict[str, Any]]:
    path = results_file(item, results_dir)
    return load(path)[1] if path.exists() else {}


def to_train(item: Item, results_dir: str | Path) -> list:
    """The sweep item's runs still to train: missing, or censored below the item's cap."""

    records = _records(item, results_dir)
    out = []
    for c in resolve(item).runs(item.protocol):
        r = records.get(c.key())
        if r is None or (r["censored"] and r["updates"] < c.max_updates):
            out.append(c)
    return out


def status(item: Item, results_dir: str | Path) -> dict[str, Any]:
    """Where the item stands, from its results file alone: its runs' outcomes and updates.

    ``left``: updates still to train to the item's cap (an upper bound: a run may succeed
    earlier); ``todo``: runs still to train. Natural items count epochs instead.
    """
    if item.natural:
        out = dict.fromkeys(("runs", "solved", "diverged", "censored", "missing", "updates", "left", "todo"), 0)
        for cfg, path in _natural_runs(item, results_dir)[1]:
            done = json_of(path)["epochs_done"] if path.exists() else 0
            finished = _natural_done(cfg, path)
            out["runs"] += 1
            out["missing"] += not path.exists()
            out["updates"] += done
            out["left"] += 0 if finished else cfg.epochs - done
            out["todo"] += not finished
        return out
    records = _records(item, results_dir)
    configs = resolve(item).runs(item.protocol)
    out = {"runs": len(configs), "solved": 0, "diverged": 0, "censored": 0, "missing": 0, "updates": 0, "left": 0,
           "todo": 0}
    for c in configs:
        r = records.get(c.key())
        if r is None:
            out["missing"] += 1
            out["left"] += c.max_updates
            out["todo"] += 1
            continue
        out["updates"] += r["updates"]
        kind = "solved" if r["success"] else "diverged" if r["diverged"] else "censored"
        out[kind] += 1
        if kind == "censored" and r["updates"] < c.max_updates:
            out["left"] += c.max_updates - r["updates"]
            out["todo"] += 1
    return out


# ---------------------------------------------------------------------------------------------
# Advancing the queue for a budget
# ---------------------------------------------------------------------------------------------


def check_interval_s(pending: list, workers: int, device: str) -> float:
    """A generous estimate of the time between two checks of the ensembles training ``pending``
    (the time a clean stop may need): the cost model of ``rnnbook list`` on a CPU, the measured
    GPU rate (:mod:`rnnbook.campaign.rates`) on a GPU."""
    if not pending:
        return 0.0
    share = -(-len(pending) // max(1, workers))
    every = max(c.check_every for c in pending)
    mean_t = sum(rates.steps_per_update(c) for c in pending) / len(pending)
    if str(device).startswith("cuda"):
        return every * share / rates.gpu_updates_per_s(share, mean_t, any(c.method == "msgd_cr" for c in pending))
    return every * share * mean_t / rates.CPU_STEPS_PER_S


def _margin(item: Item, results_dir: str | Path, left: float, workers: int, device: str) -> float:
    """How long before the budget's end a sweep must be told to stop: one and a half check
    intervals, the saves and the workers' start, at most half the time left. (A Table 1 item has
    no deadline, only the timer: the saves.)"""
    if item.natural:
        return min(SAVE_S, 0.4 * left)
    margin = 1.5 * check_interval_s(to_train(item, results_dir), workers, device) + SAVE_S
    return min(margin + (WORKER_START_S if workers > 1 else 0.0), 0.5 * left)


class _BudgetOver(KeyboardInterrupt):
    """The budget's backstop timer went off: unwinds like Ctrl-C (finished runs and checkpoints kept)."""


def _raise_budget_over(signum, frame) -> None:
    raise _BudgetOver()


@dataclass
class Moved:
    """What one sitting did to one item: its counts before and after, the updates it trained."""

    item: Item
    before: dict[str, Any]
    after: dict[str, Any]
    note: str
    trained: int = 0  #: model updates trained in this sitting (runs checkpointed on the way included)

    def line(self) -> str:
        b, a = self.before, self.after
        if self.item.natural:
            return f"{self.item.id}: {a['updates'] - b['updates']} epoch(s) trained, {a['updates']} done; {self.note}"
        solved, diverged = a["solved"] - b["solved"], a["diverged"] - b["diverged"]
        return (f"{self.item.id} ({self.item.claim}): {self.trained:,} updates trained; +{solved} solved, "
                f"+{diverged} diverged, {a['censored']} censored, {a['todo']} of {a['runs']} runs still to train "
                f"(<= {a['left']:,} updates); {self.note}")


def advance(items: list[Item], results_dir: str | Path, budget_s: float, *, workers: int = 1, device: str = "cpu",
            cuda_graph: bool = False, max_parallel: int = 64, checkpoint_every_s: float = 300.0,
            say: Callable[[str], Any] = print, argv: list[str] | None = None) -> list[Moved]:
    """Train the queue's items in order for at most ``budget_s`` seconds of wall time; report what moved.

    Items already done are passed over; an item whose experiment does not exist is reported and
    passed over. A sweep gets the deadline ``end - margin`` (``margin``: about one check
    interval, :func:`check_interval_s`, plus the saves, at most half the time left); a timer a
    little before ``end`` (time to save and exit) is the backstop.
    """

    end = time.time() + budget_s
    moved: list[Moved] = []
    timer = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, _raise_budget_over) if timer else None
    if timer:
        signal.setitimer(signal.ITIMER_REAL, budget_s - min(SAVE_S, 0.2 * budget_s))  # time to save and exit
    try:
        for item in items:
            try:
                before = status(item, results_dir)
            except Unavailable as exc:
                say(f"skipped: {exc}")
                continue
            if not before["todo"]:
                continue
            left = end - time.time()
            margin = _margin(item, results_dir, left, workers, device)
            if left <= margin:
                say(f"budget spent before {item.id}")
                break
            note, trained = "done", [0]

            def count(n: int) -> None:
                trained[0] += n

            try:
                if item.natural:
                    _natural(item, results_dir, checkpoint_every_s, argv)
                else:
                    sweeps.run_sweep(resolve(item), item.protocol, results_dir, device=device, workers=workers,
                                     cuda_graph=cuda_graph, max_parallel=max_parallel, progress=count,
                                     checkpoint_every_s=checkpoint_every_s, argv=argv, stop_at=end - margin)
            except _BudgetOver:
                note = "stopped by the budget's timer (runs go on from their last checkpoints)"
            except LockedError as exc:  # another command is training this file now: the next item
                say(f"skipped {item.id}: {exc}")
                continue
            after = status(item, results_dir)
            if note == "done" and after["todo"]:
                note = "stopped at the budget (runs checkpointed, they go on next time)"
            moved.append(Moved(item, before, after, note, trained[0]))
            say(moved[-1].line())
            if after["todo"]:
                break
    except _BudgetOver:  # between two items: nothing was training
        say("the budget ran out")
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return moved


def _natural(item: Item, results_dir: str | Path, checkpoint_every_s: float, argv: list[str] | None) -> None:
    exp, runs = _natural_runs(item, results_dir)
    for cfg, path in runs:  # seed by seed
        if not _natural_done(cfg, path):
            train_natural(exp, cfg, path, checkpoint_every_s=checkpoint_every_s, argv=argv)


def _natural_done(cfg: Any, path: Path) -> bool:
    data = json_of(path) if path.exists() else None
    return bool(data and (data["finished"] or data["epochs_done"] >= cfg.epochs))


def next_up(items: list[Item], results_dir: str | Path) -> str:
    """The first item with work left, in words."""
    for item in items:
        try:
            s = status(item, results_dir)
        except Unavailable:
            continue
        if s["todo"]:
            unit = "epochs" if item.natural else "updates"
            return f"{item.id} ({item.claim}): {s['todo']} run(s), <= {s['left']:,} {unit} -- {item.why}"
    return "nothing: every item of the queue is done"


def item_files(item: Item, results_dir: str | Path) -> list[Path]:
    """The files an item trains (results and kept states), for :mod:`rnnbook.campaign.transfer`."""
    if item.natural:
        return [p for _, path in _natural_runs(item, results_dir)[1] for p in (path, path.with_suffix(".state.pt"))]
    path = results_file(item, results_dir)
    return [path, path.with_suffix(".states.pt")]
