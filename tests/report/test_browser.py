"""The report in a real browser (Playwright driving Debian's Chromium) and on paper:
every chart drawn without a script error or a network request, and PDF pages (WeasyPrint's
and Chromium's print) that are not blank.

Chromium and poppler-utils come from scripts/browser.sh: without them the tests skip,
except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portraits.report.render import render_html, render_pdf
from tests.report.test_render import sample_report

# Share of ink a page of the report has at least (the cover has the least).
MIN_INK = 0.005


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: scripts/browser.sh installs it")
    pytest.skip(f"{what} is missing: run scripts/browser.sh")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        _missing(name)
    return str(found)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium of the system, driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (uv sync installs the dev group)")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _missing("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


def _ink(png: Path) -> tuple[float, float]:
    """Share of non-white pixels and the pixel variance of a page image."""
    from PIL import Image, ImageStat

    image = Image.open(png).convert("L")
    histogram = image.histogram()
    dark = sum(histogram[:240]) / (image.width * image.height)
    return dark, ImageStat.Stat(image).var[0]


def _pages(pdf: Path, folder: Path) -> list[Path]:
    """The first three pages at 50 dpi, as PNG."""
    subprocess.run([_tool("pdftoppm"), "-r", "50", "-f", "1", "-l", "3", "-png", str(pdf),
                    str(folder / "page")], check=True)
    return sorted(folder.glob("page-*.png"))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_chart_is_drawn_offline_without_errors(browser: Any, tmp_path: Path,
                                                     lang: str) -> None:
    page_file = tmp_path / "insight.html"
    page_file.write_text(render_html(sample_report(lang)), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    fetched: list[str] = []

    def refuse(route: Any) -> None:
        if route.request.url != page_file.as_uri():
            fetched.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", refuse)
    page.goto(page_file.as_uri())
    page.wait_for_function("window.portraitsCharts !== undefined")
    drawn = page.evaluate("""() => Array.from(document.querySelectorAll('[data-chart]'))
        .map(el => ({id: el.id, instance: !!echarts.getInstanceByDom(el),
                     shapes: el.querySelectorAll('svg path, svg rect, svg text').length,
                     canvas: el.querySelectorAll('svg, canvas').length}))""")
    assert errors == []
    assert fetched == []
    assert len(drawn) == 6
    for chart in drawn:
        assert chart["instance"] and chart["canvas"] == 1 and chart["shapes"] > 5, chart
    targets = page.evaluate("""() => Array.from(document.querySelectorAll('.toc a'))
        .map(a => !!document.querySelector(a.getAttribute('href')))""")
    assert targets and all(targets)
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    widths = page.evaluate("""() => Array.from(document.querySelectorAll('[data-chart] svg'))
        .map(svg => Number(svg.getAttribute('width')))""")
    assert set(widths) == {688}  # drawn at the A4 chart width before printing
    page.close()


def test_browser_prints_the_html_on_a4(browser: Any, tmp_path: Path) -> None:
    page_file = tmp_path / "insight.html"
    page_file.write_text(render_html(sample_report("zh-CN")), encoding="utf-8")
    page = browser.new_page()
    page.goto(page_file.as_uri())
    page.wait_for_function("window.portraitsCharts !== undefined")
    printed = tmp_path / "printed.pdf"
    page.pdf(path=str(printed), format="A4", print_background=True)
    page.close()
    pages = _pages(printed, tmp_path)
    assert len(pages) == 3
    for png in pages:
        ink, variance = _ink(png)
        assert ink > MIN_INK and variance > 50, (png.name, ink, variance)


def test_pdf_pages_are_not_blank(tmp_path: Path) -> None:
    pdf = render_pdf(sample_report("zh-CN"), tmp_path / "insight.pdf")
    pages = _pages(pdf, tmp_path)
    assert len(pages) == 3
    inks = [_ink(png) for png in pages]
    for ink, variance in inks:
        assert ink > MIN_INK and variance > 50, inks
    assert max(ink for ink, _ in inks[1:]) > 0.05  # a page of charts
