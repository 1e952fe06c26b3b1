"""A one-off migration: the files of ``results/`` rewritten in today's shapes.

Older versions of rnnbook wrote files in shapes the readers now refuse, each in one line naming
this command (:mod:`rnnbook.store.outdated`). ``python -m rnnbook.campaign.migrate results`` has
rewritten every committed file; it stays for the results of an older clone. It is the one place
that knows the old shapes:

sweeps' results files (``rnnbook-results/1``)
    a run's key from before the update cap left it (commit f8c7c0d: every field was hashed, the
    cap included) becomes today's key (its kept state is re-keyed with it); a run without
    ``censored``, ``sittings`` or ``diverged`` gets them (censored: it reached its cap without
    succeeding or diverging).
their states files (``rnnbook-states/1``)
    a file without SHA-256 digests is written again with them.
Table 1's run states (``rnnbook-natural-1``)
    a state without ``experiment``, without digest, without ``stopped`` (no method stopped early)
    or without a setting added since it was saved (the setting's default) is written again, complete.

Nothing a run's future depends on changes: the same weights, counters and curves, in today's
layout, so a run continues bit for bit as it would have from the old file. Every file is
rewritten under its lock (:func:`rnnbook.store.lock.exclusive`; a file in use is passed over and
named), states first and JSON last, each atomically. Run it again: a migrated file is left alone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Mapping

import torch

from rnnbook.errors import ConfigError, report
from rnnbook.natural.experiments import ADDED_LATER
from rnnbook.natural.experiments import SETTINGS as NATURAL_SETTINGS
from rnnbook.natural.state import FORMAT as NATURAL_FORMAT
from rnnbook.natural.state import TrainState, state_digest
from rnnbook.natural.state import state_path as natural_state_path
from rnnbook.store.atomic import write_atomic
from rnnbook.store.checkpoints import RunState, load_states, save_states, states_path
from rnnbook.store.jsonio import format_of, read_json, write_json_atomic
from rnnbook.store.lock import LockedError, exclusive
from rnnbook.store.outdated import OutdatedFileError
from rnnbook.synthetic.results import FORMAT, check_structure
from rnnbook.synthetic.runs import RunConfig


def todays_key(rec: Mapping[str, Any]) -> str:
    """A stored run's key in today's form: a key that hashes every field, the cap included (written
    before commit f8c7c0d), becomes today's key of the same config; any other is kept."""
    cfg = RunConfig.from_dict(rec["config"])
    old = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    if rec["key"].endswith("-" + old) and rec["key"].rsplit("-", 1)[0] == cfg.key().rsplit("-", 1)[0]:
        return cfg.key()
    return rec["key"]


def was_censored(rec: Mapping[str, Any]) -> bool:
    """Whether a run stored without ``censored`` was censored: it reached its cap without succeeding or diverging."""
    return not rec["success"] and not rec.get("diverged") and rec["updates"] >= rec["config"]["max_updates"]


def _states(spath: Path) -> tuple[dict[str, RunState], bool]:
    """The states kept in ``spath`` and whether the file has its digests (one without is read as it is, once)."""
    try:
        return load_states(spath), True
    except OutdatedFileError:
        raw = torch.load(spath, map_location="cpu", weights_only=True)["states"]
        return {k: RunState.from_plain(v) for k, v in raw.items()}, False


def _complete_runs(runs: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """Re-key and complete ``runs`` in place; what changed, in words, and the new key of each old one."""
    changes, rekeyed = [], {}
    for rec in runs:
        key = todays_key(rec)
        if key != rec["key"]:
            rekeyed[rec["key"]] = rec["key"] = key
        for field, value in (("censored", was_censored(rec)), ("sittings", 1), ("diverged", False)):
            if field not in rec:
                rec[field] = value
                changes.append(f"runs without {field}")
    return changes, rekeyed


def migrate_results(path: Path) -> list[str]:
    """Bring one sweep's results file and its states file up to date; what changed, in words."""
    data = read_json(path, FORMAT)  # today's reader (load_results) refuses the old shapes
    try:
        changes, rekeyed = _complete_runs(data["runs"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{str(path)!r} is a damaged {FORMAT} results file ({exc!r})") from None
    check_structure(data, str(path))
    rewrite = bool(changes or rekeyed)
    spath = states_path(path)
    states, digests = _states(spath)
    for old, new in rekeyed.items():
        if old in states:
            states[new] = states.pop(old)
            states[new].key = new
    if rekeyed:
        changes.append(f"{len(rekeyed)} run key(s) from before f8c7c0d")
    if states and (rekeyed or not digests):
        save_states(spath, states)  # the states first, the JSON last (rnnbook.synthetic.results_file)
        changes.append("states file with digests")
    if rewrite:
        write_json_atomic(path, data)
    return sorted(set(changes))


def migrate_natural(path: Path) -> list[str]:
    """Bring the run state of one Table 1 results file up to date; what changed, in words."""
    data = read_json(path, NATURAL_FORMAT)
    spath = natural_state_path(path)
    if not spath.exists():
        return []
    raw = torch.load(spath, map_location="cpu", weights_only=True)
    # settings added since without a migration (natural.experiments.ADDED_LATER) are read as their defaults
    defaults = {k: s.default for k, s in NATURAL_SETTINGS.items() if not s.required and k not in ADDED_LATER}
    missing = [k for k in ("experiment", "sha256", "stopped") if k not in raw]
    missing += [f"config.{k}" for k in defaults if k not in raw["config"]]
    if not missing:
        return []
    digest = raw.pop("sha256", None)
    if digest is not None and digest != state_digest(raw):
        raise ConfigError(f"{str(spath)!r} is corrupt: it does not match its SHA-256; restore it from a copy")
    raw["experiment"] = raw.get("experiment") or data["experiment"]
    raw["config"] = defaults | raw["config"]
    state = TrainState.from_plain(raw)  # without ``stopped``: TrainState's default, no method stopped
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
        return report(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
