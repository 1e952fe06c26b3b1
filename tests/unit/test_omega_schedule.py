"""Omega's weight held fixed instead of decaying as 1/t (claim t1-decay, §4.2): the ``omega_schedule`` and
``methods`` settings of Table 1's runs, the variant ``music_nottingham_fixed_omega`` that uses them, and the
verdict rule that judges the pairs (rnnbook.verdicts.evidence_table1.FixedOmegaHurts).

Table 1's runs must not change: the defaults are today's behaviour, and a state saved before the settings
existed resumes bit for bit. A pair (fixed weight, 1/t) differs only in the schedule: MSGD+CR trained alone
trains and scores as it does beside MSGD and MSGD+C, so both share epoch 1 (at t = 1 the weights are equal)
bit for bit and part from epoch 2 on."""

import dataclasses
import io
import json

import pytest
import torch
from test_natural import small_data  # the synthetic music pieces of the trainer's tests

from rnnbook.natural.experiments import EXPERIMENTS, VARIANTS, NaturalConfig, get_experiment, results_file
from rnnbook.natural.results import without_provenance
from rnnbook.natural.state import TrainState, state_digest, state_path
from rnnbook.natural.training import load_data, train_natural

torch.set_num_threads(1)
CFG = NaturalConfig(hidden=10, seq_len=20, batch=1, epochs=3, lr_msgd=1.0, lr_msgd_c=1.0, lr_msgd_cr=1.0,
                    threshold=0.5, reg_weight=0.5)
TABLE1, FIXED = get_experiment("music_nottingham"), get_experiment("music_nottingham_fixed_omega")
SAME_RUN = ("train_cost", "grad_norm_mean", "grad_norm_max", "clipped_fraction", "omega_mean", "train", "valid",
            "test", "lr", "reg_weight")


def _cr(out):
    return [r for r in out["history"] if r["method"] == "msgd_cr"]


# -- the defaults are Table 1's runs as they were -----------------------------------------------


def test_table1s_protocols_keep_the_1_over_t_decay_and_the_three_methods():
    for exp in EXPERIMENTS.values():
        for cfg in exp.protocols.values():
            assert (cfg.omega_schedule, cfg.methods, cfg.trained) == ("1/t", "all", ("msgd", "msgd_c", "msgd_cr"))
            assert [cfg.omega_weight(t) for t in (1, 2, 7)] == [cfg.reg_weight / t for t in (1, 2, 7)]
    held = dataclasses.replace(CFG, omega_schedule="fixed")
    assert [held.omega_weight(t) for t in (1, 2, 7)] == [0.5, 0.5, 0.5] == [CFG.omega_weight(1)] * 3


def test_a_state_saved_before_the_settings_existed_reads_them_as_the_defaults_and_resumes_bit_for_bit(tmp_path):
    data, exp = small_data(), get_experiment("music_jsb")
    whole = train_natural(exp, CFG, tmp_path / "a.json", data=data)
    path = tmp_path / "b.json"
    train_natural(exp, CFG, path, data=data, stop_after_updates=9)
    raw = torch.load(state_path(path), weights_only=True)
    del raw["sha256"], raw["config"]["omega_schedule"], raw["config"]["methods"]
    raw["sha256"] = state_digest(raw)  # a sound state, as the committed ones are: only the keys are missing
    buf = io.BytesIO()
    torch.save(raw, buf)
    state_path(path).write_bytes(buf.getvalue())
    assert {k: TrainState.from_file(state_path(path)).config[k] for k in ("omega_schedule", "methods")} == {
        "omega_schedule": "1/t", "methods": "all"}
    resumed = train_natural(exp, CFG, path, data=data)
    assert json.dumps(without_provenance(whole)) == json.dumps(without_provenance(resumed))


# -- the variant: Table 1's Nottingham run with the weight held, MSGD+CR alone ------------------


def test_the_variant_is_table1s_nottingham_with_only_the_schedule_and_the_methods_changed():
    assert "music_nottingham_fixed_omega" in VARIANTS and "music_nottingham_fixed_omega" not in EXPERIMENTS
    assert (FIXED.corpus, FIXED.ahead) == (TABLE1.corpus, TABLE1.ahead)
    for name, cfg in TABLE1.protocols.items():
        a, b = dataclasses.asdict(cfg), dataclasses.asdict(FIXED.protocol(name))
        assert {k for k in a if a[k] != b[k]} == {"omega_schedule", "methods"}
        assert (b["omega_schedule"], b["methods"]) == ("fixed", "msgd_cr")
    assert results_file("results", FIXED.name, "paper", 1).parent.name == "music_nottingham_fixed_omega"


def test_msgd_cr_alone_trains_and_scores_as_beside_the_other_two(tmp_path):
    data = small_data()
    three = train_natural(TABLE1, CFG, tmp_path / "three.json", data=data)
    alone = train_natural(TABLE1, dataclasses.replace(CFG, methods="msgd_cr"), tmp_path / "alone.json", data=data)
    assert alone["methods"] == ["msgd_cr"] and list(alone["table"]) == ["msgd_cr"]
    assert _cr(three) == alone["history"] and three["table"]["msgd_cr"] == alone["table"]["msgd_cr"]


