"""Experiments from TOML or JSON: the one validated loader for users' config files and the built-in registry.

A file declares experiments under ``experiments``, by name, and may declare shared protocols under
``protocols`` that an experiment's protocol starts from (``base = "NAME"``). Every value is checked
against its declaration (:mod:`rnnbook.settings`, :mod:`rnnbook.paper.tasks`, :data:`rnnbook.paper.model.INITS`,
:data:`rnnbook.synthetic.runs.METHODS`) and every problem is one line, a :class:`~rnnbook.errors.ConfigError`
that says where it is (``experiments.x.protocols.quick.lengths: ...``).

The paper's own experiments (``src/rnnbook/registry/*.toml``) go through this same loader
(:mod:`rnnbook.synthetic.experiments`); a user's file differs only in being marked ``source = "user config
file"`` in each of its protocols' provenance.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

from rnnbook.errors import ConfigError
from rnnbook.methods import METHOD
from rnnbook.paper.model import INITS
from rnnbook.paper.tasks import TASK_NAMES, get_task
from rnnbook.synthetic.runs import RUN_SETTINGS
from rnnbook.synthetic.spec import SETTINGS, Experiment, Protocol

#: what a user's file is called in the provenance of its protocols (the built-in registry: nothing)
USER_FILE = "user config file"

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_REQUIRED_SETTINGS = ("max_updates", "check_every")
_PROTOCOL_KEYS = ("base", "label", "seeds", "lengths", "ranges", "provenance", *SETTINGS)
_EXPERIMENT_KEYS = ("base", "title", "task", "task_params", "inits", "methods", "notes", "protocols")

CONFIG_HELP = """\
A config file (TOML or JSON) declares experiments under "experiments", by name. Each may start
from a built-in one ("base") and override any field; protocol tables are merged field by field:

    [experiments.my_torder]
    base = "temporal_order"          # optional
    inits = ["basic_tanh"]           # subset of sigmoid, basic_tanh, smart_tanh
    methods = ["msgd_c", "msgd_cr"]  # subset of msgd, msgd_c, msgd_cr (and msgd_r: Omega, no clipping)
    [experiments.my_torder.protocols.quick]
    lengths = [20, 40]               # fixed lengths (>= 2); and/or ranges = [[50, 200]]
    seeds = [0, 1, 2]
    max_updates = 20000              # any RunConfig setting: lr, threshold, reg_weight, batch,
                                     # hidden, max_updates, check_every, n_valid, valid_chunk, ...

A protocol may instead start from a shared protocol of the same file ("base" inside it):

    [protocols.long]                 # settings (and provenance) several experiments share
    max_updates = 100000
    check_every = 1000
    [experiments.mine.protocols.paper]
    base = "long"
