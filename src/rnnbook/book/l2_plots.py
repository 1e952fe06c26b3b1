"""Chapter 3.1's stored L2 study on the page: its protocol, its outcomes per strength, one figure.

The study (:mod:`rnnbook.studies.l2_study`) is read from ``results/l2_study/paper.json`` and
judged by :class:`rnnbook.verdicts.evidence_l2.L2Penalty`; this module only presents it:

* :func:`protocol_rows`: the settings, each with where it comes from (Chapter 3.1's page or the study);
* :func:`outcome_rows`: per strength (the control first) what the runs ended at, with the verdict's
  counts of the claim's three predictions;
* :func:`page_facts`: the numbers the prose quotes, for :func:`rnnbook.book.display.glue_all`
  (with :func:`decay_alone`, where the penalty's decay by itself would take λ₁);
* :func:`l2_figure`: λ₁ along training for every run, and the end state of every run.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import matplotlib.pyplot as plt

from rnnbook.book.plotting import LEGEND_FONTSIZE, format_power
from rnnbook.studies.l2_study import at_end, by_penalty
from rnnbook.verdicts.evidence_l2 import prediction
from rnnbook.verdicts.verdict import Verdict

#: one colour per strength, in the order of the protocol (the control black), as Chapter 3.1's live figure
STRENGTH_COLOURS = ("#000000", "#2ca02c", "#ff7f0e", "#d62728")


def _span(values: Sequence[float], fmt: str = ".3g") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if lo == hi else f"{lo:{fmt}}–{hi:{fmt}}"


def protocol_rows(study: dict) -> list[dict]:
    """The stored study's protocol, one setting a row: the value and where it was chosen."""
    s, spec = study["study"], study["spec"]
    page = "as the live runs above"
    return [
        {"setting": "task, length", "value": f"temporal order, T = {s['length']}", "chosen": page},
        {"setting": "start, units", "value": f"{s['init'].replace('_', ' ')}, {s['hidden']}", "chosen": page},
        {"setting": "method", "value": f"MSGD-C, threshold {s['threshold']:g}, lr {s['lr']:g}, batch {s['batch']}",
         "chosen": page},
        {"setting": "penalty β (cost + β/2 ‖W_rec‖²)", "value": ", ".join(f"{b:g}" for b in spec["penalties"]),
         "chosen": page + " (0: the control)"},
        {"setting": "seeds", "value": f"{spec['seeds'][0]}–{spec['seeds'][-1]} ({len(spec['seeds'])})",
         "chosen": "the study (the page: 2)"},
        {"setting": "updates", "value": f"{spec['updates']:,}, a snapshot every {spec['snapshot_every']:,}",
         "chosen": "the study (the page: 2,000), sized to fit 25 minutes of one core"},
        {"setting": "validation", "value": f"{s['n_valid']:,} fresh sequences; solved below {s['success_error']:.0%}",
         "chosen": page + "; the book's success criterion"},
        {"setting": "attractors", "value": f"{s['attractor_starts']} starts, {s['attractor_steps']} steps, "
         f"end states within {s['attractor_tol']:g} count as one", "chosen": page},
    ]


def outcome_rows(study: dict, verdict: Verdict) -> list[dict]:
    """Per strength (the control first): seeds, λ₁ and ρ at the end (median and range), end states,
    solved runs, and for β > 0 the verdict's counts of the three predictions and its word."""
    judged = {row["β"]: row for row in verdict.points}
    rows = []
    for beta, runs in by_penalty(study).items():
        ends = [at_end(r) for r in runs if not r["diverged"]]
        if not ends:
            continue
        row = {"β": f"{beta:g}" + (" (control)" if beta == 0 else ""), "seeds": len(ends),
               "λ₁ at the end (median; range)": f"{statistics.median(e['sigma_max'] for e in ends):.3g}; "
                                                f"{_span([e['sigma_max'] for e in ends])}",
               "ρ at the end (median)": f"{statistics.median(e['spectral_radius'] for e in ends):.3g}",
               "end states (of 200)": _span([e["attractors"] for e in ends], "d"),
               "solved": f"{sum(e['solved'] for e in ends)}/{len(ends)}"}
        j = judged.get(beta, {})
        row |= {k: j.get(k, "—") for k in ("λ₁ < 1", "one attractor", "not solved", "all three", "verdict")}
        rows.append(row)
    return rows


