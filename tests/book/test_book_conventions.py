"""The conventions every chapter follows (README, DEVELOPERS' guide), checked on the sources.

These fail when a new chapter forgets one: a notebook missing from the table of contents,
stored outputs, a figure whose caption, name and saved files disagree, or a first cell that
does not seed everything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rnnbook.book.plotting import FIGURE_NAME

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p for folder in ("chapters", "back") for p in (ROOT / folder).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _figure_cells() -> list[tuple[Path, dict]]:
    return [(nb, c) for nb in NOTEBOOKS for c in _cells(nb) if c.get("metadata", {}).get("mystnb", {}).get("figure")]


def test_every_chapter_page_is_in_the_toc_and_every_toc_entry_exists():
    toc = (ROOT / "_toc.yml").read_text()
    listed = {Path(f).with_suffix("").as_posix() for f in re.findall(r"file:\s*(\S+)", toc)}
    pages = {p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "chapters").rglob("*")
             if p.suffix in (".ipynb", ".md") and ".ipynb_checkpoints" not in p.parts}
    assert pages <= listed, f"pages readers never see (not in _toc.yml): {sorted(pages - listed)}"
    missing = [f for f in listed if not any((ROOT / f).with_suffix(s).exists() for s in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_and_seeds_everything_first(nb):
    meta = json.loads(nb.read_text(encoding="utf-8"))["metadata"]
    assert meta.get("kernelspec", {}).get("name") == "python3"
    cells = _cells(nb)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit notebooks without outputs"
    assert "runtime.setup(" in _source(code[0]), "the first code cell must call rnnbook.book.runtime.setup (seeds, threads)"
    if nb.relative_to(ROOT).parts[0] != "chapters":
        return  # back matter (the glossary) is not a chapter: no summary, exercises or claims table
    text = "\n".join(_source(c) for c in cells)
    for heading in ("## Summary", "## Exercises"):
        assert heading in text, f"missing section {heading!r}"
    assert re.search(r"## The paper's claims covered here", text), "missing the claims table"


def test_figures_have_stable_names_matching_captions_and_saved_files():
    names, unlinked = [], []
    for nb, cell in _figure_cells():
        fig = cell["metadata"]["mystnb"]["figure"]
        name, caption = fig.get("name", ""), fig.get("caption", "")
        assert FIGURE_NAME.match(name), f"{nb.name}: bad figure name {name!r}"
        assert f'save_figure(fig, "{name}")' in _source(cell), f"{nb.name}: cell of {name} must save it under that name"
        unlinked += [f"{nb.name}: {name}.{ext}" for ext in ("png", "svg", "pdf") if f"</figures/{name}.{ext}>" not in caption]
        where = nb.relative_to(ROOT).as_posix()
        if name.startswith("fig-glossary-"):
            assert where.startswith("back/"), f"{name} is drawn in {where}; fig-glossary-* belong to back/"
        else:
            chapter = re.match(r"fig-ch(\d+)", name).group(1)
            assert where.startswith(f"chapters/{int(chapter):02d}"), f"{name} is drawn in {where}, outside chapter {chapter}"
        assert len(caption.split(".")) > 2, f"{nb.name}: caption of {name} must say how the figure was made"
        names.append(name)
    assert not unlinked, f"captions must link the PNG, SVG and PDF of their figure; missing: {unlinked}"
    assert len(names) == len(set(names)), "figure names must be unique across the book"
    assert names, "the book has figures"
