"""The rendered book in a real browser (Debian's Chromium driven by Playwright).

Run after `make book` (``make test`` does both). For every page in the table of contents:
it loads, MathJax typesets every equation (no raw TeX left), every image loads, every internal
link resolves (file and anchor), and no request leaves 127.0.0.1. A screenshot of each page is
saved under ``_build/screenshots/`` for humans to look at.

Across the whole built site (every HTML file, not only the pages of the table of contents):
every internal ``href``/``src`` points at a file that exists and, with a ``#fragment``, at an
element of that file; every link is relative (the site is served under a sub-path on GitHub
Pages); every glossary term is defined and every ``{term}`` link lands on one; and every figure's
caption offers its PNG, SVG and PDF downloads.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.browser


def toc_pages() -> list[str]:
    """Every page of _toc.yml (root first), as paths relative to the book root without suffix."""
    text = (ROOT / "_toc.yml").read_text()
    root = re.search(r"^root:\s*(\S+)", text, re.M).group(1)
    files = re.findall(r"file:\s*(\S+)", text)
    return [str(Path(p).with_suffix("")) for p in [root, *files]]


PAGES = toc_pages()


def _require_build() -> None:
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` (or `make test`, which builds it) first")
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} is missing: `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server():
    _require_build()
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    _require_build()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


def _anchor_ids(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        cache[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))
    return cache[path]


def test_every_toc_page_was_built():
    _require_build()
    missing = [p for p in PAGES if not (HTML / f"{p}.html").exists()]
    assert not missing, f"pages in _toc.yml without HTML: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_offline(page, server, browser):
    url = f"{server}/{page}.html"
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = ctx.new_page()
    outside, failed, errors = [], [], []
    tab.on("request", lambda r: None if r.url.startswith(server) or r.url.startswith("data:") else outside.append(r.url))
    tab.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    tab.on("pageerror", lambda e: errors.append(str(e)))
    response = tab.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url} answered {response and response.status}"

    # MathJax is served locally and typesets every equation (pages without math do not load it).
    n_math = tab.locator(".math").count()
    if n_math:
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        tab.evaluate("() => MathJax.startup.promise")
    untypeset = tab.evaluate(
        "() => Array.from(document.querySelectorAll('div.math, span.math'))"
        ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))"
    )
    assert not untypeset, f"{page}: equations left as raw TeX: {untypeset[:3]}"
    raw = tab.evaluate("() => document.querySelector('article') ? document.querySelector('article').innerText : ''")
    assert not re.search(r"\\\[|\\begin\{|\$\$", raw), f"{page}: raw TeX delimiters in the rendered text"
    assert tab.locator("mjx-container").count() >= n_math

    # Every image loads.
    broken = tab.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"{page}: images that did not load: {broken}"

    # Every internal link resolves to a built file, and to an element when it names an anchor.
    hrefs = tab.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    cache: dict[Path, set[str]] = {}
    dead = []
    for href in hrefs:
        if not href.startswith(server):
            continue
        target, frag = urldefrag(href)
        rel = unquote(urlparse(target).path).lstrip("/") or "index.html"
        path = HTML / rel
        if path.is_dir():
            path = path / "index.html"
        if not path.exists():
            dead.append(href)
        elif frag and path.suffix == ".html" and unquote(frag) not in _anchor_ids(path, cache):
            dead.append(href)
    assert not dead, f"{page}: internal links that do not resolve: {sorted(set(dead))[:10]}"

    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{page.replace('/', '__')}.png"), full_page=True)
    ctx.close()

    assert not outside, f"{page}: requests left localhost: {outside[:5]}"
    assert not failed, f"{page}: failed requests: {failed[:5]}"
    assert not errors, f"{page}: JavaScript errors: {errors[:3]}"


def test_cross_references_render_as_numbers(server, browser):
    """{eq} and {numref} links show numbers like "(1.4)" and "Fig. 1.2", not raw labels."""
    tab = browser.new_page()
    texts = []
    for page in PAGES[1:]:
        tab.goto(f"{server}/{page}.html")
        texts += tab.evaluate("() => Array.from(document.querySelectorAll('a.reference.internal')).map(a => a.textContent)")
    assert any(re.fullmatch(r"\(\d+\.\d+\)", t.strip()) for t in texts), "no numbered equation reference found"
    assert any(re.fullmatch(r"Fig\. ?\d+\.\d+", t.strip()) for t in texts), "no numbered figure reference found"
    tab.close()


# ---------------------------------------------------------------------------------------------
# The whole built site, read from the files (no browser needed, but the same build)
# ---------------------------------------------------------------------------------------------

#: The glossary's terms (team rules; tests/book/test_paper_in_numbers.py checks the source).
GLOSSARY_TERMS = (
    "Jacobian matrix", "spectral radius", "largest singular value", "attractor", "basin of attraction",
    "bifurcation", "BPTT", "immediate partial derivative", "temporal contribution", "long-term component",
    "exploding gradient", "vanishing gradient", "rate of success", "norm clipping",
    "preserving the norm in the relevant direction", "censored run",
)


class _Links(html.parser.HTMLParser):
    """Every href/src of a page, and the classes of the <a> that carries each href."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (attribute, value, classes of the tag)

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        for attr in ("href", "src"):
            if d.get(attr) is not None and tag in ("a", "img", "script", "link", "source", "iframe"):
                self.links.append((attr, d[attr], d.get("class") or ""))


