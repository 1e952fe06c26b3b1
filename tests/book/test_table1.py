"""rnnbook.verdicts.table1: the paper's Table 1 read from the book's own page, and the ordering verdicts
(and the scoreboard rows built on them) against hand-made scores."""

import json
import math
from pathlib import Path

import pytest

from rnnbook.natural.training import FORMAT
from rnnbook.verdicts import scoreboard, table1

ROOT = Path(__file__).resolve().parents[2]


def test_paper_table_is_read_from_the_page():
    t = table1.paper_table(ROOT)
    assert set(t) == {"Piano-midi.de", "Nottingham", "MuseData", "Penn Treebank 1 step", "Penn Treebank 5 steps"}
    assert t["Piano-midi.de"]["train"]["MSGD"] == 6.87
    assert t["MuseData"]["test"]["MSGD+CR"] == 6.97
    assert t["Penn Treebank 5 steps"]["test"]["MSGD"] is None  # N/A: MSGD was not run on 5 steps
    assert t["Penn Treebank 1 step"]["test"]["SOTA"] == 1.37


def scores(msgd, c, cr, clipped=0.5):
    return {m: {"epoch": 1, "train": v[0], "valid": v[1], "test": v[1], "clipped": clipped} for m, v in
            zip(table1.METHODS, (msgd, c, cr))}


def test_the_papers_own_table_passes_its_claims():
    """Fed the paper's Table 1, the verdicts must reproduce the paper's reading of it."""
    t = table1.paper_table(ROOT)

    def as_scores(row):
        return {m: (None if t[row]["test"][name] is None else
                    {"epoch": 1, "train": t[row]["train"][name] or math.nan, "valid": t[row]["test"][name],
                     "test": t[row]["test"][name], "clipped": 0.5})
                for m, name in table1.METHOD_NAMES.items()}

    music = {row: as_scores(row) for row in ("Piano-midi.de", "Nottingham", "MuseData")}
    assert table1.ordering_verdict("clip", music | {"ptb": as_scores("Penn Treebank 1 step")})[0] == "reproduced"
    text = {"text_next": as_scores("Penn Treebank 1 step"), "text_5ahead": as_scores("Penn Treebank 5 steps")}
    five = {k: v for k, v in text["text_5ahead"].items() if k != "msgd"}
    assert table1.ordering_verdict("reg", music | {"a": text["text_next"]} | {"b": {"msgd": five["msgd_c"], **five}})[0] \
        == "reproduced"
    assert table1.ordering_verdict("reg-long", {"text_next": text["text_next"],
                                                "text_5ahead": {"msgd": five["msgd_c"], **five}})[0] == "reproduced"


def test_the_reason_says_how_often_clipping_acted(tmp_path):
    history = [{"epoch": e, "method": m, "train": 1.0, "valid": 1.0, "test": 1.0, "updates": 100,
                "clipped_fraction": (0.05 if (m != "msgd" and e == 1) else 0.0)} for e in (1, 2) for m in table1.METHODS]
    data = {"task": {"kind": "music"}, "methods": list(table1.METHODS), "history": history}
    got = table1.ours(data)["msgd_c"]
    assert got["clipped_updates"] == 5 and got["clipped_epochs"] == [1] and got["clipped"] == pytest.approx(0.025)
    v, why = table1.ordering_verdict("clip", {"a": table1.ours(data)})
    assert v == "tie" and "clipped 5 updates (2.50%), in epoch(s) 1" in why


def _fake_natural(root, name, kind, per_method, done=1, planned=1):
    history = [{"epoch": 1, "method": m, "train": tr, "valid": te, "test": te, "updates": 10,
                "clipped_fraction": 0.5} for m, (tr, te) in per_method.items()]
    path = root / "results" / name / "paper.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": FORMAT, "task": {"kind": kind}, "methods": list(per_method),
                                "experiment": name, "position": 0, "updates_per_epoch": 10,
                                "epochs_done": done, "history": history,
                                "protocol": {"settings": {"epochs": planned}}}))


def test_scoreboard_rows_follow_the_files(tmp_path):
    """The registry's Table 1 rows (rnnbook.verdicts.claims) read these files; one run per method is
    reported, not judged: the verdict is inconclusive and the detail says what the run showed."""
    rows = lambda: {c.key: r for c, r in scoreboard.evaluate(tmp_path, ["t1-text-clip", "t1-text-reg", "t1-reg-long"])}
    assert rows()["t1-text-clip"].verdict == "not run"
    ln2 = math.log(2)
    _fake_natural(tmp_path, "text_next", "text", {"msgd": (2 * ln2, 2 * ln2), "msgd_c": (1.8 * ln2, 1.8 * ln2),
                                                 "msgd_cr": (1.8 * ln2, 1.797 * ln2)})
    _fake_natural(tmp_path, "text_5ahead", "text", {"msgd": (3 * ln2, 3 * ln2), "msgd_c": (2.9 * ln2, 2.9 * ln2),
                                                   "msgd_cr": (2.8 * ln2, 2.8 * ln2)})
    got = rows()
    assert all(r.verdict == "inconclusive" for r in got.values())
    assert got["t1-text-clip"].ours == "clip: reproduced in the one run"
    assert got["t1-reg-long"].ours == "reg-long: reproduced in the one run"
    assert "text_5ahead" not in got["t1-text-clip"].why  # clipping: not judged on 5 steps (no MSGD)


def test_unfinished_runs_are_open(tmp_path):
    _fake_natural(tmp_path, "text_next", "text", {"msgd": (9.0, 9.5), "msgd_c": (8.0, 8.5),
                                                 "msgd_cr": (8.1, 8.4)}, done=3, planned=10)
    row = {c.key: r for c, r in scoreboard.evaluate(tmp_path, ["t1-text-clip"])}["t1-text-clip"]
    assert row.ours == "clip: open in the one run" and "so far reproduced" in row.why and "3 of 10 epochs" in row.why
