"""A stored study's file: how every study of ``rnnbook.studies`` is opened, resumed and written.

A *stored study* (the Ω study, the modern baseline, ...) is a measurement fixed before it was
run: its settings are constants of its module, and its file ``results/<study>/<protocol>.json``
holds, besides the units already measured (seeds, groups), those settings and one entry per
session that worked on it. Every study treats that file the same way, so the way lives here:

* the file is held under the results lock (:func:`rnnbook.store.lock.exclusive`) while a session
  works on it: a second process on the same study waits instead of losing the first's units;
* a file written under other settings is refused in one line, never extended (its units would
  mix two studies);
* every session is recorded (start, code version, machine; its end when it ends normally), and
  the study saves itself after every unit (:meth:`StudyFile.save`, atomic): an interrupted
  session loses at most the unit it was measuring, and a rerun skips what is stored.

The study's own module decides what a unit is and which are missing; this module knows nothing
about training.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbook.errors import ConfigError
from rnnbook.store.jsonio import read_json, to_jsonable, write_json_atomic
from rnnbook.store.lock import exclusive
from rnnbook.store.provenance import code_version, environment, now


@dataclass
class StudyFile:
    """An open study: ``data`` is the file's content (edit it in place), :meth:`save` writes it."""

    path: Path
    data: dict

    def save(self) -> None:
        write_json_atomic(self.path, self.data)


@contextmanager
def open_study(path: str | Path, fmt: str, what: str, fixed: Mapping[str, Any], empty: Mapping[str, Any],
               session: Mapping[str, Any] | None = None) -> Iterator[StudyFile]:
    """Hold ``path`` locked for one session of a study and yield it as a :class:`StudyFile`.

    ``fmt``: the file's ``format``; ``what``: its name in errors ("Ω study file").
    ``fixed``: the settings the stored units were measured under (protocol, the study's
    constants); a file whose values differ is refused. ``empty``: the containers of a new file
    (``{"runs": []}``). ``session``: extra facts of this session (a budget). The session's end is
    recorded, and the file written, when the ``with`` block ends without an exception.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path):
        if path.exists():
            data = read_json(path, fmt, what=what)
        else:
            data = {"format": fmt, **to_jsonable(dict(fixed)), **to_jsonable(dict(empty)), "sessions": []}
        changed = [k for k, v in fixed.items() if data.get(k) != to_jsonable(v)]
        if changed:
            raise ConfigError(f"{path} was written under another study ({', '.join(sorted(changed))} differ); "
                              "move it away to start afresh")
        data["sessions"].append({"started": now(), "code": code_version(), "environment": environment("cpu"),
                                 **(session or {})})
        study = StudyFile(path, data)
        yield study
        data["sessions"][-1]["ended"] = now()
        study.save()
