"""The back matter agrees with the code: "The paper in numbers", the glossary, the citation.

back/paper_in_numbers.ipynb quotes the paper in its prose; its two protocol tables are the book's
own declarations, rendered live when the book is built by :mod:`rnnbook.book.protocol_tables`
(one hidden cell each). These tests check what those generators write (every experiment of the
paper has its row, with its cap and lengths; a value changed in a copy of the registry changes
the row) and that the page calls them. The glossary defines exactly the terms the team agreed
on, every label the errata and the paper-in-numbers pages link to exists, and the landing page's
BibTeX entry says what ``CITATION.cff`` says.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from rnnbook.book.protocol_tables import (
    NATURAL_COLUMNS,
    PROTOCOL_COLUMNS,
    natural_rows,
    natural_table,
    paper_experiments,
    protocol_rows,
    protocol_table,
)
from rnnbook.natural.experiments import EXPERIMENTS as NATURAL
from rnnbook.synthetic.experiments import EXPERIMENTS, with_overrides

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "back" / "paper_in_numbers.ipynb"
GLOSSARY = ROOT / "back" / "glossary.ipynb"

#: The glossary's terms (team rules): chapters link to them with {term}`...`.
TERMS = (
    "Jacobian matrix", "spectral radius", "largest singular value", "attractor", "basin of attraction",
    "bifurcation", "BPTT", "immediate partial derivative", "temporal contribution", "long-term component",
    "exploding gradient", "vanishing gradient", "rate of success", "norm clipping",
    "preserving the norm in the relevant direction", "censored run", "negative log-likelihood", "bits per character",
)


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def _prose(page: Path) -> str:
    """A page's Markdown: the file itself, or a notebook's markdown cells."""
    if page.suffix == ".md":
        return page.read_text(encoding="utf-8")
    return "\n\n".join("".join(c["source"]) for c in _cells(page) if c["cell_type"] == "markdown")


def _rows_by_name(rows: list[dict]) -> dict[str, dict]:
    return {re.sub(r"</?code>", "", r["experiment"]): r for r in rows}


def test_the_protocol_table_has_a_row_per_experiment_of_the_paper():
    rows = _rows_by_name(protocol_rows())
    assert list(rows) == list(paper_experiments())
    assert {"temporal_order", "addition", "permutation", "multiplication", "temporal_order3", "memorization"} <= set(rows)
    assert all(list(r) == list(PROTOCOL_COLUMNS) for r in rows.values())
    for name, row in rows.items():
        p = EXPERIMENTS[name].protocol("paper")
        assert row["update cap"] == p.settings["max_updates"] == 5_000_000
        for n in p.lengths:
            assert str(n) in row["lengths"].split(", ")
        for a, b in p.ranges:
            assert f"[{a}, {b})" in row["lengths"]
        assert row["seeds"] == ", ".join(str(s) for s in p.seeds)
    fig7 = rows["temporal_order"]
    assert (fig7["hidden"], fig7["lr"], fig7["threshold"], fig7["reg. weight"], fig7["batch"]) == (50, 0.01, 1.0, 4.0, 20)
    assert fig7["lengths"] == "20, 50, 100, 150, 200" and fig7["success"] == "&lt; 1 %"
    assert fig7["validation"] == "10,000 every 2,000" and fig7["initialisations"] == "sigmoid, basic_tanh, smart_tanh"
    assert rows["memorization"]["task"] == "<code>mem</code> (n_pos=10, n_values=5)"


def test_a_value_changed_in_the_registry_changes_the_row():
    registry = dict(EXPERIMENTS)
    registry["addition"] = with_overrides(EXPERIMENTS["addition"], "paper", ["lr=0.05", "threshold=3"])
    registry["permutation"] = with_overrides(EXPERIMENTS["permutation"], "paper", ["max_updates=1000"])
    before, after = _rows_by_name(protocol_rows()), _rows_by_name(protocol_rows(registry))
    assert (after["addition"]["lr"], after["addition"]["threshold"]) == (0.05, 3.0)
    assert {k: v for k, v in after["addition"].items() if k not in ("lr", "threshold")} == \
        {k: v for k, v in before["addition"].items() if k not in ("lr", "threshold")}
    assert "permutation" in before and "permutation" not in after   # no longer the paper's cap: not the paper's
    assert after["temporal_order"] == before["temporal_order"]


def test_the_natural_table_has_a_row_per_natural_problem():
    rows = _rows_by_name(natural_rows())
    assert list(rows) == list(NATURAL) and all(list(r) == list(NATURAL_COLUMNS) for r in rows.values())
    for name, row in rows.items():
        c = NATURAL[name].protocol("paper")
        assert (row["hidden"], row["window"], row["batch"], row["epochs"], row["threshold"]) == \
            (c.hidden, c.seq_len, c.batch, c.epochs, c.threshold)
    assert rows["music_musedata"]["lr MSGD / +C / +CR"] == "0.5 / 0.5 / 0.5"
    assert rows["music_musedata"]["reg. weight"] == "0.1 / t" and rows["music_musedata"]["target"] == "next frame"
    assert rows["text_5ahead"]["target"] == "5 ahead" and rows["text_next"]["target"] == "next character"
    exp = NATURAL["text_next"]
    slower = dataclasses.replace(exp.protocol("paper"), lr_msgd=0.1, lr_halving=False)
    changed = _rows_by_name(natural_rows({"text_next": dataclasses.replace(exp, protocols={"paper": slower})}))
    assert changed["text_next"]["lr MSGD / +C / +CR"].startswith("0.1 / ") and changed["text_next"]["lr halving"] == "no"


def test_the_tables_render_their_rows():
    html = protocol_table().to_html()
    assert "<code>temporal_order</code>" in html and "5,000,000" in html and "10,000 every 2,000" in html
    assert all(f">{c}<" in html for c in PROTOCOL_COLUMNS if "<" not in c)
    html = natural_table().to_html()
    assert "<code>music_musedata</code>" in html and "0.5 / 0.5 / 0.5" in html and ">0.225<" in html


def test_the_page_renders_both_tables_in_hidden_cells():
    code = [c for c in _cells(PAGE) if c["cell_type"] == "code"]
    calls = {name: c for c in code for name in ("protocol_table()", "natural_table()") if name in "".join(c["source"])}
    assert set(calls) == {"protocol_table()", "natural_table()"}
    assert all("remove-input" in c["metadata"].get("tags", []) for c in calls.values())
    prose = _prose(PAGE)
    assert "<!-- BEGIN generated" not in prose and "| `temporal_order` |" not in prose, "a pasted copy of a table is back"
    order = [c["id"] for c in _cells(PAGE)]
    protocols_cell = next(c["id"] for c in _cells(PAGE) if "(pn-protocols)=" in "".join(c["source"]))
    assert order.index(protocols_cell) < order.index(calls["protocol_table()"]["id"])


def test_paper_values_quoted_on_the_page_match_the_declared_paper_protocol():
    """The Fig. 7 row of the page says which value the book follows; the code must use it."""
    s = EXPERIMENTS["temporal_order"].protocol("paper").settings
    assert (s["hidden"], s["lr"], s["threshold"], s["reg_weight"], s["batch"]) == (50, 0.01, 1.0, 4.0, 20)
    assert (s["max_updates"], s["n_valid"], s["success_error"]) == (5_000_000, 10_000, 0.01)
    text = _prose(PAGE)
    fig7 = text.split("(pn-fig7)=", 1)[1].split("(pn-mixed)=", 1)[0]
    for follows in ("| **0.01** (ICML) |", "| **1** (ICML) |", "| **4** (ICML) |", "| 5,000,000 |"):
        assert follows in fig7, f"the Fig. 7 table no longer says {follows!r}"


def _labels(text: str) -> set[str]:
    return set(re.findall(r"^\(([\w-]+)\)=\s*$", text, re.M))


def test_pages_link_only_to_labels_that_exist():
    """{ref}`pn-...` / {ref}`err-...` targets exist on the back-matter pages."""
    back = ROOT / "back"
    pages = {p: _prose(p) for p in sorted([*back.glob("*.md"), *back.glob("*.ipynb")])}
    labels = set().union(*(_labels(t) for t in pages.values()))
    for page, text in pages.items():
        for target in re.findall(r"\{ref\}`(?:[^`<]*<)?((?:pn|err)[\w-]*)>?`", text):
            assert target in labels, f"{page.name} links to the missing label {target!r}"


def test_glossary_defines_exactly_the_agreed_terms():
    text = _prose(GLOSSARY)
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

