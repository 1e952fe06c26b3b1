"""Table 1 of the paper beside the book's runs, and what the comparison can and cannot say.

The paper's numbers are read from the book's own page (back/paper_in_numbers.ipynb, pn-table1), so
they are typed once. The book's numbers come from the committed result files of
:mod:`rnnbook.natural.training` (``results/<experiment>/paper.json``): each method's train and
test score at its best validation epoch. Music is in nats per frame (the 88 keys' Bernoulli
negative log-likelihoods summed), text in bits per character.

The character rows are trained on a stand-in corpus (Shakespeare for Penn Treebank, which cannot
ship with the book), so their absolute numbers cannot be compared. What can transfer are the
paper's *orderings*, which is what §4.2 argues from (:data:`CLAIMS`, judged on the text runs):

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

The music rows are trained on the paper's own data (``music_piano_midi``,
``music_nottingham``, ``music_musedata``, and ``music_jsb``), several seeds each, so their numbers
*can* be set beside the paper's: :func:`music_table` gives, per data set x split x method, the
paper's value, our mean and spread over seeds, the number of seeds, whether every seed converged
(stopped early) and a verdict judged by the seed spread (:func:`cell_verdict`);
:func:`music_orderings` judges the paper's orderings on paired seed differences. Both rules are
the claims registry's (:mod:`rnnbook.verdicts.rules`), so the page and the scoreboard judge alike.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from rnnbook.errors import ConfigError
from rnnbook.methods import METHODS
from rnnbook.natural.task import bits
from rnnbook.natural.training import json_of, table_entry
from rnnbook.verdicts import rules

METHOD_NAMES = {"msgd": "MSGD", "msgd_c": "MSGD+C", "msgd_cr": "MSGD+CR"}
TIE = 0.005  # nats per frame or bits per character: smaller differences are called ties

#: claim -> (what the paper says, the text experiments it is judged on; the music rows have their own
#: test over seeds, :func:`music_orderings`). MSGD was not run on the 5-step task (Table 1: N/A), so
#: "clipping helps" is judged on the next character only.
CLAIMS = {
    "clip": ("Clipping helps on train and test (MSGD+C below MSGD)", ("text_next",)),
    "reg": ("The regularizer helps on test (MSGD+CR below MSGD+C)", ("text_next", "text_5ahead")),
    "reg-long": ("The regularizer helps most on the 5-step task", ("text_next", "text_5ahead")),
}
_ROW = re.compile(r"^\|\s*(?P<set>[^|]*)\|\s*(?P<fold>train|test)\s*\|(?P<cells>.*)\|\s*$")


def paper_table(root: Path) -> dict[str, dict[str, dict[str, float | None]]]:
    """ICML Table 1 from back/paper_in_numbers.ipynb: ``data set -> fold -> column -> value`` (None: N/A)."""
    page = root / "back" / "paper_in_numbers.ipynb"
    cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
    text = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
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


#: one comparison's word as a part of a claim (:func:`rnnbook.verdicts.rules.combine_parts` combines them:
#: every comparison lower -> reproduced, every one higher -> not reproduced, some lower -> partly, all ties -> tie)
_AS_VERDICT = {"lower": "reproduced", "higher": "not reproduced", "tie": "tie"}


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
    verdict, _ = rules.combine_parts([(str(i), _AS_VERDICT[w], "") for i, w in enumerate(words)])
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


# ---------------------------------------------------------------------------------------------
# The music rows on the paper's own data: seeds, spread, convergence, verdicts
# ---------------------------------------------------------------------------------------------

#: data set (rnnbook.natural.corpora.poly_music) -> its row name in the paper's Table 1 (None: not in the paper)
MUSIC_ROWS = {"piano_midi": "Piano-midi.de", "nottingham": "Nottingham", "musedata": "MuseData", "jsb": None}
def music_seed_files(root: Path, name: str, protocol: str = "paper") -> list[Path]:
    """The results files of data set ``name`` under ``protocol``: seed 0's, then ``-seed<k>`` by k."""
    folder = Path(root) / "results" / f"music_{name}"
    seeds = sorted(folder.glob(f"{protocol}-seed*.json"), key=lambda p: int(p.stem.rsplit("seed", 1)[1]))
    first = folder / f"{protocol}.json"
    return ([first] if first.exists() else []) + seeds


