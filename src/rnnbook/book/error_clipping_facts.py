"""Chapter 3.1, "Training outcomes under the two rules": the error-clipping outcome study as the page shows it.

The study is :mod:`rnnbook.studies.error_clipping_outcomes` (``results/error_clipping_outcomes/paper.json``)
and its verdict the registry's (claim ``elementwise``, :class:`rnnbook.verdicts.evidence.ErrorClipAlike`).
This module lays them out: the protocol table (:func:`protocol_rows`), the groups still to run
(:func:`missing_groups`) and the facts the prose glues (:func:`page_facts`).
"""

from __future__ import annotations

from typing import Any

from rnnbook.studies import error_clipping_outcomes as EO
from rnnbook.verdicts import rules
from rnnbook.verdicts.verdict import Verdict

PAPER_UPDATES = 5_000_000  #: the paper's budget per run (§4.1.1), for the cap's share

#: What each verdict means on the page, written before the runs were looked at.
MEANING = {
    "consistent": "within the cap the two rules solve alike: a test that could have told them apart did not",
    "not reproduced": "within the cap the two rules do not solve alike: the paired outcomes differ significantly",
    "uninformative": "at this cap the runs cannot test the claim: too few seeds end differently under the two rules "
                     "for any split of them to be significant",
    "open": "the claim is open: runs still censored at the cap (or groups still to run) could decide it either way",
    "not run": "nothing is stored yet",
}


def cap_share(study: dict) -> str:
    return f"{100 * study['spec']['updates'] / PAPER_UPDATES:.3g} %"


def protocol_rows(study: dict) -> list[list[str]]:
    """``[setting, value, source]`` rows of the study's protocol, read from its file."""
    s, spec = study["study"], study["spec"]
    return [["task, start", "temporal order, basic tanh", "Fig. 7 (its basic-tanh panel)"],
            ["hidden units, learning rate, minibatch", f"{s['hidden']}, {s['lr']:g}, {s['batch']}", "Fig. 7"],
            ["validation", f"every {spec['check_every']:,} updates on {s['n_valid']:,} fresh sequences; "
             f"solved below {100 * s['success_error']:g} % errors", "Fig. 7's paper protocol (check interval: ours)"],
            ["lengths", ", ".join(map(str, spec["lengths"])), "two of Fig. 7's"],
            ["seeds", f"{spec['seeds'][0]}-{spec['seeds'][-1]}, both arms on each", "ours"],
            ["cap", f"{spec['updates']:,} updates ({cap_share(study)} of the paper's 5×10⁶)", "ours"],
            ["error clip", f"MSGD, every error clamped to ±{s['cutoff']:g}", "κ ours (the rule above)"],
            ["norm clip", f"MSGD-C, threshold {s['threshold']:g}", "the paper's"]]


def missing_groups(study: dict) -> list[tuple[str, int]]:
    """``(arm, length)`` of every group of the paper protocol not stored yet."""
    done = EO.done_groups(study)
    return [(arm, T) for T in study["spec"]["lengths"] for arm in EO.ARMS if (arm, T) not in done]


def _acted(row: dict[str, Any]) -> str:
    """How often each clip acted at one length, and whether the two rates are more than a factor 2 apart."""
    error, norm = (float(row[f"{arm}: clip acted (median share of updates)"]) for arm in ("error clip", "norm clip"))
    said = f"at length {row['T']} the error clip acted on a median {error:.1%} of the updates and norm clipping on {norm:.1%}"
    if min(error, norm) > 0 and max(error / norm, norm / error) > 2:  # the matching rule did not carry over
        said += (f" — a factor {max(error / norm, norm / error):.0f} apart, so here the arms differ in how often they "
                 "clip as well as in how")
    return said


def page_facts(study: dict, verdict: Verdict) -> dict[str, Any]:
    """The facts the section's prose glues (prefix ``ch3-1-``)."""
    spec, missing = study["spec"], missing_groups(study)
    stored = [row for row in verdict.points if row["pairs"]]
    status = ("Every group of the study is stored." if not missing else
              "Still to run: " + ", ".join(f"the {arm.replace('_', ' ')} arm at length {T}" for arm, T in missing)
              + f" ({len(missing)} of {2 * len(spec['lengths'])} groups; the command above continues the study, "
              "and this page and the scoreboard judge what is stored).")
    return {"eo-cutoff": f"{study['study']['cutoff']:g}", "eo-fewest": rules.fewest_discordant(),
            "eo-cap": f"{spec['updates']:,}", "eo-cap-share": cap_share(study), "eo-seeds": len(spec["seeds"]),
            "eo-verdict": verdict.verdict, "eo-why": verdict.why, "eo-meaning": MEANING[verdict.verdict],
            "eo-status": status,
            "eo-acted": "; ".join(_acted(row) for row in stored) if stored else "no run is stored yet"}


__all__ = ["MEANING", "missing_groups", "page_facts", "protocol_rows"]
