"""Chapter 3.3's stored Ω study (rnnbook.studies.omega_study) and the two claims it judges
(rnnbook.verdicts.evidence_studies): the quick study's shape, and each rule on fabricated files."""

from __future__ import annotations

import json
import statistics

import pytest

from rnnbook.studies import omega_study as OS
from rnnbook.verdicts import claims
from rnnbook.verdicts.evidence_studies import OmegaApprox, OmegaVanish
from rnnbook.verdicts.rules import all_seeds_verdict, sign_test_verdict


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    root = tmp_path_factory.mktemp("omega")
    study = OS.run_study("quick", root / "results", say=lambda s: None)
    return root, study


def test_the_quick_study_has_one_pair_per_seed_with_every_measurement(quick):
    root, study = quick
    assert study["format"] == OS.FORMAT and study["spec"] == OS.PROTOCOLS["quick"] and study["study"] == OS.STUDY
    assert json.loads((root / "results" / "omega_study" / "quick.json").read_text()) == study
    got = OS.pairs(study)
    assert [(c["seed"], cr["seed"]) for c, cr in got] == [(0, 0), (1, 1)]
    n_snap = OS.PROTOCOLS["quick"]["updates"] // OS.PROTOCOLS["quick"]["snapshot_every"] + 1
    for c, cr in got:
        assert c["method"] == "msgd_c" and cr["method"] == "msgd_cr" and c["updates"] == cr["updates"] == 1000
        assert c["ratio_first_init"] == pytest.approx(cr["ratio_first_init"], rel=1e-6)  # same initial weights
        assert cr["snapshot_updates"] == [0, 500, 1000] and len(cr["cosine"]) == n_snap
        assert all(len(row) == len(OS.STUDY["grad_batches"]) for row in cr["cosine"] + cr["norm_ratio"])
        assert all(-1 <= x <= 1 for row in cr["cosine"] for x in row)
        assert all(x > 0 for row in cr["norm_ratio"] for x in row)
        assert 0 <= c["valid_error"] <= 1 and "cosine" not in c
    assert len(study["sessions"]) == 1 and study["sessions"][0]["ended"]


def test_a_rerun_skips_the_seeds_already_stored(quick):
    root, study = quick
    again = OS.run_study("quick", root / "results", say=lambda s: None)
    assert again["runs"] == study["runs"] and len(again["sessions"]) == 2


def test_the_cli_says_a_bad_protocol_in_one_line(capsys):
    assert OS.main(["--protocol", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnbook: error: unknown protocol") and err.count("\n") == 1


def _fake(root, cosines, ratios):
    """A study file with one pair per seed: MSGD-CR's cosines (snapshots x minibatches) and the
    trained ratios (MSGD-C, MSGD-CR)."""
    runs = []
    for seed, (cos, (c, cr)) in enumerate(zip(cosines, ratios)):
        runs.append({"method": "msgd_c", "seed": seed, "ratio_first_trained": c})
        runs.append({"method": "msgd_cr", "seed": seed, "ratio_first_trained": cr, "cosine": cos,
                     "norm_ratio": [[1.0] * len(r) for r in cos]})
    path = root / OS.results_path("results", "paper")
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = dict(OS.PROTOCOLS["paper"], seeds=list(range(len(runs) // 2)))
    path.write_text(json.dumps({"format": OS.FORMAT, "study": OS.STUDY, "spec": spec, "runs": runs}))
    return root


GOOD = [[0.5, 0.6, 0.4]] * 3
ONE_BAD = [[0.5, 0.6, 0.4], [0.3, -0.01, 0.2], [0.5, 0.6, 0.4]]


@pytest.mark.parametrize("bad_seeds, word", [(0, "reproduced"), (1, "inconclusive"), (8, "inconclusive"),
                                             (9, "not reproduced"), (10, "not reproduced")])
def test_omega_approx_needs_every_seed_positive_at_every_snapshot(tmp_path, bad_seeds, word):
    cos = [ONE_BAD] * bad_seeds + [GOOD] * (10 - bad_seeds)
    v = OmegaApprox().judge(_fake(tmp_path, cos, [(1.0, 2.0)] * 10), {})
    assert v.verdict == word, v.why
    assert f"{10 - bad_seeds} of 10 seeds pass" in v.why and len(v.points) == 10
    assert v.value == pytest.approx(statistics.median(x for c in cos for row in c for x in row))  # median cosine


@pytest.mark.parametrize("larger_with_omega, word", [(10, "reproduced"), (9, "reproduced"), (8, "inconclusive"),
                                                     (2, "inconclusive"), (1, "not reproduced"), (0, "not reproduced")])
def test_omega_vanish_is_a_sign_test_over_the_pairs(tmp_path, larger_with_omega, word):
    ratios = [(1e-3, 5.0)] * larger_with_omega + [(0.5, 1e-4)] * (10 - larger_with_omega)
    v = OmegaVanish().judge(_fake(tmp_path, [GOOD] * 10, ratios), {})
    assert v.verdict == word, v.why
    assert f"{larger_with_omega} of 10 pairs" in v.why


def test_a_pair_with_a_lost_ratio_is_left_out_and_flagged(tmp_path):
    ratios = [(1e-3, 5.0)] * 9 + [(None, 5.0)]
    v = OmegaVanish().judge(_fake(tmp_path, [GOOD] * 10, ratios), {})
    assert v.verdict == "reproduced" and "9 of 9 pairs" in v.why and v.flags == ["seed 9: a ratio is not finite (left out)"]


def test_the_rules_at_their_edges():
    assert all_seeds_verdict(0, 0)[0] == "not run" and sign_test_verdict(0, 0)[0] == "not run"
    assert all_seeds_verdict(5, 5)[0] == "reproduced" and all_seeds_verdict(0, 5)[0] == "not reproduced"
    assert sign_test_verdict(4, 0)[0] == "inconclusive"  # 4 pairs cannot reach p < 0.05 (1/16)
    assert sign_test_verdict(5, 0)[0] == "reproduced"  # 1/32


@pytest.mark.parametrize("key", ["omega-approx", "omega-vanish"])
def test_without_the_study_file_the_claims_are_not_run_with_the_command(tmp_path, key):
    v = claims.judge(key, tmp_path)
    assert v.verdict == "not run" and "rnnbook.studies.omega_study --protocol paper" in v.command
    assert "would run" in v.protocol
