"""The rendered book in a real browser (Debian's Chromium driven by Playwright).

Run after `make book` (``make test`` does both). For every page in the table of contents:
it loads, MathJax typesets every equation (no raw TeX left), every image loads, every internal
link resolves (file and anchor), and no request leaves 127.0.0.1. A screenshot of each page is
saved under ``_build/screenshots/`` for humans to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

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
