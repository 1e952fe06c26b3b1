"""The scoreboard: every claim has a verdict from the registry, every number agrees with its source,
links resolve, and the pages that show verdicts read them from the one registry."""

import json
import re
from pathlib import Path

import pytest
from test_claims import fake_results

from rnnbook.verdicts import claims, scoreboard

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows():
    return scoreboard.evaluate_all(ROOT)


def test_every_claim_has_a_row_a_verdict_and_a_page(rows):
    assert len(rows) == len(claims.CLAIMS) >= 30 and len({c.key for c, _ in rows}) == len(rows)
    for claim, v in rows:
        assert v.verdict in scoreboard.VERDICTS, claim.key
        assert v.ours and v.protocol and v.why, claim.key
        if v.verdict == "not run":
            assert "would run" in v.protocol or "not yet" in v.why or "no " in v.why, claim.key
    df = scoreboard.frame(rows)
    assert list(df["verdict"]) == [v.verdict for _, v in rows] and len(df) == len(rows)
    assert "cap / paper's budget" in df.columns and "protocol" in df.columns
    html = scoreboard.html(df)
    assert html.count("<tr") == len(rows) + 1


def test_the_fig7_rows_count_what_the_results_file_holds(rows):
    by = dict((c.key, v) for c, v in rows)
    path = ROOT / "results" / "temporal_order" / "paper.json"
    runs = json.loads(path.read_text())["runs"]
    smart = [r for r in runs if r["config"]["method"] == "msgd_cr" and r["config"]["init"] == "smart_tanh"
             and r["config"]["min_length"] >= 100]
    (_, table), = scoreboard.point_frames(rows)["fig7-cr-smart"]
    for T in (100, 150, 200):
        row = table[table["T"] == str(T)].iloc[0]
        assert row["solved"] == sum(r["success"] for r in smart if r["config"]["min_length"] == T)
    assert by["fig7-cr-smart"].ours.startswith(f"{int(table['solved'].sum())}/{int(table['runs'].sum())} solved")


def test_pooled_rows_have_their_per_point_table(rows):
    frames = scoreboard.point_frames(rows)
    for key in ("fig7-cr-sigmoid", "fig7-cr-basic", "fig7-cr-smart", "fig7-sgdc", "mem5", "mem20", "threshold"):
        assert key in frames and sum(len(df) for _, df in frames[key]) > 1, key
        for _, df in frames[key]:
            assert "verdict" in df.columns or "one-sided p" in df.columns, key
            assert not df.isna().any().any(), key   # one table per part: no column of another part's


def test_verdicts_follow_the_counts(tmp_path):
    fake_results(tmp_path, "addition", ["s"] * 5)
    fake_results(tmp_path, "multiplication", ["c"] * 5)
    fake_results(tmp_path, "permutation", ["s"] * 2 + ["c"] * 3)
    by = {c.key: v for c, v in scoreboard.evaluate(tmp_path, ["add", "mul", "perm", "perm-arxiv", "fig7-cr-smart"])}
    assert by["add"].verdict == "reproduced" and by["add"].value == 1.0
    assert by["mul"].verdict == "open" and by["mul"].ours.startswith("0/5 solved (5 censored)")
    assert by["perm"].verdict == "uninformative"   # 2/5 against 2/5 at n = 5: nothing could have failed it
    assert by["fig7-cr-smart"].verdict == "not run"
    fake_results(tmp_path, "multiplication", ["d"] * 5, safety_net=True)
    assert scoreboard.evaluate(tmp_path, ["mul"])[0][1].verdict == "not reproduced"


def test_tally_separates_analytic_checks_from_experiments(rows):
    analytic = scoreboard.tally(rows, "analytic")
    experiment = scoreboard.tally(rows, "experiment")
    assert sum(analytic.values()) == sum(1 for c, _ in rows if c.kind == "analytic") >= 5
    assert sum(analytic.values()) + sum(experiment.values()) + sum(scoreboard.tally(rows, "not attempted").values()) \
        == len(rows)


PAGES = ["front/scoreboard.ipynb", "chapters/05_conclusions.ipynb", "chapters/04_experiments/01_temporal_order.ipynb",
         "chapters/04_experiments/02_other_tasks.ipynb", "chapters/03_remedies/02_clipping.ipynb",
         "chapters/04_experiments/03_natural_problems.ipynb"]


@pytest.mark.parametrize("page", PAGES)
def test_no_page_derives_a_verdict_of_its_own(page):
    """One source: a page's code never calls a verdict rule itself; it reads the registry."""
    nb = json.loads((ROOT / page).read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    forbidden = re.compile(r"outcomes\.verdict\(|claim_verdict\(|ordering_verdict\(|_threshold_heuristic|"
                           r"_omega_needs_clipping|count_verdict\(|\.evaluate\(ROOT\)")
    assert not forbidden.search(code), forbidden.search(code).group(0)
    assert "scoreboard." in code or "verdicts" in code


def test_show_prints_the_verdicts_the_book_prints(tmp_path, capsys):
    from rnnbook.cli import main

    fake_results(tmp_path, "addition", ["s"] * 4 + ["c"])
    path = tmp_path / "results" / "addition" / "paper.json"
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    book = dict((c.key, v) for c, v in scoreboard.evaluate(tmp_path, [c.key for c in claims.for_experiment("addition")]))
    assert set(book) >= {"add", "add-gen", "perm-hardest"}
    for key, v in book.items():
        line = next(l for l in out.splitlines() if l.startswith(key + " "))
        assert line.split()[1:1 + len(v.verdict.split())] == v.verdict.split(), (key, line)


@pytest.mark.parametrize("experiment", ["music_piano_midi", "music_nottingham", "music_musedata"])
def test_show_lists_the_music_claims_under_each_music_file(experiment, capsys):
    """Table 1's music claims name the experiments they read, so ``show`` of a music results file
    lists them with the scoreboard's verdicts (issue 24: `rnnbook show` prints the book's verdicts)."""
    from rnnbook.cli import main

    assert {c.key for c in claims.for_experiment(experiment)} >= {"t1-music-clip", "t1-music-reg"}
    path = ROOT / "results" / experiment / "paper.json"
    if not path.exists():
        pytest.skip(f"{path} not committed")
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no claim of the paper is judged" not in out
    for key in ("t1-music-clip", "t1-music-reg"):
        v = claims.judge(key, ROOT)
        line = next(l for l in out.splitlines() if l.startswith(key + " "))
        assert line.split()[1:1 + len(v.verdict.split())] == v.verdict.split(), (key, line)


def test_jsb_is_not_in_the_papers_table_so_no_claim_reads_it():
    assert claims.for_experiment("music_jsb") == ()
    assert "no claim of the paper is judged on music_jsb" in scoreboard.verdicts_for_file(
        ROOT / "results" / "music_jsb" / "paper.json", "music_jsb")
