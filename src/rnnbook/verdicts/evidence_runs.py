"""Tests on the synthetic tasks' stored sweeps: counts per grid point, orderings, generalisation.

These read the runs of ``results/<experiment>/paper.json`` through typed selectors
(:class:`rnnbook.verdicts.records.Runs`), grouped into grid points (:func:`rnnbook.verdicts.records.points`),
and apply the rules of :mod:`rnnbook.verdicts.rules` point by point before the claim:

:class:`Rate`             the paper's count per point ("5 of 5 seeds solve it", or "0 of 5" for "fails")
:class:`RateAgainst`      a setting's count against a reference setting's count
:class:`Ordering`         "A solves more often than B", on points paired by init and length
:class:`GrowsWithLength`  "A's advantage grows with the length": significant long, not short
:class:`Majority`         "most runs of this kind fail": a binomial test against 1/2
:class:`ThresholdRange`   "thresholds from 0.5 to 10 times the average norm still converge"
:class:`Generalises`      solved models stay below an error limit on longer fresh sequences

Every verdict says the protocol the runs used (and how it differs from the claim's: then the runs
cannot count for or against it, and the verdict is ``inconclusive``), the caps read at as a
fraction of the paper's budget, and which runs diverged and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from scipy.stats import binomtest

from rnnbook.synthetic.results import load_results
from rnnbook.verdicts import rules
from rnnbook.verdicts.records import Point, Runs, cap_fraction, caps_text, points
from rnnbook.verdicts.verdict import Parts, Test, Verdict

#: settings a protocol comparison looks at, with the names the book's pages use
SETTING_NAMES = {"lr": "learning rate", "threshold": "clipping threshold", "reg_weight": "Ω's weight",
                 "hidden": "hidden units", "safety_net": "safety net"}
#: settings that matter only to some methods (ignored in comparisons across methods otherwise)
_ONLY_FOR = {"threshold": ("msgd_c", "msgd_cr"), "reg_weight": ("msgd_cr", "msgd_r")}



def _settings_text(sel: Runs) -> str:
    s = sel.settings()
    bits = [f"lr {s['lr']:g}" if "lr" in s else "", f"threshold {s['threshold']:g}" if "threshold" in s else "",
            f"α {s['reg_weight']:g}" if "reg_weight" in s else "", f"{s['hidden']} units" if "hidden" in s else ""]
    bits.append("safety net " + ("on" if s.get("safety_net") else "off"))
    return ", ".join(b for b in bits if b)


def _differences(selectors: Sequence[Runs], made_under: Mapping[str, Any]) -> list[str]:
    """How the runs' settings differ from those the claim was made under."""
    out = []
    for key, want in made_under.items():
        have = sorted({sel.settings().get(key) for sel in selectors}, key=str)
        if have != [want]:
            out.append(f"{SETTING_NAMES.get(key, key)}: claim made under {want}, runs used {', '.join(map(str, have))}")
    return out


def _protocol(selectors: Sequence[Runs], pts: Sequence[Point] | None) -> tuple[str, str, str]:
    files = sorted({s.file for s in selectors})
    seeds = sorted({p.n for p in pts}) if pts else []
    caps = sorted({c for p in pts for c in p.caps}) if pts else []
    settings = sorted({_settings_text(s) for s in selectors})
    text = (f"{'; '.join(settings)}; {'/'.join(map(str, seeds)) or '-'} runs per point; read at "
            f"{caps_text(caps)} updates; {', '.join(files)}")
    return text, caps_text(caps), cap_fraction(caps) if caps else "-"


def _divergences(pts: Sequence[Point]) -> list[str]:
    out = []
    for p in pts:
        for r, c in p.records:
            if r.outcome(c) == "diverged":
                out.append(f"{p.label}, seed {r.config['seed']}: diverged at {r.updates:,} updates — "
                           f"{r.divergence_cause}" + (" (counted as undecided)" if r.divergence_undecided else ""))
    return out


def _counts_text(pts: Sequence[Point]) -> str:
    s = sum(p.solved for p in pts)
    n = sum(p.n for p in pts)
    parts = [f"{sum(p.censored for p in pts)} censored", f"{sum(p.diverged for p in pts)} diverged",
             f"{sum(p.unfinished for p in pts)} not finished"]
    extra = ", ".join(x for x in parts if not x.startswith("0 "))
    return f"{s}/{n} solved" + (f" ({extra})" if extra else "")