def _built_pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)


def _links_of(page: Path) -> list[tuple[str, str, str]]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


def _resolve(page: Path, value: str) -> tuple[Path, str] | None:
    """The file and fragment an internal link points at; None for external links."""
    parsed = urlparse(value)
    if parsed.scheme or value.startswith("//"):
        return None  # http(s):, mailto:, data:, javascript: -- not part of the site
    base = "file://" + page.as_posix()
    target, frag = urldefrag(urljoin(base, value))
    return Path(unquote(urlparse(target).path)), unquote(frag)


def test_every_link_of_every_built_page_is_relative_and_resolves():
    _require_build()
    pages = _built_pages()
    assert len(pages) >= len(PAGES)
    cache: dict[Path, set[str]] = {}
    dead, absolute = [], []
    for page in pages:
        for attr, value, _ in _links_of(page):
            if value.startswith("/") and not value.startswith("//"):
                absolute.append(f"{page.relative_to(HTML)}: {attr}={value}")
                continue
            resolved = _resolve(page, value)
            if resolved is None:
                continue
            path, frag = resolved
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                dead.append(f"{page.relative_to(HTML)}: {value}")
            elif frag and path.suffix == ".html" and frag not in _anchor_ids(path, cache):
                dead.append(f"{page.relative_to(HTML)}: {value} (no such anchor)")
    assert not absolute, f"links that are not relative (they break under a sub-path): {absolute[:10]}"
    assert not dead, f"{len(dead)} dead internal links, e.g. {dead[:10]}"


def test_glossary_defines_every_term_and_every_term_link_lands_on_one():
    _require_build()
    glossary = HTML / "back" / "glossary.html"
    assert glossary.exists(), "the glossary page was not built"
    text = glossary.read_text(encoding="utf-8")
    defined = set(re.findall(r'<dt id="(term-[^"]+)"', text))
    for term in GLOSSARY_TERMS:
        anchor = "term-" + re.sub(r"\s+", "-", term)
        assert anchor in defined, f"the glossary does not define {term!r} (anchor {anchor})"
    links = 0
    for page in _built_pages():
        for attr, value, classes in _links_of(page):
            resolved = _resolve(page, value) if attr == "href" else None
            if resolved is None or resolved[0] != glossary or "reference" not in classes.split() or not resolved[1]:
                continue  # not a link into the glossary (a term's own permalink is a 'headerlink')
            if resolved[1].startswith("term-"):
                links += 1
                assert resolved[1] in defined, f"{page.relative_to(HTML)}: {value} names no glossary term"
            else:
                assert resolved[1] in _anchor_ids(glossary, {}), f"{page.relative_to(HTML)}: {value}: no such anchor"
    assert links >= len(GLOSSARY_TERMS), "the chapters and front matter barely link to the glossary"


def test_every_figure_offers_png_svg_and_pdf_downloads():
    _require_build()
    missing = []
    for page in _built_pages():
        text = page.read_text(encoding="utf-8")
        for name in sorted(set(re.findall(r'<figure[^>]*\bid="(fig-[a-z0-9-]+)"', text))):
            for ext in ("png", "svg", "pdf"):
                if not re.search(rf'href="[^"]*_downloads/[^"]*/{re.escape(name)}\.{ext}"', text):
                    missing.append(f"{page.relative_to(HTML)}: {name}.{ext}")
    assert not missing, f"figures without a download link: {missing[:10]}"


