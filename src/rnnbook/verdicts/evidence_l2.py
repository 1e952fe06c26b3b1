"""The test of §3.1's L2 claim on its stored study: judged per seed, per penalty strength, then pooled.

:class:`L2Penalty`  "An L1/L2 penalty on W_rec keeps λ₁ < 1: one point attractor, no long memory" (§3.1).
                    Per run with β > 0, at the end: (a) λ₁ < 1 (the largest singular value, the ICML
                    text's λ₁), (b) one point attractor, (c) the task not solved; per strength, every
                    seed must pass (:func:`rnnbook.verdicts.rules.all_seeds_verdict`); the control
                    (β = 0) must solve the task in a significant majority of seeds
                    (:func:`rnnbook.verdicts.rules.sign_test_verdict`) or a "reproduced" is
                    "uninformative"; the strengths pooled by :func:`rnnbook.verdicts.rules.combine_parts`.

It reads ``results/l2_study/paper.json`` through :func:`rnnbook.studies.l2_study.read_study`
(a file of another format is a one-line error); without it the verdict is ``not run`` with the
command that writes it. The rule was declared in :mod:`rnnbook.studies.l2_study` before the study
was run. Runs the protocol plans but the file lacks (a sitting that ran out of budget) are
undecided: a verdict that some way they might end would change is ``open``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rnnbook.studies.l2_study import COMMAND, STUDY, at_end, by_penalty, read_study
from rnnbook.verdicts.records import cap_fraction, caps_text
from rnnbook.verdicts.rules import all_seeds_verdict, combine_parts, sign_test_verdict
from rnnbook.verdicts.verdict import Test, Verdict

L2_STUDY = "results/l2_study/paper.json"


def prediction(record: dict) -> dict[str, bool]:
    """The claim's three predictions for one finished run, at its last snapshot, and ``passes`` (all three)."""
    end = at_end(record)
    got = {"λ₁ < 1": end["sigma_max"] < 1, "one attractor": end["attractors"] == 1, "not solved": not end["solved"]}
    return got | {"passes": all(got.values())}


def strength_word(passed: int, n: int, control_solved: int, control_n: int) -> str:
    """The declared rule at one strength: every seed passes (all_seeds_verdict), and a "reproduced"
    counts only if the control solved the task in a significant majority of its seeds."""
    word = all_seeds_verdict(passed, n)[0]
    control_ok = sign_test_verdict(control_solved, control_n - control_solved)[0] == "reproduced"
    return "uninformative" if word == "reproduced" and not control_ok else word


def _range(values: list[float]) -> str:
    return f"{min(values):.3g}–{max(values):.3g}" if values else "—"


def judge_strength(runs: list[dict], planned: int, control: tuple[int, int, int]) -> tuple[str, str, dict]:
    """``(verdict, why, row)`` of one strength's runs; ``planned`` seeds in the protocol; ``control``:
    (solved, finished, still missing) of the β = 0 runs. Every completion of the missing runs is
    tried: if they could change the word, the verdict is ``open``."""
    finished = [r for r in runs if not r["diverged"]]
    preds = [prediction(r) for r in finished]
    passed, n, missing = sum(p["passes"] for p in preds), len(finished), planned - len(runs)
    c_solved, c_n, c_missing = control
    words = {strength_word(passed + j, n + missing, c_solved + k, c_n + c_missing)
             for j in range(missing + 1) for k in range(c_missing + 1)}
    word = words.pop() if len(words) == 1 else "open"
    why = all_seeds_verdict(passed, n)[1] + (f"; {missing} seed(s) not run yet" if missing else "")
    ends = [at_end(r) for r in finished]
    row = {"β": runs[0]["penalty"], "seeds": n, "diverged": len(runs) - n,
           **{k: f"{sum(p[k] for p in preds)}/{n}" for k in ("λ₁ < 1", "one attractor", "not solved")},
           "all three": f"{passed}/{n}", "λ₁ at the end": _range([e["sigma_max"] for e in ends]),
           "ρ at the end": _range([e["spectral_radius"] for e in ends]), "verdict": word}
    return word, why, row


def protocol_text(study: dict, file: str) -> str:
    s, spec = study["study"], study["spec"]
    betas = ", ".join(f"{b:g}" for b in spec["penalties"])
    return (f"temporal order, length {s['length']}, {s['init'].replace('_', ' ')} start, {s['hidden']} units, "
            f"lr {s['lr']:g}, MSGD-C at threshold {s['threshold']:g}, batch {s['batch']}; "
            f"penalty β/2 ||W_rec||² with β in {{{betas}}} (0: the control), seeds "
            f"{spec['seeds'][0]}-{spec['seeds'][-1]}, {spec['updates']:,} updates each; the book's choices (the "
            f"paper gives no numbers); {file}")


@dataclass(frozen=True)
class L2Penalty(Test):
    """§3.1's L2 claim, from the stored study (see the module docstring for the rule)."""

    file: str = L2_STUDY

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        path = Path(root) / self.file
        if not path.exists():
            return Verdict("not run", "no study file yet", "—", f"would run: {COMMAND}", command=COMMAND)
        study = read_study(path)
        spec, runs = study["spec"], by_penalty(study)
        planned = len(spec["seeds"])
        control = [r for r in runs.get(0.0, []) if not r["diverged"]]
        c_solved = sum(at_end(r)["solved"] for r in control)
        c_state = (c_solved, len(control), planned - len(runs.get(0.0, [])))
        parts, rows, flags = [], [], []
        for beta in spec["penalties"]:
            got = runs.get(beta, [])
            flags += [f"β = {beta:g}, seed {r['seed']}: diverged after {r['updates']:,} updates (left out)"
                      for r in got if r["diverged"]]
            if beta == 0.0 or not got:
                if beta != 0.0:
                    parts.append((f"β = {beta:g}", "not run", "no run yet"))
                continue
            word, why, row = judge_strength(got, planned, c_state)
            parts.append((f"β = {beta:g}", word, why))
            rows.append(row)
        verdict, why = combine_parts(parts)
        why += f" | control β = 0: {c_solved} of {len(control)} seeds solve the task"
        ours = "; ".join(f"β = {r['β']:g}: {r['all three']} seeds with λ₁ < 1, one attractor and the task unsolved"
                         for r in rows) + f"; control: {c_solved}/{len(control)} solved"
        flags.append(f"length {STUDY['length']}: far shorter than the long memories the claim is about; "
                     "the runs train with norm clipping, so explosions are not measured")
        return Verdict(verdict, why, ours, protocol_text(study, self.file), caps_text([spec["updates"]]),
                       cap_fraction([spec["updates"]]), rows, flags)


__all__ = ["L2_STUDY", "L2Penalty", "judge_strength", "prediction", "strength_word"]
