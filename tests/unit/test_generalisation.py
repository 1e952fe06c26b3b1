"""Solved runs keep their weights, and are tested on fresh sequences of other lengths."""

import json

import pytest
import torch

from rnnbook.cli import main
from rnnbook.errors import ConfigError
from rnnbook.store.checkpoints import load_states, states_path
from rnnbook.synthetic import generalisation
from rnnbook.synthetic.experiments import load_config
from rnnbook.synthetic.runs import RunConfig
from rnnbook.synthetic.sweeps import run_sweep
from rnnbook.synthetic.training import train_runs

EASY = dict(task="torder", init="smart_tanh", method="msgd_c", min_length=10, max_length=10, seed=0,
            max_updates=2000, check_every=100, n_valid=1000, valid_chunk=500, lr=0.1)


@pytest.fixture(scope="module")
def solved():
    result = train_runs([RunConfig(**EASY)])[0]
    assert result.success and result.state is not None and result.state.kind == "solved"
    return result


def test_a_solved_model_is_right_at_its_length_and_an_untrained_one_is_at_chance(solved):
    config = solved.config
    assert generalisation.error_at_length(config, solved.state.weights, 10, 2000) < 0.02
    untrained = {k: torch.zeros_like(v) for k, v in solved.state.weights.items()}
    # all-zero weights give equal logits: argmax picks class 0, right for a quarter of the sequences
    assert generalisation.error_at_length(config, untrained, 10, 4000) == pytest.approx(0.75, abs=0.03)


def test_the_test_set_is_fixed_and_chunked_without_changing_the_answer(solved, monkeypatch):
    config, w = solved.config, solved.state.weights
    a = generalisation.error_at_length(config, w, 30, 600)
    assert a == generalisation.error_at_length(config, w, 30, 600)
    monkeypatch.setattr(generalisation, "VALIDATION_BUDGET", 30 * 60 * 50)  # chunks of 50 sequences
    b = generalisation.error_at_length(config, w, 30, 600)
    assert abs(a - b) < 0.2  # other chunks are other sequences: close, not equal
    with pytest.raises(ConfigError):
        generalisation.error_at_length(config, w, 1, 10)


def test_evaluate_a_results_file_through_the_cli(tmp_path, capsys):
    cfg = tmp_path / "easy.json"
    cfg.write_text(json.dumps({"experiments": {"easy": {
        "base": "temporal_order", "inits": ["smart_tanh"], "methods": ["msgd_c"],
        "protocols": {"quick": {"lengths": [10], "seeds": [0], "max_updates": 2000, "check_every": 100,
                                "n_valid": 1000, "valid_chunk": 500, "lr": 0.1}}}}}))
    run_sweep(load_config(cfg)["easy"], "quick", tmp_path)
    path = tmp_path / "easy" / "quick.json"
    assert [s.kind for s in load_states(states_path(path)).values()] == ["solved"]
    assert main(["generalise", str(path), "--lengths", "10,20", "--sequences", "500"]) == 0
    data = json.loads(generalisation.generalisation_path(path).read_text())
    (run,) = data["runs"]
    assert list(run["errors"]) == ["10", "20"] and run["errors"]["10"] < 0.05
    assert data["n_sequences"] == 500 and data["provenance"]["code"]["rnnbook"]
    assert main(["generalise", str(path), "--lengths", "x"]) == 2
    assert "lengths" in capsys.readouterr().err


def test_on_training_range_judges_each_model_on_the_lengths_it_was_trained_on():
    cfg = {"min_length": 50, "max_length": 200, "seed": 1}
    gen = {"runs": [
        {"key": "a", "config": {**cfg, "seed": 0}, "errors": {"50": 0.0, "100": 0.0, "150": 0.0, "200": 0.3, "500": 0.5}},
        {"key": "b", "config": cfg, "errors": {"50": 0.0155, "100": 0.0069, "200": 0.0098}},
        {"key": "c", "config": {**cfg, "seed": 2}, "errors": {"500": 0.0}},
    ]}
    judged = generalisation.on_training_range(gen, 0.01)
    # 200, the top of the range, counts (199 is drawn in training); 500 lies beyond and does not
    assert [j["solved"] for j in judged] == [False, False, None]
    assert judged[0]["lengths"] == [50, 100, 150, 200] and judged[0]["worst"] == pytest.approx(0.3)
    assert judged[1]["worst"] == pytest.approx(0.0155)
    gen["runs"][0]["errors"]["200"] = 0.0
    assert [j["solved"] for j in generalisation.on_training_range(gen, 0.0)] == [True, False, None]
    fixed = {"runs": [{"key": "d", "config": {"min_length": 100, "max_length": 100, "seed": 0},
                       "errors": {"100": 0.004, "150": 0.9}}]}
    assert generalisation.on_training_range(fixed, 0.01)[0]["solved"] is True


def test_chunk_hits_is_the_chance_that_some_chunk_lands_in_a_window():
    # ten chunks on [50, 200): a ten-length window at the end is visited on half the checks
    assert generalisation.chunk_hits(10, 50, 200, (50, 60)) == pytest.approx(1 - (14 / 15) ** 10)
    assert generalisation.chunk_hits(10, 50, 200, (50, 200)) == 1.0
    assert generalisation.chunk_hits(3, 50, 200, (0, 50)) == 0.0
