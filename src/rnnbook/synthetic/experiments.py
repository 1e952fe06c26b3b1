"""The paper's experiments as declared grids, each with a ``quick`` and a ``paper`` protocol.

The experiments are data: ``src/rnnbook/registry/*.toml``, one file per part of the book
(``fig7.toml``, ``other_tasks.toml``, ``chapter3.toml``) over the shared protocols of
``protocols.toml``, each setting with its source beside it. They are read by
:mod:`rnnbook.synthetic.config_file`, the same validated loader users' config files go through, into
:class:`~rnnbook.synthetic.spec.Experiment` objects (:mod:`rnnbook.synthetic.spec` says what an experiment and a
protocol are). Every experiment has two protocols:

``paper``
    The paper's settings, each cited to the section of the book's page *The paper in numbers*
    (``back/paper_in_numbers.ipynb``) that sources it
    with its provenance tag: [ICML] (the ICML 2013 text, primary), [code] (the authors' Theano
    code), [arXiv-2nd] (the arXiv v2 appendix, known only through secondary reading notes),
    [unknown] (nobody says; the choice is ours). Where ICML, arXiv and code disagree we follow
    ICML and say so.
``quick``
    A smoke-scale run that finishes in minutes on two CPU cores, for notebooks and CI: short
    sequences, few seeds, caps of a few thousand updates, 1,000 validation sequences. It
    exercises the whole pipeline and shows the *direction* of the paper's effects at short
    lengths; its success rates are **not** comparable with the paper's.

User experiments (or overrides of built-in ones) come from a JSON or TOML file, see
:func:`load_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from rnnbook.errors import ConfigError
from rnnbook.synthetic import config_file
from rnnbook.synthetic.config_file import CONFIG_HELP  # noqa: F401 (the config file format, documented here too)
from rnnbook.synthetic.runs import METHODS  # noqa: F401 (the paper's three methods, as every grid names them)
from rnnbook.synthetic.spec import SETTINGS, STEPS_PER_CORE_SECOND, Experiment, Protocol, with_overrides  # noqa: F401

PROTOCOLS = ("quick", "paper")

#: The built-in declarations, in the order ``rnnbook list`` shows them; protocols.toml holds the
#: protocols they start from (Fig. 7's ``paper``, ``paper_code_defaults``, ``quick``).
REGISTRY = Path(__file__).resolve().parents[1] / "registry"  # src/rnnbook/registry: shared with natural/
REGISTRY_FILES = ("fig7.toml", "other_tasks.toml", "chapter3.toml")

#: The protocols the built-in experiments start from; a user's protocol may too (``base = "paper"``).
SHARED_PROTOCOLS: dict[str, Protocol] = config_file.shared_protocols(config_file.read_file(REGISTRY / "protocols.toml"))


def _registry() -> dict[str, Experiment]:
    """Every built-in experiment, read from :data:`REGISTRY` by the loader of users' config files."""
    table: dict[str, Experiment] = {}
    for name in REGISTRY_FILES:
        table.update(config_file.load_config(REGISTRY / name, known=table, shared=SHARED_PROTOCOLS, source=None))
    return table


EXPERIMENTS: dict[str, Experiment] = _registry()

#: The protocols chapter cells run live (registry/live.toml, protocol ``live``): :func:`get_experiment`
#: finds them, but they are not sweeps, so ``EXPERIMENTS`` (``rnnbook list``, the campaign) leaves them out.
LIVE: dict[str, Experiment] = config_file.load_config(REGISTRY / "live.toml", known=EXPERIMENTS,
                                                      shared=SHARED_PROTOCOLS, source=None)

#: What the authors' code does for each of Fig. 7's settings (protocols.toml's ``paper``; HEAD 3f5df3f,
#: `RNN.py`; paper in numbers: Fig. 7, code), as (value, how it does it) [code]. Chapter 4 prints it beside the book's
#: protocol, so that every setting in which the book differs from the paper or the code is on the page.
AUTHORS_CODE_SETTINGS: dict[str, tuple[Any, str]] = {
    "hidden": (50, "nhid=50"),
    "batch": (20, "bs=20"),
    "lr": (0.01, "lr=.01"),
    "threshold": (1.0, "cutoff=1."),
    "reg_weight": (2.0, "alpha=2. (the ICML text: 4)"),
    "max_updates": (5_000_000, "maxiters=5e6"),
    "check_every": (20, "checkFreq=20 at HEAD; 2,000 in the first draft and the logged run"),
    "n_valid": (10_000, "ebs=10000"),
    "valid_chunk": (1_000, "cbs=1000, each chunk its own random length"),
    "success_error": (0.0, "no < 1 % rule: it stops only at 0 errors (error < .0001 %)"),
    "init_variant": ("code", "smart tanh: 15 non-zeros per row of W_hh, i.e. 15 outgoing weights per unit"),
    "safety_net": (True, "a NaN, Inf or > 1e10 gradient norm replaces the update by shrinking W_hh "
                         "(clipstyle 'rescale', every clipped run)"),
    "dtype": ("float32", "Theano floatX, float32 by the code's own comment"),
}


def get_experiment(name: str, extra: Mapping[str, Experiment] | None = None) -> Experiment:
    """A built-in experiment (or a chapter's live one), or one from ``extra`` (e.g. :func:`load_config`'s result)."""
    table = {**EXPERIMENTS, **LIVE, **(extra or {})}
    try:
        return table[name]
    except KeyError:
        raise ConfigError(
            f"unknown experiment {name!r} (known: {', '.join(sorted(table))})"
        ) from None


def experiment_from_dict(name: str, table: Any, *, where: str | None = None) -> Experiment:
    """One experiment table of a user's config file (see :data:`CONFIG_HELP`); ``base`` names a built-in."""
    return config_file.experiment_from_dict(name, table, known=EXPERIMENTS, shared=SHARED_PROTOCOLS, where=where)


def load_config(path: str | Path) -> dict[str, Experiment]:
    """A user's TOML or JSON file of experiments, over the built-in ones; every problem is a one-line ConfigError."""
    return config_file.load_config(path, known=EXPERIMENTS, shared=SHARED_PROTOCOLS)
