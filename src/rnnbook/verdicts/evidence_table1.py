"""Tests of Table 1's orderings on the natural problems (§4.2): the text rows and the music rows.

:class:`Table1Ordering` judges an ordering of :data:`rnnbook.verdicts.table1.CLAIMS` on the text runs
(one run per method, so the verdict is ``inconclusive`` and the detail says what the run showed);
:class:`MusicOrdering` judges one of :data:`rnnbook.verdicts.table1.MUSIC_ORDERINGS` on the paper's own
music data over seeds, with the paired rule Chapter 4.3 shows. Both flag a comparison whose
methods also differ in learning rate (as in the paper's protocol): it changes more than the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rnnbook.natural.experiments import get_experiment
from rnnbook.natural.training import json_of
from rnnbook.verdicts import rules, table1
from rnnbook.verdicts.verdict import Test, Verdict

#: the music experiments of the paper's Table 1 (JSB chorales are trained too, but are not in the paper)
MUSIC_EXPERIMENTS = tuple(f"music_{name}" for name, row in table1.MUSIC_ROWS.items() if row is not None)


@dataclass(frozen=True)
class Table1Ordering(Test):
    """A Table 1 ordering on the book's runs: needs several seeds per method for a seed-aware test;
    with one run per method the verdict is inconclusive and the detail says what the one run showed."""

    claim: str  #: a key of :data:`rnnbook.verdicts.table1.CLAIMS`
    experiments: tuple[str, ...]

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        files = {}
        for name in self.experiments:
            path = Path(root) / "results" / name / "paper.json"
            files[name] = json_of(path) if path.exists() else None
        done = {n: d for n, d in files.items() if d is not None and d["epochs_done"] >= 1}
        cmd = " ; ".join(f"python -m rnnbook natural {n} --protocol paper" for n in self.experiments)
        if len(done) < len(self.experiments):
            return Verdict("not run", "no finished epoch yet", "—", f"would run: {cmd}", command=cmd)
        word, why = table1.claim_verdict(self.claim, files)
        flags = []
        for n in self.experiments:
            cfg = get_experiment(n).protocol("paper")
            lrs = {"MSGD": cfg.lr_msgd, "MSGD+C": cfg.lr_msgd_c, "MSGD+CR": cfg.lr_msgd_cr}
            if len(set(lrs.values())) > 1:
                flags.append(f"{n}: the methods also differ in learning rate ("
                             + ", ".join(f"{k} {v:g}" for k, v in lrs.items()) + "), as in the paper's protocol")
        seeds = 1
        epochs = ", ".join(f"{n} {d['epochs_done']} of {d['protocol']['settings']['epochs']} epochs" for n, d in done.items())
        reasons = [f"one run per method (n = {seeds}): the seed-to-seed spread is not measured"]
        if flags:
            reasons.append("the comparison changes more than the method")
        return Verdict("inconclusive", f"{'; '.join(reasons)}. The run shows: {word} — {why}",
                       f"{self.claim}: {word} in the one run", f"stand-in corpus, one run per method, best validation "
                       f"epoch; {epochs}; " + ", ".join(f"results/{n}/paper.json" for n in self.experiments),
                       flags=flags)


@dataclass(frozen=True)
class MusicOrdering(Test):
    """A Table 1 ordering on the paper's music data, over seeds (:func:`rnnbook.verdicts.table1.music_orderings`).

    The methods of one seed share initial weights and data order, so the test is paired: per data
    set and split, :func:`rnnbook.verdicts.rules.paired_seeds_verdict` (a one-sided t-test of the
    mean seed difference in the paper's direction; one seed: uninformative), read from the rows
    Chapter 4.3 shows; a run still training makes the point open. ``experiments`` names the
    results folders it reads (``results/<experiment>/paper*.json``), so that ``python -m rnnbook
    show`` lists the claim under each of them."""

    ordering: str  #: a key of :data:`rnnbook.verdicts.table1.MUSIC_ORDERINGS`
    splits: tuple[str, ...]
    experiments: tuple[str, ...] = MUSIC_EXPERIMENTS

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        rows = [r for r in table1.music_orderings(Path(root)) if r["ordering"] == self.ordering
                and r["split"] in self.splits and r["paper_sign"] is not None
                and f"music_{r['dataset']}" in self.experiments]
        cmd = " ; ".join(f"python -m rnnbook natural {n} --protocol paper --seed K (K = 0, 1, 2, ...)"
                         for n in self.experiments)
        if not rows or all(r["n"] == 0 for r in rows):
            return Verdict("not run", "no run on the paper's music data yet", "—", f"would run: {cmd}", command=cmd)
        parts, table = [], []
        for r in rows:  # each row already judged by the registry's rule (rules.paired_seeds_verdict)
            word = "open" if r["verdict"] == "not run" else r["verdict"]  # its runs are to come
            parts.append((f"{r['row']} {r['split']}", word, r["why"]))
            table.append({"data set": r["row"], "split": r["split"], "paper": r["paper_sign"], "seeds": r["n"],
                          "mean difference": "-" if r["mean_diff"] is None else f"{r['mean_diff']:+.3f}",
                          "se": "-" if r["se"] is None else f"{r['se']:.3f}",
                          "p": "-" if r["p"] is None else f"{r['p']:.2g}", "verdict": word})
        verdict, why = rules.combine_parts(parts)
        flags = []
        for n in self.experiments:
            cfg = get_experiment(n).protocol("paper")
            lrs = {cfg.lr_msgd, cfg.lr_msgd_c, cfg.lr_msgd_cr}
            if len(lrs) > 1:
                flags.append(f"{n}: the methods also differ in learning rate")
        if flags and verdict not in ("not run", "open"):
            why, verdict = f"the runs say {verdict}, but the comparison changes more than the method: {why}", "inconclusive"
        seeds = sorted({r["n"] for r in rows})
        return Verdict(verdict, why, "; ".join(f"{n}: {w}" for n, w, _ in parts),
                       f"the paper's music data (data/poly-music), {'/'.join(map(str, seeds))} seed(s) per data set, "
                       "paired over seeds, best validation epoch; results/music_*/paper*.json", points=table, flags=flags)
