"""The reproduction scoreboard: every figure, table and numerical claim of the paper, in one table.

Each row is a :class:`Claim` of the paper: where it is made, what the paper reports (quoted), and
a function that computes the book's side *now*, from the committed result files
(``results/<experiment>/<protocol>.json``) or from a small check of the book's own code. Nothing
in the table is typed: the front-matter page renders :func:`evaluate_all`, and
``tests/test_scoreboard.py`` checks that every row has a verdict and that each number agrees
with its source. Verdicts (:data:`rnnbook.outcomes.VERDICTS`, plus ``not attempted``):

- **reproduced**: the book's number equals the paper's (or the check the claim implies holds);
- **consistent**: a different count that Fisher's exact test cannot tell from the paper's;
- **not reproduced**: a significant difference, or the check fails;
- **partly**: a claim of several parts, or of a range, holds for some of them and not for others;
- **open**: runs stopped at the update cap, or not finished yet, could still change the verdict;
- **not run** / **not attempted**: no result yet / the book does not attempt it (yet).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rnnbook import outcomes
from rnnbook.results import load_results

VERDICTS = (*outcomes.VERDICTS, "partly", "not attempted")


@dataclass
class Row:
    ours: str  #: the book's number(s), as computed now
    protocol: str  #: how it was computed (scale, seeds, caps)
    verdict: str
    detail: str = ""  #: why this verdict
    value: float | None = None  #: the headline number, for the tests (a rate, an error, ...)


@dataclass
class Claim:
    key: str
    section: str
    claim: str
    paper: str  #: the paper's value, quoted (ICML unless said)
    where: str  #: the book page that shows it (a path for {doc})
    evaluate: Callable[[Path], Row]


# ---------------------------------------------------------------------------------------------
# Rows computed from result files
# ---------------------------------------------------------------------------------------------


def _data(root: Path, experiment: str) -> dict | None:
    path = root / "results" / experiment / "paper.json"
    return load_results(path) if path.exists() else None


def _caps(runs: list[dict]) -> str:
    caps = sorted({r["config"]["max_updates"] for r in runs})
    return ", ".join(f"{c:,}" for c in caps) if caps else "-"


def _count_row(root: Path, experiment: str, select: Callable[[dict], bool], planned: int,
               paper_k: int, paper_n: int, what: str) -> Row:
    from rnnbook.experiments import get_experiment

    data = _data(root, experiment)
    runs = [r for r in (data["runs"] if data else []) if select(r["config"])]
    k = sum(r["success"] for r in runs)
    c = sum(r["censored"] for r in runs)
    verdict, why = outcomes.verdict(k, len(runs), c, paper_k, paper_n, planned=planned)
    seeds = len(get_experiment(experiment).protocol("paper").seeds)
    ours = f"{k}/{len(runs)} solved" + (f", {c} censored" if c else "") + \
        (f" ({planned - len(runs)} of {planned} not finished)" if planned > len(runs) else "")
    return Row(ours=ours, protocol=f"{what}; {seeds} seeds; caps {_caps(runs)}; results/{experiment}/paper.json",
               verdict=verdict, detail=why, value=k / len(runs) if runs else None)


def _fig7(method: str, lengths: Callable[[int], bool], paper_k_per_point: int) -> Callable[[Path], Row]:
    def evaluate(root: Path) -> Row:
        from rnnbook.experiments import get_experiment

        exp = get_experiment("temporal_order")
        points = [T for T in exp.protocol("paper").lengths if lengths(T)]
        seeds = len(exp.protocol("paper").seeds)
        planned = len(points) * len(exp.inits) * seeds
        paper_k = paper_k_per_point * len(points) * len(exp.inits)
        return _count_row(root, "temporal_order",
                          lambda c: c["method"] == method and c["min_length"] in points, planned, paper_k, planned,
                          f"Fig. 7 grid, {method}, lengths {', '.join(map(str, points))}, 3 inits pooled")
    return evaluate


def _task(experiment: str, paper_k_per_5: int) -> Callable[[Path], Row]:
    def evaluate(root: Path) -> Row:
        from rnnbook.experiments import get_experiment

        planned = get_experiment(experiment).n_runs("paper")
        return _count_row(root, experiment, lambda c: True, planned, paper_k_per_5 * planned // 5, planned,
                          f"{experiment}, paper protocol")
    return evaluate


def _generalisation(experiments: tuple[str, ...], up_to: int, limit: float) -> Callable[[Path], Row]:
    def evaluate(root: Path) -> Row:
        worst, tested, lengths = -1.0, 0, set()
        for name in experiments:
            path = root / "results" / name / "paper.generalisation.json"
            if not path.exists():
                continue
            for r in json.loads(path.read_text())["runs"]:
                errs = {int(k): v for k, v in r["errors"].items() if int(k) <= up_to}
                if errs:
                    tested += 1
                    lengths |= set(errs)
                    worst = max(worst, max(errs.values()))
        if not tested:
            return Row("no solved model tested yet", f"{', '.join(experiments)}: needs solved runs",
                       "not run", "no solved run with kept weights")
        ok = worst <= limit
        return Row(f"worst error {worst:.2%} over {tested} model(s), lengths up to {max(lengths):,}",
                   f"rnnbook generalise, 10,000 fresh sequences per length; {', '.join(experiments)}",
                   "reproduced" if ok and max(lengths) >= up_to else "open" if ok else "not reproduced",
                   f"criterion: error <= {limit:.0%} at every length up to {up_to:,}", value=worst)
    return evaluate


def _study(experiments: dict[str, str], expect: Callable[[dict[str, tuple[int, int, int]]], tuple[str, str]],
           what: str) -> Callable[[Path], Row]:
    """A claim tested by one of the book's own studies (several experiments, compared)."""
    def evaluate(root: Path) -> Row:
        counts = {}
        for label, sources in experiments.items():  # "experiment[:method]", several joined by "+"
            runs = []
            for source in sources.split("+"):
                name, _, method = source.partition(":")
                data = _data(root, name)
                runs += [r for r in (data["runs"] if data else []) if not method or r["config"]["method"] == method]
            counts[label] = (sum(r["success"] for r in runs), len(runs), sum(r["censored"] for r in runs))
        if not any(n for _, n, _ in counts.values()):
            return Row("no runs yet", what, "not run", "no results files yet")
        verdict, why = expect(counts)
        ours = "; ".join(f"{label} {k}/{n}" + (f" ({c} censored)" if c else "") for label, (k, n, c) in counts.items())
        return Row(ours, what, verdict, why)
    return evaluate


