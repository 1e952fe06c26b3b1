"""The claims registry and its verdict rules: one test per rule, each able to fail."""

import json
import math
from pathlib import Path

import pytest

from rnnbook.natural.training import FORMAT as NATURAL_FORMAT
from rnnbook.synthetic.experiments import get_experiment
from rnnbook.synthetic.results import FORMAT
from rnnbook.verdicts import claims, rules, stats
from rnnbook.verdicts.records import Point, RunRecord, Runs, points
from rnnbook.verdicts.evidence_table1 import FIXED_OMEGA_PAIRS

ROOT = Path(__file__).resolve().parents[2]


def fake_results(root, experiment, outcomes, cap=100_000, safety_net=False, select=lambda cfg: True, norms=None):
    """A results file whose selected runs have the given outcomes, in grid order: ``"s"`` solved,
    ``"c"`` censored, ``"d"`` diverged (halfway to the cap)."""
    exp = get_experiment(experiment)
    runs = []
    cfgs = [c for c in exp.runs("paper") if select(c.to_dict())]
    for cfg, o in zip(cfgs, outcomes):
        d = cfg.to_dict() | {"max_updates": cap, "safety_net": safety_net}
        runs.append({"key": cfg.key(), "index": len(runs), "config": d, "success": o == "s", "diverged": o == "d",
                     "censored": o == "c", "updates": cap // 2 if o in "sd" else cap,
                     "first_success_update": cap // 2 if o == "s" else None,
                     "curves": {} if norms is None else {"grad_norm": list(norms)}})
    proto = exp.protocol("paper")
    spec = {"task": exp.task, "task_params": dict(exp.task_params), "inits": list(exp.inits),
            "methods": list(exp.methods), "protocols": {"paper": {
                "settings": dict(proto.settings) | {"max_updates": cap}, "lengths": list(proto.lengths),
                "ranges": [list(r) for r in proto.ranges], "seeds": list(proto.seeds)}}}
    path = root / "results" / experiment / "paper.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "experiment": experiment, "protocol": "paper", "spec": spec,
                                "planned": exp.n_runs("paper"), "completed": len(runs), "runs": runs}))


# ---------------------------------------------------------------------------------------------
# Rule: a count against the paper's, every completion of the undecided runs tried, with power
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("solved,undecided,n,paper,expected", [
    (5, 0, 5, (5, 5), "reproduced"),
    (2, 0, 5, (5, 5), "consistent"),          # p = 0.17, and at n = 5 some counts (0, 1) would differ
    (0, 0, 5, (5, 5), "not reproduced"),      # p = 0.008
    (2, 3, 5, (5, 5), "open"),                 # consistent now, reproduced if the undecided succeed
    (0, 0, 5, (2, 5), "uninformative"),        # no count from 0/5 to 5/5 differs from 2/5
    (2, 0, 5, (2, 5), "uninformative"),        # not even an exact match is evidence at n = 5
    (0, 10, 10, (5, 10), "open"),              # both extremes "not reproduced", the middle reproduces
])
def test_count_rule(solved, undecided, n, paper, expected):
    assert rules.count_verdict(solved, undecided, n, *paper)[0] == expected


def test_power_statement_names_the_counts_that_would_disagree():
    why = rules.count_verdict(2, 0, 5, 5, 5)[1]
    assert "only 0-1 of 5 would differ significantly" in why
    assert rules.rejectable(5, 5, 5) == [0, 1] and rules.rejectable(5, 2, 5) == []


