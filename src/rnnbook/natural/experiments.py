"""Table 1's experiments: the settings of a natural-problem protocol, declared once, and where they come from.

Table 1's music rows are trained on the paper's own data (§4.2; back/paper_in_numbers.ipynb, pn-table1
and pn-natural): ``music_piano_midi``, ``music_nottingham``, ``music_musedata`` and, beside them,
``music_jsb`` (JSB Chorales, the fourth set of the same release, not in the paper). The Penn
Treebank rows have a stand-in: the next character or the one five positions ahead on the
Shakespeare corpus (``text_next``, ``text_5ahead``); ``ptb_next`` and ``ptb_5ahead`` train the
same on a reader's copy of Mikolov's Penn Treebank files. Each has a ``quick`` protocol (seconds,
for the chapter) and a ``paper`` protocol with the paper's settings where the paper (in practice:
reading notes of its arXiv version) gives them, each with its source. They are data,
``src/rnnbook/registry/natural.toml``, beside the synthetic experiments;
:mod:`rnnbook.natural.training` trains them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rnnbook.errors import ConfigError, check_choice
from rnnbook.methods import DTYPES, METHODS
from rnnbook.settings import declared, parse_override, setting
from rnnbook.synthetic.config_file import check_keys, read_file

ACT = "sigmoid"  # the paper's units on both problems ([arXiv-2nd]; paper in numbers: pn-table1)

#: settings declared after Table 1's runs were made (for claim t1-decay): a state or protocol without
#: one has its default, today's behaviour (:mod:`rnnbook.natural.state` reads old states so), and a
#: protocol shows one only where it differs from its default
ADDED_LATER = ("omega_schedule", "methods")


@dataclass(frozen=True)
class NaturalConfig:
    """The settings of one natural-problem protocol, each declared once (:mod:`rnnbook.settings`).

    Learning rates and the threshold are for the engine's cost, the mean over steps and
    sequences (:func:`rnnbook.natural.task.mean_cost_settings` converts the paper's summed-cost values).
    """

    hidden: int = setting(">= 1", "sigmoid hidden units")
    seq_len: int = setting(">= 1", "steps per training window (BPTT length)")
    batch: int = setting(">= 1", "windows per minibatch")
    epochs: int = setting(">= 1", "passes over the training stream (raise it to train on)")
    lr_msgd: float = setting("> 0", "learning rate of MSGD (mean cost)")
    lr_msgd_c: float = setting("> 0", "learning rate of MSGD+C (mean cost)")
    lr_msgd_cr: float = setting("> 0", "learning rate of MSGD+CR (mean cost)")
    threshold: float = setting("> 0", "clipping threshold of MSGD+C and MSGD+CR (mean cost)")
    reg_weight: float = setting(">= 0", "MSGD+CR: Omega's weight in epoch t is reg_weight / t")
    lr_halving: bool = setting("", "halve a method's learning rate when its validation loss rises", True)
    train_items: int = setting(">= 0", "training stream cut to this many frames/characters (0: all)", 0)
    eval_items: int = setting(">= 0", "text: characters of each split scored after an epoch (0: all)", 0)
    eval_columns: int = setting(">= 1", "text: a split is scored as this many contiguous columns", 100)
    seed: int = setting(">= 0", "initial weights and the minibatch order", 0)
    dtype: str = setting(tuple(DTYPES), "floating-point type of training", "float32")
    patience: int = setting(">= 0", "early stopping: a method stops after this many epochs without a better "
                                    "validation score (0: never; the run ends when all have stopped)", 0)
    min_delta: float = setting(">= 0", "early stopping: a validation score counts as better only if it is below the "
                                       "last one that counted by more than this (nats or bits per item)", 0.0)
    omega_schedule: str = setting(("1/t", "fixed"), "MSGD+CR: Omega's weight in epoch t, reg_weight / t (the "
                                                    "paper's '1/t') or reg_weight in every epoch ('fixed')", "1/t")
    methods: str = setting(("all", *METHODS), "the methods trained: the three side by side ('all'), or one alone "
                                             "(it trains as it does beside the others)", "all")

    @property
    def trained(self) -> tuple[str, ...]:
        """The methods this protocol trains, in the paper's order."""
        return METHODS if self.methods == "all" else (self.methods,)

    def omega_weight(self, epoch: int) -> float:
        """Omega's weight in epoch ``epoch`` (1-based), before a method's own choice
        (:meth:`rnnbook.methods.Method.reg_weight`): ``reg_weight / epoch``, or ``reg_weight`` held
        (``fixed``: the ``1/t`` schedule's value at t = 1, so the two schedules share epoch 1 bit for bit)."""
        return self.reg_weight / epoch if self.omega_schedule == "1/t" else self.reg_weight

    def __repr__(self) -> str:  # a protocol at the defaults of ADDED_LATER reads as before they existed
        shown = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if f.name not in ADDED_LATER or getattr(self, f.name) != f.default]
        return f"{type(self).__qualname__}({', '.join(shown)})"

    def validate(self) -> "NaturalConfig":
        for name, s in SETTINGS.items():
            s.check(getattr(self, name), "protocol")
        return self

    def with_overrides(self, items: list[str]) -> "NaturalConfig":
        changes = dict(parse_override(text, SETTINGS) for text in items)
        return replace(self, **changes).validate()