def _method_runs(files: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    """Per seed: the method's Table 1 entry (best-validation epoch), whether it converged, its seed."""
    out = []
    for d in files:
        e = ours(d).get(method)
        if e is None:
            continue
        stopped = (d.get("stopped") or {}).get(method)
        out.append({**e, "seed": d["protocol"]["settings"]["seed"], "converged": bool(stopped),
                    "epochs_done": d["epochs_done"]})
    return out


def cell_verdict(values: list[float], paper: float | None, converged: bool) -> str:
    """Our seeds against the paper's number: the registry's rule,
    :func:`rnnbook.verdicts.rules.seeds_against_value` (is the paper's one run a plausible further
    seed of ours? a two-sided t prediction test): ``matches (within the seed spread)``, ``ours lower`` or
    ``ours higher``; ``uninformative (one seed)`` with one seed, which has no spread. A cell with a
    run still training is ``open``; no paper number: ``no paper value``.
    """
    if not converged:
        return "open (not converged)"
    if paper is None:
        return "no paper value"
    return rules.seeds_against_value(values, paper)[0]


def music_table(root: Path, protocol: str = "paper") -> list[dict[str, Any]]:
    """Table 1's music rows beside the book's runs: one row per data set x split x method.

    Keys: ``dataset``, ``row`` (the paper's name, None for JSB), ``split`` (train/test), ``method``,
    ``paper`` (ICML Table 1, from back/paper_in_numbers.ipynb; None for JSB), ``mean``, ``sd`` (sample
    standard deviation over seeds; None for one seed), ``lo``/``hi`` (smallest and largest seed),
    ``n`` (seeds with a finished epoch), ``seeds``, ``converged`` (every seed's method stopped early;
    False while any still trains or reached the cap), ``diff`` (mean - paper), ``p`` (the prediction
    test's two-sided p; None for one seed), ``verdict`` (:func:`cell_verdict`), and, once per data set and split, the paper's state-of-the-art columns
    (``sota_rnn``, ``sota``). Data sets with no results file yet give rows with ``n = 0``.
    All numbers in nats per frame.
    """
    paper = paper_table(Path(root))
    rows = []
    for name, row_name in MUSIC_ROWS.items():
        files = [json_file(p) for p in music_seed_files(root, name, protocol)]
        for split in ("train", "test"):
            ref = paper.get(row_name, {}).get(split, {}) if row_name else {}
            for m in METHODS:
                runs = _method_runs(files, m)
                base = {"dataset": name, "row": row_name, "split": split, "method": m,
                        "paper": ref.get(METHOD_NAMES[m]), "sota_rnn": ref.get("SOTA for RNN"), "sota": ref.get("SOTA"),
                        "n": len(runs), "seeds": [r["seed"] for r in runs]}
                if not runs:
                    rows.append({**base, "mean": None, "sd": None, "lo": None, "hi": None, "converged": False,
                                 "diff": None, "p": None, "verdict": "not run"})
                    continue
                values = [r[split] for r in runs]
                mean, sd = rules.mean_sd(values)
                converged = all(r["converged"] for r in runs)
                p = None if base["paper"] is None else rules.seeds_against_value(values, base["paper"])[1]
                rows.append({**base, "mean": mean, "sd": sd, "lo": min(values), "hi": max(values),
                             "converged": converged, "p": p,
                             "diff": None if base["paper"] is None else mean - base["paper"],
                             "verdict": cell_verdict(values, base["paper"], converged)})
    return rows


#: (the method that should be lower, the one it should beat, what the paper's ordering says)
MUSIC_ORDERINGS = {"clip": ("msgd_c", "msgd", "clipping helps (MSGD+C below MSGD)"),
                   "reg": ("msgd_cr", "msgd_c", "the regularizer helps (MSGD+CR below MSGD+C)")}


def music_orderings(root: Path, protocol: str = "paper") -> list[dict[str, Any]]:
    """Per data set x split x ordering: the paper's sign, ours over seeds, and the registry's verdict.

    The three methods of one seed share initial weights and chunk order, so their differences are
    paired: ``d_s = ours[lo](seed s) - ours[hi](seed s)``. The verdict is the registry's rule for
    them, :func:`rnnbook.verdicts.rules.paired_seeds_verdict` (a one-sided paired t-test in the
    paper's direction): ``reproduced``, ``not reproduced``, ``inconclusive``, or ``uninformative``
    with one seed (no spread, whatever its sign); ``open`` while a run of two or more seeds is still
    training; ``not run``; ``no paper value``. ``ours`` is the sign of the mean difference, ``p`` the
    test's one-sided p. The claims ``t1-music-clip`` / ``t1-music-reg`` read these rows.
    """
    paper = paper_table(Path(root))
    out = []
    for name, row_name in MUSIC_ROWS.items():
        files = [json_file(p) for p in music_seed_files(root, name, protocol)]
        for split in ("train", "test"):
            ref = paper.get(row_name, {}).get(split, {}) if row_name else {}
            for key, (lo, hi, claim) in MUSIC_ORDERINGS.items():
                p_lo, p_hi = ref.get(METHOD_NAMES[lo]), ref.get(METHOD_NAMES[hi])
                paper_sign = None if p_lo is None or p_hi is None else ("lower" if p_lo < p_hi else "higher")
                a = {r["seed"]: r for r in _method_runs(files, lo)}
                b = {r["seed"]: r for r in _method_runs(files, hi)}
                seeds = sorted(set(a) & set(b))
                row = {"dataset": name, "row": row_name, "split": split, "ordering": key, "claim": claim,
                       "paper_sign": paper_sign, "n": len(seeds)}
                if not seeds:
                    out.append({**row, "mean_diff": None, "se": None, "ours": None, "p": None, "why": "not run yet",
                                "verdict": "not run"})
                    continue
                d = [a[s][split] - b[s][split] for s in seeds]
                mean, sd = rules.mean_sd(d)
                se = None if sd is None else sd / math.sqrt(len(d))
                ours_sign = "lower" if mean < 0 else "higher" if mean > 0 else "equal"
                word, why, p = rules.paired_seeds_verdict(d, paper_sign or "lower")
                converged = all(a[s]["converged"] and b[s]["converged"] for s in seeds)
                if paper_sign is None:
                    verdict = "no paper value"
                elif not converged and word != "uninformative":
                    verdict, why = "open", f"{why}; a run is still training"
                else:
                    verdict = word
                out.append({**row, "mean_diff": mean, "se": se, "ours": ours_sign, "p": p, "why": why,
                            "verdict": verdict})
    return out


def json_file(path: Path) -> dict[str, Any]:
    return json_of(path)