def decay_alone(study: dict, beta: float) -> float:
    """λ₁ after the study's updates if the penalty's decay were the only force: the median starting λ₁
    times ``(1 - lr β)`` per update (the step ``-lr β W_rec``, unclipped)."""
    start = statistics.median(r["sigma_max"][0] for r in by_penalty(study)[beta])
    return start * (1 - study["study"]["lr"] * beta) ** study["spec"]["updates"]


def page_facts(study: dict, verdict: Verdict) -> dict[str, object]:
    """The numbers the page's prose quotes (glued under a prefix by the page)."""
    runs = by_penalty(study)
    spec = study["spec"]
    control = [at_end(r) for r in runs.get(0.0, []) if not r["diverged"]]
    strongest = max(spec["penalties"])
    strong_runs = [r for r in runs.get(strongest, []) if not r["diverged"]]
    strong = [at_end(r) for r in strong_runs]
    weak = [at_end(r) for b in spec["penalties"] if 0 < b < strongest for r in runs.get(b, []) if not r["diverged"]]
    return {"updates": f"{spec['updates']:,}", "verdict": verdict.verdict,
            "start-sigma": _span([r["sigma_max"][0] for v in runs.values() for r in v], ".2f"),
            "control-solved": sum(e["solved"] for e in control), "control-n": len(control),
            "control-sigma": _span([e["sigma_max"] for e in control], ".2f"),
            "strongest": f"{strongest:g}", "strong-n": len(strong),
            "strong-sigma": format_power(max(e["sigma_max"] for e in strong)) if strong else "—",
            "strong-pass": sum(prediction(r)["passes"] for r in strong_runs),
            "strong-error": _span([e["valid_error"] for e in strong], ".1%") if strong else "—",
            "strong-rest": format_power(max(e["rest_norm"] for e in strong)) if strong else "—",
            "decay-only": format_power(decay_alone(study, strongest)),
            "weak-betas": " and ".join(f"{b:g}" for b in spec["penalties"] if 0 < b < strongest),
            "weak-n": len(weak), "weak-one": sum(e["attractors"] == 1 for e in weak),
            "weak-below-one": sum(e["sigma_max"] < 1 for e in weak), "weak-solved": sum(e["solved"] for e in weak),
            "weak-sigma": _span([e["sigma_max"] for e in weak], ".2f") if weak else "—",
            "diverged": sum(r["diverged"] for v in runs.values() for r in v),
            "minutes": f"{sum(r['wall_time_s'] for v in runs.values() for r in v) / 60:.0f}"}


def l2_figure(study: dict):
    """Fig. ch3-1-l2-study. Left: λ₁ (the largest singular value of W_rec) at every snapshot, one line
    per run, coloured by β, with λ₁ = 1 = 1/γ for tanh dotted. Right: every run's end, validation error
    against λ₁, a filled marker where the input-free map has one point attractor, open where more."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    colours = dict(zip(study["spec"]["penalties"], STRENGTH_COLOURS))
    for beta, runs in by_penalty(study).items():
        for i, r in enumerate(runs):
            axes[0].plot(r["snapshot_updates"], r["sigma_max"], color=colours[beta], lw=0.8, alpha=0.7,
                         label=f"β = {beta:g}" if i == 0 else None)
            end = at_end(r)
            if r["diverged"]:
                continue
            one = end["attractors"] == 1
            axes[1].plot(end["sigma_max"], end["valid_error"], "o", ms=6, color=colours[beta],
                         mfc=colours[beta] if one else "white", alpha=0.8)
    axes[0].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[1].axvline(1.0, color="k", lw=0.8, ls=":")
    axes[0].set_yscale("log")
    axes[1].set_xscale("log")
    axes[0].set_xlabel("update")
    axes[0].set_ylabel(r"$\lambda_1$ (largest singular value of $W_{rec}$)")
    axes[0].legend(fontsize=LEGEND_FONTSIZE)
    axes[1].axhline(0.75, color="k", lw=0.8, ls="--")
    axes[1].text(axes[1].get_xlim()[0], 0.76, " chance (3/4 wrong)", fontsize=8, va="bottom")
    axes[1].set_xlabel(r"$\lambda_1$ at the end (log)")
    axes[1].set_ylabel("validation error at the end")
    axes[1].set_ylim(-0.03, 0.9)
    axes[1].plot([], [], "o", color="grey", label="one point attractor")
    axes[1].plot([], [], "o", color="grey", mfc="white", label="more than one end state")
    axes[1].legend(fontsize=LEGEND_FONTSIZE, loc="center right")
    fig.tight_layout()
    return fig


__all__ = ["STRENGTH_COLOURS", "decay_alone", "l2_figure", "outcome_rows", "page_facts", "protocol_rows"]
