"""The course's site (``make site``) opened page by page in headless chromium, as a reader would.

``make test-ui`` builds the site first (every notebook executed offline on the smoke profile) and
points ``COURSE_SITE_DIR`` at its ``html/`` folder. Every page is opened from disk with all
network requests refused (the pages must stand alone; MathJax and require.js from a CDN may be
refused, nothing of ours may be), and checked: it loads with a title, carries the profile banner
and the course navigation, shows no error output, every progress bar is in its final state, every
figure is an image that decoded, and every internal link resolves to a page (and anchor) of the
site. The index lists the notebooks in course order. Screenshots of the index and of a page with a
figure go to ``$COURSE_OUTPUT_DIR`` (``outputs/ui/``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("COURSE_OUTPUT_DIR") or REPO / "outputs" / "ui").resolve()
SITE = Path(os.environ.get("COURSE_SITE_DIR") or REPO / "outputs" / "ui" / "site" / "html").resolve()

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_UI_TEST") != "1",
                                reason="the browser test runs with `make test-ui`")


@pytest.fixture(scope="module", autouse=True)
def site_built():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no site at {SITE}: make test-ui builds it with `make site` first")


def _pages() -> list[str]:
    return ["index.html", *json.loads((SITE / "site.json").read_text())["pages"]]


def _open(browser, name: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    refused_local = []

    def route(r):
        if r.request.url.startswith("file://"):
            return r.continue_()
        return r.abort()  # a CDN script (MathJax, require.js): the page must not depend on it

    page.route("**/*", route)
    page.on("requestfailed", lambda req: req.url.startswith("file://") and refused_local.append(req.url))
    page.goto((SITE / name).as_uri(), wait_until="load", timeout=60_000)
    return page, refused_local


def _has_anchor(page, fragment: str) -> bool:
    """As a browser resolves ``#fragment``: an id equal to it as written or percent-decoded
    (nbconvert writes heading ids percent-encoded)."""
    return page.evaluate("([a, b]) => !!(document.getElementById(a) || document.getElementById(b))",
                         [fragment, unquote(fragment)])


def test_every_page_loads_with_banner_figures_final_progress_and_links(browser):
    names = _pages()
    profile = json.loads((SITE / "site.json").read_text())["profile"]
    figures_seen = {}
    for name in names:
        page, refused = _open(browser, name)
        try:
            assert page.title(), f"{name}: no title"
            banner = page.locator("#course-banner")
            assert banner.count() == 1 and f"{profile} profile" in banner.inner_text(), name
            assert not refused, f"{name}: files of the site missing: {refused}"
            if name != "index.html":
                assert page.locator(".course-nav a[href='index.html']").count() == 1, name
                errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                      ":text('Traceback')")
                assert errors.count() == 0, f"{name}: an error output"
                assert "Traceback (most recent call last)" not in page.inner_text("body"), f"{name}: a traceback"
            # progress bars in their final state (not the 0 % a static viewer shows for saved widgets)
            bars = page.eval_on_selector_all(
                "progress", "els => els.map(e => [e.getAttribute('value'), e.getAttribute('max')])")
            for value, top in bars:
                assert value is not None and float(value) == float(top), f"{name}: a bar at {value}/{top}"
            # figures: every image decoded (a broken data URI has naturalWidth 0)
            images = page.eval_on_selector_all(
                ".jp-OutputArea-output img", "els => els.map(e => [e.complete, e.naturalWidth])")
            assert all(done and width > 0 for done, width in images), f"{name}: a broken figure {images}"
            figures_seen[name] = len(images)
            # internal links: every relative link is a page of the site, and its anchor exists there
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                url = urlparse(href)
                if url.scheme != "file":
                    continue
                target = Path(unquote(url.path))
                assert target.is_file() and SITE in target.parents, f"{name}: link to {href} resolves to nothing"
                if url.fragment and target.name != name:
                    other, _ = _open(browser, target.name)
                    try:
                        assert _has_anchor(other, url.fragment), f"{name}: link {href}: no such anchor"
                    finally:
                        other.close()
                elif url.fragment:
                    assert _has_anchor(page, url.fragment), f"{name}: link {href}: no such anchor"
        finally:
            page.close()
    print(f"  figures per page: {figures_seen}")
    with_figures = [n for n, count in figures_seen.items() if count]
    assert with_figures, "no page shows a figure"
    assert any(n.startswith("06_") for n in with_figures), "notebook 06's loss figure is missing"


def test_index_lists_the_notebooks_in_course_order_and_screenshots(browser):
    pages = _pages()[1:]
    page, _ = _open(browser, "index.html")
    try:
        toc = page.eval_on_selector_all("#toc a", "els => els.map(e => e.getAttribute('href'))")
        assert toc == pages and pages == sorted(pages), toc
        assert page.locator("h1", has_text="Fine-tune an LLM with PyTorch").count() == 1  # the README
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT / "site_index.png"))
    finally:
        page.close()
    name = next(p for p in pages if p.startswith("06_"))
    page, _ = _open(browser, name)
    try:
        figure = page.locator(".jp-OutputArea-output img").last
        figure.scroll_into_view_if_needed()
        page.evaluate("() => window.scrollBy(0, -250)")  # the code above the figure in view too
        page.screenshot(path=str(OUT / "site_06_figure.png"))
        bars = page.locator(".course-progress")
        if bars.count():
            bars.first.scroll_into_view_if_needed()
            page.screenshot(path=str(OUT / "site_06_progress.png"))
    finally:
        page.close()