# ---------------------------------------------------------------------------------------------
# The interactive figures (rnnbook.book.interactive): move every control, compare with rnnbook
# ---------------------------------------------------------------------------------------------

WIDGET_PAGES = {
    "bifurcation": "chapters/02_exploding_vanishing/02_dynamical_systems",
    "clipping": "chapters/02_exploding_vanishing/03_geometry",
    "caps": "chapters/04_experiments/01_temporal_order",
}


@pytest.fixture
def widget(server, browser):
    """Open the page of a widget kind at the book's width; yield (tab, root, outside requests, JS errors)."""
    ctxs = []

    def open_(kind: str, url: str | None = None):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctxs.append(ctx)
        tab = ctx.new_page()
        outside, errors = [], []
        allowed = (server, "data:") if url is None else ("file://", "data:")
        tab.on("request", lambda r: None if r.url.startswith(allowed) else outside.append(r.url))
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(url or f"{server}/{WIDGET_PAGES[kind]}.html", wait_until="load")
        root = tab.locator(f".rnnbook-widget[data-kind={kind}]")
        assert root.count() == 1, f"{WIDGET_PAGES[kind]}: expected one {kind} widget, found {root.count()}"
        tab.wait_for_function(f"() => document.querySelector('.rnnbook-widget[data-kind={kind}]').dataset.mounted")
        root.scroll_into_view_if_needed()
        return tab, root, outside, errors

    yield open_
    for ctx in ctxs:
        ctx.close()


def _state(root) -> dict:
    import json

    return json.loads(root.get_attribute("data-state"))


def _data(root) -> dict:
    import json

    return json.loads(root.locator("script.rnnbook-widget-data").text_content())


def _move(root, label: str, index: int) -> None:
    """Set a range control to ``index`` the way a reader's drag does (input event)."""
    root.get_by_label(label, exact=True).fill(str(index))


def _numbers(attr: str) -> list[float]:
    """A data-x / data-w list of the page (``null`` where the value is not finite)."""
    return [float("nan") if v == "null" else float(v) for v in attr.split(",")]


