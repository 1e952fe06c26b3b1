"""rnnbook.book.facts: the counts and words the chapters glue, on small hand-made runs."""

import json
import math
from pathlib import Path

from rnnbook.book import facts
from rnnbook.verdicts import outcomes


def run(init="smart_tanh", method="msgd", T=50, seed=0, success=False, diverged=False, updates=1000, first=None,
        best=0.5, final=0.5, cap=1000):
    return {"config": {"init": init, "method": method, "min_length": T, "max_length": T, "seed": seed,
                       "max_updates": cap},
            "success": success, "diverged": diverged, "censored": not success and not diverged, "updates": updates,
            "first_success_update": first, "best_valid_error": best, "final_valid_error": final,
            "curves": {"update": [500, 1000], "valid_error": [0.6, best], "grad_norm": [1.0, 2.0]}}


RUNS = [run(method="msgd", seed=0), run(method="msgd_c", seed=0),
        run(method="msgd_c", seed=1, success=True, first=800, best=0.0),
        run(method="msgd_cr", seed=0, success=True, first=400, best=0.0),
        run(method="msgd_cr", seed=1, diverged=True, updates=600)]


def test_tally_and_clipping_gain_count_runs_per_point():
    points = outcomes.grid_points({"runs": RUNS})
    assert facts.tally(points, method="msgd_c") == (1, 2, 1)
    assert facts.clipping_gain(points) == {50: (1, 2)}


def test_sweep_status_words_progress_caps_and_methods():
    data = {"runs": RUNS, "provenance": {"total_wall_time_s": 5400}}
    s = facts.sweep_status(data, planned=6, in_progress=1, paper_cap=5_000_000, methods=("msgd", "msgd_c", "msgd_cr"))
    assert (s["finished"], s["planned"], s["inprogress"], s["caps"], s["budget"]) == (5, 6, 1, "1,000", "0 %")
    assert s["diverged"] == 1 and "seed 1, after 600 updates" in s["diverged_list"]
    assert s["hours"] == "1.5" and s["missing"] == "none"


def test_unsolved_pairs_and_seed_study():
    assert facts.unsolved_pairs(RUNS, init="smart_tanh") == [{"msgd": 0.5, "msgd_c": 0.5}]
    more = [run(method=m, seed=s + 5, success=m == "msgd_cr", first=300 if m == "msgd_cr" else None)
            for m in ("msgd", "msgd_c", "msgd_cr") for s in range(3)]
    study = facts.seed_study(RUNS, more, [50], cap=1000, methods=("msgd", "msgd_c", "msgd_cr"))
    assert study["tanh_at"] == {"msgd": [0, 4], "msgd_c": [1, 5], "msgd_cr": [4, 5]}
    assert study["msgd_censored"] == 4 and study["long_length"] == 50 and not study["apart"]


def test_run_rules_relapse_near_chance_and_solved_within():
    assert facts.relapsed(run(best=0.1, final=0.5)) and not facts.relapsed(run(best=0.45, final=0.5))
    assert facts.near_chance([run(final=0.7), run(final=0.2)], chance=0.75) == [run(final=0.7)]
    assert facts.solved_within("temporal_order", RUNS, 500) == 1
    assert facts.best_within([run(best=0.1)], 500) == [0.6]
    assert math.isclose(facts.last_norm(RUNS[0]), 2.0)


def test_compute_costs_reads_every_results_format_of_the_book():
    """Sweeps, Table 1's runs and the stored studies (Chapter 3.3's Ω study, Chapter 4.4's modern
    baseline, whose RNN groups are counted once per ensemble, not once per seed)."""
    root = Path(__file__).resolve().parents[2]
    rows, natural = facts.compute_costs(root)
    assert rows and all(r["runs"] > 0 and r["core-h"] > 0 and r["steps/core-s"] > 0 for r in rows)
    assert {r["experiment (paper protocol)"] for r in rows} >= {"temporal_order", "modern_baseline", "omega_study",
                                                                "l2_study", "error_clipping_outcomes"}
    modern = next(r for r in rows if r["experiment (paper protocol)"] == "modern_baseline")
    groups = json.loads((root / "results" / "modern_baseline" / "paper.json").read_text())["groups"]
    assert math.isclose(modern["core-h"] * 3600, sum(g["wall_time_s"] for g in groups))
    assert all(r["epochs"] >= 0 and ", " in r["machine, date"] for r in natural)


def test_every_stored_study_has_its_command_and_file_on_the_rerun_page():
    root = Path(__file__).resolve().parents[2]
    rows = facts.study_rows(root)
    assert len(rows) == len(facts.STUDIES) >= 4
    for row, study in zip(rows, facts.STUDIES.values()):
        assert study.__name__ in row["command"] and "--protocol paper" in row["command"]
        assert (root / row["file"]).exists() and row["runs stored"] > 0 and "``" not in row["study"]
