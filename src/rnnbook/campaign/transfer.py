"""A campaign on another machine (a lent GPU): copy the queue's files there, train, merge them back.

:func:`snapshot` copies the results files (and kept states) that the queue's items train from the
book's ``results/`` into a folder, with the SHA-256 of every file as it was
(``campaign-base.json``); the campaign then trains into that folder (``campaign --out DIR``,
``benchmarks/gpu_campaign.sh``). :func:`merge` (``campaign --merge DIR``) brings the trained files
back: only if the book's file is still the one that was copied (nobody trained it meanwhile) and
the folder's file continues it (same experiment and settings, no run lost or shortened). The
files are copied byte for byte, under the results file's lock (:mod:`rnnbook.store.lock`), so
``results/`` ends up exactly as if the campaign had trained there on that machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from rnnbook.campaign.queue import Item, Unavailable, item_files
from rnnbook.errors import ConfigError
from rnnbook.store.atomic import write_atomic
from rnnbook.store.lock import exclusive
from rnnbook.synthetic.results_file import comparable_spec, first_difference

MANIFEST = "campaign-base.json"  #: in a --out folder: what it was copied from, file by file


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def snapshot(items: list[Item], results_dir: str | Path, out: str | Path) -> dict[str, Any]:
    """Copy the files the queue trains from ``results_dir`` into ``out`` and record their hashes.

    A folder made before keeps its copies (a second sitting goes on there); files of items it
    lacks are added. Returns the manifest (``out/campaign-base.json``).
    """

    out = Path(out)
    mpath = out / MANIFEST
    manifest = json.loads(mpath.read_text(encoding="utf-8")) if mpath.exists() else {"files": {}}
    for item in items:
        try:
            files = item_files(item, results_dir)
        except Unavailable:
            continue  # the campaign says so when it reaches the item
        for owner in dict.fromkeys(_owner(f) for f in files):
            held = exclusive(owner) if owner.parent.is_dir() else contextlib.nullcontext()
            with held:  # a results file and its states as their writer left them
                for src in (f for f in files if _owner(f) == owner):
                    rel = str(src.relative_to(results_dir))
                    if rel in manifest["files"]:
                        continue
                    manifest["files"][rel] = _sha(src)
                    if src.exists():
                        (out / rel).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(src, out / rel)
    out.mkdir(parents=True, exist_ok=True)
    mpath.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def merge(out: str | Path, results_dir: str | Path) -> list[str]:
    """Bring a snapshot folder's trained files back into ``results_dir``; returns the files written.

    Refuses (a one-line ConfigError, nothing written) if a file of ``results_dir`` changed
    since the snapshot, or a results file in ``out`` is not a continuation of it (another
    experiment, other settings, a run lost or shortened). Files are copied byte for byte, under
    the results file's lock: the results are what training into ``results_dir`` would have written.
    """

    out, results_dir = Path(out), Path(results_dir)
    mpath = out / MANIFEST
    if not mpath.exists():
        raise ConfigError(f"{str(out)!r} holds no {MANIFEST}: not a folder made by `campaign --out`")
    base = json.loads(mpath.read_text(encoding="utf-8"))["files"]
    trained = {rel: sha for rel, sha in base.items() if (out / rel).exists() and _sha(out / rel) != sha}
    owners = sorted({_owner(results_dir / rel) for rel in trained})
    with contextlib.ExitStack() as locks:
        for owner in owners:  # no other command writes these files while we check and copy
            locks.enter_context(exclusive(owner))
        plan = []
        for rel, sha in sorted(trained.items()):
            new, old = out / rel, results_dir / rel
            if _sha(old) == _sha(new):
                continue  # merged before
            if _sha(old) != sha:
                raise ConfigError(f"{old} changed since the snapshot in {out} was taken (another sweep wrote it): "
                                  "merge refused; run the campaign again from a new snapshot")
            if new.suffix == ".json" and old.exists():
                _check_continuation(old, new)
            plan.append((old, new))
        for old, new in sorted(plan, key=lambda p: p[0].suffix != ".pt"):  # states first, as a sweep saves
            write_atomic(old, new.read_bytes())
    return [str(old) for old, _ in plan]


def _owner(path: Path) -> Path:
    """The results file whose lock covers ``path`` (itself, or the file its states belong to)."""
    stem = path.name.removesuffix(".pt").removesuffix(".states").removesuffix(".state").removesuffix(".json")
    return path.parent / f"{stem}.json"


def _check_continuation(old: Path, new: Path) -> None:
    """``new`` must be ``old`` trained further: same experiment, protocol and settings, no run lost or shortened."""

    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (old, new))
    if any(a.get(k) != b.get(k) for k in ("format", "experiment", "protocol")):
        raise ConfigError(f"{new} is not a continuation of {old} (another experiment or protocol): merge refused")
    if "runs" not in a:  # a Table 1 file
        if b.get("epochs_done", 0) < a.get("epochs_done", 0):
            raise ConfigError(f"{new} has fewer epochs than {old}: merge refused")
        return
    diff = first_difference(comparable_spec(a["spec"]), comparable_spec(b["spec"]))
    if diff:
        raise ConfigError(f"{new} was trained with other settings than {old} ({diff}): merge refused")
    ups = {r["key"]: r["updates"] for r in b["runs"]}
    lost = [r["key"] for r in a["runs"] if ups.get(r["key"], -1) < r["updates"]]
    if lost:
        raise ConfigError(f"{new} lacks or shortens {len(lost)} run(s) of {old} (e.g. {lost[0]}): merge refused")