def test_scipy_agrees_with_the_books_own_statistics():
    for n1 in range(1, 9):
        for n2 in range(1, 9):
            for k1 in range(n1 + 1):
                for k2 in range(n2 + 1):
                    assert rules.fisher_p(k1, n1, k2, n2) == pytest.approx(stats.fisher_exact(k1, n1, k2, n2), abs=1e-9)
    for n in (1, 5, 15, 75):
        for k in range(n + 1):
            assert rules.exact_interval(k, n) == pytest.approx(stats.clopper_pearson(k, n), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Rule: per point first, then the claim
# ---------------------------------------------------------------------------------------------


def _pv(verdict, p=0.5, if_none=""):
    return rules.PointVerdict("pt", verdict, "", "0/5", "5/5", p, if_none=if_none)


def test_a_claim_is_not_reproduced_while_one_point_disagrees_beyond_chance():
    many = [_pv("reproduced")] * 11 + [_pv("not reproduced", 0.008)] * 4
    assert rules.combine_points(many)[0] == "not reproduced"
    one = [_pv("reproduced")] * 14 + [_pv("not reproduced", 0.008)]
    word, why = rules.combine_points(one)
    assert word == "inconclusive" and "chance" in why  # 1 of 15 tests rejects by chance with P up to 0.54
    assert rules.combine_points([_pv("not reproduced", 0.008)])[0] == "not reproduced"  # a single point decides
    assert rules.combine_points([_pv("reproduced")] * 3)[0] == "reproduced"
    assert rules.combine_points([_pv("reproduced"), _pv("open", if_none="not reproduced")])[0] == "open"
    assert rules.combine_points([_pv("uninformative")] * 2)[0] == "uninformative"
    assert rules.combine_points([_pv("reproduced"), _pv("not run")])[0] == "open"  # a point still to run is undecided


def test_pooling_no_longer_hides_a_failing_point(tmp_path):
    # 14 points at 5/5 and one at 0/5 (pooled: 70/75, which Fisher cannot tell from 75/75)
    outcomes = ["s"] * 70 + ["c"] * 5
    fake_results(tmp_path, "temporal_order", outcomes, select=lambda c: c["method"] == "msgd_cr")
    pts = points([Runs("temporal_order", "msgd_cr")], tmp_path)
    judged = [rules.judge_point(p, 5, 5) for p in pts]
    assert [j.verdict for j in judged].count("open") == 1  # the 0/5 point is censored: open, not hidden
    assert rules.fisher_p(70, 75, 75, 75) > 0.05


# ---------------------------------------------------------------------------------------------
# Rule: one definition of censored and diverged
# ---------------------------------------------------------------------------------------------


def _rec(success=False, diverged=False, updates=100_000, first=None, cap=100_000, net=False):
    return RunRecord("x", {"max_updates": cap, "safety_net": net, "seed": 0}, success, diverged, updates, first)


def test_outcomes_of_a_run_at_a_cap():
    assert _rec(True, updates=40_000, first=40_000).outcome() == "solved"
    assert _rec(True, updates=400_000, first=400_000, cap=10**6).outcome(100_000) == "censored"  # solved later
    assert _rec(updates=10**6, cap=10**6).outcome(100_000) == "censored"
    assert _rec(diverged=True, updates=50_000).outcome() == "diverged"
    assert _rec(diverged=True, updates=728_000, cap=10**6).outcome(100_000) == "censored"  # diverged later
    assert _rec().censored and not _rec(True, updates=1, first=1).censored


def test_a_divergence_with_the_safety_net_off_is_undecided_and_named(tmp_path):
    fake_results(tmp_path, "temporal_order3", ["s", "s", "s", "d", "d"])
    v = claims.judge("torder3", tmp_path)
    assert v.verdict == "open"  # the authors' code would have carried the two runs on
    assert sum("safety net off" in f for f in v.flags) == 2
    fake_results(tmp_path, "temporal_order3", ["s", "s", "s", "d", "d"], safety_net=True)
    v = claims.judge("torder3", tmp_path)
    assert v.verdict == "consistent" and all("safety net was on" in f for f in v.flags)


# ---------------------------------------------------------------------------------------------
# Rule: orderings, confounds, other protocols, Table 1
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b,expected", [((9, 0, 10), (1, 0, 10), "reproduced"),
                                          ((1, 0, 10), (9, 0, 10), "not reproduced"),
                                          ((5, 0, 10), (5, 0, 10), "inconclusive"),
                                          ((9, 0, 10), (1, 9, 10), "open")])
def test_ordering_rule(a, b, expected):
    assert rules.ordering_verdict(rules.Tally(*a), rules.Tally(*b))[0] == expected


def test_a_claim_made_under_other_settings_is_inconclusive_and_says_so(tmp_path):
    fake_results(tmp_path, "temporal_order", ["s"] * 225)  # every run solved, MSGD included
    v = claims.judge("fig7-sgd", tmp_path)  # arXiv: lr 0.001, threshold 6; the book ran ICML's
    assert v.verdict == "inconclusive" and "not reproduced" in v.why
    assert any("learning rate" in f and "0.001" in f for f in v.flags)


