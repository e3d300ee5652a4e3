"""The whole monthly report on the shop: every section present in both languages and
both formats, its key numbers equal to the underlying queries, nothing left in English
in the Chinese report."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from portraits.analytics.chart import Chart
from portraits.cli.main import app
from portraits.profile.spec import ProfileSpec
from portraits.report.build import SECTIONS, build_report
from portraits.report.model import Report
from portraits.report.render import render_html
from portraits.settings import get_settings
from tests.conftest import NOW
from tests.report.conftest import MONTH, Shop
from tests.report.test_browser import browser

__all__ = ["browser"]  # the Chromium fixture, shared with the sample-report browser tests

CJK = re.compile(r"[\u4e00-\u9fff]")
runner = CliRunner()


@pytest.fixture(scope="module")
def reports(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The October report in both languages, on a copy (actions write segments)."""
    root = tmp_path_factory.mktemp("report-e2e") / "shop"
    shutil.copytree(shop.root, root, symlinks=True)
    with Shop(root, shop.truth).open() as ws:
        return {lang: build_report(ws, MONTH, lang, NOW) for lang in ("en", "zh-CN")}


def test_every_section_in_reading_order(reports: dict[str, Report]) -> None:
    for report in reports.values():
        assert [s.key for s in report.sections] == [key for key, _ in SECTIONS]
        assert all(s.title and (s.summary or s.notes) for s in report.sections)
        assert report.section("actions").actions, "no suggested action on the shop"


def test_key_numbers_equal_the_underlying_queries(shop: Shop,
                                                  reports: dict[str, Report]) -> None:
    figures = reports["en"].figures
    with shop.open() as ws:
        orders = ws.engine.to_arrow(ws.table("orders")).to_pandas()
        wide = ws.engine.to_arrow(ws.predict.columns()).to_pandas()
    excluded = set(ProfileSpec().excluded_order_statuses)
    paid = orders[~orders.status.isin(excluded)]
    october = paid[(paid.ordered_at >= pd.Timestamp("2026-10-01"))
                   & (paid.ordered_at < pd.Timestamp("2026-11-01"))]
    assert figures["overview.orders"] == len(october)
    assert figures["overview.gmv"] == pytest.approx(october.total_amount.sum())
    assert figures["risk.churn_high"] == int((wide.churn_risk >= 0.6).sum())
    # Category sales are line amounts, before order-level discounts.
    items = ws_lines(shop)
    lines = items[items.order_id.isin(october.order_id)]
    assert figures["preferences.gmv"] == pytest.approx(lines.amount.sum())
    assert figures["preferences.gmv"] >= figures["overview.gmv"]
    # The same numbers in both languages (floating sums to the last bits).
    chinese = reports["zh-CN"].figures
    assert chinese.keys() == figures.keys()
    for key, value in figures.items():
        assert chinese[key] == (pytest.approx(value) if isinstance(value, float) else value), key


def ws_lines(shop: Shop) -> pd.DataFrame:
    """The order lines, as stored."""
    with shop.open() as ws:
        return ws.engine.to_arrow(ws.table("order_items")).to_pandas()


def test_the_html_shows_the_numbers_and_every_chart(reports: dict[str, Report]) -> None:
    for lang, report in reports.items():
        html = render_html(report)
        for section in report.sections:
            assert section.title in html
            for kpi in section.kpis:
                assert kpi.label in html
        charts = sum(len(s.charts) for s in report.sections)
        assert charts >= 15 and html.count('class="chart"') >= charts, lang
        assert f"{report.figures['overview.orders']:,}" in html


def _texts(report: Report) -> list[str]:
    """Every label a reader sees, not data values (category names, product names)."""
    found = [report.title]
    for section in report.sections:
        found += [section.title, section.summary, *section.notes]
        found += [k.label for k in section.kpis]
        for table in section.tables:
            found += [table.title, *table.columns]
        found += [a.title for a in section.actions] + [a.reasoning for a in section.actions]
        found += [label for a in section.actions for label, _ in a.figures]
        found += [_chart_title(c) for c in section.charts]
    return [t for t in found if t]


def _chart_title(chart: Chart) -> str:
    title = chart.option.get("title", {})
    return str(title.get("text", "")) if isinstance(title, dict) else ""


def test_the_chinese_report_has_no_untranslated_labels(reports: dict[str, Report]) -> None:
    english = [t for t in _texts(reports["zh-CN"])
               if not CJK.search(t) and not re.fullmatch(r"[\d\W%¥pp]*|[A-Z]{2,6}|RFM|GMV",
                                                         t)]
    assert english == []
    chinese_in_english = [t for t in _texts(reports["en"]) if CJK.search(t)
                          and not re.search(r"[A-Za-z]{3}", t)]
    assert chinese_in_english == []


def test_the_command_writes_html_and_pdf(shop: Shop, tmp_path: Path) -> None:
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["--lang", "zh-CN", "report", "-p", str(shop.root),
                                     "--month", "2026-10", "--out", str(tmp_path)],
                               env={"PORTRAITS_NOW": NOW.isoformat(), "COLUMNS": "200"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    html = tmp_path / "insight-2026-10-zh-CN.html"
    pdf = tmp_path / "insight-2026-10-zh-CN.pdf"
    assert html.stat().st_size > 500_000 and pdf.read_bytes()[:4] == b"%PDF"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        for title in ("概览", "用户画像概览", "价值分层与流转", "建议行动"):
            assert title in text


def test_the_real_report_draws_every_chart_in_chromium(reports: dict[str, Report],
                                                       browser: Any, tmp_path: Path) -> None:
    report = reports["zh-CN"]
    page_file = tmp_path / "insight.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    page.wait_for_function("window.portraitsCharts !== undefined")
    drawn = page.evaluate("""() => Array.from(document.querySelectorAll('[data-chart]'))
        .map(el => ({instance: !!echarts.getInstanceByDom(el),
                     shapes: el.querySelectorAll('svg path, svg rect, svg text').length}))""")
    page.close()
    assert errors == []
    assert len(drawn) == sum(len(s.charts) for s in report.sections)
    assert all(chart["instance"] and chart["shapes"] > 5 for chart in drawn), drawn
