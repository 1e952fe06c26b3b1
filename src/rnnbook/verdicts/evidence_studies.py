"""Tests on stored studies of paired seeds: judged per seed first, then pooled over the seeds.

:class:`OmegaApprox`  "Eq. 10 is a usable approximation of Ω's gradient" (§3.3): per seed, Eq. 10's
                      gradient is a descent direction for Ω at every snapshot of an MSGD-CR run;
                      pooled, every seed must pass (:func:`rnnbook.verdicts.rules.all_seeds_verdict`)
:class:`OmegaVanish`  "Ω keeps the error signal from vanishing" (§3.3, §5): per seed, the trained
                      error-signal ratio with Ω against without, same weights and minibatches;
                      pooled, an exact sign test over the pairs (:func:`rnnbook.verdicts.rules.sign_test_verdict`)

Both read ``results/omega_study/paper.json`` (:mod:`rnnbook.studies.omega_study`); without it the
verdict is ``not run`` and says the command that writes it. The rules were declared here before
the study was run.

:class:`ErrorClipAlike`  "Mikolov's element-wise clipping and norm clipping behave alike in practice"
                         (§3.2): per length, the paired solved-or-not outcomes of the two rules, an
                         exact McNemar test (:func:`rnnbook.verdicts.rules.alike_verdict`); pooled over the
                         lengths as every per-point claim (:func:`rnnbook.verdicts.rules.combine_points`).
                         It reads ``results/error_clipping_outcomes/paper.json``
                         (:mod:`rnnbook.studies.error_clipping_outcomes`); its rule, too, was declared
                         before that study was run.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rnnbook.studies import error_clipping_outcomes as ec
from rnnbook.studies.omega_study import COMMAND, pairs, read_study
from rnnbook.verdicts.rules import alike_verdict, all_seeds_verdict, combine_points, sign_test_verdict
from rnnbook.verdicts.records import cap_fraction, caps_text
from rnnbook.verdicts.verdict import Test, Verdict

OMEGA_STUDY = "results/omega_study/paper.json"


def _study(root: Path, file: str) -> dict | None:
    """The study file (checked: a file of another format is a one-line error, not "not run"), or None."""
    path = Path(root) / file
    return read_study(path) if path.exists() else None


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


ERROR_CLIP_STUDY = "results/error_clipping_outcomes/paper.json"
ARM_NAMES = {"error_clip": "error clip", "norm_clip": "norm clip"}


def error_clip_protocol(study: dict, file: str) -> str:
    """The error-clipping outcome study's protocol in words, from its file."""
    s, spec = study["study"], study["spec"]
    return (f"temporal order, lengths {', '.join(map(str, spec['lengths']))}, {s['init'].replace('_', ' ')} start, "
            f"{s['hidden']} units, lr {s['lr']:g}, batch {s['batch']}; MSGD with every back-propagated error clamped "
            f"to ±{s['cutoff']:g} (ours) against MSGD-C at threshold {s['threshold']:g}, paired on seeds "
            f"{spec['seeds'][0]}-{spec['seeds'][-1]}; a check every {spec['check_every']:,} updates on "
            f"{s['n_valid']:,} fresh sequences, success below {100 * s['success_error']:g} % errors, "
            f"cap {spec['updates']:,} updates; {file}")


def error_clip_point(study: dict, length: int):
    """The judged point of one length (:func:`rnnbook.verdicts.rules.alike_verdict`) and its table row."""
    found = ec.pairs(study, length)
    point = alike_verdict(f"T = {length}", [(e["outcome"], n["outcome"]) for e, n in found],
                          (ARM_NAMES["error_clip"], ARM_NAMES["norm_clip"]))
    row: dict[str, Any] = {"T": length, "pairs": len(found)}
    for i, arm in enumerate(("error_clip", "norm_clip")):
        runs = [pair[i] for pair in found]
        firsts = [r["first_success_update"] for r in runs if r["outcome"] == "solved"]
        row[f"{ARM_NAMES[arm]}: solved / censored / diverged"] = " / ".join(
            str(sum(r["outcome"] == o for r in runs)) for o in ("solved", "censored", "diverged"))
        row[f"{ARM_NAMES[arm]}: median first success"] = f"{statistics.median(firsts):,.0f}" if firsts else "-"
        row[f"{ARM_NAMES[arm]}: clip acted (median share of updates)"] = (
            f"{statistics.median(r['clip_fraction'] for r in runs):.3f}" if runs else "-")
    row |= {"McNemar p": f"{point.p:.2g}" if point.p is not None else "-", "verdict": point.verdict}
    return point, row


@dataclass(frozen=True)
class ErrorClipAlike(Test):
    """Error clipping and norm clipping solve alike: per length, the paired outcomes do not differ
    (exact McNemar, p >= 0.05) where the test could have told them apart; pooled over the lengths."""

    file: str = ERROR_CLIP_STUDY

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        path = Path(root) / self.file
        if not path.exists():
            return Verdict("not run", "no study file yet", "—", f"would run: {ec.COMMAND}", command=ec.COMMAND)
        study = ec.read_study(path)
        judged, rows = [], []
        for length in study["spec"]["lengths"]:
            point, row = error_clip_point(study, length)
            judged.append(point)
            rows.append(row)
        verdict, why = combine_points(judged)
        why = f"{why} | " + "; ".join(f"{j.label}: {j.verdict} ({j.why})" for j in judged)
        ours = "; ".join(f"{j.label}: {j.ours} (error clip vs norm clip)" for j in judged)
        flags = ["the cutoff (±" + f"{study['study']['cutoff']:g}" + ") is ours, matched to how often norm "
                 "clipping acts (Chapter 3.1's directions study)",
                 "the norm-clip arm runs on the engine's default path, the error-clip arm on the torch path: "
                 "the same exact gradient to rounding"]
        updates = study["spec"]["updates"]
        return Verdict(verdict, why, ours, error_clip_protocol(study, self.file), caps_text([updates]),
                       cap_fraction([updates]), rows, flags)


__all__ = ["ERROR_CLIP_STUDY", "OMEGA_STUDY", "ErrorClipAlike", "OmegaApprox", "OmegaVanish"]
