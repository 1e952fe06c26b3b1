"""The back matter agrees with the code: "The paper in numbers", the glossary, the citation.

back/paper_in_numbers.md carries a table of the book's paper-scale protocols. It is generated
text: :func:`protocol_table` writes it from ``rnnbook.synthetic.experiments``, and the test fails (printing
the table to paste) when the page and the code disagree. The glossary defines exactly the terms
the team agreed on, every label the errata and the paper-in-numbers pages link to exists, and the
landing page's BibTeX entry says what ``CITATION.cff`` says.

It also carries the natural problems' protocols (:func:`natural_table`, from
``rnnbook.natural.experiments``). Regenerate both tables with ``python tests/test_paper_in_numbers.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rnnbook.synthetic.experiments import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "back" / "paper_in_numbers.md"
GLOSSARY = ROOT / "back" / "glossary.ipynb"
BEGIN = "<!-- BEGIN generated: tests/test_paper_in_numbers.py::protocol_table -->"
END = "<!-- END generated -->"
BEGIN_NATURAL = "<!-- BEGIN generated: tests/test_paper_in_numbers.py::natural_table -->"

#: The glossary's terms (team rules): chapters link to them with {term}`...`.
TERMS = (
    "Jacobian matrix", "spectral radius", "largest singular value", "attractor", "basin of attraction",
    "bifurcation", "BPTT", "immediate partial derivative", "temporal contribution", "long-term component",
    "exploding gradient", "vanishing gradient", "rate of success", "norm clipping",
    "preserving the norm in the relevant direction", "censored run", "negative log-likelihood", "bits per character",
)


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def paper_experiments() -> dict:
    """The experiments of the paper's §4.1: those whose ``paper`` protocol keeps Fig. 7's update cap.

    (The book's own experiments, e.g. Chapter 3's threshold sweep, also have a ``paper``
    protocol, at a smaller scale; ``rnnbook list`` shows them.)
    """
    cap = EXPERIMENTS["temporal_order"].protocol("paper").settings["max_updates"]
    return {n: e for n, e in EXPERIMENTS.items() if e.protocol("paper").settings["max_updates"] == cap}


def protocol_table() -> str:
    """One markdown row per experiment of the paper (:func:`paper_experiments`), ``paper`` protocol."""
    head = ("| experiment | task | initialisations | methods | hidden | lr | threshold | reg. weight | batch "
            "| update cap | validation | success | lengths | seeds |")
    rows = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for name, exp in paper_experiments().items():
        p = exp.protocol("paper")
        s = p.settings
        params = ", ".join(f"{k}={v}" for k, v in sorted(dict(exp.task_params).items()))
        task = f"`{exp.task}`" + (f" ({params})" if params else "")
        lengths = ", ".join([*(str(n) for n in p.lengths), *(f"[{a}, {b})" for a, b in p.ranges)])
        success = f"< {_num(s['success_error'] * 100)} %"
        cells = [
            f"`{name}`", task, ", ".join(exp.inits), ", ".join(exp.methods), _num(s["hidden"]), _num(s["lr"]),
            _num(s["threshold"]), _num(s["reg_weight"]), _num(s["batch"]), _num(s["max_updates"]),
            f"{_num(s['n_valid'])} every {_num(s['check_every'])}", success, lengths,
            ", ".join(str(x) for x in p.seeds),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def natural_table() -> str:
    """One markdown row per natural problem of §4.2 (``rnnbook.natural.experiments``), ``paper`` protocol."""
    from rnnbook.natural.experiments import EXPERIMENTS as NATURAL

    head = ("| experiment | corpus | target | hidden | window | batch | epochs | lr MSGD / +C / +CR | threshold "
            "| reg. weight | lr halving |")
    rows = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for name, exp in NATURAL.items():
        c = exp.protocol("paper")
        target = "next frame" if exp.kind == "music" else ("next character" if exp.ahead == 1 else f"{exp.ahead} ahead")
        cells = [f"`{name}`", exp.corpus, target, _num(c.hidden), _num(c.seq_len), _num(c.batch), _num(c.epochs),
                 " / ".join(_num(x) for x in (c.lr_msgd, c.lr_msgd_c, c.lr_msgd_cr)), _num(c.threshold),
                 f"{_num(c.reg_weight)} / t", "yes" if c.lr_halving else "no"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def test_natural_table_on_the_page_is_the_codes():
    text = PAGE.read_text(encoding="utf-8")
    assert BEGIN_NATURAL in text, "the generated natural-problem table's markers are missing"
    shown = text.split(BEGIN_NATURAL, 1)[1].split(END, 1)[0].strip()
    expected = natural_table()
    assert shown == expected, "back/paper_in_numbers.md is stale; paste this table:\n" + expected


def test_protocol_table_on_the_page_is_the_codes():
    text = PAGE.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "the generated protocol table's markers are missing"
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = protocol_table()
    assert shown == expected, "back/paper_in_numbers.md is stale; paste this table:\n" + expected


def test_paper_values_quoted_on_the_page_match_the_declared_paper_protocol():
    """The Fig. 7 row of the page says which value the book follows; the code must use it."""
    s = EXPERIMENTS["temporal_order"].protocol("paper").settings
    assert (s["hidden"], s["lr"], s["threshold"], s["reg_weight"], s["batch"]) == (50, 0.01, 1.0, 4.0, 20)
    assert (s["max_updates"], s["n_valid"], s["success_error"]) == (5_000_000, 10_000, 0.01)
    text = PAGE.read_text(encoding="utf-8")
    fig7 = text.split("(pn-fig7)=", 1)[1].split("(pn-mixed)=", 1)[0]
    for follows in ("| **0.01** (ICML) |", "| **1** (ICML) |", "| **4** (ICML) |", "| 5,000,000 |"):
        assert follows in fig7, f"the Fig. 7 table no longer says {follows!r}"


def _labels(text: str) -> set[str]:
    return set(re.findall(r"^\(([\w-]+)\)=\s*$", text, re.M))


def test_pages_link_only_to_labels_that_exist():
    """{ref}`pn-...` / {ref}`err-...` targets exist on the back-matter pages."""
    back = ROOT / "back"
    pages = {p: p.read_text(encoding="utf-8") for p in back.glob("*.md")}
    labels = set().union(*(_labels(t) for t in pages.values()))
    for page, text in pages.items():
        for target in re.findall(r"\{ref\}`(?:[^`<]*<)?((?:pn|err)[\w-]*)>?`", text):
            assert target in labels, f"{page.name} links to the missing label {target!r}"


def test_glossary_defines_exactly_the_agreed_terms():
    cells = json.loads(GLOSSARY.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    blocks = re.findall(r"```\{glossary\}\n(.*?)```", text, re.S)
    assert blocks, "the glossary page has no glossary directive"
    terms = [line for block in blocks for line in block.splitlines() if line and not line[0].isspace()
             and not line.startswith(":")]
    assert sorted(terms) == sorted(TERMS), f"glossary terms differ: {sorted(set(terms) ^ set(TERMS))}"


def test_rate_of_success_is_defined_exactly():
    cells = json.loads(GLOSSARY.read_text(encoding="utf-8"))["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    entry = text.split("\nrate of success\n", 1)[1].split("\n\n", 1)[0]
    for phrase in ("fraction of", "seeds", "1 %", "10,000", "freshly generated", "update cap", "censored run"):
        assert phrase in entry, f"the definition of rate of success must mention {phrase!r}"


def test_the_landing_pages_bibtex_matches_citation_cff():
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    intro = (ROOT / "intro.md").read_text(encoding="utf-8")
    entry = re.search(r"```bibtex\n(@\w+\{.*?\n\})\n```", intro, re.S)
    assert entry, "intro.md has no BibTeX entry for the book"
    fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\{+(.*?)\}+,?\s*$", entry.group(1), re.M))
    assert fields["title"] == cff["title"]
    assert fields["author"] == " and ".join(a["name"] for a in cff["authors"])
    assert fields["year"] == str(cff["date-released"])[:4]
    assert fields["version"] == str(cff["version"])
    assert fields["url"] == cff["url"]


if __name__ == "__main__":
    print(protocol_table())
    print()
    print(natural_table())
