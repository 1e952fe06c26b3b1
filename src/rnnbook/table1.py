"""Table 1 of the paper beside the book's runs, and what the comparison can and cannot say.

The paper's numbers are read from the book's own page (back/paper_in_numbers.md, pn-table1), so
they are typed once. The book's numbers come from the committed result files of
:mod:`rnnbook.natural_training` (``results/<experiment>/paper.json``): each method's train and
test score at its best validation epoch. Music is in nats per frame (the 88 keys' Bernoulli
negative log-likelihoods summed), text in bits per character.

The corpora differ from the paper's (the music21 Bach chorales for Piano-midi.de, Nottingham and
MuseData; Shakespeare for Penn Treebank), so the absolute numbers cannot be compared. What can
transfer are the paper's *orderings*, which is what §4.2 argues from:

``clip``
    clipping helps: MSGD+C is below MSGD on train and on test;
``reg``
    the regularizer helps on test: MSGD+CR is below MSGD+C;
``reg-long``
    the regularizer helps most on the long-range task: its gain over MSGD+C is larger for the
    character 5 positions ahead than for the next one.

:func:`ordering_verdict` turns each into reproduced / partly / not reproduced / a tie, one seed per
method (differences below :data:`TIE` count as ties: the run-to-run spread is not measured; the
paper's own smallest margin, 0.01 bits per character, clears it). Where MSGD+C never clipped,
MSGD and MSGD+C are the same computation (same weights, data and learning rates) and cannot
differ; where it clipped only a few times, the reason says how many and in which epochs, since the
whole difference then comes from those few steps.
:func:`claim_verdict` adds what the files say about progress: a claim whose runs have not
trained all their planned epochs is ``open``, with the verdict so far.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from rnnbook.errors import ConfigError

METHODS = ("msgd", "msgd_c", "msgd_cr")
METHOD_NAMES = {"msgd": "MSGD", "msgd_c": "MSGD+C", "msgd_cr": "MSGD+CR"}
TIE = 0.005  # nats per frame or bits per character: smaller differences are called ties

#: claim -> (what the paper says, the experiments it is judged on). MSGD was not run on the 5-step
#: task (Table 1: N/A), so "clipping helps" is judged on music and the next character only.
CLAIMS = {
    "clip": ("Clipping helps on train and test (MSGD+C below MSGD)", ("music_chorales", "text_next")),
    "reg": ("The regularizer helps on test (MSGD+CR below MSGD+C)", ("music_chorales", "text_next", "text_5ahead")),
    "reg-long": ("The regularizer helps most on the 5-step task", ("text_next", "text_5ahead")),
}
_ROW = re.compile(r"^\|\s*(?P<set>[^|]*)\|\s*(?P<fold>train|test)\s*\|(?P<cells>.*)\|\s*$")


def paper_table(root: Path) -> dict[str, dict[str, dict[str, float | None]]]:
    """ICML Table 1 from back/paper_in_numbers.md: ``data set -> fold -> column -> value`` (None: N/A)."""
    page = root / "back" / "paper_in_numbers.md"
    text = page.read_text(encoding="utf-8")
    start = text.index("(pn-table1)=")
    block = text[start:text.index("\n\n", text.index("| Data set |", start))]
    header = [c.strip() for c in block.split("| Data set |", 1)[1].splitlines()[0].split("|") if c.strip()]
    columns = header[1:]  # after "Fold"
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    current = None
    for line in block.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        name = m["set"].strip()
        if name:
            current = re.sub(r"\s*\((NLL|bits/char)\)", "", name)
        cells = [c.strip() for c in m["cells"].split("|")]
        if current is None or len(cells) != len(columns):
            raise ConfigError(f"{page}: cannot read Table 1 row {line!r}")
        table.setdefault(current, {})[m["fold"]] = {
            col: (None if cell == "N/A" else float(cell)) for col, cell in zip(columns, cells)}
    return table


def unit(kind: str) -> str:
    return "nats per frame" if kind == "music" else "bits per character"


def ours(data: dict[str, Any]) -> dict[str, dict[str, float] | None]:
    """Method -> ``{"epoch", "train", "valid", "test", "clipped", "clipped_updates", "clipped_epochs"}``:
    scores at its best validation epoch, in the table's unit (text in bits); the fraction and the
    number of all its updates so far that were clipped, and the epochs they fell in; ``None`` for a
    method with no finished epoch."""
    from rnnbook.natural import bits
    from rnnbook.natural_training import table_entry

    convert = (lambda x: x) if data["task"]["kind"] == "music" else bits
    out: dict[str, dict[str, float] | None] = {}
    for m in data["methods"]:
        e = table_entry(data["history"], m)
        rows = [r for r in data["history"] if r["method"] == m]
        done = sum(r["updates"] for r in rows)
        per_epoch = {r["epoch"]: round(r["clipped_fraction"] * r["updates"]) for r in rows}
        count = sum(per_epoch.values())
        out[m] = None if e is None else {
            "epoch": e["epoch"], "clipped": count / done if done else 0.0, "clipped_updates": count,
            "clipped_epochs": sorted(k for k, v in per_epoch.items() if v),
            **{k: convert(e[k]) for k in ("train", "valid", "test")}}
    return out


def progress(data: dict[str, Any]) -> tuple[int, int]:
    """``(epochs done, epochs planned)`` of a natural results file."""
    return data["epochs_done"], data["protocol"]["settings"]["epochs"]


def compare(a: float, b: float, tie: float = TIE) -> str:
    """``"lower"`` if ``a`` is below ``b`` by more than ``tie``, ``"higher"``, or ``"tie"``."""
    if a < b - tie:
        return "lower"
    if a > b + tie:
        return "higher"
    return "tie"


def ordering_verdict(claim: str, scores: dict[str, dict[str, dict[str, float] | None]]) -> tuple[str, str]:
    """``(verdict, reason)`` for one ordering claim over ``experiment -> ours(...)``.

    ``clip`` and ``reg`` hold where they hold on every experiment given; ``reg-long`` needs both
    text experiments. A missing experiment or method gives ``not run``.
    """
    need = {"clip": ("msgd", "msgd_c"), "reg": ("msgd_c", "msgd_cr"), "reg-long": ("msgd_c", "msgd_cr")}[claim]
    if not scores or any(s is None or any(s.get(m) is None for m in need) for s in scores.values()):
        return "not run", "no finished epoch for every method yet"
    if claim == "reg-long":
        if not {"text_next", "text_5ahead"} <= set(scores):
            return "not run", "needs both text experiments"
        gain = {k: scores[k]["msgd_c"]["test"] - scores[k]["msgd_cr"]["test"] for k in ("text_next", "text_5ahead")}
        word = compare(gain["text_next"], gain["text_5ahead"])
        why = (f"test gain of MSGD+CR over MSGD+C: {gain['text_5ahead']:+.3f} (5 ahead) vs "
               f"{gain['text_next']:+.3f} (next) bits per character")
        return ("reproduced" if word == "lower" else "not reproduced" if word == "higher" else "tie"), why
    folds = ("train", "test") if claim == "clip" else ("test",)
    lo, hi = need[1], need[0]  # the method that should be lower, and the one it should beat
    words, parts = [], []
    for name, s in scores.items():
        for fold in folds:
            w = compare(s[lo][fold], s[hi][fold])
            parts.append(f"{name} {fold}: {s[lo][fold]:.3f} vs {s[hi][fold]:.3f} ({w})")
            words.append(w)
        if claim == "clip" and "clipped_updates" in s["msgd_c"]:
            c = s["msgd_c"]
            where = ", ".join(map(str, c["clipped_epochs"][:5])) + (", ..." if len(c["clipped_epochs"]) > 5 else "")
            parts.append(f"{name}: MSGD+C clipped {c['clipped_updates']} updates ({c['clipped']:.2%})"
                         + (f", in epoch(s) {where}" if c["clipped_updates"] else ""))
    if all(w == "lower" for w in words):
        verdict = "reproduced"
    elif all(w == "higher" for w in words):
        verdict = "not reproduced"
    elif any(w == "lower" for w in words):
        verdict = "partly"
    else:
        verdict = "not reproduced" if any(w == "higher" for w in words) else "tie"
    return verdict, f"{METHOD_NAMES[lo]} vs {METHOD_NAMES[hi]}: " + "; ".join(parts)


def claim_verdict(claim: str, files: dict[str, dict[str, Any] | None]) -> tuple[str, str]:
    """``(verdict, reason)`` of ``claim`` from the results files of its experiments (:data:`CLAIMS`).

    ``files`` maps experiment -> its loaded results file (``None``: not run). Only the experiments
    the claim is judged on are used. While any of them has trained fewer epochs than planned the
    verdict is ``open`` and the reason starts with the verdict so far.
    """
    names = [n for n in CLAIMS[claim][1] if n in files]
    data = {n: files[n] for n in names}
    scores = {n: (ours(d) if d and d["epochs_done"] >= 1 else None) for n, d in data.items()}
    verdict, why = ordering_verdict(claim, scores)
    if verdict == "not run":
        return verdict, why
    unfinished = {n: progress(d) for n, d in data.items() if progress(d)[0] < progress(d)[1]}
    if unfinished:
        left = ", ".join(f"{n} {k} of {p} epochs" for n, (k, p) in unfinished.items())
        return "open", f"so far {verdict} ({left}): {why}"
    return verdict, why
