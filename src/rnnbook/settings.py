"""A run's settings, declared once: type, allowed values, meaning and default, beside the field.

:class:`rnnbook.synthetic.runs.RunConfig` declares each setting a protocol may change with
:func:`setting`, which keeps its rule and one-line meaning in the field's metadata. Everything
else reads them from there: :meth:`RunConfig.validate`, the config-file reader and ``--set`` on
the command line (:mod:`rnnbook.synthetic.experiments`), ``rnnbook list`` and the protocol tables the
chapters print (:func:`describe`). Adding a setting is one line in ``RunConfig``.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable

from rnnbook.errors import ConfigError

_NUMBER_RULES: dict[str, Callable[[float], bool]] = {
    "> 0": lambda v: v > 0,
    ">= 0": lambda v: v >= 0,
    ">= 1": lambda v: v >= 1,
    "in [0, 1]": lambda v: 0 <= v <= 1,
}


@dataclass(frozen=True)
class Setting:
    """One declared setting: ``rule`` is ``"> 0"``, ``">= 1"``, ... or the allowed values."""

    name: str
    type: type
    rule: str | tuple[str, ...]
    meaning: str
    default: Any = MISSING

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def check(self, value: Any, where: str = "") -> Any:
        """``value`` as this setting's type, or a one-line :class:`ConfigError` naming ``where``."""
        name = f"{where}.{self.name}" if where else self.name
        got = f"{type(value).__name__} {value!r}"
        if self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name}: expected a number, got {got}")
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        elif self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}: expected an integer, got {got}")
        elif not isinstance(value, self.type):
            raise ConfigError(f"{name}: expected {self.type.__name__}, got {got}")
        if isinstance(self.rule, tuple):
            if value not in self.rule:
                raise ConfigError(f"{name}: must be one of {', '.join(map(repr, self.rule))}, got {value!r}")
        elif self.rule and not _NUMBER_RULES[self.rule](value):
            raise ConfigError(f"{name}: must be {self.rule}, got {value!r}")
        return value

    def describe(self) -> str:
        rule = " or ".join(map(repr, self.rule)) if isinstance(self.rule, tuple) else self.rule
        return f"{self.type.__name__}{', ' + rule if rule else ''}"


def setting(rule: str | tuple[str, ...], meaning: str, default: Any = MISSING) -> Any:
    """A dataclass field that is a protocol setting (use in :class:`~rnnbook.synthetic.runs.RunConfig`)."""
    if isinstance(rule, str) and rule and rule not in _NUMBER_RULES:
        raise ValueError(f"unknown rule {rule!r} (known: {', '.join(_NUMBER_RULES)})")
    meta = {"rule": rule, "meaning": meaning}
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


def declared(cls: type) -> dict[str, Setting]:
    """The settings a dataclass declares with :func:`setting`, by name, in declaration order."""
    out = {}
    for f in fields(cls):
        if "rule" in f.metadata:
            typ = {"float": float, "int": int, "str": str, "bool": bool}.get(f.type if isinstance(f.type, str)
                                                                           else f.type.__name__)
            out[f.name] = Setting(f.name, typ, f.metadata["rule"], f.metadata["meaning"], f.default)
    return out


def parse_override(text: str, settings: dict[str, Setting]) -> tuple[str, Any]:
    """``"NAME=VALUE"`` (``--set`` on the command line) -> ``(name, checked value)``.

    VALUE is read as TOML (``2``, ``0.5``, ``1e6``, ``true``, ``"float64"``; a bare word is a
    string); a whole float is accepted for an integer setting (``max_updates=1e6``).
    """
    import tomllib

    name, sep, raw = str(text).partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name:
        raise ConfigError(f"--set expects NAME=VALUE, got {text!r}")
    if name not in settings:
        raise ConfigError(f"--set {name}: unknown setting (known: {', '.join(settings)})")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    s = settings[name]
    if s.type is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    return name, s.check(value, "--set")


def describe(settings: dict[str, Setting]) -> str:
    """A plain-text table: name, type and allowed values, default, meaning."""
    rows = [(s.name, s.describe(), "required" if s.required else repr(s.default), s.meaning)
            for s in settings.values()]
    head = ("setting", "type, allowed", "default", "meaning")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(3)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3]
    return "\n".join([line(head), line(tuple("-" * w for w in widths) + ("-" * 7,)), *map(line, rows)])