def _under_other_protocol(v: Verdict, diffs: list[str]) -> Verdict:
    """A claim tested under settings other than its own: the runs cannot count for or against it."""
    if diffs and v.verdict not in ("not run", "not attempted"):
        v.flags = [f"protocol differs — {d}" for d in diffs] + v.flags
        v.why = f"under the book's settings the runs say {v.verdict}: {v.why}"
        v.verdict = "inconclusive"
    return v


@dataclass(frozen=True)
class Rate(Test):
    """The paper's count per grid point (e.g. 5 of 5 seeds, or 0 of 5 for "fails"), judged point by point."""

    selectors: tuple[Runs, ...]
    paper_k: int
    paper_n: int

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        pts = points(self.selectors, root)
        protocol, caps, frac = _protocol(self.selectors, pts)
        if pts is None:
            return Verdict("not run", "no results file yet", "—", protocol)
        judged = [rules.judge_point(p, self.paper_k, self.paper_n) for p in pts]
        verdict, why = rules.combine_points(judged)
        done = [p for p in pts if p.finished]
        value = sum(p.solved for p in done) / sum(p.n for p in done) if done else None
        v = Verdict(verdict, why, _counts_text(pts), protocol, caps, frac, [j.row for j in judged],
                    _divergences(pts), value, counts=(sum(p.solved for p in pts), sum(p.n for p in pts)))
        return _under_other_protocol(v, _differences(self.selectors, made_under))


def _confounds(a: Sequence[Runs], b: Sequence[Runs], compared: str) -> list[str]:
    """Settings other than ``compared`` in which the two sides differ."""
    out = []
    methods = {s.method for s in (*a, *b)}
    for key in ("lr", "threshold", "reg_weight", "hidden", "safety_net"):
        if key in _ONLY_FOR and not methods <= set(_ONLY_FOR[key]):
            continue
        va = sorted({str(s.settings().get(key)) for s in a})
        vb = sorted({str(s.settings().get(key)) for s in b})
        if va != vb and compared != key:
            out.append(f"the two sides also differ in {SETTING_NAMES.get(key, key)} ({', '.join(va)} vs {', '.join(vb)})")
    return out


@dataclass(frozen=True)
class Ordering(Test):
    """"A solves more often than B", judged on points paired by init and length, pooled, one-sided."""

    better: tuple[Runs, ...]
    worse: tuple[Runs, ...]
    names: tuple[str, str] = ("A", "B")
    same_settings: bool = True  #: flag a comparison whose sides differ in more than what is compared

    def tallies(self, root: Path) -> tuple[list[Point], list[Point]] | None:
        a, b = points(self.better, root), points(self.worse, root)
        return None if a is None or b is None else (a, b)

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        both = self.tallies(root)
        protocol, caps, frac = _protocol((*self.better, *self.worse),
                                         None if both is None else [*both[0], *both[1]])
        if both is None:
            return Verdict("not run", "no results file yet on one side", "—", protocol)
        a, b = both
        verdict, why, p = rules.ordering_verdict(rules.Tally.of(a), rules.Tally.of(b))
        rows = _pair_rows(a, b, self.names)
        flags = (_confounds(self.better, self.worse, "") if self.same_settings else []) + _divergences([*a, *b])
        if any("also differ" in f for f in flags) and verdict not in ("not run",):
            why = f"the runs say {verdict}, but the comparison changes more than one thing: {why}"
            verdict = "inconclusive"
        v = Verdict(verdict, why, f"{self.names[0]} {_counts_text(a)}; {self.names[1]} {_counts_text(b)}",
                    protocol, caps, frac, rows, flags, p)
        return _under_other_protocol(v, _differences((*self.better, *self.worse), made_under))


def _pair_rows(a: Sequence[Point], b: Sequence[Point], names: tuple[str, str]) -> list[dict[str, Any]]:
    by = {(p.task, p.init, p.length): p for p in b}
    rows = []
    for p in a:
        q = by.get((p.task, p.init, p.length))
        if q is None:
            continue
        pv = rules.fisher_p(p.solved, p.n, q.solved, q.n, "greater") if p.n and q.n else float("nan")
        rows.append({"task": p.task, "init": p.init, "T": p.length, names[0]: f"{p.solved}/{p.n}", f"{names[0]} undecided": p.undecided,
                     names[1]: f"{q.solved}/{q.n}", f"{names[1]} undecided": q.undecided,
                     "cap": caps_text(p.caps + q.caps), "one-sided p": f"{pv:.3g}"})
    if not rows:  # sides that share no grid point (different tasks): list each side's points
        rows = [{"side": name, "task": p.task, "init": p.init, "T": p.length, "solved": f"{p.solved}/{p.n}",
                 "undecided": p.undecided, "cap": caps_text(p.caps)} for name, side in zip(names, (a, b)) for p in side]
    return rows