def test_a_comparison_that_changes_two_things_is_flagged(tmp_path):
    fake_results(tmp_path, "addition", ["s"] * 5)
    fake_results(tmp_path, "permutation", ["c"] * 5)
    from rnnbook.verdicts.evidence import Ordering

    v = Ordering((Runs("addition"),), (Runs("permutation"),), ("add", "perm")).judge(tmp_path, {})
    assert v.verdict == "inconclusive" and any("learning rate" in f for f in v.flags)
    v = Ordering((Runs("addition"),), (Runs("permutation"),), ("add", "perm"), same_settings=False).judge(tmp_path, {})
    assert v.verdict == "open"  # the five censored permutation runs could still solve


def test_table1_needs_several_seeds_per_method(tmp_path):
    ln2 = math.log(2)
    for name, k in (("text_next", 1), ("text_5ahead", 2)):
        history = [{"epoch": 1, "method": m, "train": t * ln2, "valid": t * ln2, "test": t * ln2, "updates": 10,
                    "clipped_fraction": 0.5} for m, t in (("msgd", k + 1.0), ("msgd_c", k + 0.5), ("msgd_cr", k))]
        path = tmp_path / "results" / name / "paper.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"format": NATURAL_FORMAT, "task": {"kind": "text"}, "methods": ["msgd", "msgd_c", "msgd_cr"],
                                    "experiment": name, "position": 0, "updates_per_epoch": 10, "epochs_done": 1, "history": history, "protocol": {"settings": {"epochs": 1}}}))
    v = claims.judge("t1-text-clip", tmp_path)
    assert v.verdict == "inconclusive" and "one run per method" in v.why and "reproduced" in v.ours
    assert any("learning rate" in f for f in v.flags)


def test_generalisation_counts_models_per_task(tmp_path):
    fake_results(tmp_path, "addition", ["s"] * 5)
    runs = [{"config": {"seed": s}, "errors": {"100": 0.001, "500": e}} for s, e in enumerate([0.005] * 4 + [0.2])]
    (tmp_path / "results" / "addition" / "paper.generalisation.json").write_text(json.dumps({"runs": runs}))
    v = claims.judge("add-gen", tmp_path)
    assert v.verdict == "consistent" and "4 of 5 models pass" in v.ours
    assert claims.judge("mul-gen", tmp_path).verdict == "not run"  # no multiplication runs at all


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


def test_the_registry_covers_the_papers_claims():
    assert len(claims.CLAIMS) >= 30
    assert len({c.key for c in claims.CLAIMS}) == len(claims.CLAIMS)
    for c in claims.CLAIMS:
        assert c.source in claims.SOURCES and c.words and c.paper, c.key
        page = ROOT / c.where.lstrip("/")
        assert page.with_suffix(".ipynb").exists() or page.with_suffix(".md").exists(), c.where
        for name in claims.experiments_of(c.test):
            if not name.startswith(("text_", "music_")):
                get_experiment(name)  # a selector naming a missing experiment fails here


def test_every_claim_is_judged_with_a_known_word_from_empty_results(tmp_path):
    for key in ("fig7-cr-sigmoid", "add", "perm-hardest", "threshold", "omega-clip", "t1-text-reg", "mixed-gen"):
        assert claims.judge(key, tmp_path).verdict == "not run", key


def test_point_table_keeps_tasks_apart(tmp_path):
    fake_results(tmp_path, "addition", ["s"] * 5)
    fake_results(tmp_path, "multiplication", ["c"] * 5)
    pts = points([Runs("addition"), Runs("multiplication")], tmp_path)
    assert [(p.task, p.solved, p.censored) for p in pts] == [("add", 5, 0), ("mul", 0, 5)]
    assert isinstance(pts[0], Point) and pts[0].n == 5