def _omega_needs_clipping(counts: dict) -> tuple[str, str]:
    """"Omega alone usually fails": reproduced if most runs of Omega without clipping fail even if
    every censored one were to succeed later; not reproduced if at least half succeed already."""
    k, n, c = counts["Omega alone"]
    kc, nc, _ = counts["Omega + clipping"]
    if not n:
        return "not run", "no run of Omega without clipping yet"
    with_clipping = f"; with clipping {kc}/{nc}" if nc else ""
    if 2 * k >= n:
        return "not reproduced", f"{k} of {n} runs of Omega alone succeeded: it does not usually fail{with_clipping}"
    if 2 * (k + c) < n:
        return "reproduced", f"most runs of Omega alone fail, even if the censored ones succeed later{with_clipping}"
    return "open", f"{k} of {n} succeeded, {c} censored: the censored runs decide{with_clipping}"


def _threshold_heuristic(counts: dict) -> tuple[str, str]:
    """"0.5x to 10x the average norm still converge (only the speed may change)": every threshold
    must solve some runs, and none significantly fewer than the best threshold (Fisher, p < 0.05)."""
    from rnnbook.stats import fisher_exact

    clipped = {k: v for k, v in counts.items() if k != "no clipping"}
    done = {k: v for k, v in clipped.items() if v[1]}
    if not done:
        return "not run", "no clipped runs yet"
    missing = [k for k, v in clipped.items() if not v[1]]
    failing = [k for k, (s, n, c) in done.items() if s == 0 and c == 0]
    if failing:
        return "not reproduced", f"no run converged at {', '.join(failing)}"
    best = max(done, key=lambda k: done[k][0] / done[k][1])
    worse = [k for k, (s, n, c) in done.items()
             if fisher_exact(s, n, done[best][0], done[best][1]) < 0.05 and s < done[best][0]]
    if worse:
        return "partly", (f"every threshold converged in some runs, but {', '.join(worse)} solved significantly "
                          f"fewer than {best} (Fisher p < 0.05) within the cap")
    if any(s == 0 for s, n, c in done.values()) or missing:
        return "open", "some thresholds have only censored runs, or none yet" + (
            f" (not run: {', '.join(missing)})" if missing else "")
    return "reproduced", "every threshold converged, none significantly less often than the best"


