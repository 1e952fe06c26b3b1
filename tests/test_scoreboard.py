"""The scoreboard: every row has a verdict, every number agrees with its source, links resolve."""

import json
from pathlib import Path

import pytest

from rnnbook import scoreboard
from rnnbook.experiments import get_experiment
from rnnbook.results import FORMAT

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rows():
    return scoreboard.evaluate_all(ROOT)


def test_every_row_has_a_verdict_and_points_at_a_page(rows):
    assert len(rows) == len(scoreboard.CLAIMS) and len({c.key for c, _ in rows}) == len(rows)
    for claim, row in rows:
        assert row.verdict in scoreboard.VERDICTS, claim.key
        assert row.ours and row.protocol and row.detail, claim.key
        page = ROOT / claim.where.lstrip("/")
        assert page.with_suffix(".ipynb").exists() or page.with_suffix(".md").exists(), claim.where
    table = scoreboard.markdown_table(rows)
    assert table.count("\n") == len(rows) + 1
    assert all(f"**{row.verdict}**" in table for _, row in rows)


def test_the_fig7_row_counts_what_the_results_file_holds(rows):
    row = dict((c.key, r) for c, r in rows)["fig7-cr"]
    path = ROOT / "results" / "temporal_order" / "paper.json"
    runs = [r for r in json.loads(path.read_text())["runs"] if r["config"]["method"] == "msgd_cr"] if path.exists() else []
    solved = sum(r["success"] for r in runs)
    assert row.ours.startswith(f"{solved}/{len(runs)} solved")


def _fake_results(root, experiment, outcomes):
    """A results file whose runs have the given (success, censored) outcomes, in grid order."""
    exp = get_experiment(experiment)
    runs = []
    for cfg, (success, censored) in zip(exp.runs("paper"), outcomes):
        d = cfg.to_dict()
        d["max_updates"] = 100_000
        runs.append({"key": cfg.key(), "index": len(runs), "config": d, "success": success, "diverged": False,
                     "censored": censored, "updates": 50_000 if success else 100_000,
                     "first_success_update": 50_000 if success else None, "curves": {}})
    path = root / "results" / experiment / "paper.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": FORMAT, "experiment": experiment, "protocol": "paper", "runs": runs}))


def test_verdicts_follow_the_counts(tmp_path):
    _fake_results(tmp_path, "addition", [(True, False)] * 5)
    _fake_results(tmp_path, "multiplication", [(False, False)] * 5)
    _fake_results(tmp_path, "permutation", [(True, False)] * 2 + [(False, True)] * 3)
    by_key = {c.key: r for c, r in scoreboard.evaluate_all(tmp_path)}
    assert by_key["add"].verdict == "reproduced" and by_key["add"].value == 1.0
    assert by_key["mul"].verdict == "not reproduced" and by_key["mul"].ours.startswith("0/5 solved")
    assert by_key["perm"].verdict == "open"         # 2/5 now; 5/5 if the censored runs succeed
    assert by_key["fig7-cr"].verdict == "not run" and by_key["table1-music"].verdict == "not run"


@pytest.mark.parametrize("alone,verdict", [((7, 10, 1), "not reproduced"), ((2, 10, 1), "reproduced"),
                                           ((3, 10, 3), "open"), ((0, 0, 0), "not run")])
def test_omega_alone_usually_fails_is_judged_on_the_majority(alone, verdict):
    got, why = scoreboard._omega_needs_clipping({"Omega alone": alone, "Omega + clipping": (9, 10, 0)})
    assert got == verdict, why


def test_threshold_heuristic_is_partly_when_one_threshold_is_significantly_worse():
    base = {"1x": (8, 10, 2), "2x": (7, 10, 3), "no clipping": (5, 10, 5)}
    assert scoreboard._threshold_heuristic({**base, "0.5x": (1, 10, 9)})[0] == "partly"
    assert scoreboard._threshold_heuristic({**base, "0.5x": (6, 10, 4)})[0] == "reproduced"
    assert scoreboard._threshold_heuristic({**base, "0.5x": (0, 10, 0)})[0] == "not reproduced"