@dataclass(frozen=True)
class GrowsWithLength(Test):
    """"A's advantage over B grows with the length": significant at the long lengths, not at the short."""

    short: Ordering
    long: Ordering

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        s, l = self.short.judge(root, made_under), self.long.judge(root, made_under)
        if "not run" in (s.verdict, l.verdict):
            return Verdict("not run", "no results yet", "—", l.protocol)
        if l.verdict == "open" or s.verdict == "open":
            verdict = "open"
        elif l.verdict == "reproduced":
            verdict = "reproduced" if s.verdict != "reproduced" else "partly"
        else:
            verdict = l.verdict
        why = f"long lengths: {l.verdict} ({l.why}) | shortest length: {s.verdict} ({s.why})"
        pts = [r | {"part": "the shortest length"} for r in s.points] + [r | {"part": "the long lengths"} for r in l.points]
        return Verdict(verdict, why, f"short: {s.ours} | long: {l.ours}", l.protocol, l.caps, l.cap_fraction,
                       pts, s.flags + l.flags, l.value)


@dataclass(frozen=True)
class Majority(Test):
    """"Most runs of this kind fail": a one-sided binomial test of the success rate against 1/2."""

    selectors: tuple[Runs, ...]

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        pts = points(self.selectors, root)
        protocol, caps, frac = _protocol(self.selectors, pts)
        if pts is None:
            return Verdict("not run", "no results file yet", "—", protocol)
        t = rules.Tally.of(pts)
        words = set()
        for j in range(t.undecided + 1):
            k = t.solved + j
            if binomtest(k, t.n, 0.5, alternative="less").pvalue < rules.ALPHA:
                words.add("reproduced")
            elif binomtest(k, t.n, 0.5, alternative="greater").pvalue < rules.ALPHA:
                words.add("not reproduced")
            else:
                words.add("inconclusive")
        verdict = words.pop() if len(words) == 1 else "open"
        p = binomtest(t.solved, t.n, 0.5, alternative="less").pvalue
        why = (f"{t.solved}/{t.n} solved ({t.undecided} undecided); one-sided binomial test of a rate below 1/2: "
               f"p = {p:.2g}" + ("" if verdict != "open" else "; the undecided runs decide"))
        return Verdict(verdict, why, _counts_text(pts), protocol, caps, frac,
                       [rules.point_row(q, "-", None, None, "most fail") for q in pts],
                       _divergences(pts), t.solved / t.n)


@dataclass(frozen=True)
class Generalises(Test):
    """Solved models tested on fresh sequences of fixed lengths: every model of each experiment must
    stay at or below ``limit`` at every length up to ``up_to``; judged as a count of such models per
    experiment against the paper's 5 of 5 (runs not solved yet, or solved and not tested, undecided)."""

    experiments: tuple[str, ...]
    up_to: int
    limit: float
    paper_k: int = 5
    paper_n: int = 5

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        judged, texts, pts_all = [], [], []
        for name in self.experiments:
            sel = Runs(name)
            pts = points([sel], root)
            planned = sum(p.planned for p in pts) if pts else len(sel.planned())
            path = Path(root) / "results" / name / "paper.generalisation.json"
            models = json.loads(path.read_text())["runs"] if path.exists() else []
            passed = failed = 0
            worst = 0.0
            for m in models:
                errs = {int(k): v for k, v in m["errors"].items() if int(k) <= self.up_to}
                bad = [v for v in errs.values() if v > self.limit]
                worst = max([worst, *errs.values()])
                if bad:
                    failed += 1
                elif errs and max(errs) >= self.up_to:
                    passed += 1
            decided_fail = failed + (sum(p.diverged - p.diverged_undecided for p in pts) if pts else 0)
            undecided = planned - passed - decided_fail
            v, why, p = rules.count_verdict(passed, undecided, planned, self.paper_k, self.paper_n)
            if pts is None:
                v, why = "not run", "no results file yet"
            ci = rules.exact_interval(passed, planned) if planned else None
            judged.append(rules.PointVerdict(name, v, why, f"{passed}/{planned}", f"{self.paper_k}/{self.paper_n}", p, ci))
            pts_all += pts or []
            row = {"experiment": name, "models tested": len(models), "pass": passed, "fail": failed,
                   "undecided": undecided, "worst error": f"{worst:.2%}" if models else "-",
                   "criterion": f"≤ {self.limit:.0%} up to T = {self.up_to:,}", "paper": f"{self.paper_k}/{self.paper_n}",
                   "p": f"{p:.3g}", "verdict": v}
            judged[-1].row = row
            texts.append(f"{name}: {passed} of {planned} models pass ({len(models)} tested"
                         + (f", worst {worst:.2%}" if models else "") + ")")
        verdict, why = rules.combine_points(judged)
        protocol = ("solved models (first check below the training criterion) on 10,000 fresh sequences per length; "
                    + ", ".join(f"results/{n}/paper.generalisation.json" for n in self.experiments))
        caps = sorted({c for p in pts_all for c in p.caps})
        return Verdict(verdict, f"criterion: error ≤ {self.limit:.0%} at every length up to {self.up_to:,}; {why}",
                       "; ".join(texts), protocol, caps_text(caps), cap_fraction(caps) if caps else "-",
                       [j.row for j in judged], _divergences(pts_all))