def _music_rows(diffs, sign="lower", converged=True):
    """music_orderings' rows, each judged by the registry's rule from the same paired differences."""
    from rnnbook.verdicts import rules

    word, why, p = rules.paired_seeds_verdict(diffs, sign)
    if not diffs:
        word = "not run"
    elif not converged and word != "uninformative":
        word = "open"
    mean, sd = rules.mean_sd(diffs) if diffs else (None, None)
    return [{"dataset": d, "row": r, "split": s, "ordering": o, "claim": "", "paper_sign": sign, "n": len(diffs),
             "mean_diff": mean, "se": None if sd is None else sd / len(diffs) ** 0.5, "ours": "", "p": p, "why": why,
             "verdict": word}
            for d, r in (("piano_midi", "Piano-midi.de"), ("nottingham", "Nottingham"), ("musedata", "MuseData"))
            for s in ("train", "test") for o in ("clip", "reg")]


@pytest.mark.parametrize("diffs,converged,expected", [
    ([-0.5, -0.45, -0.55, -0.5, -0.48], True, "reproduced"),   # paired seeds, clearly below: the paper's direction
    ([0.5, 0.45, 0.55, 0.5, 0.48], True, "not reproduced"),    # clearly the other way
    ([-0.1, 0.1, 0.05, -0.02, 0.0], True, "inconclusive"),     # within the seed spread
    ([-0.5], True, "uninformative"),                           # one seed: no seed-aware test, never a pass
    ([-0.5], False, "uninformative"),                          # ... and finishing it cannot change that
    ([-0.5, -0.45, -0.55], False, "open"),
    ([], True, "not run"),
])
def test_music_orderings_are_judged_over_paired_seeds(monkeypatch, tmp_path, diffs, converged, expected):
    from rnnbook.verdicts import table1

    monkeypatch.setattr(table1, "music_orderings", lambda root, protocol="paper": _music_rows(diffs, converged=converged))
    assert claims.judge("t1-music-clip", tmp_path).verdict == expected


def test_paired_seeds_rule_needs_two_seeds_and_is_a_t_test():
    from scipy import stats as st

    from rnnbook.verdicts import rules

    assert rules.paired_seeds_verdict([-3.0], "lower")[0] == "uninformative"
    d = [-0.2, -0.1, -0.15]
    word, _, p = rules.paired_seeds_verdict(d, "lower")
    assert p == pytest.approx(st.ttest_1samp(d, 0.0, alternative="less").pvalue) and word == "reproduced"
    assert rules.paired_seeds_verdict(d, "higher")[0] == "not reproduced"
    assert rules.seeds_against_value([7.0], 7.5)[0] == "uninformative (one seed)"
    vals = [7.0, 7.1, 7.05]
    word, p = rules.seeds_against_value(vals, 7.6)
    m, sd = rules.mean_sd(vals)
    t = (7.6 - m) / (sd * (1 + 1 / 3) ** 0.5)
    assert p == pytest.approx(2 * st.t.sf(abs(t), 2)) and word == ("ours lower" if p < 0.05 else "matches (within the seed spread)")


def test_most_fail_is_a_binomial_test_with_undecided_runs_tried(tmp_path):
    from rnnbook.verdicts.evidence import Majority

    judge = lambda: Majority((Runs("temporal_order3"),)).judge(tmp_path, {}).verdict
    fake_results(tmp_path, "temporal_order3", ["d"] * 5, safety_net=True)
    assert judge() == "reproduced"       # 0/5: one-sided binomial p = 0.03 below 1/2
    fake_results(tmp_path, "temporal_order3", ["s"] * 5)
    assert judge() == "not reproduced"   # 5/5: p = 0.03 above 1/2
    fake_results(tmp_path, "temporal_order3", ["s", "s", "c", "c", "c"])
    assert judge() == "open"             # 2/5 now; 5/5 if the censored runs succeed


def test_threshold_range_uses_the_whole_run_average_and_judges_only_thresholds_inside(tmp_path):
    from rnnbook.verdicts.evidence import ThresholdRange

    studies = tuple(f"clip_threshold_x{x}" for x in ("0.5", "1", "2", "5", "10"))
    for name in studies:
        fake_results(tmp_path, name, ["s"] * 10)
    fake_results(tmp_path, "clip_threshold_none", ["c"] * 10, norms=[1.0, 3.0])   # average norm 2
    v = ThresholdRange(studies, (Runs("clip_threshold_none"),)).judge(tmp_path, {})
    # thresholds 0.31, 0.62, 1.25, 3.1, 6.2 are 0.16, 0.31, 0.62, 1.6, 3.1 times the average 2
    assert "outside the paper's range, not judged: clip_threshold_x0.5, clip_threshold_x1" in v.why
    assert v.verdict == "reproduced"
    fake_results(tmp_path, "clip_threshold_x10", ["d"] * 10, safety_net=True)   # 0/10, decided: one part fails
    assert ThresholdRange(studies, (Runs("clip_threshold_none"),)).judge(tmp_path, {}).verdict == "partly"


