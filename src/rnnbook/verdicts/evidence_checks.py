"""Tests that are not sets of training runs: analytic checks, stored studies, and claims not tested yet.

:class:`Check`         an analytic claim checked numerically by the book's own code when the page is
                       built (the checks themselves are :mod:`rnnbook.verdicts.checks`)
:class:`StudyCheck`    a check on a stored study file (``results/<name>/study.json``)
:class:`NotRun`        no stored result tests the claim yet; the verdict says what would
:class:`NotAttempted`  outside what the book can do; the verdict says why
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from rnnbook.verdicts import rules
from rnnbook.verdicts.verdict import Test, Verdict


@dataclass(frozen=True)
class Check(Test):
    """An analytic claim checked numerically by the book's own code when the page is built."""

    run: Callable[[], tuple[bool, str, str, float]]  #: -> (holds, ours, protocol, value)
    kind = "analytic"

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        ok, ours, protocol, value = self.run()
        return Verdict(rules.check_verdict(ok), "the check holds" if ok else "the check fails", ours,
                       f"analytic check: {protocol}", value=value)


@dataclass(frozen=True)
class StudyCheck(Test):
    """A check on a stored study file (``results/<name>/study.json``) that is not a set of training runs:
    ``run(data) -> (holds, the book's number, how it was computed, a headline value)``."""

    file: str  #: the study file, relative to the book's folder
    run: Callable[[dict], tuple[bool, str, str, float]]
    command: str = ""  #: what writes the file

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        path = Path(root) / self.file
        if not path.exists():
            return Verdict("not run", "no study file yet", "—", f"would run: {self.command}", command=self.command)
        ok, ours, protocol, value = self.run(json.loads(path.read_text()))
        return Verdict(rules.check_verdict(ok), "the check holds" if ok else "the check fails", ours,
                       f"{protocol}; {self.file}", value=value)


@dataclass(frozen=True)
class NotRun(Test):
    """No stored result tests this claim yet; ``command`` says what would."""

    command: str
    note: str = ""

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        return Verdict("not run", self.note or "no stored run tests it yet", "—", f"would run: {self.command}",
                       command=self.command)


@dataclass(frozen=True)
class NotAttempted(Test):
    reason: str
    kind = "not attempted"

    def judge(self, root: Path, made_under: Mapping[str, Any]) -> Verdict:
        return Verdict("not attempted", self.reason, "—", "—")
