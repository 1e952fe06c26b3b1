"""The whole book as one PDF, printed from the built HTML by Debian's Chromium (``make pdf``).

``python -m rnnbook.book.pdf`` (``make pdf`` runs it after building the book) serves ``_build/html`` on
127.0.0.1, opens every page of ``_toc.yml`` in Chromium (driven by Playwright; no browser
download, no network), waits until MathJax has typeset every equation and every interactive
figure has drawn itself, and prints the page with the theme's print style (navigation hidden;
hidden code stays hidden; interactive figures print at their initial setting). A cover with the
table of contents (each entry with its page) comes first; the pages are merged with pypdf, page
numbers are stamped at the foot of every page, and the PDF gets an outline (bookmarks) that
mirrors the table of contents. The result is written to ``_build/html/rnnbook.pdf``, where the
front page's link points, so the PDF travels with the site.

Figures and equations keep the numbers the HTML shows (Fig. 2.3, Eq. (1.4)): the PDF is the
HTML, printed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import http.server
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter

CHROMIUM = "/usr/bin/chromium"
PDF_NAME = "rnnbook.pdf"
#: Page geometry (A4) and margins; the page number is stamped inside the bottom margin.
MARGINS = {"top": "14mm", "bottom": "16mm", "left": "13mm", "right": "13mm"}

#: Print style added to every page, on top of the theme's own @media print rules.
PRINT_CSS = """
@media print {
  .bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
  .prev-next-area, .footer-article, .header-article, .skip-link, #pst-skip-link, .search-button,
  .article-header-buttons, .sidebar-toggle, .pst-scrollable-table-container::after, a.headerlink,
  details.hide.above-input, details.hide.below-input > summary, .cell_input.hide, .bd-search { display: none !important; }
  details.hide.below-input { display: block; }
  .bd-main .bd-content { margin-left: 0 !important; }
  .bd-page-width, .bd-container, .bd-container__inner, .bd-main, .bd-content, .bd-article-container { max-width: 100% !important; }
  figure, .cell_output img, .rnnbook-widget, table { break-inside: avoid; }
  body { font-size: 10.5pt; }
}
"""


@dataclass
class Entry:
    """One page of the table of contents."""

    path: str  # e.g. "chapters/02_exploding_vanishing/02_dynamical_systems" (no suffix)
    part: str | None  # the caption of its part
    level: int  # 0: a chapter (or the root), 1: a section of a chapter
    title: str = ""
    first_page: int = 0  # 1-based page of the merged PDF
    pages: int = 0


def toc_entries(book: Path) -> list[Entry]:
    """The pages of ``_toc.yml`` in reading order (root first), with their part and depth."""
    import yaml

    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    out = [Entry(str(Path(toc["root"]).with_suffix("")), None, 0)]

    def walk(items, part, level):
        for item in items or []:
            if "file" in item:
                out.append(Entry(str(Path(item["file"]).with_suffix("")), part, level))
            walk(item.get("sections"), part, level + 1)

    for part in toc.get("parts", []):
        walk(part.get("chapters"), part.get("caption"), 0)
    walk(toc.get("chapters"), None, 0)
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def ready(tab, timeout_ms: int = 60_000) -> None:
    """Wait until the page is fully drawn: MathJax has typeset every equation (pages with math load
    it), every interactive figure has mounted, the fonts are loaded."""
    if tab.locator(".math").count():
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=timeout_ms)
        tab.evaluate("() => MathJax.startup.promise")
        tab.wait_for_function("() => Array.from(document.querySelectorAll('div.math, span.math'))"
                              ".every(e => e.querySelector('mjx-container'))", timeout=timeout_ms)
    tab.wait_for_function("() => document.querySelectorAll('.rnnbook-widget:not([data-mounted])').length === 0",
                          timeout=timeout_ms)
    tab.evaluate("() => document.fonts.ready.then(() => true)")


def page_title(tab) -> str:
    """The page's heading with its number ("2.3. The geometrical interpretation"), as the HTML shows it."""
    return tab.evaluate(
        "() => { const n = document.querySelector('h1 .section-number');"
        " const h = n ? n.parentElement : document.querySelector('section h1, article h1, h1'); if (!h) return document.title;"
        " const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(a => a.remove());"
        " return c.textContent.replace(/\\s+/g, ' ').trim(); }"
    )


def _pdf(tab, path: Path) -> None:
    tab.pdf(path=str(path), format="A4", margin=MARGINS, print_background=True)