# ---------------------------------------------------------------------------------------------
# Rows computed by the book's own code (cheap checks, run when the page is built)
# ---------------------------------------------------------------------------------------------


def _decomposition(root: Path) -> Row:
    import torch

    from rnnbook import gradients as G

    g = torch.Generator().manual_seed(0)
    net = G.PaperRNN.random(8, 3, 2, scale=1.1, act="tanh", generator=g)
    T = 30
    u = torch.randn(T, 3, dtype=torch.float64, generator=g)
    y = torch.randn(T, 2, dtype=torch.float64, generator=g)
    x0 = torch.zeros(8, dtype=torch.float64)
    err = G.max_relative_error(G.gradient_by_contributions(net, u, y, x0), G.autograd_gradient(net, u, y, x0))
    return Row(f"max relative difference {err:.1e}", "8 units, T = 30, float64, one random network",
               "reproduced" if err < 1e-10 else "not reproduced",
               "the sum of all temporal contributions against autograd's gradient", value=err)


def _sufficient_condition(root: Path) -> Row:
    import torch

    from rnnbook import gradients as G

    g = torch.Generator().manual_seed(1)
    worst_ratio, last = 0.0, 0.0
    for _ in range(5):
        W = G.random_recurrent(20, spectral_norm=0.9, generator=g)
        curve = G.transport_curve(W, "tanh", T=100, input_scale=1.0, generator=g)
        worst_ratio = max(worst_ratio, float((curve.norms / curve.bound()).max()))
        last = max(last, float(curve.norms[-1]))
    ok = worst_ratio <= 1 + 1e-12 and last < 1e-3
    return Row(f"‖∂x_t/∂x_0‖ ≤ (λ₁γ)^t on every step (max ratio {worst_ratio:.3f}); after 100 steps ≤ {last:.1e}",
               "5 random tanh networks, 20 units, λ₁ = 0.9, T = 100, driven by random inputs",
               "reproduced" if ok else "not reproduced", "the bound of Eqs. (6)-(7) holds and the factor vanishes",
               value=worst_ratio)


def _bifurcations(root: Path) -> Row:
    import numpy as np

    from rnnbook import dynamics as D

    bif = D.bifurcation_points(5.0)
    lo, hi, _ = D.bistable_window_by_simulation(5.0, np.linspace(-3.0, -2.0, 2001))
    agree = abs(lo - bif.b_2) < 2e-3 and abs(hi - bif.b_1) < 2e-3
    return Row(f"b₂ = {bif.b_2:.4f}, b₁ = {bif.b_1:.4f} (analytic); simulation: ({lo:.4f}, {hi:.4f})",
               "w = 5, one sigmoid unit, bias grid step 0.0005, 5,000 steps per start",
               "reproduced" if agree else "not reproduced",
               "two saddle-node bifurcations bound a bistable window, as drawn in Fig. 3", value=hi - lo)


def _wall(root: Path) -> Row:
    import numpy as np

    from rnnbook import dynamics as D

    w = np.linspace(4.5, 9.0, 46)
    s05 = float(D.logistic(0.5))
    surf = D.error_surface(w, 0.5 - w * s05)
    curv = np.abs(surf.curvature_along_gradient())
    slope = float(np.polyfit(np.log10(surf.grad_norm), np.log10(curv), 1)[0])
    return Row(f"log curvature / log ‖∇E‖ slope {slope:.2f} along the wall",
               "Fig. 6 model (one sigmoid unit, T = 50), exact derivatives on the wall line, 4.5 ≤ w ≤ 9",
               "reproduced" if slope > 1 else "not reproduced",
               "where the gradient explodes the curvature explodes with it (slope > 1: faster than the gradient)",
               value=slope)