def test_the_fixed_weight_shares_epoch_1_bit_for_bit_and_differs_from_epoch_2_on(tmp_path):
    data = small_data()
    decay = _cr(train_natural(TABLE1, CFG, tmp_path / "decay.json", data=data))
    fixed = train_natural(FIXED, dataclasses.replace(CFG, omega_schedule="fixed", methods="msgd_cr"),
                          tmp_path / "fixed.json", data=data)["history"]
    assert [r["reg_weight"] for r in decay] == [0.5, 0.25, 0.5 / 3] and [r["reg_weight"] for r in fixed] == [0.5] * 3
    assert {k: fixed[0][k] for k in SAME_RUN} == {k: decay[0][k] for k in SAME_RUN}
    for a, b in zip(fixed[1:], decay[1:]):
        assert a["train_cost"] != b["train_cost"] and a["valid"] != b["valid"]


def test_on_the_quick_protocol_the_variants_first_epoch_is_table1s_msgd_cr_bit_for_bit(tmp_path):
    """The real Nottingham corpus and the variant's own protocol (its scores go through the three-model
    layout: a model scored alone rounds differently in torch's vectorised sigmoid and softplus)."""
    cfg = dataclasses.replace(TABLE1.protocol("quick"), epochs=1)
    data = load_data(TABLE1, cfg)
    decay = _cr(train_natural(TABLE1, cfg, tmp_path / "decay.json", data=data))
    fixed = train_natural(FIXED, dataclasses.replace(FIXED.protocol("quick"), epochs=1), tmp_path / "fixed.json",
                          data=data)["history"]
    assert len(fixed) == len(decay) == 1 and {k: fixed[0][k] for k in SAME_RUN} == {k: decay[0][k] for k in SAME_RUN}


# -- the verdict rule, on hand-made numbers ------------------------------------------------------


def _write_run(root, experiment, seed, tests, trained, stopped=True, **settings):
    """A results file whose MSGD+CR has test NLL ``tests[e]`` (valid falling, so the best epoch is the last)."""
    history = [{"epoch": e + 1, "method": "msgd_cr", "train": 4.0, "valid": 4.0 - 0.01 * e, "test": t,
                "updates": 10, "clipped_fraction": 0.0, "train_cost": 4.0, "grad_norm_mean": 1.0,
                "omega_mean": 0.1 if e else 0.2} for e, t in enumerate(tests)]
    history[0]["test"] = 4.5  # epoch 1: shared by both schedules
    path = results_file(root / "results", experiment, "paper", seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "format": "rnnbook-natural-1", "experiment": experiment, "task": {"kind": "music"}, "methods": trained,
        "protocol": {"settings": {"seed": seed, "epochs": 200, "reg_weight": 0.5, **settings}},
        "history": history, "stopped": {"msgd_cr": len(tests) if stopped else None},
        "epochs_done": len(tests), "position": 0, "updates_per_epoch": 10, "provenance": {"sessions": []}}))


def _pairs(root, fixed_minus_decay, stopped=True, **changed):
    for seed, d in enumerate(fixed_minus_decay):
        _write_run(root, "music_nottingham", seed, [4.5, 4.0], ["msgd", "msgd_c", "msgd_cr"])
        _write_run(root, "music_nottingham_fixed_omega", seed, [4.5, 4.0 + d], ["msgd_cr"], stopped,
                   omega_schedule="fixed", methods="msgd_cr", **changed)


def _judge(root):
    from rnnbook.verdicts.evidence_table1 import FIXED_OMEGA_PAIRS, FixedOmegaHurts

    return FixedOmegaHurts(pairs=FIXED_OMEGA_PAIRS[:1]).judge(root, {})  # Nottingham's pairs, written above


def test_the_verdict_is_not_run_before_a_fixed_weight_run(tmp_path):
    assert _judge(tmp_path).verdict == "not run"


@pytest.mark.parametrize("diffs, word", [
    ([0.05, 0.06, 0.04], "reproduced"),  # the fixed weight significantly higher: it hurts
    ([-0.05, -0.06, -0.04], "not reproduced"),  # significantly lower: it helps
    ([0.05, -0.04, 0.01], "inconclusive"),
    ([0.05], "uninformative"),  # one seed: no spread, whatever its sign
])
def test_the_verdict_is_the_paired_one_sided_test_in_the_papers_direction(tmp_path, diffs, word):
    _pairs(tmp_path, diffs)
    v = _judge(tmp_path)
    assert v.verdict == word and len(v.points) == len(diffs) and not v.flags
    assert v.value == pytest.approx(sum(diffs) / len(diffs))


def test_a_run_still_training_keeps_the_verdict_open_and_a_pair_that_changes_more_is_inconclusive(tmp_path):
    _pairs(tmp_path / "a", [0.05, 0.06, 0.04], stopped=False)
    assert _judge(tmp_path / "a").verdict == "open"
    _pairs(tmp_path / "one", [0.9], stopped=False)  # one seed, still training: open, not "uninformative"
    assert _judge(tmp_path / "one").verdict == "open"
    _pairs(tmp_path / "b", [0.05, 0.06, 0.04], lr_msgd_cr=0.5)
    v = _judge(tmp_path / "b")
    assert v.verdict == "inconclusive" and "lr_msgd_cr" in v.flags[0]
