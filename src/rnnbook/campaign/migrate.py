"""A one-off migration: the files of ``results/`` rewritten in today's shapes.

The readers still accept a few shapes of files written by older versions of rnnbook; each such
branch names this module. After ``python -m rnnbook.campaign.migrate results`` has rewritten the
committed files (and they are committed), no file needs those branches any more:

sweeps' results files (``rnnbook-results/1``)
    a run's key from before the update cap left it (:func:`rnnbook.synthetic.results.stored_key`) becomes
    today's key (its kept state is re-keyed with it); a run without ``censored``, ``sittings``
    or ``diverged`` gets them (:func:`rnnbook.synthetic.results.is_censored`'s fallback and the
    ``setdefault`` calls of :class:`rnnbook.synthetic.results_file.ResultsFile`).
their states files (``rnnbook-states/1``)
    a file without SHA-256 digests (trusted once by :func:`rnnbook.store.checkpoints.load_states`)
    is written again with them.
Table 1's run states (``rnnbook-natural-1``)
    a state without ``experiment`` (``TrainState.experiment == ""``), without digest, without
    ``stopped`` or without a setting added since it was saved (``rnnbook.natural.state.comparable_settings``'s
    defaults) is written again, complete.

Nothing a run's future depends on changes: the same weights, counters and curves, in today's
layout, so a run continues bit for bit as it would have from the old file. Every file is
rewritten under its lock (:func:`rnnbook.store.lock.exclusive`; a file in use is passed over and
named), states first and JSON last, each atomically. Run it again: a migrated file is left alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from rnnbook.errors import ConfigError
from rnnbook.natural.experiments import SETTINGS as NATURAL_SETTINGS
from rnnbook.natural.training import FORMAT as NATURAL_FORMAT
from rnnbook.natural.training import TrainState
from rnnbook.natural.training import state_path as natural_state_path
from rnnbook.store.atomic import write_atomic
from rnnbook.store.checkpoints import load_states, save_states, states_path
from rnnbook.store.jsonio import format_of, read_json, write_json_atomic
from rnnbook.store.lock import LockedError, exclusive
from rnnbook.synthetic.results import FORMAT, is_censored, load_results, stored_key


def _has_digests(path: Path, field: str = "sha256") -> bool:
    """Whether the torch file ``path`` has its digest field (every file saved since they exist)."""
    return torch.load(path, map_location="cpu", weights_only=True).get(field) is not None


def migrate_results(path: Path) -> list[str]:
    """Bring one sweep's results file and its states file up to date; what changed, in words."""
    data = load_results(path)
    spath = states_path(path)
    states = load_states(spath)
    changes, rekeyed = [], {}
    for rec in data["runs"]:
        key = stored_key(rec)
        if key != rec["key"]:
            rekeyed[rec["key"]] = rec["key"] = key
        for field, value in (("censored", is_censored(rec)), ("sittings", 1), ("diverged", False)):
            if field not in rec:
                rec[field] = value
                changes.append(f"runs without {field}")
    for old, new in rekeyed.items():
        if old in states:
            states[new] = states.pop(old)
            states[new].key = new
    if rekeyed:
        changes.append(f"{len(rekeyed)} run key(s) from before bdd5638")
    if states and (rekeyed or not _has_digests(spath)):
        save_states(spath, states)  # the states first, the JSON last (rnnbook.synthetic.results_file)
        changes.append("states file with digests")
    if rekeyed or any(c.startswith("runs without") for c in changes):
        write_json_atomic(path, data)
    return sorted(set(changes))


def migrate_natural(path: Path) -> list[str]:
    """Bring the run state of one Table 1 results file up to date; what changed, in words."""
    data = read_json(path, NATURAL_FORMAT)
    spath = natural_state_path(path)
    if not spath.exists():
        return []
    raw = torch.load(spath, map_location="cpu", weights_only=True)
    defaults = {k: s.default for k, s in NATURAL_SETTINGS.items() if not s.required}
    missing = [k for k in ("experiment", "sha256", "stopped") if k not in raw]
    missing += [f"config.{k}" for k in defaults if k not in raw["config"]]
    if not missing:
        return []
    state = TrainState.from_file(spath)
    state.experiment = state.experiment or data["experiment"]
    state.config = defaults | state.config
    write_atomic(spath, state.to_bytes())
    return [f"state without {', '.join(missing)}"]


def migrate(results_dir: str | Path, say=print) -> dict[str, list[str]]:
    """Migrate every results file under ``results_dir`` (``<experiment>/<name>.json``); by file, what changed."""
    done = {}
    for path in sorted(Path(results_dir).glob("*/*.json")):
        kind = format_of(path)
        step = {FORMAT: migrate_results, NATURAL_FORMAT: migrate_natural}.get(kind)
        if step is None:
            continue
        try:
            with exclusive(path):
                done[str(path)] = step(path)
        except LockedError as exc:
            say(f"skipped (in use, migrate it later): {exc}")
            continue
        if done[str(path)]:
            say(f"{path}: {'; '.join(done[str(path)])}")
    return done


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m rnnbook.campaign.migrate RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        migrate(args[0])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