def _table1(claims: tuple[str, ...], experiments: tuple[str, ...]) -> Callable[[Path], Row]:
    """Table 1's orderings on the book's stand-in corpora (:mod:`rnnbook.table1`), each claim judged
    on those of its experiments (:data:`rnnbook.table1.CLAIMS`) that belong to this row."""

    def evaluate(root: Path) -> Row:
        from rnnbook import table1
        from rnnbook.natural_training import json_of

        files = {}
        for name in experiments:
            path = root / "results" / name / "paper.json"
            files[name] = json_of(path) if path.exists() else None
        done = {n: d for n, d in files.items() if d is not None and d["epochs_done"] >= 1}
        if len(done) < len(experiments):
            return Row("—", "not run yet", "not run", "no finished epoch yet for " + ", ".join(
                n for n in experiments if n not in done))
        results = [table1.claim_verdict(c, files) for c in claims]
        # a tie is no evidence that the method helps: for the scoreboard it does not reproduce the claim
        verdicts = ["not reproduced" if v == "tie" else v for v, _ in results]
        if "open" in verdicts:
            verdict = "open"
        elif all(v == "reproduced" for v in verdicts):
            verdict = "reproduced"
        elif all(v == "not reproduced" for v in verdicts):
            verdict = "not reproduced"
        else:
            verdict = "partly"
        epochs = ", ".join(f"{n} {d['epochs_done']} of {d['protocol']['settings']['epochs']}" for n, d in done.items())
        protocol = ("stand-in corpora (music21 Bach chorales; Shakespeare), one run per method, scored at its best "
                    f"validation epoch; epochs trained: {epochs}")
        ours = "; ".join(f"{c}: {v}" for c, (v, _) in zip(claims, results))
        return Row(ours, protocol, verdict, " | ".join(why for _, why in results) + " (orderings only: other corpora)")

    return evaluate


# ---------------------------------------------------------------------------------------------
# The claims
# ---------------------------------------------------------------------------------------------

CH1 = "/chapters/01_training_rnns"
CH21 = "/chapters/02_exploding_vanishing/01_mechanics"
CH22 = "/chapters/02_exploding_vanishing/02_dynamical_systems"
CH23 = "/chapters/02_exploding_vanishing/03_geometry"
CH32 = "/chapters/03_remedies/02_clipping"
CH33 = "/chapters/03_remedies/03_regularizer"
CH41 = "/chapters/04_experiments/01_temporal_order"
CH42 = "/chapters/04_experiments/02_other_tasks"
CH43 = "/chapters/04_experiments/03_natural_problems"