def test_threshold_range_counts_a_multiple_rounded_at_an_end_as_inside(tmp_path):
    """The registry fixed 10x from the average rounded to three figures (7.43 for 0.743): a measured
    average of 0.7425 puts it at 10.007x, inside; 10.1x stays outside."""
    from rnnbook.verdicts.evidence import ThresholdRange

    studies = ("clip_threshold_x5", "clip_threshold_x10")   # thresholds 3.115 and 6.23 (the registry's)
    for name in studies:
        fake_results(tmp_path, name, ["s"] * 10)
    for average, outside in ((6.23 / 10.007, False), (6.23 / 10.1, True)):
        fake_results(tmp_path, "clip_threshold_none", ["c"] * 10, norms=[average, average])
        v = ThresholdRange(studies, (Runs("clip_threshold_none"),)).judge(tmp_path, {})
        assert ("outside the paper's range" in v.why) == outside, v.why


@pytest.mark.parametrize("page", ["01_previous_solutions", "03_regularizer"])
def test_chapter3_claims_tables_are_views_of_the_registry(page):
    """3.1 and 3.3 show the registry's rows (issue 24: no chapter re-derives or types a verdict)."""
    nb = json.loads((ROOT / "chapters" / "03_remedies" / f"{page}.ipynb").read_text())
    text = lambda kind: "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind)
    where = f"/chapters/03_remedies/{page}"
    assert f'scoreboard.page_frame(book_root(), "{where}")' in text("code")
    assert "| verdict |" not in text("markdown")
    assert len(claims.for_page(where)) >= 5


def test_a_stored_study_check_is_not_run_until_its_file_exists(tmp_path):
    assert claims.judge("elementwise-direction", tmp_path).verdict == "not run"
    v = claims.judge("elementwise-direction", ROOT)
    assert v.verdict == "reproduced" and v.value < 1


def test_combine_parts_keeps_a_unanimous_word_and_table1_uses_it():
    from rnnbook.verdicts import table1

    assert rules.combine_parts([("a", "tie", ""), ("b", "tie", "")])[0] == "tie"
    assert rules.combine_parts([("a", "reproduced", ""), ("b", "tie", "")])[0] == "partly"
    assert rules.combine_parts([("a", "not reproduced", ""), ("b", "tie", "")])[0] == "not reproduced"
    s = lambda a, b: {"msgd": {"train": b, "test": b, "valid": b}, "msgd_c": {"train": a, "test": a, "valid": a}}
    assert table1.ordering_verdict("clip", {"x": s(1.0, 1.0)})[0] == "tie"
    assert table1.ordering_verdict("clip", {"x": s(0.5, 1.0), "y": s(1.0, 1.0)})[0] == "partly"


def test_every_experiment_a_claim_reads_finds_the_claim():
    """``python -m rnnbook show`` lists a claim under every results file it reads (claims.for_experiment):
    the music data sets of Table 1, the threshold experiments and the MSGD runs that measure the average norm."""
    paired = {e for _, table1_run, fixed in FIXED_OMEGA_PAIRS for e in (table1_run, fixed)}
    for experiment in ("music_piano_midi", "music_nottingham", "music_musedata"):
        decay = {"t1-decay"} if experiment in paired else set()  # its MSGD+CR runs are the 1/t arm
        assert {c.key for c in claims.for_experiment(experiment)} == {"t1-music-clip", "t1-music-reg"} | decay
    for experiment in ("music_nottingham_fixed_omega", "music_piano_midi_fixed_omega"):
        assert {c.key for c in claims.for_experiment(experiment)} == {"t1-decay"}
    for experiment in ("clip_threshold_x1", "clip_threshold_none", "clip_threshold50_x0.5", "temporal_order"):
        assert "threshold" in {c.key for c in claims.for_experiment(experiment)}, experiment