SETTINGS = declared(NaturalConfig)


@dataclass(frozen=True)
class NaturalExperiment:
    """A corpus, a problem on it, and its protocols (each with where its values come from)."""

    name: str
    title: str
    corpus: str  # "shakespeare", "ptb", or a data set of rnnbook.natural.corpora.poly_music ("jsb", ...)
    ahead: int
    paper: str  # which rows of Table 1 it stands in for
    protocols: Mapping[str, NaturalConfig]
    sources: Mapping[str, str] = field(default_factory=dict)

    def protocol(self, name: str) -> NaturalConfig:
        check_choice("protocol", name, self.protocols)
        return self.protocols[name]

    @property
    def kind(self) -> str:
        """``"text"`` (characters) or ``"music"`` (piano rolls)."""
        return "text" if self.corpus in ("shakespeare", "ptb") else "music"


# ---------------------------------------------------------------------------------------------
# The declarations: registry/natural.toml
# ---------------------------------------------------------------------------------------------

REGISTRY_FILE = Path(__file__).resolve().parents[1] / "registry" / "natural.toml"
_EXPERIMENT_KEYS = ("title", "corpus", "ahead", "paper", "shared_sources", "sources", "protocols")


def _strings(where: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(f"{where}: expected a table of strings")
    return dict(table)


def _settings(where: str, table: Any, shared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """A protocol table's settings, each checked by its declaration, over the shared protocol it names (``base``)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    check_keys(where, table, ("base", *SETTINGS))
    start = {}
    if "base" in table:
        check_choice(f"{where}.base", table["base"], shared)
        start = shared[table["base"]]
    return {**start, **{k: SETTINGS[k].check(v, where) for k, v in table.items() if k != "base"}}


def _experiment(name: str, table: Any, shared: Mapping[str, dict[str, Any]],
                sources: Mapping[str, dict[str, str]]) -> NaturalExperiment:
    where = f"natural.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    check_keys(where, table, _EXPERIMENT_KEYS)
    said = {}
    if "shared_sources" in table:
        check_choice(f"{where}.shared_sources", table["shared_sources"], sources)
        said = sources[table["shared_sources"]]
    protocols = {}
    for pname, pt in table.get("protocols", {}).items():
        try:
            protocols[pname] = NaturalConfig(**_settings(f"{where}.protocols.{pname}", pt, shared)).validate()
        except TypeError as exc:  # a setting without a default is missing
            raise ConfigError(f"{where}.protocols.{pname}: {exc}") from None
    try:
        return NaturalExperiment(name=name, title=str(table["title"]), corpus=str(table["corpus"]),
                                 ahead=int(table["ahead"]), paper=str(table["paper"]), protocols=protocols,
                                 sources={**said, **_strings(f"{where}.sources", table.get("sources", {}))})
    except KeyError as exc:
        raise ConfigError(f"{where}: needs {exc}") from None


def load(path: str | Path = REGISTRY_FILE) -> tuple[dict[str, NaturalExperiment], dict[str, dict[str, Any]]]:
    """The natural experiments of a TOML file, and its shared protocols (each a table of settings)."""
    data = read_file(path)
    check_keys("top level", data, ("protocols", "sources", "natural", "variants"))
    shared = {n: _settings(f"protocols.{n}", t, {}) for n, t in data.get("protocols", {}).items()}
    sources = {n: _strings(f"sources.{n}", t) for n, t in data.get("sources", {}).items()}
    return {n: _experiment(n, t, shared, sources) for n, t in data["natural"].items()}, shared


_VARIANT_KEYS = ("of", "title", "paper", "sources", "settings")


def _variant(name: str, table: Any, experiments: Mapping[str, NaturalExperiment]) -> NaturalExperiment:
    """A variant: the experiment it is ``of``, each protocol with ``settings`` changed (checked by their declarations)."""
    where = f"variants.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    check_keys(where, table, _VARIANT_KEYS)
    try:
        check_choice(f"{where}.of", table["of"], experiments)
        base, title, paper = experiments[table["of"]], str(table["title"]), str(table["paper"])
    except KeyError as exc:
        raise ConfigError(f"{where}: needs {exc}") from None
    changes = table.get("settings", {})
    if not isinstance(changes, dict):
        raise ConfigError(f"{where}.settings: expected a table")
    check_keys(f"{where}.settings", changes, tuple(SETTINGS))
    changes = {k: SETTINGS[k].check(v, f"{where}.settings") for k, v in changes.items()}
    return replace(base, name=name, title=title, paper=paper,
                   protocols={p: replace(c, **changes).validate() for p, c in base.protocols.items()},
                   sources={**base.sources, **_strings(f"{where}.sources", table.get("sources", {}))})


def load_variants(path: str | Path, experiments: Mapping[str, NaturalExperiment]) -> dict[str, NaturalExperiment]:
    """The variants a TOML file declares (``[variants.NAME]``) of its ``experiments``."""
    return {n: _variant(n, t, experiments) for n, t in read_file(path).get("variants", {}).items()}


EXPERIMENTS, _SHARED = load()

#: Table 1's experiments with a setting changed, to test one of the paper's claims about them
#: (``music_nottingham_fixed_omega``: Omega's weight held, claim t1-decay). They are not rows of
#: Table 1: the book's tables of protocols list :data:`EXPERIMENTS` only. Each has a results folder
#: of its own (:func:`results_file`), so its runs cannot be mistaken for Table 1's.
VARIANTS = load_variants(REGISTRY_FILE, EXPERIMENTS)

#: the paper's own music, the four sets of Boulanger-Lewandowski et al. (2012) (rnnbook.natural.corpora.poly_music)
POLY_MUSIC = ("jsb", "piano_midi", "nottingham", "musedata")

#: the book's stopping rule for the paper's music (the paper gives none): each method trains until
#: its validation NLL has not improved for PATIENCE epochs, at most MAX_EPOCHS epochs (then: not
#: converged); natural.toml's shared protocol ``poly_paper``
PATIENCE, MAX_EPOCHS, MIN_DELTA = (_SHARED["poly_paper"][k] for k in ("patience", "epochs", "min_delta"))


def results_file(results_dir: str | Path, experiment: str, protocol: str, seed: int) -> Path:
    """Where a run's results go: ``<dir>/<experiment>/<protocol>.json`` for seed 0, else ``<protocol>-seed<k>.json``."""
    name = protocol if seed == 0 else f"{protocol}-seed{seed}"
    return Path(results_dir) / experiment / f"{name}.json"


def get_experiment(name: str) -> NaturalExperiment:
    """A Table 1 experiment or a variant of one, by name."""
    known = {**EXPERIMENTS, **VARIANTS}
    check_choice("natural experiment", name, known)
    return known[name]
