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

ROOT = Path(__file__).resolve().parents[1]
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

#: The glossary's terms (team rules; tests/test_paper_in_numbers.py checks the source).
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
