"""What a claim's test returns, and the interface every kind of test implements.

A claim of the registry (:mod:`rnnbook.verdicts.claims`) holds one :class:`Test`; judging it
reads the stored results under the book's folder and returns a :class:`Verdict`: the verdict word
(one of :data:`rnnbook.verdicts.rules.VERDICTS`), why, the book's number, the protocol the
evidence ran under, the caps as a fraction of the paper's budget, the per-point table behind a
pooled number, and flags (protocol differences, confounds, divergences).

The kinds of test live in four modules, by where their evidence comes from:
:mod:`rnnbook.verdicts.evidence_runs` (the synthetic tasks' stored sweeps),
:mod:`rnnbook.verdicts.evidence_table1` (Table 1's natural problems),
:mod:`rnnbook.verdicts.evidence_checks` (analytic checks, stored studies, claims with no run) and
:mod:`rnnbook.verdicts.evidence_studies` (stored studies of paired seeds, judged per seed, then pooled).
:class:`Parts`, a claim of several parts each with its own test, is here because it combines
tests of any kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rnnbook.verdicts import rules


@dataclass
class Verdict:
    """What a claim's test says now."""

    verdict: str
    why: str
    ours: str
    protocol: str
    caps: str = "-"  #: the caps the runs were read at
    cap_fraction: str = "-"  #: those caps as a fraction of the paper's budget
    points: list[dict[str, Any]] = field(default_factory=list)  #: the per-point table behind a pooled row
    flags: list[str] = field(default_factory=list)  #: protocol differences, confounds, divergences
    value: float | None = None  #: the headline number, for tests
    command: str = ""  #: what would test it (for "not run")
    counts: tuple[int, int] | None = None  #: (solved, runs) pooled over the points, for a rate claim

    @property
    def detail(self) -> str:
        """Why this verdict (with the flags)."""
        return self.why + ("" if not self.flags else " [" + "; ".join(self.flags) + "]")


class Test:
    """A kind of test: ``judge(root, made_under)`` reads the results under ``root`` (the book's folder)
    and returns a :class:`Verdict`; ``made_under`` holds the settings the claim was made under where
    they differ from the book's runs. ``kind`` says what the scoreboard counts it as."""

    kind = "experiment"

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Parts(Test):
    """A claim of several parts, each with its own test."""

    parts: tuple[tuple[str, Test], ...]

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        got = [(name, t.judge(root, made_under)) for name, t in self.parts]
        verdict, why = rules.combine_parts([(n, v.verdict, v.why) for n, v in got])
        first = got[0][1]
        return Verdict(verdict, why, " | ".join(f"{n}: {v.ours}" for n, v in got), first.protocol, first.caps,
                       first.cap_fraction,
                       [r | {"part": f"{n}: {r['part']}" if r.get("part") else n} for n, v in got for r in v.points],
                       [f for _, v in got for f in v.flags], first.value)