def contents_html(title: str, subtitle: str, entries: list[Entry]) -> str:
    """The cover page with the table of contents (part captions, chapter and section titles, pages)."""
    rows, part = [], object()
    for e in entries:
        if e.part != part and e.part:
            rows.append(f'<tr class="part"><td colspan="2">{html.escape(e.part)}</td></tr>')
        part = e.part
        rows.append(f'<tr class="l{e.level}"><td>{html.escape(e.title)}</td><td class="pg">{e.first_page}</td></tr>')
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
body {{ font-family: sans-serif; font-size: 11pt; color: #111; }}
h1 {{ font-size: 22pt; margin: 1.5em 0 0.2em; }} .sub {{ color: #444; margin-bottom: 2em; }}
h2 {{ font-size: 14pt; margin-top: 1.2em; }} table {{ width: 100%; border-collapse: collapse; }}
td {{ padding: 2px 0; }} td.pg {{ text-align: right; width: 4em; }} tr.part td {{ font-weight: bold; padding-top: 0.8em; }}
tr.l1 td:first-child {{ padding-left: 1.6em; }}
</style></head><body><h1>{html.escape(title)}</h1><div class="sub">{subtitle}</div>
<h2>Contents</h2><table>{''.join(rows)}</table></body></html>"""


def numbers_html(n: int) -> str:
    """``n`` A4 pages, each blank but for its number at the foot (stamped over the printed pages)."""
    pages = "".join(f'<div class="p"><span>{i}</span></div>' for i in range(1, n + 1))
    return ("<!doctype html><html><head><meta charset='utf-8'><style>@page { size: A4; margin: 0; }"
            "body { margin: 0; } .p { height: 297mm; position: relative; break-after: page; }"
            ".p span { position: absolute; bottom: 7mm; width: 100%; text-align: center; font: 9pt sans-serif; color: #555; }"
            "</style></head><body>" + pages + "</body></html>")


#: Chromium's flags: no sandbox (root in a container), no GPU, and nothing that reaches the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def build_pdf(html_dir: Path, out: Path, *, book: Path | None = None, pages: list[str] | None = None,
              chromium: str = CHROMIUM, log=print) -> list[Entry]:
    """Print the built book in ``html_dir`` into one PDF at ``out``; return the entries with their pages.

    ``pages``: print only these TOC pages (paths without suffix), for a quick check. The steps:
    print every page (:func:`print_pages`), then the cover with the contents once their page
    numbers are known (:func:`print_contents`), then one page of page numbers per page
    (:func:`numbers_html`), and merge the three with pypdf (:func:`merge`).
    """
    from playwright.sync_api import sync_playwright

    book = book or html_dir.parents[1]
    entries = entries_to_print(book, html_dir, pages, chromium)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp, serve(html_dir) as base, sync_playwright() as p:
        tmp = Path(tmp)
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1100, "height": 1400})
        tab = ctx.new_page()
        files = print_pages(tab, base, entries, tmp, log)
        title = book_title(book)
        cover = tmp / "cover.pdf"
        n_cover = print_contents(tab, title, entries, cover)
        total = n_cover + sum(e.pages for e in entries)
        numbers = tmp / "numbers.pdf"
        tab.set_content(numbers_html(total))
        tab.pdf(path=str(numbers), format="A4", margin={"top": "0", "bottom": "0", "left": "0", "right": "0"},
                prefer_css_page_size=True)
        browser.close()
        merge(out, cover, files, numbers, entries, title, total)
    log(f"{out}: {total} pages ({len(entries)} pages of the book, {n_cover} of contents) in {time.time() - t0:.0f} s")
    return entries


def entries_to_print(book: Path, html_dir: Path, pages: list[str] | None, chromium: str) -> list[Entry]:
    """The TOC entries to print (only ``pages`` if given), after checking that each is built and
    that the browser is there: a missing page or browser fails before anything is printed."""
    entries = toc_entries(book)
    if pages is not None:
        entries = [e for e in entries if e.path in set(pages)]
    missing = [e.path for e in entries if not (html_dir / f"{e.path}.html").exists()]
    if missing:
        raise FileNotFoundError(f"pages not built (run `make book` first): {missing[:5]}")
    if not Path(chromium).exists():
        raise FileNotFoundError(f"{chromium} is missing: `apt-get install chromium` (make chromium)")
    return entries


def print_pages(tab, base: str, entries: list[Entry], tmp: Path, log=print) -> list[Path]:
    """Print each entry's page into ``tmp`` (one PDF each), setting its ``title`` and ``pages``.

    Raises if any page asked for a URL outside the served book: the PDF must need no network.
    """
    outside = []
    tab.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:") else outside.append(r.url))
    files = []
    for i, e in enumerate(entries):
        tab.goto(f"{base}/{e.path}.html", wait_until="load")
        tab.add_style_tag(content=PRINT_CSS)
        ready(tab)
        e.title = page_title(tab)
        # the theme prints the page's title without its number: give it the number the HTML shows
        tab.evaluate("t => { const h = document.querySelector('#jb-print-docs-body h1'); if (h) h.textContent = t; }",
                     e.title)
        path = tmp / f"{i:03d}.pdf"
        _pdf(tab, path)
        e.pages = len(PdfReader(path).pages)
        files.append(path)
        log(f"  {e.path}: {e.pages} pages")
    if outside:
        raise RuntimeError(f"printing requested URLs outside the book: {outside[:5]}")
    return files


def book_title(book: Path) -> str:
    """The ``title:`` of the book's ``_config.yml``."""
    meta = (book / "_config.yml").read_text(encoding="utf-8")
    return next((line.split(":", 1)[1].strip().strip('"') for line in meta.splitlines() if line.startswith("title:")),
                "The book")


def print_contents(tab, title: str, entries: list[Entry], cover: Path) -> int:
    """Print the cover with the contents into ``cover``; set each entry's ``first_page``; return
    the cover's length in pages.

    The contents' own length shifts every page number after it, so it is printed once to learn
    its length, then again with the page numbers that length gives, until the length settles.
    """
    subtitle = ("Printed from the HTML book (<code>make pdf</code>) on " + time.strftime("%Y-%m-%d", time.gmtime())
                + ". Interactive figures show their initial setting; the HTML book lets you move them.")
    n_cover = 0
    for _ in range(3):
        first = n_cover + 1
        for e in entries:
            e.first_page, first = first, first + e.pages
        tab.set_content(contents_html(title, subtitle, entries))
        _pdf(tab, cover)
        n = len(PdfReader(cover).pages)
        if n == n_cover:
            break
        n_cover = n
    return n_cover


def merge(out: Path, cover: Path, files: list[Path], numbers: Path, entries: list[Entry], title: str,
          total: int) -> None:
    """Merge the cover and the pages into ``out``, stamp page numbers on every page but the cover,
    add the outline (bookmarks: parts, chapters, their sections) and write atomically."""
    writer = PdfWriter()
    for f in [cover, *files]:
        writer.append(str(f))
    stamps = PdfReader(numbers)
    assert len(stamps.pages) == len(writer.pages) == total, (len(stamps.pages), len(writer.pages), total)
    for i in range(1, total):  # the cover stays unnumbered
        writer.pages[i].merge_page(stamps.pages[i])
    parents = {}
    for e in entries:
        parent = None
        if e.part:
            if e.part not in parents:
                parents[e.part] = writer.add_outline_item(title=e.part, page_number=e.first_page - 1)
            parent = parents[e.part]
        if e.level > 0 and parents.get(("chapter", e.part)) is not None:
            parent = parents[("chapter", e.part)]
        item = writer.add_outline_item(title=e.title, page_number=e.first_page - 1, parent=parent)
        if e.level == 0:
            parents[("chapter", e.part)] = item
    writer.add_metadata({"/Title": title, "/Creator": "rnnbook.book.pdf (Chromium print, pypdf merge)"})
    out.parent.mkdir(parents=True, exist_ok=True)
    part_file = out.with_suffix(".pdf.part")
    with open(part_file, "wb") as fh:
        writer.write(fh)
    part_file.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnbook.book.pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", default="_build/html", help="the built book (default: _build/html)")
    parser.add_argument("--out", default=None, help=f"the PDF to write (default: <html>/{PDF_NAME})")
    parser.add_argument("--pages", default=None, help="comma-separated TOC pages to print (default: all)")
    args = parser.parse_args(argv)
    html_dir = Path(args.html).resolve()
    if not (html_dir / "index.html").exists():
        print(f"error: no built book in {html_dir}: run `make book` first", file=sys.stderr)
        return 2
    try:
        build_pdf(html_dir, Path(args.out) if args.out else html_dir / PDF_NAME,
                  book=Path.cwd(), pages=args.pages.split(",") if args.pages else None)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