"""


def _type_name(v: Any) -> str:
    return type(v).__name__


def _check_setting(where: str, key: str, value: Any) -> Any:
    return RUN_SETTINGS[key].check(value, where)


def _int_list(where: str, value: Any, *, minimum: int, what: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of integers, got {_type_name(value)} {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: expected integers, got {_type_name(v)} {v!r}")
        if v < minimum:
            raise ConfigError(f"{where}: {what} must be >= {minimum}, got {v}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: duplicate values in {value!r}")
    return tuple(value)


def _ranges(where: str, value: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of [min, max] pairs, got {_type_name(value)}")
    out = []
    for r in value:
        if not (isinstance(r, list) and len(r) == 2):
            raise ConfigError(f"{where}: expected [min, max] pairs, got {r!r}")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{where}: expected integers, got {_type_name(v)} {v!r}")
            if v < 2:
                raise ConfigError(f"{where}: a sequence length must be >= 2, got {v}")
        lo, hi = r
        if lo > hi:
            raise ConfigError(f"{where}: range [{lo}, {hi}] has min > max")
        out.append((lo, hi))
    return tuple(out)


def _names(where: str, value: Any, allowed: Iterable[str], what: str) -> tuple[str, ...]:
    allowed = tuple(allowed)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of {what}s, got {value!r}")
    for v in value:
        if not isinstance(v, str):
            raise ConfigError(f"{where}: expected {what} names, got {_type_name(v)} {v!r}")
        if v not in allowed:
            raise ConfigError(f"{where}: unknown {what} {v!r} (known: {', '.join(allowed)})")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: duplicate {what}s in {value!r}")
    return tuple(value)


def check_keys(where: str, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    extra = [k for k in table if k not in allowed]
    if extra:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} "
            f"(allowed: {', '.join(allowed)})"
        )


def _protocol_from(where: str, name: str, table: Any, base: Protocol | None, source: str | None,
                   *, complete: bool = True) -> Protocol:
    """One protocol table over ``base`` (settings, seeds, lengths and provenance carry over unless set).

    ``complete=False`` reads a shared protocol (under ``protocols``), which need not give lengths yet.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {_type_name(table)}")
    check_keys(where, table, _PROTOCOL_KEYS)
    settings = dict(base.settings) if base else {}
    for k in SETTINGS:
        if k in table:
            settings[k] = _check_setting(where, k, table[k])
    seeds = _int_list(f"{where}.seeds", table["seeds"], minimum=0, what="a seed") if "seeds" in table else (
        base.seeds if base else ()
    )
    if "lengths" in table or "ranges" in table:
        lengths = _int_list(f"{where}.lengths", table.get("lengths", []), minimum=2, what="a sequence length")
        ranges = _ranges(f"{where}.ranges", table.get("ranges", []))
    else:
        lengths, ranges = (base.lengths, base.ranges) if base else ((), ())
    if complete:
        missing = [k for k in _REQUIRED_SETTINGS if k not in settings]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)} (a new protocol needs them)")
        if not seeds:
            raise ConfigError(f"{where}.seeds: needs at least one seed")
        if not lengths and not ranges:
            raise ConfigError(f"{where}: needs 'lengths' and/or 'ranges' (no sequence length given)")
    label = table.get("label", None)
    if label is not None and not isinstance(label, str):
        raise ConfigError(f"{where}.label: expected a string, got {_type_name(label)}")
    prov = table.get("provenance", {})
    if not isinstance(prov, dict) or not all(isinstance(v, str) for v in prov.values()):
        raise ConfigError(f"{where}.provenance: expected a table of strings")
    prov = {**(base.provenance if base else {}), **prov, **({"source": source} if source else {})}
    return Protocol(name=name, label=label if label is not None else _derived_label(base, table),
                    seeds=seeds, lengths=lengths, ranges=ranges, settings=settings, provenance=prov)


def _derived_label(base: Protocol | None, table: Mapping[str, Any]) -> str:
    changed = ", ".join(f"{k}={table[k]!r}" for k in table if k not in ("label", "provenance", "base"))
    if base is None or not base.label:
        return f"user protocol ({changed})"
    return f"{base.label} [changed by a config file: {changed or 'nothing'}]"