CLAIMS: tuple[Claim, ...] = (
    Claim("eq3-5", "§1.1, Eqs. (3)-(5)", "The BPTT gradient is the sum of temporal contributions",
          "an identity", CH1, _decomposition),
    Claim("suff-vanish", "§2.1, Eqs. (6)-(7)", "λ₁ < 1/γ is sufficient for the long-term components to vanish",
          "a proof", CH21, _sufficient_condition),
    Claim("fig3", "§2.2, Fig. 3", "A one-unit network with w = 5 has two bifurcations and a bistable window",
          "a figure (no numbers)", CH22, _bifurcations),
    Claim("fig6", "§2.3, Fig. 6", "Where the gradient explodes, the curvature explodes too (a wall)",
          "a figure and a hypothesis", CH23, _wall),
    Claim("threshold", "§3.2", "Thresholds from 0.5 to 10 times the average gradient norm still converge",
          "a heuristic (no numbers)", CH32,
          _study({"0.5x": "clip_threshold_x0.5", "1x": "clip_threshold_x1", "2x": "clip_threshold_x2",
                  "5x": "clip_threshold_x5", "10x": "clip_threshold_x10", "no clipping": "clip_threshold_none"},
                 _threshold_heuristic, "the book's study: temporal order, length 30, 10 seeds, 25,000-update caps")),
    Claim("omega-clip", "§3.3, footnote", "The regularizer alone, without clipping, usually fails (explosions)",
          "said, no numbers", CH33,
          _study({"Omega alone": "omega_clipping:msgd_r+omega_clipping_basic:msgd_r",
                  "Omega + clipping": "omega_clipping:msgd_cr+omega_clipping_basic:msgd_cr"},
                 _omega_needs_clipping, "the book's study: temporal order, length 50, smart and basic tanh, "
                 "5 seeds each, 30,000-update caps")),
    Claim("fig7-cr", "§4.1.1, Fig. 7", "MSGD-CR solves temporal order at every length up to 200, all three inits",
          "5/5 at every point", CH41, _fig7("msgd_cr", lambda T: True, 5)),
    Claim("fig7-sgd", "§4.1.1, Fig. 7 (arXiv text)", "MSGD fails beyond length 20",
          "0/5 beyond 20 (arXiv)", CH41, _fig7("msgd", lambda T: T > 20, 0)),
    Claim("fig7-sgdc", "§4.1.1, Fig. 7 (arXiv text)", "MSGD-C fails beyond length 20",
          "0/5 beyond 20 (arXiv)", CH41, _fig7("msgd_c", lambda T: T > 20, 0)),
    # the paper's criterion for this model is 0 errors (Fig. 7's < 1 % version is in the chapter)
    Claim("mixed", "§4.1.1", "One model trained on random lengths 50-200 succeeds, with 0 errors",
          "5/5", CH41, _task("temporal_order_mixed_zero", 5)),
    Claim("mixed-gen", "§4.1.1", "That model makes no error on sequences up to length 5,000",
          "0 errors up to 5,000 (arXiv: < 1 % up to 400)", CH41,
          _generalisation(("temporal_order_mixed_zero",), 5000, 0.0)),
    Claim("add", "§4.1.2", "Addition is solved", "5/5", CH42, _task("addition", 5)),
    Claim("mul", "§4.1.2", "Multiplication is solved", "5/5", CH42, _task("multiplication", 5)),
    Claim("torder3", "§4.1.2", "3-bit temporal order is solved", "5/5", CH42, _task("temporal_order3", 5)),
    Claim("perm", "§4.1.2", "Random permutation is the hardest", "2/5 (arXiv: 1/8)", CH42, _task("permutation", 2)),
    Claim("mem5", "§4.1.2", "Noiseless memorization, 5 bits, is solved at lengths 50-200", "5/5 per length", CH42,
          _task("memorization_5bit", 5)),
    Claim("mem20", "§4.1.2", "Noiseless memorization, over 20 bits, is solved at lengths 50-200", "5/5 per length",
          CH42, _task("memorization", 5)),
    Claim("add-mul-gen", "§4.1.2", "Addition and multiplication models generalise to 500 steps",
          "error < 1 % up to 500", CH42, _generalisation(("addition", "multiplication"), 500, 0.01)),
    Claim("table1-music", "§4.2, Table 1", "Polyphonic music (Piano-midi.de, Nottingham, MuseData): clipping "
          "lowers the NLL on train and test, the regularizer on test", "Table 1 (9 numbers per data set)", CH43,
          _table1(("clip", "reg"), ("music_chorales",))),
    Claim("table1-ptb", "§4.2, Table 1", "Penn Treebank, characters (next and 5th next): clipping helps; the "
          "regularizer helps on test, most on the 5-step task", "Table 1 (bits per character)", CH43,
          _table1(("clip", "reg", "reg-long"), ("text_next", "text_5ahead"))),
)


def evaluate_all(root: str | Path) -> list[tuple[Claim, Row]]:
    """Every claim with its row, computed now from ``root`` (the book's folder)."""
    root = Path(root)
    out = []
    for claim in CLAIMS:
        row = claim.evaluate(root)
        if row.verdict not in VERDICTS:
            raise ValueError(f"claim {claim.key}: unknown verdict {row.verdict!r}")
        out.append((claim, row))
    return out


def markdown_table(rows: list[tuple[Claim, Row]]) -> str:
    """The scoreboard as a MyST table (links with {doc}); the protocol in italics under the book's number."""
    esc = lambda s: str(s).replace("|", "\\|")
    lines = ["| Claim | Paper | This book | Verdict |", "|---|---|---|---|"]
    for claim, row in rows:
        lines.append(f"| **{esc(claim.section)}** {esc(claim.claim)} ({{doc}}`shown here <{claim.where}>`) | "
                     f"{esc(claim.paper)} | {esc(row.ours)} — *{esc(row.protocol)}* | "
                     f"**{row.verdict}**: {esc(row.detail)} |")
    return "\n".join(lines)


def tally(rows: list[tuple[Claim, Row]]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for _, row in rows:
        counts[row.verdict] += 1
    return {v: n for v, n in counts.items() if n}


__all__ = ["CLAIMS", "Claim", "Row", "VERDICTS", "evaluate_all", "markdown_table", "tally"]
