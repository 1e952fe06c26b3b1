"""Tests on stored studies of paired seeds: judged per seed first, then pooled over the seeds.

:class:`OmegaApprox`  "Eq. 10 is a usable approximation of Ω's gradient" (§3.3): per seed, Eq. 10's
                      gradient is a descent direction for Ω at every snapshot of an MSGD-CR run;
                      pooled, every seed must pass (:func:`all_seeds_verdict`)
:class:`OmegaVanish`  "Ω keeps the error signal from vanishing" (§3.3, §5): per seed, the trained
                      error-signal ratio with Ω against without, same weights and minibatches;
                      pooled, an exact sign test over the pairs (:func:`sign_test_verdict`)

Both read ``results/omega_study/paper.json`` (:mod:`rnnbook.studies.omega_study`); without it the
verdict is ``not run`` and says the command that writes it. The rules were declared here before
the study was run.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from scipy.stats import binomtest

from rnnbook.studies.omega_study import COMMAND, FORMAT, pairs
from rnnbook.verdicts import rules
from rnnbook.verdicts.records import cap_fraction, caps_text
from rnnbook.verdicts.verdict import Test, Verdict

OMEGA_STUDY = "results/omega_study/paper.json"


def all_seeds_verdict(passed: int, n: int, alpha: float = rules.ALPHA) -> tuple[str, str, float]:
    """``(verdict, why, p)`` of a property that should hold for every seed: ``reproduced`` if all ``n``
    seeds pass; ``not reproduced`` if a one-sided exact binomial test says the passing rate is below
    1/2 (p < alpha, as :class:`rnnbook.verdicts.evidence_runs.Majority`); ``inconclusive`` otherwise."""
    if n == 0:
        return "not run", "no seed measured yet", math.nan
    p = float(binomtest(passed, n, 0.5, alternative="less").pvalue)
    word = "reproduced" if passed == n else "not reproduced" if p < alpha else "inconclusive"
    return word, f"{passed} of {n} seeds pass; one-sided binomial test of a passing rate below 1/2: p = {p:.2g}", p


def sign_test_verdict(better: int, worse: int, alpha: float = rules.ALPHA) -> tuple[str, str, float]:
    """``(verdict, why, p)`` of "A is larger than B" from paired seeds, ``better`` pairs with A > B and
    ``worse`` with A < B (ties left out): a one-sided exact sign test, ``reproduced`` if p < alpha in
    the claim's direction, ``not reproduced`` if significant in the other, ``inconclusive`` otherwise."""
    n = better + worse
    if n == 0:
        return "not run", "no untied pair yet", math.nan
    p = float(binomtest(better, n, 0.5, alternative="greater").pvalue)
    p_other = float(binomtest(better, n, 0.5, alternative="less").pvalue)
    word = "reproduced" if p < alpha else "not reproduced" if p_other < alpha else "inconclusive"
    return word, f"{better} of {n} pairs in the claim's direction; one-sided exact sign test p = {p:.2g}", p


def _study(root: Path, file: str) -> dict | None:
    path = Path(root) / file
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data if data.get("format") == FORMAT else None


def _protocol(study: dict, file: str) -> str:
    s, spec = study["study"], study["spec"]
    return (f"temporal order, length {s['length']}, {s['init'].replace('_', ' ')} start, {s['hidden']} units, "
            f"lr {s['lr']:g}, threshold {s['threshold']:g}, α {s['reg_weight']:g}, batch {s['batch']}; "
            f"MSGD-C and MSGD-CR paired on seeds {spec['seeds'][0]}-{spec['seeds'][-1]}, "
            f"{spec['updates']:,} updates each (a trained state, not the paper's whole training); {file}")


def _not_run() -> Verdict:
    return Verdict("not run", "no study file yet", "—", f"would run: {COMMAND}", command=COMMAND)


@dataclass(frozen=True)
class OmegaApprox(Test):
    """Eq. 10's gradient of Ω is a descent direction for Ω: its cosine with Ω's exact gradient on
    ``W_rec`` is positive at every snapshot of MSGD-CR (on every minibatch measured there)."""

    file: str = OMEGA_STUDY

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        study = _study(root, self.file)
        if study is None:
            return _not_run()
        rows, cosines = [], []
        for _, cr in pairs(study):
            flat = [c for row in cr["cosine"] for c in row]
            ok = all(c is not None and c > 0 for c in flat)
            cosines += [c for c in flat if c is not None]
            rows.append({"seed": cr["seed"], "snapshots": len(cr["cosine"]), "smallest cosine": f"{min(flat):.3f}",
                         "median cosine": f"{statistics.median(flat):.3f}",
                         "norm ratio (median)": f"{statistics.median(x for r in cr['norm_ratio'] for x in r):.3g}",
                         "verdict": "pass" if ok else "fail"})
        passed = sum(r["verdict"] == "pass" for r in rows)
        verdict, why, _ = all_seeds_verdict(passed, len(rows))
        median = statistics.median(cosines) if cosines else math.nan
        ours = (f"{passed}/{len(rows)} seeds with a positive cosine at every snapshot; median cosine {median:.2f}, "
                f"smallest {min(cosines):.2f}" if cosines else "—")
        updates = study["spec"]["updates"]
        return Verdict(verdict, why, ours, _protocol(study, self.file), caps_text([updates]),
                       cap_fraction([updates]), rows, value=median)


@dataclass(frozen=True)
class OmegaVanish(Test):
    """With Ω (MSGD-CR) the trained error-signal ratio ``||dE/dh_1|| / ||dE/dh_T||`` is larger than
    without (MSGD-C) from the same weights and minibatches: a sign test over the seeds."""

    file: str = OMEGA_STUDY

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        study = _study(root, self.file)
        if study is None:
            return _not_run()
        rows, flags = [], []
        for c, cr in pairs(study):
            a, b = cr["ratio_first_trained"], c["ratio_first_trained"]
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                flags.append(f"seed {c['seed']}: a ratio is not finite (left out)")
                continue
            rows.append({"seed": c["seed"], "MSGD-C": f"{b:.3g}", "MSGD-CR": f"{a:.3g}",
                         "CR / C": f"{a / b:.3g}" if b else "-",
                         "verdict": "with Ω larger" if a > b else "with Ω smaller" if a < b else "tie"})
        better = sum(r["verdict"] == "with Ω larger" for r in rows)
        worse = sum(r["verdict"] == "with Ω smaller" for r in rows)
        verdict, why, p = sign_test_verdict(better, worse)
        ratios = [float(r["CR / C"]) for r in rows if r["CR / C"] != "-"]
        median = statistics.median(ratios) if ratios else math.nan
        ours = (f"trained ||dE/dh_1|| / ||dE/dh_T|| larger with Ω in {better} of {better + worse} paired seeds; "
                f"median factor {median:.3g}")
        updates = study["spec"]["updates"]
        return Verdict(verdict, why, ours, _protocol(study, self.file), caps_text([updates]),
                       cap_fraction([updates]), rows, flags, value=p)


__all__ = ["OMEGA_STUDY", "OmegaApprox", "OmegaVanish", "all_seeds_verdict", "sign_test_verdict"]
