"""Chapter 4.3, "Does the weight need its 1/t decay?": claim t1-decay's pairs, as the page shows them.

The claim's evidence and rule are :class:`rnnbook.verdicts.evidence_table1.FixedOmegaHurts`: per data
set of :data:`~rnnbook.verdicts.evidence_table1.FIXED_OMEGA_PAIRS`, Table 1's MSGD+CR runs (Ω's weight
1/(2t)) paired by seed with the same runs under the weight held at 1/2. This module lays the same
pairs out for the page: one row per seed (:func:`seed_rows`), one per data set with its verdict
(:func:`data_set_rows`), and the facts the prose glues (:func:`page_facts`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnbook.natural import experiments as nx
from rnnbook.verdicts import rules
from rnnbook.verdicts.evidence_table1 import FIXED_OMEGA_PAIRS, FixedOmegaHurts, fixed_omega_seeds, fixed_omega_verdict

#: What each verdict of a data set means, written before the runs were read.
MEANING = {
    "reproduced": "the decay matters as the paper says: holding Ω's weight at its first value costs test NLL, "
                  "beyond the spread between seeds",
    "not reproduced": "the paper's warning does not hold for this weight: holding it at its first value gives a "
                      "lower test NLL, beyond the spread between seeds",
    "inconclusive": "the seeds do not settle it: their differences are too small or too mixed for the paired test",
    "uninformative": "one seed cannot be tested: its difference says nothing of the spread between seeds",
    "open": "a run still trains; the verdict waits for it",
    "not run": "no run with a fixed weight yet",
}


def seed_rows(root: Path) -> list[dict[str, Any]]:
    """One row per data set and seed with both runs: the two test NLLs, their difference, the best
    epochs, when each stopped, whether epoch 1 is the same bit for bit, the fixed run's minutes."""
    rows = []
    for name, decay, fixed in FIXED_OMEGA_PAIRS:
        rows += [{"data set": name, "seed": r["seed"], "1/(2t): test NLL": r["decay"], "1/2 held: test NLL": r["fixed"],
                  "fixed - 1/t": r["diff"], "best epoch (1/t, fixed)": f"{r['decay_epoch']}, {r['fixed_epoch']}",
                  "stopped after (1/t, fixed)": ", ".join(map(str, r["stopped"])),
                  "epoch 1 bit for bit": "yes" if r["epoch1_same"] else "NO",
                  "minutes (fixed run)": r["fixed_wall_time_s"] / 60}
                 for r in fixed_omega_seeds(Path(root), decay, fixed)]
    return rows


def data_set_rows(root: Path) -> list[dict[str, Any]]:
    """One row per data set: seeds paired, the mean difference (fixed minus 1/t), how many seeds
    the held weight ends higher in, the verdict by the declared rule, and why."""
    rows = []
    for name, decay, fixed in FIXED_OMEGA_PAIRS:
        pairs = fixed_omega_seeds(Path(root), decay, fixed)
        word, why, _ = fixed_omega_verdict(pairs)
        diffs = [r["diff"] for r in pairs]
        rows.append({"data set": name, "seeds paired": len(pairs),
                     "mean fixed - 1/t": rules.mean_sd(diffs)[0] if diffs else float("nan"),
                     "held weight higher": f"{sum(d > 0 for d in diffs)} of {len(diffs)}",
                     "verdict": word, "why": why})
    return rows


def page_facts(root: Path) -> dict[str, Any]:
    """What the section's prose glues: the claim's verdict and why, per data set its verdict and
    meaning, the pairs that share epoch 1, the held weight, the fixed runs' minutes."""
    verdict = FixedOmegaHurts().judge(Path(root), {})
    seeds = seed_rows(root)
    held = nx.get_experiment(FIXED_OMEGA_PAIRS[0][2]).protocol("paper").omega_weight(1)
    facts = {"verdict": verdict.verdict, "why": verdict.why, "held": f"{held:g}",
             "same_first": f"{sum(r['epoch 1 bit for bit'] == 'yes' for r in seeds)} of {len(seeds)}",
             "minutes": f"{sum(r['minutes (fixed run)'] for r in seeds):.0f}",
             "sets": ", ".join(name for name, _, _ in FIXED_OMEGA_PAIRS)}
    facts["meaning"] = "; ".join(f"{r['data set']}: {MEANING[r['verdict']]}" for r in data_set_rows(root)) + "."
    return facts


__all__ = ["MEANING", "data_set_rows", "page_facts", "seed_rows"]
