"""The claims registry: every checkable claim of the paper, once, with the test that judges it.

Each :class:`Claim` holds the paper's words and where they are made (the ICML text, the arXiv
version as known from secondary notes, or the authors' code), the paper's number, the book page
that shows it, the settings the claim was made under where they differ from the book's runs,
and a typed test (:mod:`rnnbook.verdicts.evidence`) over typed selectors of the stored runs
(:class:`rnnbook.verdicts.records.Runs`). The scoreboard, every chapter's table of the claims
it covers, and ``python -m rnnbook show`` all read verdicts from :func:`judge` / :func:`judge_all`,
so no two pages can disagree about a claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from rnnbook.verdicts import checks
from rnnbook.verdicts.evidence import (
    Check,
    ErrorClipAlike,
    FixedOmegaHurts,
    Generalises,
    GrowsWithLength,
    L2Penalty,
    Majority,
    MusicOrdering,
    NotAttempted,
    NotRun,
    OmegaApprox,
    OmegaVanish,
    Ordering,
    Parts,
    Rate,
    RateAgainst,
    StudyCheck,
    Table1Ordering,
    Test,
    ThresholdRange,
    Verdict,
)
from rnnbook.verdicts.records import Runs
from rnnbook.verdicts.rules import VERDICTS

SOURCES = ("ICML", "arXiv", "code")


@dataclass(frozen=True)
class Claim:
    key: str
    section: str  #: where the paper makes it ("§4.1.1, Fig. 7")
    words: str  #: the claim, in the paper's words (paraphrased where the paper is long)
    source: str  #: ICML, arXiv (secondary notes of v2) or code
    paper: str  #: the paper's number, quoted
    where: str  #: the book page that shows it (a path for {doc})
    test: Test
    made_under: Mapping[str, Any] = field(default_factory=dict)  #: settings of the claim, where the book's differ

    @property
    def kind(self) -> str:
        """``analytic`` (a check of a derivation), ``experiment`` or ``not attempted``."""
        return self.test.kind


CH1 = "/chapters/01_training_rnns"
CH21 = "/chapters/02_exploding_vanishing/01_mechanics"
CH22 = "/chapters/02_exploding_vanishing/02_dynamical_systems"
CH23 = "/chapters/02_exploding_vanishing/03_geometry"
CH31 = "/chapters/03_remedies/01_previous_solutions"
CH32 = "/chapters/03_remedies/02_clipping"
CH33 = "/chapters/03_remedies/03_regularizer"
CH41 = "/chapters/04_experiments/01_temporal_order"
CH42 = "/chapters/04_experiments/02_other_tasks"
CH43 = "/chapters/04_experiments/03_natural_problems"

FIG7, SEEDS = "temporal_order", "temporal_order_seeds"
INITS = ("sigmoid", "basic_tanh", "smart_tanh")
INIT_NAMES = {"sigmoid": "sigmoid", "basic_tanh": "basic tanh", "smart_tanh": "smart tanh"}
SHORT, CHEAP, LONG = (20,), (20, 50), (100, 150, 200)
POOL_CAP = 100_000  #: the common cap at which Fig. 7's seeds and the extra seeds are pooled
#: Fig. 7's settings in the arXiv appendix (secondary notes), where they differ from ICML's
ARXIV_FIG7 = {"lr": 0.001, "threshold": 6.0, "reg_weight": 2.0}


def fig7(method: str, init: str | None = None, lengths: tuple[int, ...] = (20, 50, 100, 150, 200),
         cap: int | None = None) -> tuple[Runs, ...]:
    """Fig. 7's runs of ``method`` (one init or all) at ``lengths``; at the cheap lengths 20 and 50 the
    extra seeds of ``temporal_order_seeds`` join them, everything read at a common 10^5 cap there."""
    inits = (init,) if init else INITS
    out: list[Runs] = []
    for i in inits:
        cheap = tuple(T for T in lengths if T in CHEAP)
        rest = tuple(T for T in lengths if T not in CHEAP)
        if cheap:
            out += [Runs(FIG7, method, i, cheap, POOL_CAP), Runs(SEEDS, method, i, cheap, POOL_CAP)]
        if rest:
            out.append(Runs(FIG7, method, i, rest, cap))
    return tuple(out)


def task(name: str, method: str | None = None) -> tuple[Runs, ...]:
    return (Runs(name, method),)


def _omega(method: str) -> tuple[Runs, ...]:
    return (Runs("omega_clipping", method), Runs("omega_clipping_basic", method))


_THRESHOLDS = ("0.5", "1", "2", "5", "10")


def _threshold_test() -> Parts:
    """At length 30 (the first study) and at length 50 (where MSGD without clipping fails), each with the
    average norm measured over whole MSGD runs of that length, as the paper defines it."""
    return Parts((
        ("T = 30", ThresholdRange(tuple(f"clip_threshold_x{x}" for x in _THRESHOLDS), (Runs("clip_threshold_none"),))),
        ("T = 50", ThresholdRange(tuple(f"clip_threshold50_x{x}" for x in _THRESHOLDS),
                                  fig7("msgd", "basic_tanh", (50,)))),
    ))


CLAIMS: tuple[Claim, ...] = (
    # ---- analytic (checks of derivations) ------------------------------------------------------
    Claim("eq3-5", "§1.1, Eqs. (3)-(5)", "The BPTT gradient is the sum of temporal contributions", "ICML",
          "an identity", CH1, Check(checks.decomposition)),
    Claim("linear", "§2.1", "Linear case: ρ < 1 suffices for the long-term components to vanish; ρ > 1 is "
          "necessary for them to explode", "ICML", "a proof (supplementary material)", CH21, Check(checks.linear_case)),
    Claim("suff-vanish", "§2.1, Eqs. (6)-(7)", "λ₁ < 1/γ is sufficient for the long-term components to vanish",
          "ICML", "a proof", CH21, Check(checks.sufficient_condition)),
    Claim("fig3", "§2.2, Fig. 3", "A one-unit network with w = 5 has two bifurcations and a bistable window between",
          "ICML", "a figure (no numbers)", CH22, Check(checks.bifurcations)),
    Claim("fig6", "§2.3, Fig. 6", "Where the gradient explodes, the curvature explodes too (a wall)", "ICML",
          "a figure and a hypothesis", CH23, Check(checks.wall)),
    Claim("clip-descent", "§3.2, Algorithm 1", "The norm-clipped step is always a descent direction for the "
          "minibatch (unlike element-wise clipping)", "ICML", "an argument", CH32, Check(checks.clipped_descent)),
    # ---- §3.1 and §3.3 ---------------------------------------------------------------------------
    Claim("l2", "§3.1", "An L1/L2 penalty on W_rec keeps λ₁ < 1: one point attractor, no long memory", "ICML",
          "an argument (no numbers)", CH31, L2Penalty()),
    Claim("lstm", "§3.1", "LSTM handles vanishing gradients but not exploding ones", "ICML",
          "an argument (no numbers)", CH31,
          NotRun("python -m rnnbook.studies.baselines (results/lstm_temporal_order/study.json) with runs that learn the task",
                 "the stored LSTM study (3 seeds, length 20, 5,000 updates) never learned the task, so it cannot "
                 "show explosions at the qualitative changes the claim is about")),
    Claim("teacher-forcing", "§3.1", "Teacher forcing and pre-programmed initial weights help, but need targets "
          "at every step", "ICML", "an argument (no numbers)", CH31,
          NotAttempted("the pathological tasks have no per-step targets to force")),
    Claim("alternatives", "§3.1", "Hessian-free optimisation with structural damping, echo state networks and leaky "
          "integration units also address the problems", "ICML", "cited results (no numbers)", CH31,
          NotAttempted("outside the book's scope: other optimisers and architectures, cited only")),
    Claim("elementwise-direction", "§3.2", "Only norm clipping keeps the gradient's direction; Mikolov's element-wise "
          "clipping of the back-propagated errors turns it", "ICML", "an argument (no numbers)", CH31,
          StudyCheck("results/error_clipping_temporal_order/study.json", checks.error_clipping_direction,
                     "python -m rnnbook.studies.baselines (the error-clipping study)")),
    Claim("elementwise", "§3.2", "Mikolov's element-wise clipping and norm clipping behave alike in practice",
          "ICML", "said, no numbers", CH31,
          ErrorClipAlike()),  # per length: paired solved-or-not, exact McNemar; pooled as per-point claims
    Claim("threshold", "§3.2", "Thresholds from 0.5 to 10 times the average gradient norm still converge (only the "
          "speed may change)", "ICML", "a heuristic (no numbers)", CH32, _threshold_test()),
    Claim("omega-grad", "§3.3, Eqs. (9)-(10)", "Ω's gradient with the errors and states held constant (Eq. 10)",
          "ICML", "a formula", CH33, Check(checks.omega_gradient)),
    Claim("omega-direction", "§3.3", "Ω asks the Jacobian to preserve the norm only in the relevant direction, which "
          "suffices for the error to travel (a single cost at the last step)", "ICML", "an argument (no numbers)",
          CH33, Check(checks.omega_direction)),
    Claim("omega-approx", "§3.3", "Treating the back-propagated error and the state as constants is a usable "
          "approximation of Ω's gradient", "ICML", "an argument (no numbers)", CH33,
          OmegaApprox()),  # per seed: cosine(Eq. 10, exact) > 0 at every snapshot; pooled: every seed
    Claim("omega-weight", "§3.3, §4.1.1", "The regularizer's weight 2 (the code, arXiv) works like ICML's 4", "code",
          "α = 2 (code, arXiv); α = 4 (ICML)", CH33,
          RateAgainst((Runs("omega_weight_2"),), (Runs("omega_clipping", "msgd_cr"),))),
    Claim("omega-vanish", "§3.3, §5", "Ω keeps the error signal from vanishing", "ICML", "an argument (no numbers)",
          CH33, OmegaVanish()),  # paired seeds: trained ||dE/dh_1|| / ||dE/dh_T|| with Ω > without; sign test
    Claim("omega-clip", "§3.3, footnote 4", "The regularizer alone, without clipping, usually fails (explosions)",
          "ICML", "said, no numbers", CH33,
          Parts((("Ω alone fails in most runs", Majority((*_omega("msgd_r"), Runs("omega_no_clipping_long")))),
                 ("at length 50, Ω with clipping solves more often than Ω alone",
                  Ordering(_omega("msgd_cr"), _omega("msgd_r"), ("MSGD-CR", "MSGD-R"))),
                 ("at lengths 100 and 200 (Fig. 7's MSGD-CR runs beside Ω alone), the same",
                  Ordering(tuple(Runs(FIG7, "msgd_cr", i, (100, 200), POOL_CAP) for i in ("basic_tanh", "smart_tanh")),
                           (Runs("omega_no_clipping_long", cap=POOL_CAP),), ("MSGD-CR", "MSGD-R")))))),
    # ---- §4.1.1, Fig. 7 ----------------------------------------------------------------------------
    *(Claim(f"fig7-cr-{init.split('_')[0]}", "§4.1.1, Fig. 7",
            f"MSGD-CR solves temporal order at every length up to 200 ({INIT_NAMES[init]} panel)", "arXiv",
            "5/5 at every length (arXiv: 'SGD-CR 100 % up to 200', assumed for every ICML panel)", CH41,
            Rate(fig7("msgd_cr", init), 5, 5)) for init in INITS),
    Claim("fig7-cr-basic-net", "§4.1.1, Fig. 7", "MSGD-CR solves temporal order at every length up to 200 (basic tanh "
          "panel; the run that diverged with the safety net off, rerun with it on)", "arXiv",
          "5/5 at every length (arXiv: 'SGD-CR 100 % up to 200', assumed for every ICML panel)", CH41,
          Rate((*fig7("msgd_cr", "basic_tanh", (20, 50, 100, 150)), Runs(FIG7, "msgd_cr", "basic_tanh", (200,), seeds=(1, 2, 3, 4)),
                Runs("safety_net_torder")), 5, 5)),
    Claim("fig7-cr-vs-c", "§4.1.1, Fig. 7", "MSGD-CR solves more often than MSGD-C (CR best)", "ICML",
          "a figure: CR above C", CH41,
          Ordering(fig7("msgd_cr", lengths=(50, *LONG), cap=POOL_CAP), fig7("msgd_c", lengths=(50, *LONG), cap=POOL_CAP),
                   ("MSGD-CR", "MSGD-C"))),
    Claim("fig7-clip-length", "§4.1.1, Fig. 7", "Clipping matters more as the sequences grow", "ICML",
          "a figure: the gap between MSGD-C and MSGD grows with T", CH41,
          GrowsWithLength(Ordering(fig7("msgd_c", lengths=SHORT), fig7("msgd", lengths=SHORT), ("MSGD-C", "MSGD")),
                          Ordering(fig7("msgd_c", lengths=(50, *LONG), cap=POOL_CAP),
                                   fig7("msgd", lengths=(50, *LONG), cap=POOL_CAP), ("MSGD-C", "MSGD")))),
    Claim("fig7-sgd", "§4.1.1, Fig. 7", "SGD fails beyond length 20", "arXiv", "0/5 beyond 20 (arXiv)", CH41,
          Rate(fig7("msgd", lengths=(50, *LONG)), 0, 5), ARXIV_FIG7),
    Claim("fig7-sgdc", "§4.1.1, Fig. 7", "SGD-C fails beyond length 20", "arXiv", "0/5 beyond 20 (arXiv)", CH41,
          Rate(fig7("msgd_c", lengths=(50, *LONG)), 0, 5), ARXIV_FIG7),
    Claim("mixed", "§4.1.1", "One model trained on random lengths 50-200 succeeds in every run, with 0 errors",
          "ICML", "5/5", CH41,
          Parts((("solved by the paper's criterion (0 errors on ten chunks of random lengths)",
                  Rate(task("temporal_order_mixed_zero"), 5, 5)),
                 ("0 errors at every fixed length of the trained range tested (50, 100, 150)",
                  Generalises(("temporal_order_mixed_zero",), 150, 0.0))))),
    Claim("mixed-gen", "§4.1.1", "That model makes no error on sequences up to length 5,000", "ICML",
          "0 errors up to 5,000 (each of 5 models)", CH41, Generalises(("temporal_order_mixed_zero",), 5000, 0.0)),
    Claim("mixed-gen-arxiv", "§4.1.1", "That model generalises to sequences twice as long (400), error < 1 %",
          "arXiv", "< 1 % up to 400", CH41, Generalises(("temporal_order_mixed_zero",), 400, 0.01)),
    # ---- §4.1.2 ------------------------------------------------------------------------------------
    Claim("add", "§4.1.2", "Addition is solved", "ICML", "5/5", CH42, Rate(task("addition"), 5, 5)),
    Claim("mul", "§4.1.2", "Multiplication is solved", "ICML", "5/5", CH42, Rate(task("multiplication"), 5, 5)),
    Claim("torder3", "§4.1.2", "3-bit temporal order is solved", "ICML", "5/5", CH42, Rate(task("temporal_order3"), 5, 5)),
    Claim("torder3-net", "§4.1.2", "3-bit temporal order is solved (the two runs that diverged with the safety net off, "
          "rerun with the authors' safety net on)", "ICML", "5/5", CH42,
          Rate((Runs("temporal_order3", seeds=(0, 2, 4)), Runs("safety_net_torder3")), 5, 5)),
    Claim("mul-add-settings", "§4.1.2", "Multiplication is solved (with the settings the arXiv notes give for addition)",
          "ICML", "5/5 (the paper gives no settings for multiplication)", CH42,
          Rate(task("multiplication_addition_settings"), 5, 5)),
    Claim("perm", "§4.1.2", "Random permutation: 2 of 5 runs succeed", "ICML", "2/5", CH42,
          Rate(task("permutation"), 2, 5)),
    Claim("perm-arxiv", "§4.1.2", "Random permutation: 1 of 8 runs succeeds", "arXiv", "1/8", CH42,
          Rate(task("permutation"), 1, 8)),
    Claim("perm-hardest", "§4.1.2", "Random permutation is the hardest of the tasks", "ICML",
          "2/5, against 5/5 for every other task", CH42,
          Ordering(tuple(Runs(n) for n in ("addition", "multiplication", "temporal_order3", "memorization_5bit",
                                           "memorization")), task("permutation"), ("the other tasks", "permutation"),
                   same_settings=False)),
    Claim("mem5", "§4.1.2", "Noiseless memorization, 5 bits, is solved at every length 50-200", "ICML",
          "5/5 per length", CH42, Rate(task("memorization_5bit"), 5, 5)),
    Claim("mem20", "§4.1.2", "Noiseless memorization, over 20 bits, is solved at every length 50-200", "ICML",
          "5/5 per length", CH42, Rate(task("memorization"), 5, 5)),
    Claim("add-gen", "§4.1.2", "Addition models generalise to 500 steps (error grows but stays < 1 %)", "ICML",
          "error < 1 % up to 500", CH42, Generalises(("addition",), 500, 0.01)),
    Claim("mul-gen", "§4.1.2", "Multiplication models generalise to 500 steps (error stays < 1 %)", "ICML",
          "error < 1 % up to 500", CH42, Generalises(("multiplication",), 500, 0.01)),
    # ---- §4.2, Table 1 -----------------------------------------------------------------------------
    Claim("t1-music-clip", "§4.2, Table 1", "Music (Piano-midi.de, Nottingham, MuseData): clipping lowers the NLL on "
          "train and test", "ICML", "e.g. Nottingham 3.67 → 3.21 (train), 3.80 → 3.48 (test)", CH43,
          MusicOrdering("clip", ("train", "test"))),
    Claim("t1-music-reg", "§4.2, Table 1", "Music: the regularizer lowers the test NLL further", "ICML",
          "e.g. MuseData 7.00 → 6.97 (test)", CH43,
          MusicOrdering("reg", ("test",))),
    Claim("t1-text-clip", "§4.2, Table 1", "Characters (Penn Treebank): clipping lowers the bits per character on "
          "train and test", "ICML", "1.46 → 1.34 (train), 1.50 → 1.42 (test)", CH43,
          Table1Ordering("clip", ("text_next",))),
    Claim("t1-text-reg", "§4.2, Table 1", "Characters: the regularizer lowers the test bits per character", "ICML",
          "1.42 → 1.41 (next), 3.89 → 3.74 (5 ahead)", CH43, Table1Ordering("reg", ("text_next", "text_5ahead"))),
    Claim("t1-reg-long", "§4.2, Table 1", "The regularizer helps most on the 5-step task", "ICML",
          "gain 0.15 (5 ahead) vs 0.01 (next) bits per character", CH43,
          Table1Ordering("reg-long", ("text_next", "text_5ahead"))),
    Claim("t1-optim", "§4.2", "Clipping is an optimisation fix: train and test improve together", "ICML",
          "Table 1 (train and test both lower with clipping)", CH43, Table1Ordering("clip", ("text_next",))),
    Claim("t1-decay", "§4.2", "The regularizer's weight needs a 1/t decay; a fixed weight hurts", "ICML",
          "said, no numbers", CH43, FixedOmegaHurts()),
    Claim("t1-ptb-sota", "§4.2, Table 1", "On Penn Treebank characters MSGD+CR matches the RNN state of the art",
          "ICML", "1.41 bits per character (test)", CH43,
          NotRun("python -m rnnbook natural ptb_next --protocol paper --data-dir DIR (Mikolov's ptb.char.*.txt files)",
                 "the Penn Treebank does not ship with the book; its text rows are a stand-in corpus")),
)

_BY_KEY = {c.key: c for c in CLAIMS}


def get(key: str) -> Claim:
    return _BY_KEY[key]


@dataclass
class Judged:
    claim: Claim
    verdict: Verdict


def judge(claim: Claim | str, root: str | Path) -> Verdict:
    """The verdict on one claim now, from the results under ``root`` (the book's folder)."""
    claim = get(claim) if isinstance(claim, str) else claim
    v = claim.test.judge(Path(root), claim.made_under)
    if v.verdict not in VERDICTS:
        raise ValueError(f"claim {claim.key}: unknown verdict {v.verdict!r}")
    return v


def judge_all(root: str | Path, claims: Iterable[Claim] = CLAIMS) -> list[Judged]:
    return [Judged(c, judge(c, root)) for c in claims]


def for_page(where: str) -> tuple[Claim, ...]:
    """The claims a book page covers (its ``where``)."""
    return tuple(c for c in CLAIMS if c.where == where)


def for_experiment(experiment: str) -> tuple[Claim, ...]:
    """The claims whose runs come (at least partly) from ``experiment``'s results file."""
    return tuple(c for c in CLAIMS if experiment in experiments_of(c.test))


def experiments_of(test: Test) -> set[str]:
    """The experiments whose results files ``test`` reads: those of its run selectors, of its parts,
    and those it names (``experiments``: Table 1's, the generalisation tests'; ``studies``: the
    threshold experiments)."""
    out: set[str] = set()
    for name in ("selectors", "better", "worse", "reference", "msgd"):
        out |= {s.experiment for s in getattr(test, name, ())}
    for name in ("short", "long"):
        if hasattr(test, name):
            out |= experiments_of(getattr(test, name))
    for _, part in getattr(test, "parts", ()):
        out |= experiments_of(part)
    out |= set(getattr(test, "experiments", ())) | set(getattr(test, "studies", ()))
    return out
