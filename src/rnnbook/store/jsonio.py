"""The book's JSON files, in and out: one way to write one, one way to read one back.

Every file the package writes (a sweep's results, a Table 1 run, a generalisation test) is plain,
strict JSON with a ``"format"`` field naming what it is (``"rnnbook-results/1"``, say). It is
written as canonical text (sorted keys, one-space indent, no NaN) and atomically
(:func:`rnnbook.store.atomic.write_atomic`: a reader sees the old file or the new one, never half).
It is read back by :func:`read_json`, which checks the ``format`` field and, given the format's
own ``check``, every field the code goes on to read: a missing, unreadable, foreign or damaged
file is one line of error (:class:`~rnnbook.errors.ConfigError`), never a traceback later.
Under it, :func:`parse_file` is how any file the package is handed is read (the campaign's TOML
queue too): a missing, unreadable or malformed file is one line naming what it should have been.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from rnnbook.errors import ConfigError
from rnnbook.store.atomic import write_atomic


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types only; non-finite floats become ``null`` (strict JSON has no NaN)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return to_jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "__float__"):
        return to_jsonable(float(obj))
    return str(obj)


def dumps(obj: Any) -> str:
    """The canonical text of a file: sorted keys, one-space indent, strict JSON."""
    return json.dumps(to_jsonable(obj), sort_keys=True, indent=1, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` so that readers see the old file or the new one, never half
    (:func:`rnnbook.store.atomic.write_atomic`); the text is produced before anything is written."""
    write_atomic(path, dumps(obj).encode("utf-8"))


def parse_file(path: str | Path, parse: Callable[[str], Any], what: str,
               bad: str = "malformed {what} {where}") -> Any:
    """``parse`` (``json.loads``, ``tomllib.loads``) of the text of ``path``: the one way the package
    reads a file it is given. A file that cannot be read, is not UTF-8 text or that ``parse``
    refuses is a one-line ConfigError naming ``what`` it should have been (``bad`` words the
    last case, from ``what`` and the quoted path ``where``)."""
    where = repr(str(path))
    try:
        return parse(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {where}: {exc.strerror or exc}") from None
    except ValueError as exc:  # UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError
        raise ConfigError(f"{bad.format(what=what, where=where)}: {exc}") from None


def read_json(path: str | Path, format: str, *, what: str = "results file",
              check: Callable[[Mapping[str, Any], str], None] | None = None) -> dict[str, Any]:
    """The JSON object in ``path``, whose ``"format"`` field must be ``format``.

    ``what`` names the kind of file in the messages; ``check(data, where)``, the format's own
    structure check, raises a one-line ConfigError for a damaged file. Every other problem (no
    file, not JSON, another format) is a one-line ConfigError too.
    """
    where = str(path)
    data = parse_file(path, json.loads, what, bad="{where} is not a JSON {what}")
    if not isinstance(data, dict) or data.get("format") != format:
        raise ConfigError(f"{where!r} is not an {format} {what}")
    if check is not None:
        check(data, where)
    return data


def format_of(path: str | Path) -> str | None:
    """The ``"format"`` field of the JSON file ``path`` (``None`` if it has none or is no JSON
    object): which reader a file needs, when a command takes files of several kinds."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("format") if isinstance(data, dict) else None
