"""Shared test settings: one torch thread per process (pytest-xdist runs two processes on two cores)."""

import json

import pytest
import torch

from rnnbook.synthetic import training

torch.set_num_threads(1)
torch.set_flush_denormal(True)


# A tiny sweep for the sweep/results/CLI tests: 2 inits x 2 methods x 1 length x 2 seeds = 8 runs
# of a 4-unit model, 20 updates each (a few seconds in all).
TINY_EXPERIMENT = {
    "base": "temporal_order",
    "inits": ["sigmoid", "basic_tanh"],
    "methods": ["msgd", "msgd_cr"],
    "protocols": {
        "quick": {
            "lengths": [10],
            "seeds": [0, 1],
            "hidden": 4,
            "max_updates": 20,
            "check_every": 10,
            "n_valid": 40,
            "valid_chunk": 20,
        }
    },
}


@pytest.fixture
def tiny_config(tmp_path):
    """Write a config file declaring experiment ``tiny`` (overrides merged in); return its path."""

    def make(name="tiny.json", **quick_overrides):
        exp = json.loads(json.dumps(TINY_EXPERIMENT))
        exp["protocols"]["quick"].update(quick_overrides)
        path = tmp_path / name
        path.write_text(json.dumps({"experiments": {"tiny": exp}}))
        return path

    return make


@pytest.fixture
def trained(monkeypatch):
    """Every call of ``training.train_runs``, in order: the keys it trained and the keys it resumed."""
    calls = []
    real = training.train_runs

    def counting(runs, **kw):
        calls.append(([r.key() for r in runs], sorted((kw.get("resume") or {}).keys())))
        return real(runs, **kw)

    monkeypatch.setattr(training, "train_runs", counting)
    return calls
