"""The reproduction scoreboard: every checkable claim of the paper, judged now, in one table.

The claims, their sources, the paper's numbers and the tests that judge them live in one
registry, :mod:`rnnbook.verdicts.claims`; the rules in :mod:`rnnbook.verdicts.rules`. This module
only lays the verdicts out: :func:`evaluate_all` judges every claim from the committed result
files (and the analytic checks), :func:`frame` turns them into the scoreboard's table,
:func:`point_frames` gives the per-point table behind each pooled row, and :func:`tally` counts
the verdicts, separately for analytic checks and experiments. The front-matter page, Chapter 5,
every chapter's table of the claims it covers (:func:`page_frame`) and ``python -m rnnbook show``
call these, so they cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

from rnnbook.verdicts import claims as _claims
from rnnbook.verdicts.claims import CLAIMS, Claim
from rnnbook.verdicts.evidence import Verdict
from rnnbook.verdicts.rules import VERDICTS, exact_interval

#: the words, with what each means, as the scoreboard page states them
MEANINGS = {
    "reproduced": "the book's count equals the paper's at every point, the runs show the claimed ordering "
                  "significantly (one-sided Fisher, p < 0.05; for Table 1 on the paper's music data, a one-sided "
                  "paired t-test over seeds, p < 0.05), or the check the claim implies holds",
    "consistent": "a different count that Fisher's exact test cannot tell from the paper's, at a sample size "
                  "where some count could have been told apart",
    "not reproduced": "a significant disagreement (p < 0.05) at a point, with more such points than chance gives "
                      "over all the claim's points; or the check fails",
    "partly": "a claim of several parts holds for some and fails for others",
    "open": "censored runs (stopped at the cap unsolved), runs not finished yet, or runs that diverged only "
            "because the authors' safety net was off, could still change the verdict",
    "uninformative": "no possible outcome at this sample size could disagree significantly with the paper's "
                     "number, or a Table 1 comparison rests on one seed per method (no seed-to-seed spread)",
    "inconclusive": "the evidence cannot carry a verdict: one run per method, a comparison that changes more than "
                    "one setting, a claim tested under settings other than its own, or no more disagreeing points "
                    "than chance gives",
    "not run": "no stored result tests it yet (the row says what would)",
    "not attempted": "outside what the book can do (the row says why)",
}
assert set(MEANINGS) == set(VERDICTS)


def evaluate_all(root: str | Path) -> list[tuple[Claim, Verdict]]:
    """Every claim with its verdict, computed now from ``root`` (the book's folder)."""
    return [(j.claim, j.verdict) for j in _claims.judge_all(root)]


def evaluate(root: str | Path, keys) -> list[tuple[Claim, Verdict]]:
    return [(c, _claims.judge(c, root)) for c in (_claims.get(k) for k in keys)]


def tally(rows: list[tuple[Claim, Verdict]], kind: str | None = None) -> dict[str, int]:
    """Verdict -> number of claims (of one ``kind``: ``analytic``, ``experiment``, ``not attempted``)."""
    counts = {v: 0 for v in VERDICTS}
    for claim, v in rows:
        if kind is None or claim.kind == kind:
            counts[v.verdict] += 1
    return {v: n for v, n in counts.items() if n}


def tally_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {v}" for v, n in counts.items()) or "none"


def frame(rows: list[tuple[Claim, Verdict]]):
    """The scoreboard as a pandas DataFrame, one row per claim."""
    import pandas as pd  # the pages' tables only: ``python -m rnnbook show`` prints text and does without pandas

    return pd.DataFrame([{
        "claim": claim.key, "paper §": claim.section, "the paper's claim": claim.words, "source": claim.source,
        "kind": claim.kind, "paper": claim.paper, "this book": v.ours, "protocol": v.protocol,
        "cap / paper's budget": v.cap_fraction.replace(" of the paper's 5×10⁶ updates", ""),
        "95 % interval": interval_text(v),
        "verdict": v.verdict, "why": v.detail,
    } for claim, v in rows])


def interval_text(v: Verdict) -> str:
    """The exact 95 % interval of a rate claim's pooled rate where it has one point; else where to look."""
    if v.counts is None or not v.counts[1]:
        return "-"
    if len(v.points) > 1:
        return "per point, below"
    lo, hi = exact_interval(*v.counts)
    return f"{lo:.2f}-{hi:.2f}"


def page_frame(root: str | Path, where: str):
    """The table of the claims one book page covers (``where``, e.g. ``/chapters/04_experiments/02_other_tasks``)."""
    return frame([(c, _claims.judge(c, root)) for c in _claims.for_page(where)])


def point_frames(rows: list[tuple[Claim, Verdict]]) -> dict[str, list[tuple[str, object]]]:
    """Claim key -> the per-point tables behind its row, one ``(part, DataFrame)`` per part of the
    claim (``""`` for a claim of one part); claims with a single point are left out."""
    import pandas as pd  # as in frame(): only the pages need pandas

    out = {}
    for claim, v in rows:
        if len(v.points) <= 1:
            continue
        parts: dict[str, list[dict]] = {}
        for r in v.points:
            parts.setdefault(r.get("part", ""), []).append({k: x for k, x in r.items() if k != "part"})
        out[claim.key] = [(part, pd.DataFrame(rs).dropna(axis=1, how="all")) for part, rs in parts.items()]
    return out


_COLOURS = {"reproduced": "#d9f2d9", "consistent": "#eaf5ea", "not reproduced": "#f8d7d7", "partly": "#fbeacc",
            "open": "#e6eefa", "uninformative": "#eeeeee", "inconclusive": "#eeeeee", "not run": "#ffffff",
            "not attempted": "#ffffff"}


def styled(df, caption: str = ""):
    """A pandas Styler for a verdict table: static HTML, verdict cells tinted, no index."""
    sty = df.style.hide(axis="index")
    if "verdict" in df.columns:
        sty = sty.map(lambda v: f"background-color: {_COLOURS.get(v, '#ffffff')}", subset=["verdict"])
    sty = sty.set_table_styles([{"selector": "td, th", "props": "text-align: left; vertical-align: top; "
                                 "font-size: 0.85em; padding: 2px 6px;"}])
    return sty.set_caption(caption) if caption else sty


def html(df, caption: str = "") -> str:
    return styled(df, caption).to_html()


def text_table(rows: list[tuple[Claim, Verdict]]) -> str:
    """Plain text, for ``python -m rnnbook show``: one line per claim, its reason indented under it."""
    out = []
    for claim, v in rows:
        out.append(f"{claim.key:<17} {v.verdict:<15} {claim.words} [{claim.source}; paper: {claim.paper}]")
        out.append(f"{'':<17} ours: {v.ours}; cap {v.cap_fraction}")
        out.append(f"{'':<17} {v.detail}")
    return "\n".join(out)


def verdicts_for_file(path: str | Path, experiment: str) -> str:
    """The book's verdicts on the claims a results file tests, as ``python -m rnnbook show`` prints them:
    the same rows as the scoreboard, judged from the ``results/`` folder the file lies in."""
    path = Path(path).resolve()
    keys = [c.key for c in _claims.for_experiment(experiment)]
    if not keys:
        return f"verdicts: no claim of the paper is judged on {experiment}"
    if path.parent.name != experiment or path.parent.parent.name != "results":
        return f"verdicts: {path} is not results/{experiment}/<protocol>.json of a book folder; not judged"
    if path.stem != "paper":
        return f"verdicts: the claims are judged on the paper protocol (results/{experiment}/paper.json), not {path.name}"
    rows = evaluate(path.parents[2], keys)
    return f"verdicts (the scoreboard's; {len(rows)} claim(s) judged on {experiment}):\n" + text_table(rows)


__all__ = ["CLAIMS", "MEANINGS", "VERDICTS", "evaluate", "evaluate_all", "frame", "html", "page_frame",
           "point_frames", "styled", "tally", "tally_text", "text_table", "verdicts_for_file"]
