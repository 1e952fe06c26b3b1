"""The kinds of test a claim can have, each turning stored runs (or a small check) into a :class:`Verdict`.

A claim of the registry (:mod:`rnnbook.verdicts.claims`) names one of these, with typed selectors
(:class:`rnnbook.verdicts.records.Runs`) of the runs that test it. Every test reports, beside its
verdict, the book's number, the protocol it ran under (and how it differs from the one the claim
was made under), the caps as a fraction of the paper's budget, and the per-point table behind
any pooled number. They are grouped by where their evidence comes from:

:mod:`~rnnbook.verdicts.verdict`          :class:`Verdict`, the :class:`Test` interface, and :class:`Parts`
                                          (a claim of several parts, each with its own test)
:mod:`~rnnbook.verdicts.evidence_runs`    the synthetic tasks' stored sweeps: :class:`Rate`,
                                          :class:`RateAgainst`, :class:`Ordering`, :class:`GrowsWithLength`,
                                          :class:`Majority`, :class:`ThresholdRange`, :class:`Generalises`
:mod:`~rnnbook.verdicts.evidence_table1`  Table 1's natural problems: :class:`Table1Ordering` (text, one
                                          run per method), :class:`MusicOrdering` (the paper's music data, seeds),
                                          :class:`FixedOmegaHurts` (Ω's weight fixed against its 1/t decay)
:mod:`~rnnbook.verdicts.evidence_checks`  no training runs: :class:`Check` (analytic), :class:`StudyCheck`
                                          (a stored study file), :class:`NotRun`, :class:`NotAttempted`
:mod:`~rnnbook.verdicts.evidence_studies` stored studies of paired seeds, judged per seed, then pooled:
                                          :class:`OmegaApprox`, :class:`OmegaVanish`, :class:`ErrorClipAlike`
:mod:`~rnnbook.verdicts.evidence_l2`      the stored L2 study, per seed and strength: :class:`L2Penalty`

This module gathers them under one name, the one the registry imports from.
"""

from __future__ import annotations

from rnnbook.verdicts.evidence_checks import Check, NotAttempted, NotRun, StudyCheck
from rnnbook.verdicts.evidence_runs import (
                                            SETTING_NAMES,
                                            Generalises,
                                            GrowsWithLength,
                                            Majority,
                                            Ordering,
                                            Rate,
                                            RateAgainst,
                                            ThresholdRange,
                                            mean_grad_norm,
)
from rnnbook.verdicts.evidence_l2 import L2Penalty
from rnnbook.verdicts.evidence_studies import ErrorClipAlike, OmegaApprox, OmegaVanish
from rnnbook.verdicts.evidence_table1 import MUSIC_EXPERIMENTS, FixedOmegaHurts, MusicOrdering, Table1Ordering
from rnnbook.verdicts.verdict import Parts, Test, Verdict

__all__ = ["MUSIC_EXPERIMENTS", "SETTING_NAMES", "Check", "ErrorClipAlike", "FixedOmegaHurts", "Generalises",
           "GrowsWithLength", "L2Penalty", "Majority",
           "MusicOrdering", "NotAttempted", "NotRun", "OmegaApprox", "OmegaVanish", "Ordering", "Parts", "Rate", "RateAgainst", "StudyCheck",
           "Table1Ordering", "Test", "ThresholdRange", "Verdict", "mean_grad_norm"]
