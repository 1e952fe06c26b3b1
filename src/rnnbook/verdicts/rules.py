"""The verdict rules: how a count of runs, or a comparison of counts, is judged against the paper.

Every rule works **per grid point first** and only then on the claim, and every rule treats the
three outcomes of a run (:mod:`rnnbook.verdicts.records`) the same way: solved runs count,
censored runs, runs not finished yet and runs that diverged only because the authors' safety
net was off are *undecided*, and a verdict that any completion of the undecided runs could
change is ``open``. The words (:data:`VERDICTS`):

``reproduced``
    the book's count equals the paper's (a rate claim), the book's runs show the claimed
    ordering significantly (one-sided Fisher, p < 0.05), or the check the claim implies holds;
``consistent``
    a different count that Fisher's exact test cannot tell from the paper's, at a sample size
    where *some* count could have been told apart (the detail says which counts would have);
``not reproduced``
    a significant disagreement (p < 0.05) at a point; for a claim over m points, the number of
    disagreeing points must also be unlikely by chance (if the paper held everywhere, each test
    rejects with probability at most 0.05, so r or more rejections have probability at most
    P(Binomial(m, 0.05) >= r); this must be below 0.05), or the check fails;
``partly``
    a claim of several parts holds for some parts and fails for others;
``open``
    the undecided runs could still change the verdict, for some way they might end;
``uninformative``
    no possible outcome at this sample size could disagree significantly with the paper's
    number (2/5 against the paper's 2/5 at n = 5, for example), or a number measured once per
    seed rests on one seed (no seed-to-seed spread): the runs cannot test the claim;
``inconclusive``
    the evidence cannot carry a verdict for a reason of design: one run per method where the
    seed-to-seed spread is unknown, a comparison that changes more than one setting, a claim
    tested under a protocol other than the one it was made under, or disagreeing points no more
    numerous than chance gives;
``not run`` / ``not attempted``
    no result yet (the claim says which command would make one) / outside what the book does.

Numbers measured once per seed (Table 1 on the paper's music data) have their own two rules,
both t-tests over seeds: :func:`paired_seeds_verdict` for an ordering of two methods (paired,
one-sided, in the paper's direction) and :func:`seeds_against_value` for our seeds against the
paper's single number (a prediction test). One seed is never a pass.

The statistics are scipy's: :func:`scipy.stats.fisher_exact`, :func:`scipy.stats.binomtest`
(``proportion_ci(method="exact")``, the Clopper–Pearson interval) and :data:`scipy.stats.binom`.
:mod:`rnnbook.verdicts.stats` keeps the book's own implementations, used only as test oracles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from scipy import stats as _st

from rnnbook.verdicts.records import Point, cap_fraction, caps_text

ALPHA = 0.05
VERDICTS = ("reproduced", "consistent", "not reproduced", "partly", "open", "uninformative", "inconclusive",
            "not run", "not attempted")


def fisher_p(k1: int, n1: int, k2: int, n2: int, alternative: str = "two-sided") -> float:
    """Fisher's exact test of ``k1/n1`` against ``k2/n2`` (``greater``: the first rate is larger)."""
    return float(_st.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative=alternative).pvalue)


