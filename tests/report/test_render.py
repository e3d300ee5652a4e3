"""Rendering a hand-made report: the self-contained HTML (ECharts inlined, no external
URL, every number formatted) and the A4 PDF (static charts, Chinese text); writing it
into a workspace; the command's parsing of user input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from portraits.analytics.chart import Chart
from portraits.cli.report import last_full_month, parse_format, parse_month, report_command
from portraits.errors import PortraitsError
from portraits.report import render
from portraits.report.charts import bar_chart, line_chart, pie_chart, sankey_chart
from portraits.report.model import Action, Kpi, Report, Section, Table
from portraits.report.render import (
    embed_json,
    format_cell,
    format_value,
    has_data,
    kpi_change,
    render_html,
    render_pdf,
    write_report,
)
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW

# URLs the inlined Apache ECharts must keep: its licence and notice (in comments) and
# the XML namespace names its SVG renderer passes to createElementNS (never fetched).
ALLOWED_URLS = {"http://www.apache.org/licenses/LICENSE-2.0", "https://www.apache.org/",
                "https://github.com/ecomfe/zrender/blob/master/LICENSE.txt",
                "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink",
                "http://www.w3.org/2000/xmlns/", "http://www.w3.org/XML/1998/namespace"}
Words = Callable[[str, str], str]


def sample_report(lang: str = "zh-CN") -> Report:
    """Every kind of content: KPIs (None, negative, shares), each chart kind, tables
    with percent columns, actions and notes; three sections."""
    def t(en: str, zh: str) -> str:
        return zh if lang == "zh-CN" else en

    months = ["2026-08", "2026-09", "2026-10"]
    overview = Section(
        "overview", t("Overview", "概览"),
        t("Sales rose 12.5% to ¥1,234,567.", "销售额环比增长 12.5%，达 ¥1,234,567。"),
        kpis=(Kpi("gmv", t("Sales", "销售额"), 1234567.0, 1097393.0, "currency"),
              Kpi("customers", t("Buyers", "购买人数"), 4321, 4500, "count"),
              Kpi("repeat", t("Repeat rate", "复购率"), 0.1234, 0.1, "percent"),
              Kpi("aov", t("Average order", "客单价"), 256.5, None, "currency"),
              Kpi("clv", t("Predicted CLV", "预测终身价值"), None, 100.0, "currency"),
              Kpi("gap", t("Days between orders", "平均回购间隔"), 31.25, 31.25, "days")),
        charts=(line_chart(t("Sales by month", "月度销售额"), t("Up 12.5%.", "环比增长。"),
                           months, {t("Sales", "销售额"): [1.0e6, 1.1e6, 1.23e6],
                                    t("Target", "目标"): [1.0e6, 1.2e6, float("nan")]},
                           t("Month", "月份"), "¥", unit="¥"),
                bar_chart(t("Buyers by channel", "各渠道购买人数"), t("App leads.", "App 领先。"),
                          ["App", t("Web", "网页"), t("Mini program", "小程序")],
                          {t("Buyers", "人数"): [2100, 1200, 1021]}, t("Channel", "渠道"),
                          t("People", "人数"), horizontal=True)),
        tables=(Table(t("Top cities", "主要城市"),
                      (t("City", "城市"), t("Buyers", "人数"), t("Share", "占比"),
                       t("Sales", "销售额")),
                      (("上海", 1200, 0.2777, 345678.9), ("北京", 980, 0.2268, None),
                       (t("Other", "其他"), 2141, 0.4955, 12.5)), percent=(2,)),),
        notes=(t("Orders of test accounts are excluded.", "已排除测试账号的订单。"),))
    behaviour = Section(
        "behaviour", t("Behaviour", "行为分析"), t("Most people drop at checkout.",
                                                    "多数人在结算环节流失。"),
        charts=(pie_chart(t("Orders by device", "各设备订单"), t("Phones dominate.", "手机为主。"),
                          [("iOS", 40.0), ("Android", 35.0), ("PC", 25.0)]),
                _funnel(t), _heatmap(t),
                sankey_chart(t("Value tiers, Sep → Oct", "价值层级流转"),
                             t("Most stay.", "多数留存。"),
                             [("A (Sep)", "A (Oct)", 300), ("A (Sep)", "B (Oct)", 50),
                              ("B (Sep)", "B (Oct)", 400), ("B (Sep)", "A (Oct)", 30)])))
    actions = Section(
        "actions", t("Suggested actions", "行动建议"), t("Two actions.", "两项建议。"),
        actions=(Action("winback", t("Send a come-back coupon to lapsing buyers",
                                     "向即将流失的客户发放回归优惠券"), 1234,
                        t("Their churn risk is 0.72 on average.", "平均流失风险 0.72。"),
                        ((t("Churn risk", "流失风险"), "0.72"), (t("Sales", "销售额"), "¥98,765")),
                        "winback_2026_10", "sms"),
                 Action("vip", t("Invite champions to the loyalty club", "邀请高价值客户加入会员"),
                        87, t("They bring 31% of sales.", "贡献 31% 的销售额。"), (),
                        "champions_2026_10")))
    return Report(date(2026, 10, 1), lang, t("User insight report · October 2026",
                                             "用户洞察报告 · 2026年10月"),
                  "retail-demo", datetime(2026, 11, 1, 8, 30),
                  (overview, behaviour, actions), {"overview.gmv": 1234567.0})


def _funnel(t: Words) -> Chart:
    data = [{"name": t("Viewed", "浏览"), "value": 1000},
            {"name": t("Added", "加购"), "value": 400},
            {"name": t("Paid", "支付"), "value": 120}]
    return Chart({"title": {"text": t("Funnel", "转化漏斗"), "subtext": "12%"},
                  "tooltip": {"trigger": "item"},
                  "series": [{"type": "funnel", "sort": "none", "data": data,
                              "label": {"show": True, "formatter": "{b}: {c}"}}]})


def _heatmap(t: Words) -> Chart:
    """A retention heatmap whose subtext tries to close the script element."""
    data = [[j, i, None if i + j > 2 else round(100 / (1 + j), 1)]
            for i in range(3) for j in range(3)]
    return Chart({"title": {"text": t("Retention", "留存"), "subtext": "</script> & <b>"},
                  "tooltip": {"position": "top"},
                  "xAxis": {"type": "category", "data": ["0", "1", "2"], "name": "month"},
                  "yAxis": {"type": "category", "data": ["Aug", "Sep", "Oct"],
                            "inverse": True, "name": "cohort"},
                  "visualMap": {"min": 0, "max": 100, "show": False},
                  "series": [{"type": "heatmap", "unit": "%", "data": data,
                              "label": {"show": True}}]})


def needs(tool: str) -> str:
    """The path of a command-line tool scripts/browser.sh installs: skipped where it is
    missing, except in CI, where a missing tool is a failure."""
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: scripts/browser.sh installs it")
        pytest.skip(f"{tool} is missing: run scripts/browser.sh")
    return found


def test_values_are_formatted_as_people_read_them() -> None:
    assert format_value(1234567, "currency") == "¥1,234,567"
    assert format_value(256.5, "currency") == "¥256.50"
    assert format_value(-4200.4, "currency") == "-¥4,200"
    assert format_value(0.1234, "percent") == "12.3%"
    assert format_value(4321, "count") == "4,321"
    assert format_value(None, "count") == format_value(float("nan"), "percent") == "–"
    assert format_value(31.25, "days", "zh-CN") == "31.2 天"
    assert format_cell(0.4955, percent=True) == "49.5%"
    assert format_cell(None) == "–"
    assert format_cell(1234.5) == "1,234"
    assert format_cell(12.5) == "12.50"
    assert format_cell("上海") == "上海"


def test_month_over_month_change_has_direction_and_base() -> None:
    assert kpi_change(Kpi("a", "A", 110, 100)).text == "▲ 10.0%"
    down = kpi_change(Kpi("a", "A", 4321, 4500))
    assert (down.text, down.direction) == ("▼ 4.0%", "down")
    assert kpi_change(Kpi("a", "A", None, 100)).direction == "none"
    assert kpi_change(Kpi("a", "A", 5, 0)).direction == "none"  # no base to compare
    share = kpi_change(Kpi("r", "R", 0.1234, 0.1, "percent"), "zh-CN")
    assert share.text == "▲ 2.3 个百分点"
    assert kpi_change(Kpi("d", "D", 3.0, 3.0)).direction == "flat"


def test_chart_json_cannot_close_the_script_element() -> None:
    text = embed_json({"title": "</script><script>alert(1)</script>", "v": float("nan")})
    assert "</" not in text and "<script" not in text
    assert json.loads(text) == {"title": "</script><script>alert(1)</script>", "v": None}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_html_is_one_self_contained_file(lang: str) -> None:
    report = sample_report(lang)
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{lang}">' in html
    assert '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei"' in html
    # Nothing is fetched: no linked file, and the only URLs are licence texts and the
    # XML namespace names of the SVG renderer.
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", html, flags=re.S)
    assert not re.search(r"<link|\bsrc=|\bhref=\"(?!#)|url\(|@import", markup)
    assert set(re.findall(r"https?://[^\s\"')]+", html)) <= ALLOWED_URLS
    assert html.count("<script") == html.count("</script>") == 3
    assert "echarts.init(el, null, {renderer: \"svg\"})" in html
    for section in report.sections:
        assert section.title in html
        assert f'id="section-{section.key}"' in html


def test_html_shows_every_kind_of_content() -> None:
    report = sample_report("zh-CN")
    html = render_html(report)
    for text in ("目录", "环比", "¥1,234,567", "4,321", "12.3%", "▼ 4.0%",
                 "▲ 2.3 个百分点", "上月 ¥1,097,393", "31.2 天", "27.8%", "345,679",
                 "已排除测试账号的订单。", "目标人群", "1,234", "导出命令",
                 "portraits segment export winback_2026_10 out.xlsx", "¥98,765",
                 "2026年10月", "2026-11-01 08:30", "retail-demo"):
        assert text in html, text
    overview = html[html.index('data-key="clv"'):]
    assert overview.index('class="kpi-value">–<') < overview.index('data-key="gap"')
    found = re.search(r'<script type="application/json" id="portraits-charts">(.*?)</script>',
                      html, re.S)
    assert found is not None
    options = json.loads(found.group(1))
    charts = [c for s in report.sections for c in s.charts]
    assert [o["series"][0]["type"] for o in options] == [c.kind for c in charts] == [
        "line", "bar", "pie", "funnel", "heatmap", "sankey"]
    assert options[4]["title"]["subtext"] == "</script> & <b>"
    assert options[0]["series"][1]["data"][2] is None  # NaN became null
    assert len(re.findall(r'<div class="chart" id="chart-\d+" data-chart="\d+"', html)) == 6


def test_pdf_has_static_charts_and_chinese_text(tmp_path: Path) -> None:
    report = sample_report("zh-CN")
    pdf = render_pdf(report, tmp_path / "sub" / "insight.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run([needs("pdfinfo"), str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 5  # type: ignore[union-attr]
    text = subprocess.run([needs("pdftotext"), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    for expected in ("用户洞察报告", "目录", "概览", "行为分析", "行动建议", "¥1,234,567",
                     "环比", "portraits segment export champions_2026_10 out.xlsx"):
        assert expected in text, expected
    images = subprocess.run([needs("pdfimages"), "-list", str(pdf)], capture_output=True,
                            text=True, check=True).stdout
    assert len(images.strip().splitlines()) - 2 >= 6  # one drawing per chart


def test_charts_drawn_beside_the_build_are_the_same_drawings() -> None:
    from portraits.report.render_pdf import ChartDrawer, chart_image

    report = sample_report("en")
    with ChartDrawer() as drawer:
        for section in report.sections:
            drawer.add(section)
        drawn = drawer.images()
    one_by_one = [chart_image(c) for section in report.sections for c in section.charts]
    assert len(drawn) == 6 and drawn == one_by_one


def test_write_report_names_files_by_month_and_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[date, str]] = []

    def build(ws: object, month: date, lang: str, generated_at: datetime,
              on_section: Callable[[Section], None] | None = None) -> Report:
        made.append((month, lang))
        report = sample_report(lang)
        for section in report.sections:
            if on_section is not None:
                on_section(section)
        return report

    monkeypatch.setattr("portraits.report.build.build_report", build)
    monkeypatch.setattr(render, "has_data", lambda ws, month: True)
    ws = SimpleNamespace(root=tmp_path, settings=Settings(now=NOW))
    written = write_report(ws, date(2026, 10, 17), "en", ("html",))  # type: ignore[arg-type]
    assert written == [tmp_path / "reports" / "insight-2026-10-en.html"]
    assert made == [(date(2026, 10, 1), "en")]
    both = write_report(ws, date(2026, 10, 1), "zh-CN", out_dir=tmp_path / "out")  # type: ignore[arg-type]
    assert [p.name for p in both] == ["insight-2026-10-zh-CN.html", "insight-2026-10-zh-CN.pdf"]
    assert all(p.stat().st_size > 10_000 for p in both)
    with pytest.raises(PortraitsError, match="unknown report format docx"):
        write_report(ws, date(2026, 10, 1), "en", ("docx",))  # type: ignore[arg-type]


def test_a_month_without_orders_or_events_is_refused(tmp_path: Path) -> None:
    (tmp_path / "portraits.yaml").write_text("name: tiny\n", encoding="utf-8")
    with Workspace(tmp_path, settings=Settings(now=NOW)) as ws:
        assert not has_data(ws, date(2026, 10, 1))
        orders = pa.table({"order_id": ["o1"], "ordered_at": [datetime(2026, 10, 31, 23)]})
        ws.engine.write("orders", ws.engine.materialize(orders))
        assert has_data(ws, date(2026, 10, 1))
        assert not has_data(ws, date(2026, 11, 1))
        with pytest.raises(PortraitsError, match="no orders or events in 2026-09"):
            write_report(ws, date(2026, 9, 1), "en")


def test_command_parses_month_format_and_language() -> None:
    assert parse_month("2026-10") == date(2026, 10, 1)
    assert parse_format("both") == ("html", "pdf")
    assert last_full_month(datetime(2026, 1, 5)) == date(2025, 12, 1)
    assert last_full_month(datetime(2026, 11, 1, 12)) == date(2026, 10, 1)
    for bad in ("2026-13", "Oct 2026", "2026/10"):
        with pytest.raises(PortraitsError, match="not a month"):
            parse_month(bad)
    with pytest.raises(PortraitsError, match="unknown format 'docx'"):
        parse_format("docx")


@pytest.mark.parametrize(("option", "message"), [
    (["--month", "2026-13"], "not a month"), (["--format", "docx"], "unknown format"),
    (["--lang", "fr"], "unknown language")])
def test_command_reports_user_mistakes_without_traceback(
        tmp_path: Path, option: list[str], message: str) -> None:
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)  # a group, as in the real CLI
    result = CliRunner().invoke(app, ["report", "-p", str(tmp_path), *option])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
