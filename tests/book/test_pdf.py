"""The PDF builder's pieces that need no browser (the printed PDF itself: tests/book/test_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from rnnbook.book import pdf

ROOT = Path(__file__).resolve().parents[2]


def test_toc_entries_follow_the_table_of_contents():
    text = (ROOT / "_toc.yml").read_text()
    expected = [re.search(r"^root:\s*(\S+)", text, re.M).group(1)] + re.findall(r"file:\s*(\S+)", text)
    entries = pdf.toc_entries(ROOT)
    assert [e.path for e in entries] == [str(Path(p).with_suffix("")) for p in expected]
    assert entries[0].part is None and entries[0].level == 0
    # a chapter's sections are one level below it, in the same part
    for a, b in zip(entries, entries[1:]):
        if b.level == 1:
            assert a.part == b.part and a.level in (0, 1)
    assert any(e.level == 1 for e in entries) and all(e.part for e in entries[1:])


def test_contents_page_lists_every_entry_with_its_page():
    entries = [pdf.Entry("intro", None, 0, "Intro & more", 2, 3), pdf.Entry("a/index", "Part <A>", 0, "1. A", 5, 4),
               pdf.Entry("a/one", "Part <A>", 1, "1.1. One", 9, 1)]
    html = pdf.contents_html("Book", "sub", entries)
    assert html.count('class="pg"') == 3 and ">9</td>" in html and ">5</td>" in html
    assert "Intro &amp; more" in html and "Part &lt;A&gt;" in html and html.count('class="part"') == 1
    assert 'class="l1"' in html


def test_numbers_page_has_one_number_per_page():
    html = pdf.numbers_html(7)
    assert re.findall(r"<span>(\d+)</span>", html) == [str(i) for i in range(1, 8)]


def test_main_without_a_built_book_is_a_one_line_error(tmp_path, capsys):
    assert pdf.main(["--html", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no built book") and err.count("\n") == 1


def _blank_pdf(path, n):
    w = PdfWriter()
    for _ in range(n):
        w.add_blank_page(width=595, height=842)
    with open(path, "wb") as fh:
        w.write(fh)
    return path


def test_merge_puts_cover_first_and_mirrors_the_contents_in_the_outline(tmp_path):
    entries = [pdf.Entry("intro", None, 0, "Intro", 2, 1), pdf.Entry("a/index", "Part A", 0, "1. A", 3, 2),
               pdf.Entry("a/one", "Part A", 1, "1.1. One", 5, 1)]
    files = [_blank_pdf(tmp_path / f"{i}.pdf", e.pages) for i, e in enumerate(entries)]
    cover, numbers = _blank_pdf(tmp_path / "cover.pdf", 1), _blank_pdf(tmp_path / "numbers.pdf", 5)
    out = tmp_path / "out" / "book.pdf"
    pdf.merge(out, cover, files, numbers, entries, "The Book", 5)
    r = PdfReader(out)
    assert len(r.pages) == 5 and r.metadata.title == "The Book" and not (tmp_path / "out" / "book.pdf.part").exists()
    outline = r.outline
    assert [o.title for o in outline if not isinstance(o, list)] == ["Intro", "Part A"]
    part_children = outline[2]  # Part A's children: the chapter, then the chapter's sections
    assert part_children[0].title == "1. A" and part_children[1][0].title == "1.1. One"
    assert r.get_destination_page_number(part_children[1][0]) == 4


def test_entries_to_print_fails_before_printing(tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    entries = pdf.toc_entries(ROOT)
    for e in entries[:2]:
        (html / f"{e.path}.html").parent.mkdir(parents=True, exist_ok=True)
        (html / f"{e.path}.html").write_text("<html></html>")
    picked = pdf.entries_to_print(ROOT, html, [e.path for e in entries[:2]], chromium=__file__)
    assert [e.path for e in picked] == [e.path for e in entries[:2]]
    with pytest.raises(FileNotFoundError, match="pages not built"):
        pdf.entries_to_print(ROOT, html, None, chromium=__file__)
    with pytest.raises(FileNotFoundError, match="is missing"):
        pdf.entries_to_print(ROOT, html, [entries[0].path], chromium=str(tmp_path / "no-chromium"))