def exact_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a success rate (scipy)."""
    ci = _st.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def chance_of_disagreements(r: int, m: int, alpha: float = ALPHA) -> float:
    """Upper bound on the probability of ``r`` or more significant points out of ``m`` if the paper
    held at every point (each test's size is at most ``alpha``; independent points)."""
    return float(_st.binom.sf(r - 1, m, alpha)) if r > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# One point against the paper's count
# ---------------------------------------------------------------------------------------------


@dataclass
class PointVerdict:
    """The judgement of one grid point, with everything the per-point table shows."""

    label: str
    verdict: str
    why: str
    ours: str
    paper: str
    p: float | None = None  #: two-sided p of the observed count against the paper's (undecided = unsolved)
    interval: tuple[float, float] | None = None
    caps: list[int] = field(default_factory=list)
    row: dict[str, Any] = field(default_factory=dict)
    if_none: str = ""  #: the verdict if no undecided run ever succeeds
    if_all: str = ""  #: the verdict if every undecided run succeeds


def rejectable(n: int, paper_k: int, paper_n: int, alpha: float = ALPHA) -> list[int]:
    """The counts out of ``n`` that Fisher's test would tell from the paper's ``paper_k/paper_n``."""
    return [k for k in range(n + 1) if fisher_p(k, n, paper_k, paper_n) < alpha]


def _word(k: int, n: int, paper_k: int, paper_n: int, alpha: float) -> str:
    if k * paper_n == paper_k * n:
        return "reproduced"
    return "not reproduced" if fisher_p(k, n, paper_k, paper_n) < alpha else "consistent"


def _ranges(ks: list[int]) -> str:
    if not ks:
        return "none"
    out, start = [], ks[0]
    for a, b in zip(ks, ks[1:] + [None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)


def count_verdict(solved: int, undecided: int, n: int, paper_k: int, paper_n: int,
                  alpha: float = ALPHA) -> tuple[str, str, float]:
    """``(verdict, why, p)`` of ``solved`` of ``n`` runs (``undecided`` of them not decided yet)
    against the paper's ``paper_k/paper_n``; every completion of the undecided runs is tried."""
    if n == 0:
        return "not run", "no runs planned", float("nan")
    p = fisher_p(solved, n, paper_k, paper_n)
    can = rejectable(n, paper_k, paper_n, alpha)
    if not can:
        smallest = min(fisher_p(k, n, paper_k, paper_n) for k in range(n + 1))
        return ("uninformative", f"uninformative at n = {n}: no count from 0/{n} to {n}/{n} differs significantly "
                f"from the paper's {paper_k}/{paper_n} (smallest p = {smallest:.2f})", p)
    words = {_word(solved + j, n, paper_k, paper_n, alpha) for j in range(undecided + 1)}
    power = f"at n = {n} only {_ranges(can)} of {n} would differ significantly"
    if len(words) == 1:
        word = words.pop()
        if word == "reproduced":
            why = f"same rate as the paper ({solved}/{n} vs {paper_k}/{paper_n}); {power}"
        else:
            why = f"{solved}/{n} vs {paper_k}/{paper_n}: p = {p:.3g}; {power}"
        if undecided:
            why += f"; whichever way the {undecided} undecided run(s) end"
        return word, why, p
    outcomes = ", ".join(sorted(words))
    return "open", (f"{solved} solved, {undecided} undecided of {n}: {outcomes}, depending on how the undecided "
                    f"runs end; {power}"), p


def judge_point(point: Point, paper_k_per: int, paper_n_per: int, alpha: float = ALPHA) -> PointVerdict:
    """One grid point against the paper's count per point (e.g. 5 of 5 seeds)."""
    n = point.n
    ours = f"{point.solved}/{n}"
    if point.finished == 0:
        return PointVerdict(point.label, "not run", "no finished run yet", ours, f"{paper_k_per}/{paper_n_per}",
                            row=point_row(point, "not run", None, None, f"{paper_k_per}/{paper_n_per}"))
    verdict, why, p = count_verdict(point.solved, point.undecided, n, paper_k_per, paper_n_per, alpha)
    ci = exact_interval(point.solved, n)
    paper = f"{paper_k_per}/{paper_n_per}"
    ends = [count_verdict(point.solved + j, 0, n, paper_k_per, paper_n_per, alpha)[0] for j in (0, point.undecided)]
    return PointVerdict(point.label, verdict, why, ours, paper, p, ci, point.caps,
                        row=point_row(point, verdict, p, ci, paper), if_none=ends[0], if_all=ends[1])


def point_row(point: Point, verdict: str, p: float | None, ci: tuple[float, float] | None, paper: str) -> dict[str, Any]:
    return {"task": point.task, "init": point.init, "method": point.method, "T": point.length, "runs": point.n,
            "solved": point.solved, "censored": point.censored, "diverged": point.diverged,
            "not finished": point.unfinished, "95 % interval": "-" if ci is None else f"{ci[0]:.2f}-{ci[1]:.2f}",
            "cap": caps_text(point.caps), "cap / paper's": cap_fraction(point.caps).replace(" of the paper's 5×10⁶ updates", ""),
            "paper": paper, "p": "-" if p is None else f"{p:.3g}", "verdict": verdict}


def combine_points(judged: Sequence[PointVerdict], alpha: float = ALPHA) -> tuple[str, str]:
    """A claim that holds at every point, judged from its points (see the module's rules)."""
    if not judged or all(j.verdict == "not run" for j in judged):
        return "not run", "no finished run yet"
    # a point with no finished run yet, beside points that have some, is undecided: its runs are to come
    words = ["open" if j.verdict == "not run" else j.verdict for j in judged]
    tested = [j for j in judged if j.verdict not in ("not run", "uninformative")]
    bad = [j for j in judged if j.verdict == "not reproduced"]
    m = len(tested)
    if bad:
        chance = chance_of_disagreements(len(bad), m, alpha)
        where = "; ".join(f"{j.label}: {j.ours}, p = {j.p:.2g}" for j in bad)
        if m == 1 or chance < alpha:
            return "not reproduced", (f"{len(bad)} of {m} tested points disagree significantly ({where}); "
                                      f"chance alone gives that many with probability at most {chance:.2g}")
        return "inconclusive", (f"{len(bad)} of {m} tested points disagree ({where}), no more than chance gives "
                                f"over {m} tests (probability up to {chance:.2g})")
    tally = ", ".join(f"{words.count(w)} {w}" for w in VERDICTS if w in words)
    if "open" in words:
        opened = [j for j in judged if j.verdict in ("open", "not run")]
        worst = [j for j in opened if j.if_none == "not reproduced"]
        said = f"points: {tally}; the undecided runs of the open points decide"
        if worst:
            said += (f"; if none of them ever succeeds, {len(worst)} point(s) disagree significantly ("
                     + ", ".join(f"{j.label}: {j.ours} so far" for j in worst) + ")")
        return "open", said
    if all(w == "uninformative" for w in words):
        return "uninformative", f"every point: {judged[0].why}"
    if all(w == "reproduced" for w in words):
        return "reproduced", f"every point at the paper's rate ({tally})"
    return "consistent", f"no point differs significantly ({tally})"


# ---------------------------------------------------------------------------------------------
# Comparisons: A solves more often than B
# ---------------------------------------------------------------------------------------------


@dataclass
class Tally:
    solved: int
    undecided: int
    n: int

    @classmethod
    def of(cls, pts: Iterable[Point]) -> "Tally":
        pts = list(pts)
        return cls(sum(p.solved for p in pts), sum(p.undecided for p in pts), sum(p.n for p in pts))


def ordering_verdict(better: Tally, worse: Tally, alpha: float = ALPHA) -> tuple[str, str, float]:
    """``(verdict, why, p)`` of the claim "``better`` solves more often than ``worse``": reproduced if
    one-sided Fisher says so (p < alpha), not reproduced if it says the opposite, inconclusive if
    neither; open if the undecided runs of either side could change that."""
    if better.n == 0 or worse.n == 0:
        return "not run", "no runs on one side", float("nan")

    def word(a: int, b: int) -> str:
        if fisher_p(a, better.n, b, worse.n, "greater") < alpha:
            return "reproduced"
        if fisher_p(a, better.n, b, worse.n, "less") < alpha:
            return "not reproduced"
        return "inconclusive"

    p = fisher_p(better.solved, better.n, worse.solved, worse.n, "greater")
    can = any(fisher_p(a, better.n, 0, worse.n, "greater") < alpha for a in range(better.n + 1))
    if not can:
        return "uninformative", f"uninformative at n = {better.n} vs {worse.n}: no outcome could show the ordering", p
    words = {word(better.solved + i, worse.solved + j)
             for i in range(better.undecided + 1) for j in range(worse.undecided + 1)}
    said = (f"within the cap {better.solved}/{better.n} vs {worse.solved}/{worse.n} solved, one-sided p = {p:.2g}"
            + (f"; undecided: {better.undecided} and {worse.undecided}" if better.undecided or worse.undecided else ""))
    if len(words) == 1:
        return words.pop(), said, p
    return "open", f"{said}: {', '.join(sorted(words))} depending on how the undecided runs end", p


def combine_parts(parts: Sequence[tuple[str, str, str]]) -> tuple[str, str]:
    """A claim of several parts ``(name, verdict, why)``: the parts' word if they all say the same
    (reproduced, not reproduced, ...), partly if some hold and some fail, partly if some hold and the
    rest say something outside :data:`VERDICTS` (a tie); otherwise the weakest word."""
    words = [v for _, v, _ in parts]
    why = " | ".join(f"{name}: {v} ({w})" if w else f"{name}: {v}" for name, v, w in parts)
    if not words:
        return "not run", why
    if len(set(words)) == 1:  # every part says the same
        return words[0], why
    if "reproduced" in words and "not reproduced" in words:
        return "partly", why
    for v in ("not reproduced", "open", "inconclusive", "uninformative", "consistent", "not run"):
        if v in words:
            return v, why
    return "partly", why


# ---------------------------------------------------------------------------------------------
# Seeds: a number measured once per seed (Table 1 on the paper's music data)
# ---------------------------------------------------------------------------------------------


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for one value)."""
    n = len(values)
    mean = sum(values) / n
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else None
    return mean, sd


def paired_seeds_verdict(diffs: Sequence[float], paper_sign: str, alpha: float = ALPHA) -> tuple[str, str, float | None]:
    """``(verdict, why, p)`` of "method A is ``paper_sign`` (lower/higher) than method B" from the paired
    differences ``A - B``, one per seed (the methods of a seed share weights and data order).

    A one-sided t-test of the mean difference (df = n - 1) in the paper's direction: reproduced if
    p < alpha, not reproduced if the test in the other direction is significant, inconclusive if
    neither. One seed has no seed-to-seed spread and cannot be tested: uninformative, whatever its sign.
    """
    n = len(diffs)
    if n == 0:
        return "not run", "no seed with both methods yet", None
    mean, sd = mean_sd(diffs)
    if n == 1:
        return "uninformative", f"one seed (difference {mean:+.3f}): no seed-to-seed spread, so no test", None
    se = sd / n ** 0.5
    if se:
        t = mean / se
    else:  # every seed gives the same difference: its sign is certain
        t = math.copysign(math.inf, mean) if mean else 0.0
    lower, higher = float(_st.t.cdf(t, n - 1)), float(_st.t.sf(t, n - 1))
    p, p_other = (lower, higher) if paper_sign == "lower" else (higher, lower)
    word = "reproduced" if p < alpha else "not reproduced" if p_other < alpha else "inconclusive"
    return word, (f"mean paired difference {mean:+.3f} ± {se:.3f} (se) over {n} seeds, "
                  f"one-sided p = {p:.2g}"), p


def seeds_against_value(values: Sequence[float], value: float, alpha: float = ALPHA) -> tuple[str, float | None]:
    """``(word, p)``: is ``value`` (the paper's number, itself one run) a plausible further seed of ours?

    The two-sided t prediction test, t = (value - mean) / (sd * sqrt(1 + 1/n)), df = n - 1:
    ``matches (within the seed spread)`` if p >= alpha, else ``ours lower`` / ``ours higher``. One seed has no
    spread: ``uninformative (one seed)``.
    """
    n = len(values)
    mean, sd = mean_sd(values)
    if n < 2 or not sd:
        return "uninformative (one seed)" if n < 2 else "uninformative (no spread)", None
    t = (value - mean) / (sd * (1 + 1 / n) ** 0.5)
    p = float(2 * _st.t.sf(abs(t), n - 1))
    if p >= alpha:
        return "matches (within the seed spread)", p
    return ("ours lower" if mean < value else "ours higher"), p


def all_seeds_verdict(passed: int, n: int, alpha: float = ALPHA) -> tuple[str, str, float]:
    """``(verdict, why, p)`` of a property that should hold for every seed: ``reproduced`` if all ``n``
    seeds pass; ``not reproduced`` if a one-sided exact binomial test says the passing rate is below
    1/2 (p < alpha, as :class:`rnnbook.verdicts.evidence_runs.Majority`); ``inconclusive`` otherwise."""
    if n == 0:
        return "not run", "no seed measured yet", math.nan
    p = float(_st.binomtest(passed, n, 0.5, alternative="less").pvalue)
    word = "reproduced" if passed == n else "not reproduced" if p < alpha else "inconclusive"
    return word, f"{passed} of {n} seeds pass; one-sided binomial test of a passing rate below 1/2: p = {p:.2g}", p


def sign_test_verdict(better: int, worse: int, alpha: float = ALPHA) -> tuple[str, str, float]:
    """``(verdict, why, p)`` of "A is larger than B" from paired seeds, ``better`` pairs with A > B and
    ``worse`` with A < B (ties left out): a one-sided exact sign test, ``reproduced`` if p < alpha in
    the claim's direction, ``not reproduced`` if significant in the other, ``inconclusive`` otherwise."""
    n = better + worse
    if n == 0:
        return "not run", "no untied pair yet", math.nan
    p = float(_st.binomtest(better, n, 0.5, alternative="greater").pvalue)
    p_other = float(_st.binomtest(better, n, 0.5, alternative="less").pvalue)
    word = "reproduced" if p < alpha else "not reproduced" if p_other < alpha else "inconclusive"
    return word, f"{better} of {n} pairs in the claim's direction; one-sided exact sign test p = {p:.2g}", p


def check_verdict(ok: bool) -> str:
    return "reproduced" if ok else "not reproduced"


# ---------------------------------------------------------------------------------------------
# Two rules that should behave alike: paired seeds, solved or not (McNemar)
# ---------------------------------------------------------------------------------------------


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar test: of the discordant pairs (one arm solved, the other not), are
    ``only_a`` and ``only_b`` a fair coin's split? (1 with no discordant pair.)"""
    n = only_a + only_b
    return 1.0 if n == 0 else float(_st.binomtest(only_a, n, 0.5).pvalue)


def fewest_discordant(alpha: float = ALPHA) -> int:
    """The fewest discordant pairs at which McNemar's test can reject at all (6 at alpha = 0.05)."""
    n = 1
    while mcnemar_p(n, 0) >= alpha:
        n += 1
    return n


def alike_word(only_a: int, only_b: int, alpha: float = ALPHA) -> str:
    """The verdict on "A and B solve alike" from final outcomes: ``uninformative`` if even the most
    lopsided split of these discordant pairs could not reject (:func:`fewest_discordant`),
    ``not reproduced`` if McNemar rejects, ``consistent`` otherwise."""
    if only_a + only_b < fewest_discordant(alpha):
        return "uninformative"
    return "not reproduced" if mcnemar_p(only_a, only_b) < alpha else "consistent"


def _discordant(pairs: Sequence[tuple[str, str]], censored_solve: bool | None) -> set[tuple[int, int]]:
    """Every ``(only_a, only_b)`` the pairs can end at: a censored run is unsolved (``False``), solved
    (``True``) or, with ``None``, either (every completion)."""
    reachable = {(0, 0)}
    for a, b in pairs:
        ends_a = [a == "solved"] if a != "censored" else [True, False] if censored_solve is None else [censored_solve]
        ends_b = [b == "solved"] if b != "censored" else [True, False] if censored_solve is None else [censored_solve]
        steps = {(int(x and not y), int(y and not x)) for x in ends_a for y in ends_b}
        reachable = {(i + di, j + dj) for i, j in reachable for di, dj in steps}
    return reachable


def alike_verdict(label: str, pairs: Sequence[tuple[str, str]], names: tuple[str, str] = ("A", "B"),
                  alpha: float = ALPHA) -> PointVerdict:
    """One point of "A and B behave alike": ``pairs`` holds each seed's outcomes ``(A, B)``, each
    ``solved``, ``censored`` (unsolved at the cap: could still solve) or ``diverged`` (final).

    The rule (declared before the runs): the exact McNemar test on the discordant pairs does not
    reject at ``alpha`` (:func:`alike_word`). A point where no run of either arm solved is
    ``uninformative`` (the cap shows nothing to compare); otherwise every completion of the censored
    runs is tried, and a point they could turn to another word is ``open``.
    """
    if not pairs:
        return PointVerdict(label, "not run", "no seed with both arms yet", "-", "alike")
    only_a, only_b = _discordant(pairs, False).pop()
    solved = (sum(a == "solved" for a, _ in pairs), sum(b == "solved" for _, b in pairs))
    censored = sum((a == "censored") + (b == "censored") for a, b in pairs)
    p = mcnemar_p(only_a, only_b)
    ours = f"{solved[0]}/{len(pairs)} vs {solved[1]}/{len(pairs)} solved"
    said = (f"{ours}; pairs solved by one arm only: {only_a} by {names[0]}, {only_b} by {names[1]}; "
            f"exact McNemar p = {p:.2g}"
            + (f"; {censored} run(s) censored" if censored else ""))
    ends = [alike_word(*_discordant(pairs, c).pop(), alpha) for c in (False, True)]
    if solved == (0, 0):
        return PointVerdict(label, "uninformative", f"no run of either arm solved within the cap ({said})", ours,
                            "alike", p, if_none="uninformative", if_all=ends[1])
    words = {alike_word(i, j, alpha) for i, j in _discordant(pairs, None)}
    if len(words) == 1:
        word = words.pop()
        why = said + (f": fewer than {fewest_discordant(alpha)} such pairs, so McNemar's test could not have "
                      "rejected whichever arm they favoured" if word == "uninformative" else "")
        return PointVerdict(label, word, why, ours, "alike", p, if_none=ends[0], if_all=ends[1])
    return PointVerdict(label, "open", f"{said}: {', '.join(sorted(words))}, depending on how the censored runs end",
                        ours, "alike", p, if_none=ends[0], if_all=ends[1])


__all__ = ["ALPHA", "PointVerdict", "Tally", "VERDICTS", "chance_of_disagreements", "check_verdict",
           "combine_parts", "combine_points", "count_verdict", "exact_interval", "fisher_p", "judge_point", "mean_sd", "point_row",
           "ordering_verdict", "paired_seeds_verdict", "rejectable", "seeds_against_value", "all_seeds_verdict",
           "sign_test_verdict", "alike_verdict", "alike_word", "fewest_discordant", "mcnemar_p"]