def mean_grad_norm(selectors: Sequence[Runs], root: Path) -> float | None:
    """The average gradient norm over whole runs (the mean of each run's check-interval means), the
    paper's "average norm over a sufficiently large number of updates"."""
    means = []
    for sel in selectors:
        path = Path(root) / sel.file
        if not path.exists():
            continue
        for rec in load_results(path)["runs"]:
            if sel.wants(rec["config"]):
                norms = [v for v in rec.get("curves", {}).get("grad_norm", []) if v is not None]
                if norms:
                    means.append(sum(norms) / len(norms))
    return sum(means) / len(means) if means else None


@dataclass(frozen=True)
class ThresholdRange(Test):
    """"Thresholds from ``low`` to ``high`` times the average norm still converge": the average is
    measured over whole MSGD runs (``msgd``); each threshold experiment inside that range is compared
    with the one nearest the average itself (two-sided Fisher, undecided runs tried every way);
    thresholds outside the range are listed, not judged. The registry fixed each threshold from the
    average rounded to three significant figures (e.g. 10 x 0.743 = 7.43), so a multiple within
    ``rounding`` (relative) of an end of the range counts as inside it."""

    studies: tuple[str, ...]  #: the threshold experiments (one threshold each)
    msgd: tuple[Runs, ...]
    low: float = 0.5
    high: float = 10.0
    rounding: float = 0.005

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        gbar = mean_grad_norm(self.msgd, root)
        files = [s for s in self.studies if (Path(root) / "results" / s / "paper.json").exists()]
        if gbar is None or len(files) < 2:
            return Verdict("not run", "no MSGD runs to measure the average norm, or fewer than two thresholds run",
                           "—", "would run: " + " ; ".join(f"python -m rnnbook run {s} --protocol paper" for s in self.studies))
        units = {s: Runs(s).settings()["threshold"] / gbar for s in files}
        inside = [s for s in files if self.low * (1 - self.rounding) <= units[s] <= self.high * (1 + self.rounding)]
        outside = [s for s in files if s not in inside]
        note = (f"average norm over whole MSGD runs {gbar:.3g}; thresholds in its units: "
                + ", ".join(f"{s} {units[s]:.2g}×" for s in files)
                + (f"; outside the paper's range, not judged: {', '.join(outside)}" if outside else ""))
        if len(inside) < 2:
            return Verdict("inconclusive", f"fewer than two thresholds inside the paper's range; {note}", "—",
                           ", ".join(f"results/{s}/paper.json" for s in files))
        ref = min(inside, key=lambda s: abs(units[s] - 1.0))
        parts = [(f"{units[s]:.2g}× vs {units[ref]:.2g}×", RateAgainst((Runs(s),), (Runs(ref),)))
                 for s in inside if s != ref]
        v = Parts(tuple(parts)).judge(root, made_under)
        v.why = f"{v.why} | {note}"
        return v


@dataclass(frozen=True)
class RateAgainst(Test):
    """A setting's count against a reference setting's count so far (two-sided Fisher per point)."""

    selectors: tuple[Runs, ...]
    reference: tuple[Runs, ...]

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        ref = points(self.reference, root)
        if ref is None:
            return Verdict("not run", "no reference runs yet", "—", "—")
        t = rules.Tally.of(ref)
        return Rate(self.selectors, t.solved, t.n).judge(root, made_under)