def _finish(root, tab, outside, errors, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    root.screenshot(path=str(SHOTS / f"widget-{name}.png"))
    assert not outside, f"the {name} widget's page requested URLs outside the site: {outside[:5]}"
    assert not errors, f"JavaScript errors on the {name} widget's page: {errors[:3]}"


def test_bifurcation_widget_follows_the_slider(widget):
    import numpy as np

    from rnnbook.paper import dynamics as D

    tab, root, outside, errors = widget("bifurcation")
    data = _data(root)
    w, b_grid, starts = data["w"], data["b"], data["starts"]
    bif = D.bifurcation_points(w)
    seen = []
    for b_target, x0_target in ((-2.5, 0.5), (-2.0, -3.0), (-3.0, 3.0), (-2.4, -0.75), (-2.6, 1.0)):
        _move(root, "bias b", b_grid.index(b_target))
        _move(root, "start x0", starts.index(x0_target))
        s = _state(root)
        assert (s["b"], s["x0"]) == (b_target, x0_target)
        fp = D.fixed_points(w, b_target)
        fp = fp[np.isfinite(fp)]
        assert np.allclose(s["fixed"], fp, atol=1e-9), (b_target, s["fixed"], fp)
        assert s["kinds"] == ["attractor" if abs(D.multiplier(x, w)) < 1 else "repelling" for x in fp]
        assert s["bistable"] == bool(bif.b_2 < b_target < bif.b_1)
        # the figure draws as many fixed points as there are, in both panels
        assert root.locator("circle.rw-attractor, circle.rw-repeller").count() == 2 * len(fp)
        # the cobweb drawn is dynamics.cobweb for this (b, x0)
        web = root.locator("polyline.rw-cobweb")
        cx, cy = D.cobweb(x0_target, w, b_target, data["cobweb_steps"])
        assert np.allclose(_numbers(web.get_attribute("data-x")), cx, atol=1e-4)
        assert np.allclose(_numbers(web.get_attribute("data-y")), cy, atol=1e-4)
        # the basin of the start: the side of the basin boundary, or the single attractor
        end = D.asymptotic_states(w, np.array([b_target]), [x0_target], T=2000)[0, 0]
        att = D.attractors(w, b_target)
        expected = "low" if abs(end - att[0]) < 1e-3 else "high" if abs(end - att[1]) < 1e-3 else "none"
        assert s["basin"] == expected, (b_target, x0_target)
        boundary = D.basin_boundary(w, b_target)
        codes = np.array([int(c) for c in s["basins"]])
        x0s = np.array(data["basin_x0"])
        if np.isfinite(boundary):
            assert set(codes[x0s < boundary - 1e-9]) == {0} and set(codes[x0s > boundary + 1e-9]) == {1}
        else:
            assert len(set(codes)) == 1
        assert root.locator("rect.rw-basin-cell").count() == len(x0s)
        seen.append(root.locator(".rw-readout").inner_text())
    assert len(set(seen)) == len(seen), "the readout did not change with the setting"
    assert "one attractor" in seen[1] and "two attractors" in seen[0]
    # the keyboard moves the slider too, one grid step at a time
    root.get_by_label("bias b", exact=True).focus()
    tab.keyboard.press("ArrowLeft")
    assert _state(root)["b"] == b_grid[b_grid.index(-2.6) - 1]
    _move(root, "bias b", b_grid.index(-2.5))
    _move(root, "start x0", starts.index(0.5))
    _finish(root, tab, outside, errors, "bifurcation")


def test_clipping_widget_follows_the_sliders(widget):
    import numpy as np

    from rnnbook.paper import dynamics as D

    tab, root, outside, errors = widget("clipping")
    data = _data(root)
    starts = np.array(data["starts"])
    cases = [(0.3, 1.0, 1), (0.3, 1000.0, 1), (1.0, 0.1, 0), (0.1, 10.0, 4)]
    for lr, thr, k in cases:
        _move(root, "learning rate", data["lrs"].index(lr))
        _move(root, "clipping threshold", data["thresholds"].index(thr))
        root.get_by_label("start", exact=True).select_option(str(k))
        s = _state(root)
        assert (s["lr"], s["threshold"]) == (lr, thr) and np.allclose(s["start"], starts[k])
        plain = D.gradient_descent(starts[k], lr, data["steps"])
        clipped = D.gradient_descent(starts[k], lr, data["steps"], thr)
        for name, path in (("plain", plain), ("clipped", clipped)):
            line = root.locator(f"polyline.rw-{name}").first
            assert np.allclose(_numbers(line.get_attribute("data-w")), path.theta[:, 0, 0], rtol=1e-5, atol=1e-4)
            assert np.allclose(_numbers(line.get_attribute("data-b")), path.theta[:, 0, 1], rtol=1e-5, atol=1e-4)
            o = D.valley_outcomes(path)
            assert s[name]["clip_count"] == int(o["clip_count"][0])
            assert s[name]["left"] == bool(o["left"][0]) and s[name]["ended_inside"] == bool(o["ended_inside"][0])
            assert np.isclose(s[name]["final_E"], o["final_E"][0])
            assert np.isclose(s[name]["longest_step"], o["longest_step"][0])
            row = root.locator(f"tr[data-method={name}]")
            assert row.locator("td").nth(1).inner_text() == str(int(o["clip_count"][0]))
        if thr == 1000.0:  # a threshold the gradient never reaches: clipping never fires
            assert s["clipped"]["clip_count"] == 0 and s["clipped_end"] == s["plain_end"]
        else:
            assert s["clipped"]["longest_step"] <= lr * thr * (1 + 1e-9)
    _move(root, "learning rate", data["lrs"].index(0.3))
    _move(root, "clipping threshold", data["thresholds"].index(1.0))
    root.get_by_label("start", exact=True).select_option("1")
    _finish(root, tab, outside, errors, "clipping")


def test_cap_widget_recomputes_fig7_at_every_cap(widget):
    from rnnbook.book import interactive
    from rnnbook.synthetic import results
    from rnnbook.verdicts.outcomes import grid_points

    tab, root, outside, errors = widget("caps")
    data = _data(root)
    file = results.load_results(ROOT / "results" / "temporal_order" / "paper.json")
    if interactive.runs_digest(file["runs"]) != data["source"]["digest"]:
        pytest.skip("results/temporal_order/paper.json changed since the book was built (a sweep is writing it)")
    caps = data["caps"]
    solved = {}
    for cap in (data["initial"]["cap"], caps[0], caps[len(caps) // 2], caps[-1]):
        _move(root, "update cap", caps.index(cap))
        s = _state(root)
        assert s["cap"] == cap
        ref = {f"{p.init}|{p.method}|{p.min_length}": p for p in grid_points(file, cap=cap)}
        assert set(s["points"]) == set(ref)
        for key, p in ref.items():
            assert s["points"][key] == {"runs": p.runs, "successes": p.successes, "censored": p.censored,
                                        "diverged": p.diverged}, (cap, key)
        # censored points are drawn hollow, the others filled; the table says the same
        hollow = root.locator("circle.rw-point:not([data-censored='0'])").count()
        assert hollow == sum(1 for p in ref.values() if p.censored)
        assert root.locator("td.rw-open").count() == hollow
        assert f"{cap:,}" in root.locator(".rw-control-value").inner_text()
        solved[cap] = sum(p.successes for p in ref.values())
    assert solved[caps[0]] < solved[caps[-1]], "the verdicts do not change with the budget"
    _move(root, "update cap", caps.index(data["initial"]["cap"]))
    _finish(root, tab, outside, errors, "caps")


def test_widgets_work_from_file_urls(widget):
    """Opened from disk (file://), every widget still draws, with no request leaving the folder."""
    for kind, page in WIDGET_PAGES.items():
        tab, root, outside, errors = widget(kind, url=(HTML / f"{page}.html").as_uri())
        assert _state(root), kind
        assert not outside, f"{page} from file:// requested {outside[:5]}"
        assert not errors, f"{page} from file://: JavaScript errors {errors[:3]}"


# ---------------------------------------------------------------------------------------------
# The book as one PDF (`make pdf`, which `make test` runs before this file)
# ---------------------------------------------------------------------------------------------


def test_book_pdf_has_contents_outline_and_figures():
    from pypdf import PdfReader

    from rnnbook.book.pdf import PDF_NAME, toc_entries

    _require_build()
    pdf = HTML / PDF_NAME
    if not pdf.exists():
        pytest.fail(f"{pdf} is missing: run `make pdf` (make test builds it before the browser tests)")
    intro = (HTML / "index.html").read_text(encoding="utf-8") + (HTML / "intro.html").read_text(encoding="utf-8")
    assert f'href="{PDF_NAME}"' in intro, "the front page does not link the PDF"
    reader = PdfReader(pdf)
    entries = toc_entries(ROOT)
    assert len(reader.pages) > 2 * len(entries), f"{len(reader.pages)} pages for {len(entries)} pages of the book"
    # the outline mirrors the table of contents: one bookmark per page, under its part
    def flat(items):
        for it in items:
            if isinstance(it, list):
                yield from flat(it)
            else:
                yield it
    marks = list(flat(reader.outline))
    parts = {e.part for e in entries if e.part}
    assert len(marks) == len(entries) + len(parts)
    first_pages = [reader.get_destination_page_number(m) for m in marks]
    assert first_pages == sorted(first_pages) and first_pages[0] >= 1
    # the contents page lists every chapter with the page its bookmark points at
    contents = reader.pages[0].extract_text()
    assert "Contents" in contents
    chapter = next(m for m in marks if m.title.startswith("1. ") or m.title.startswith("1 "))
    assert chapter.title.split(" ", 1)[1][:30] in " ".join(contents.split())
    # every page's number is stamped at its foot (the cover is page 1, unnumbered)
    for i in (1, len(reader.pages) // 2, len(reader.pages) - 1):
        assert str(i + 1) in reader.pages[i].extract_text().split()[-3:], f"page {i + 1} carries no page number"
    # numbered figures and typeset equations: Chapter 1's first figure, with its image, and no raw TeX
    start = reader.get_destination_page_number(chapter)
    text = {i: reader.pages[i].extract_text() for i in range(start, min(start + 12, len(reader.pages)))}
    fig_page = next((i for i, t in text.items() if re.search(r"Fig\.\s*1\.1\b", t)), None)
    assert fig_page is not None, "the first figure (Fig. 1.1) is not in Chapter 1's pages"
    assert any(len(reader.pages[i].images) for i in (fig_page - 1, fig_page, fig_page + 1) if 0 <= i < len(reader.pages))
    all_text = "".join(p.extract_text() for p in reader.pages)
    assert not re.search(r"\\begin\{|\$\$|\\frac\{", all_text), "raw TeX in the PDF: MathJax had not finished"
    assert re.search(r"\(\d+\.\d+\)", all_text), "no numbered equation in the PDF"
