"""Chapter 3.1's stored L2 study (rnnbook.studies.l2_study) and the claim it judges
(rnnbook.verdicts.evidence_l2): the quick study against direct computation, its resumption, and
the declared rule on hand-made files."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rnnbook.book import l2_plots
from rnnbook.errors import ConfigError
from rnnbook.studies import baselines as BL
from rnnbook.studies import l2_study as L
from rnnbook.verdicts.evidence_l2 import L2_STUDY, L2Penalty, strength_word


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("l2")
    study = L.run_study("quick", root / "results", say=lambda s: None)
    return root, study


def _without_times(runs):
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in runs]


def test_the_quick_study_has_every_run_and_snapshot(quick):
    root, study = quick
    spec = L.PROTOCOLS["quick"]
    assert study["format"] == L.FORMAT and study["spec"] == spec and study["study"] == L.STUDY
    assert json.loads(L.results_path(root / "results", "quick").read_text()) == study
    planned = [(s, b) for s in spec["seeds"] for b in spec["penalties"]]
    assert [(r["seed"], r["penalty"]) for r in study["runs"]] == planned
    n_snap = spec["updates"] // spec["snapshot_every"] + 1
    for r in study["runs"]:
        assert r["snapshot_updates"] == [0, 100, 200] and not r["diverged"] and r["updates"] == spec["updates"]
        measured = ("sigma_max", "spectral_radius", "attractors", "rest_norm", "valid_error")
        assert all(len(r[k]) == n_snap for k in measured)
    first = {b: runs[0] for b, runs in L.by_penalty(study).items()}
    assert first[0.0]["sigma_max"][0] == first[0.1]["sigma_max"][0]  # same initial weights for every β
    assert len(study["sessions"]) == 1 and study["sessions"][0]["ended"]


def test_the_study_s_numbers_are_the_direct_computation(quick):
    """One run recomputed from the engine's trajectory: λ₁ as the largest singular value, ρ as the
    largest |eigenvalue|, the attractors, the rest state and the validation error, every snapshot."""
    _, study = quick
    record = next(r for r in study["runs"] if r["seed"] == 1 and r["penalty"] == 0.1)
    config = L.run_config(1, L.PROTOCOLS["quick"])
    run = BL.train_trajectory(config, l2=0.1, snapshot_every=100)
    for i, p in enumerate(run.snapshots):
        W = p.W_hh[0].to(torch.float64)
        assert record["sigma_max"][i] == pytest.approx(float(torch.linalg.svdvals(W)[0]), rel=1e-12)
        assert record["spectral_radius"][i] == pytest.approx(float(torch.linalg.eigvals(W).abs().max()), rel=1e-12)
        assert record["attractors"][i] == BL.autonomous_endpoints(p, "tanh", n_starts=200, steps=500)[0]
        h = torch.zeros(W.shape[0], dtype=torch.float64)
        for _ in range(500):
            h = torch.tanh(h @ W + p.b_h[0].double())
        assert record["rest_norm"][i] == float(h.abs().max())
        assert record["valid_error"][i] == float(BL.validation_error(p, config, 2000)[0])
    # the penalty pulls λ₁ down against the control from the same start
    control = next(r for r in study["runs"] if r["seed"] == 1 and r["penalty"] == 0.0)
    assert record["sigma_max"][-1] < control["sigma_max"][-1]


def test_a_study_stopped_by_its_budget_resumes_bit_for_bit(quick, tmp_path):
    root, study = quick
    said = []
    stopped = L.run_study("quick", tmp_path / "results", budget_s=1e-9, say=said.append)
    assert stopped["runs"] == [] and said[0].startswith("budget spent: stopped before seed 0")
    path = L.results_path(tmp_path / "results", "quick")
    partial = json.loads(L.results_path(root / "results", "quick").read_text())
    partial["runs"] = partial["runs"][:3]          # a sitting that ended after three runs
    path.write_text(json.dumps(partial))
    again = L.run_study("quick", tmp_path / "results", say=lambda s: None)
    assert _without_times(again["runs"]) == _without_times(study["runs"])
    assert again["runs"][:3] == study["runs"][:3] and len(again["sessions"]) == 2


def test_errors_are_one_line(tmp_path, capsys):
    assert L.main(["--protocol", "nope"]) == 2 and L.main(["--budget", "soon"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("rnnbook: error: unknown protocol") and err[1].startswith("rnnbook: error: --budget")
    foreign = tmp_path / L2_STUDY
    foreign.parent.mkdir(parents=True)
    foreign.write_text(json.dumps({"format": "rnnbook-omega-study/1", "runs": []}))
    with pytest.raises(ConfigError, match="is not an rnnbook-l2-study/1 L2 study file"):
        L2Penalty().judge(tmp_path, {})
    shutil.rmtree(tmp_path / "results")
    with pytest.raises(ConfigError, match=r"another study \(.*spec.*\)"):
        path = L.results_path(tmp_path / "results", "quick")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"format": L.FORMAT, "study": L.STUDY, "spec": {}, "runs": [], "sessions": []}))
        L.run_study("quick", tmp_path / "results", say=lambda s: None)


# ---- the rule, on hand-made files --------------------------------------------------------------

PASS = dict(sigma=0.2, attractors=1, error=0.75)      # contraction, one attractor, chance level
WIDE = dict(sigma=1.8, attractors=150, error=0.0)     # the control's picture: solved, many end states
REMEMBERS = dict(sigma=0.8, attractors=1, error=0.0)  # λ₁ < 1 and one attractor, but the task solved


def _run(beta, seed, sigma, attractors, error, diverged=False):
    return {"penalty": beta, "seed": seed, "updates": 10_000, "diverged": diverged,
            "snapshot_updates": [0, 10_000], "sigma_max": [1.8, None if diverged else sigma],
            "spectral_radius": [0.95, None if diverged else sigma / 2],
            "attractors": [1, None if diverged else attractors],
            "rest_norm": [0.0, None if diverged else 0.01], "valid_error": [0.75, None if diverged else error]}


def _fake(root, by_beta: dict, seeds=10):
    """A paper-protocol study file: ``by_beta[β]`` is a list of (kind, diverged) per seed."""
    runs = [_run(b, s, **kind, diverged=div) for b, kinds in by_beta.items() for s, (kind, div) in enumerate(kinds)]
    spec = dict(L.PROTOCOLS["paper"], seeds=list(range(seeds)), penalties=list(by_beta))
    path = root / L2_STUDY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": L.FORMAT, "study": L.STUDY, "spec": spec, "runs": runs, "sessions": []}))
    return root


def _seeds(*counts):
    """[(kind, False)] * n for each (kind, n)."""
    return [(kind, False) for kind, n in counts for _ in range(n)]


@pytest.mark.parametrize("failing, word", [(0, "reproduced"), (1, "inconclusive"), (8, "inconclusive"),
                                           (9, "not reproduced"), (10, "not reproduced")])
def test_every_seed_must_show_all_three(tmp_path, failing, word):
    kinds = _seeds((PASS, 10 - failing), (WIDE, failing))
    v = L2Penalty().judge(_fake(tmp_path, {0.0: _seeds((WIDE, 10)), 0.1: kinds}), {})
    assert v.verdict == word, v.why
    assert f"{10 - failing} of 10 seeds pass" in v.why and "control β = 0: 10 of 10" in v.why
    row = v.points[0]
    assert row["β"] == 0.1 and row["all three"] == f"{10 - failing}/10" and row["verdict"] == word


def test_a_contraction_that_still_learns_fails_the_memory_part(tmp_path):
    v = L2Penalty().judge(_fake(tmp_path, {0.0: _seeds((WIDE, 10)), 0.1: _seeds((REMEMBERS, 10))}), {})
    assert v.verdict == "not reproduced"
    assert v.points[0]["λ₁ < 1"] == "10/10" and v.points[0]["one attractor"] == "10/10"
    assert v.points[0]["not solved"] == "0/10"


def test_without_a_control_that_learns_a_pass_is_uninformative(tmp_path):
    v = L2Penalty().judge(_fake(tmp_path, {0.0: _seeds((WIDE, 8), (PASS, 2)), 0.1: _seeds((PASS, 10))}), {})
    assert v.verdict == "uninformative" and "control β = 0: 8 of 10" in v.why
    assert strength_word(10, 10, 9, 10) == "reproduced" and strength_word(10, 10, 8, 10) == "uninformative"
    assert strength_word(0, 10, 0, 10) == "not reproduced"  # a rejection does not need the control


def test_strengths_are_judged_one_by_one_then_pooled(tmp_path):
    v = L2Penalty().judge(_fake(tmp_path, {0.0: _seeds((WIDE, 10)), 0.001: _seeds((WIDE, 10)),
                                           0.1: _seeds((PASS, 10))}), {})
    assert v.verdict == "partly" and [r["verdict"] for r in v.points] == ["not reproduced", "reproduced"]
    assert "β = 0.001: not reproduced" in v.why and "β = 0.1: reproduced" in v.why


def test_missing_seeds_are_open_and_diverged_runs_left_out(tmp_path):
    v = L2Penalty().judge(_fake(tmp_path, {0.0: _seeds((WIDE, 10)), 0.1: _seeds((PASS, 7))}), {})
    assert v.verdict == "open" and "3 seed(s) not run yet" in v.why
    kinds = _seeds((PASS, 9)) + [(PASS, True)]
    v = L2Penalty().judge(_fake(tmp_path, {0.0: _seeds((WIDE, 10)), 0.1: kinds}), {})
    assert v.verdict == "reproduced" and "9 of 9 seeds pass" in v.why
    assert any("seed 9: diverged" in f for f in v.flags) and v.points[0]["diverged"] == 1


def test_without_the_study_file_the_claim_is_not_run_with_the_command(tmp_path):
    v = L2Penalty().judge(tmp_path, {})
    assert v.verdict == "not run" and "rnnbook.studies.l2_study --protocol paper" in v.command


def test_the_page_reads_its_tables_facts_and_figure_from_the_study(quick):
    root, study = quick
    v = L2Penalty(file="results/l2_study/quick.json").judge(root, {})
    assert [r["β"] for r in v.points] == [0.1] and v.points[0]["seeds"] == 2
    rows = l2_plots.outcome_rows(study, v)
    assert [r["β"] for r in rows] == ["0 (control)", "0.1"] and rows[0]["verdict"] == "—"
    assert rows[1]["verdict"] == v.points[0]["verdict"]
    facts = l2_plots.page_facts(study, v)
    assert facts["control-n"] == 2 and facts["strongest"] == "0.1" and facts["weak-n"] == 0
    assert facts["verdict"] == v.verdict
    assert {"seeds", "updates", "attractors"} <= {r["setting"] for r in l2_plots.protocol_rows(study)}
    fig = l2_plots.l2_figure(study)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) >= 4