def _check_name(where: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: name {name!r} must be letters, digits, '_', '-' or '.' (it names files)")


def _named(where: str, key: str, table: Mapping[str, Any], known: Mapping[str, Any], what: str) -> Any:
    """``table[key]``, the name of one of ``known`` (an experiment or a shared protocol): that one."""
    if not isinstance(table[key], str):
        article = "an" if what[0] in "aeiou" else "a"
        raise ConfigError(f"{where}.{key}: expected {article} {what} name, got {table[key]!r}")
    if table[key] not in known:
        raise ConfigError(f"{where}.{key}: unknown {what} {table[key]!r} (known: {', '.join(sorted(known))})")
    return known[table[key]]


def _task(where: str, table: Mapping[str, Any], base: Experiment | None) -> tuple[str, dict[str, Any]]:
    """The experiment's task and its parameters, checked by building the task once."""
    task = table["task"] if "task" in table else (base.task if base else None)
    if not isinstance(task, str):
        raise ConfigError(f"{where}.task: expected a task name, got {_type_name(task)} {task!r}")
    if task not in TASK_NAMES:
        raise ConfigError(f"{where}.task: unknown task {task!r} (known: {', '.join(TASK_NAMES)})")
    if not isinstance(table.get("task_params", {}), dict):
        raise ConfigError(f"{where}.task_params: expected a table, got {_type_name(table['task_params'])}")
    params = dict(table["task_params"] if "task_params" in table else (base.task_params if base else {}))
    if "task" in table and base is not None and task != base.task and "task_params" not in table:
        params = {}
    try:
        get_task(task, **params)
    except ConfigError as exc:
        raise ConfigError(f"{where}.task_params: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}.task_params: {exc}") from None
    return task, params


def experiment_from_dict(name: str, table: Any, *, known: Mapping[str, Experiment],
                         shared: Mapping[str, Protocol] | None = None, where: str | None = None,
                         source: str | None = USER_FILE) -> Experiment:
    """Validate one experiment table (see :data:`CONFIG_HELP`) and build the :class:`Experiment`.

    ``known``: the experiments a ``base`` may name; ``shared``: the protocols a protocol's ``base`` may name.
    """
    where = where or f"experiments.{name}"
    _check_name(where, name)
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {_type_name(table)}")
    check_keys(where, table, _EXPERIMENT_KEYS)
    base = _named(where, "base", table, known, "experiment") if "base" in table else None
    if base is None and "task" not in table:
        raise ConfigError(f"{where}: needs 'task' (or 'base', a built-in experiment to start from)")
    task, params = _task(where, table, base)
    inits = (_names(f"{where}.inits", table["inits"], INITS, "init") if "inits" in table
             else getattr(base, "inits", None))
    methods = (_names(f"{where}.methods", table["methods"], METHOD, "method") if "methods" in table
               else getattr(base, "methods", None))
    if inits is None or methods is None:
        raise ConfigError(f"{where}: needs 'inits' and 'methods'")
    title, notes = table.get("title", base.title if base else name), table.get("notes", base.notes if base else "")
    for key, v in (("title", title), ("notes", notes)):
        if not isinstance(v, str):
            raise ConfigError(f"{where}.{key}: expected a string, got {_type_name(v)}")
    protos = dict(base.protocols) if base else {}
    ptable = table.get("protocols", {})
    if not isinstance(ptable, dict):
        raise ConfigError(f"{where}.protocols: expected a table of protocols")
    for pname, pt in ptable.items():
        pwhere = f"{where}.protocols.{pname}"
        _check_name(pwhere, pname)
        start = (_named(pwhere, "base", pt, shared or {}, "shared protocol")
                 if isinstance(pt, dict) and "base" in pt else protos.get(pname))
        protos[pname] = _protocol_from(pwhere, pname, pt, start, source)
    if not protos:
        raise ConfigError(f"{where}: needs at least one protocol under 'protocols'")
    exp = Experiment(name=name, title=title, task=task, task_params=params, inits=tuple(inits),
                     methods=tuple(methods), protocols=protos, notes=notes)
    for pname in protos:  # surfaces RunConfig.validate() problems now, as a ConfigError
        exp.runs(pname)
    return exp


def shared_protocols(data: Any, shared: Mapping[str, Protocol] | None = None) -> dict[str, Protocol]:
    """The file's ``protocols`` tables (each may start from an earlier one, or one of ``shared``)."""
    table = data.get("protocols", {})
    if not isinstance(table, dict):
        raise ConfigError("'protocols': expected a table of shared protocols")
    out = dict(shared or {})
    for pname, pt in table.items():
        where = f"protocols.{pname}"
        _check_name(where, pname)
        start = _named(where, "base", pt, out, "shared protocol") if isinstance(pt, dict) and "base" in pt else None
        out[pname] = _protocol_from(where, pname, pt, start, None, complete=False)
    return out


def read_file(path: str | Path) -> dict[str, Any]:
    """The top-level table of a ``.toml`` or ``.json`` file; every problem is a one-line ConfigError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        elif path.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            raise ConfigError(f"config file {str(path)!r}: expected a .toml or .json file")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML in {str(path)!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON in {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected a table/object at the top level")
    return data


def load_config(path: str | Path, *, known: Mapping[str, Experiment], shared: Mapping[str, Protocol] | None = None,
                source: str | None = USER_FILE) -> dict[str, Experiment]:
    """Read a TOML (``.toml``) or JSON file of experiments (see :data:`CONFIG_HELP`).

    ``base`` may name one of ``known`` or an experiment declared earlier in the same file.
    """
    path = Path(path)
    data = read_file(path)
    try:
        check_keys("top level", data, ("experiments", "protocols"))
        protocols = shared_protocols(data, shared)
        exps = data.get("experiments")
        if not isinstance(exps, dict) or not exps:
            raise ConfigError("'experiments': expected a non-empty table of experiments")
        out: dict[str, Experiment] = {}
        for name, t in exps.items():
            out[name] = experiment_from_dict(name, t, known={**known, **out}, shared=protocols, source=source)
        return out
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
