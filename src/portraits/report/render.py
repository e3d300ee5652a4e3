"""Lay a :class:`~portraits.report.model.Report` out as one self-contained HTML file
(Apache ECharts inlined, interactive charts, no external URL) or as an A4 PDF (WeasyPrint,
the same charts drawn by Matplotlib), and write both into the workspace.

One Jinja2 template serves both: the HTML gets chart containers that ECharts fills with
the SVG renderer (sharp on paper), the PDF gets each chart's static drawing as an image.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from portraits.report.model import Kpi, Report, Section, Table

if TYPE_CHECKING:
    from jinja2 import Environment

    from portraits.i18n import Lang
    from portraits.workspace.facade import Workspace

FORMATS: Final = ("html", "pdf")
DASH: Final = "–"

# The template's own words; the report's content comes translated by the sections.
LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "contents": "Contents", "mom": "Month-over-month", "last_month": "Last month",
        "audience": "Audience", "customers": "customers", "export": "Export with",
        "segment": "Segment", "channel": "Channel", "why": "Why", "notes": "Notes",
        "workspace": "Workspace", "month": "Month", "generated": "Generated",
        "pp": "pp", "days": "days",
        "noscript": "Charts need JavaScript; the tables and figures are complete without.",
        "footer": "Made with Portraits · charts by Apache ECharts",
    },
    "zh-CN": {
        "contents": "目录", "mom": "环比", "last_month": "上月",
        "audience": "目标人群", "customers": "人", "export": "导出命令",
        "segment": "分群", "channel": "渠道", "why": "依据", "notes": "说明",
        "workspace": "工作区", "month": "月份", "generated": "生成时间",
        "pp": "个百分点", "days": "天",
        "noscript": "图表需要 JavaScript；表格与数字不依赖图表，内容完整。",
        "footer": "由 Portraits 生成 · 图表使用 Apache ECharts",
    },
}


def labels(lang: str) -> dict[str, str]:
    """The template's words in ``lang`` (English for anything but ``zh-CN``)."""
    return LABELS["zh-CN" if lang == "zh-CN" else "en"]


def format_value(value: float | None, unit: str, lang: str = "en") -> str:
    """A KPI value as people read it: ``¥1,234,567``, ``12.3%``, ``1,234``, ``–``.

    Example:
        >>> format_value(1234567, "currency"), format_value(0.1234, "percent")
        ('¥1,234,567', '12.3%')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if unit == "currency":
        sign = "-" if value < 0 else ""
        amount = abs(value)
        return f"{sign}¥{amount:,.0f}" if amount >= 1000 else f"{sign}¥{amount:,.2f}"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "ratio":
        return f"{value:,.2f}"
    if unit == "days":
        return f"{value:,.1f} {labels(lang)['days']}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def format_cell(value: Any, percent: bool = False) -> str:
    """A table cell: shares as ``12.3%``, numbers with thousands separators."""
    value = _scalar(value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if percent:
        return f"{value * 100:.1f}%"
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def numeric_columns(table: Table) -> set[int]:
    """Indexes of the columns holding numbers only (right-aligned)."""
    return {i for i in range(len(table.columns))
            if any(row[i] is not None for row in table.rows)
            and all(_number(row[i]) or row[i] is None for row in table.rows)}


def _scalar(value: Any) -> Any:
    """NumPy and pandas scalars as Python values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _number(value: Any) -> bool:
    value = _scalar(value)
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Change:
    """A KPI's month-over-month change, ready to show."""

    text: str
    direction: Literal["up", "down", "flat", "none"]


def kpi_change(kpi: Kpi, lang: str = "en") -> Change:
    """Relative change (``▲ 12.3%``); shares change in percentage points."""
    if kpi.value is None or kpi.previous is None:
        return Change(DASH, "none")
    if kpi.unit == "percent":
        delta = (kpi.value - kpi.previous) * 100
        size = f"{abs(delta):.1f} {labels(lang)['pp']}"
    else:
        relative = kpi.change
        if relative is None:
            return Change(DASH, "none")
        delta = relative
        size = f"{abs(relative) * 100:.1f}%"
    if round(delta, 3) == 0:
        return Change(f"± {size}", "flat")
    return Change(f"▲ {size}", "up") if delta > 0 else Change(f"▼ {size}", "down")


def plain(value: Any) -> Any:
    """JSON-safe data: NaN and infinities become null, NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy and pandas scalars
        return plain(value.item())
    return str(value)


def embed_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(plain(data), ensure_ascii=False, allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def month_text(month: date, lang: str) -> str:
    """``October 2026`` or ``2026年10月``."""
    return f"{month.year}年{month.month}月" if lang == "zh-CN" else f"{month:%B %Y}"


@dataclass(frozen=True)
class ChartView:
    """A chart's place in the page: its index into the options, or its drawing."""

    index: int
    title: str
    image: str | None = None


def render_html(report: Report) -> str:
    """The report as one self-contained HTML file: CSS, Apache ECharts and the chart
    options inlined; it opens offline and prints on A4.

    Example:
        >>> Path("insight.html").write_text(render_html(report), encoding="utf-8")
        ... # doctest: +SKIP
    """
    charts = [chart for section in report.sections for chart in section.charts]
    views = _chart_views(report, [None] * len(charts))
    script = _static("echarts.min.js").replace("</script", "<\\/script")
    notice = " ".join(_static("ECHARTS-NOTICE").split()).replace("*/", "* /")
    return _page(report, views, static=False, echarts=script, notice=notice,
                 options=embed_json([chart.option for chart in charts]),
                 init=_template_file("report.js"), font_css="")


def render_pdf(report: Report, path: Path, images: list[str] | None = None) -> Path:
    """The report as an A4 PDF with static charts (Matplotlib drawings, or ``images``
    drawn before: one ``data:`` URI per chart) and the CJK font that ships with
    ``mplfonts``; returns ``path``."""
    from portraits.report.render_pdf import write_pdf

    return write_pdf(report, Path(path), images)


def static_html(report: Report, images: list[str], font_css: str = "") -> str:
    """The HTML WeasyPrint lays out: the same page with each chart's drawing (``images``,
    one URI per chart in reading order) in place of the ECharts containers."""
    return _page(report, _chart_views(report, list(images)), static=True, font_css=font_css)


def write_report(ws: Workspace, month: date, lang: Lang,
                 formats: tuple[str, ...] = FORMATS, out_dir: Path | None = None,
                 generated_at: datetime | None = None) -> list[Path]:
    """Build the report of ``month`` and write ``insight-YYYY-MM-LANG.html`` / ``.pdf``
    into ``out_dir`` (default: the workspace's ``reports/``).

    Args:
        ws: The open workspace.
        month: Any day of the month to report.
        lang: ``en`` or ``zh-CN``.
        formats: Any of ``html`` and ``pdf``.
        out_dir: Where to write; created when missing.
        generated_at: The time printed on the cover (default: the workspace's clock).

    Returns:
        The written files, in the order of ``formats``.

    Raises:
        PortraitsError: An unknown format, or a month without orders or events.
    """
    from portraits.errors import PortraitsError
    from portraits.report.build import build_report

    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise PortraitsError(f"unknown report format {', '.join(unknown) or '(none)'}: "
                             f"use {' or '.join(FORMATS)}")
    first = date(month.year, month.month, 1)
    if not has_data(ws, first):
        raise PortraitsError(f"the workspace has no orders or events in {first:%Y-%m}; "
                             "choose a month with data (--month YYYY-MM)")
    from portraits.report.render_pdf import ChartDrawer

    at = generated_at or ws.settings.current_time()
    with ChartDrawer() as drawer:  # the PDF's charts drawn while later sections build
        report = build_report(ws, first, lang, at,
                              on_section=drawer.add if "pdf" in formats else None)
        images = drawer.images()
    folder = out_dir if out_dir is not None else ws.root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in dict.fromkeys(formats):
        target = folder / f"insight-{first:%Y-%m}-{lang}.{kind}"
        if kind == "html":
            target.write_text(render_html(report), encoding="utf-8")
        else:
            render_pdf(report, target, images)
        written.append(target)
    return written


def has_data(ws: Workspace, month: date) -> bool:
    """Whether the workspace holds any order or event in ``month``."""
    start = datetime(month.year, month.month, 1)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1)
    stored = set(ws.tables())
    for name, column in (("orders", "ordered_at"), ("events", "timestamp")):
        if name in stored:
            table = ws.table(name)
            moment = table[column]
            if ws.engine.count(table.filter((moment >= start) & (moment < end))) > 0:
                return True
    return False


def _chart_views(report: Report, images: list[str | None]) -> list[list[ChartView]]:
    """Per section, its charts numbered in reading order (with their drawings)."""
    views: list[list[ChartView]] = []
    index = 0
    for section in report.sections:
        views.append([ChartView(index + i, chart.title, images[index + i])
                      for i, chart in enumerate(section.charts)])
        index += len(section.charts)
    return views


def _page(report: Report, views: list[list[ChartView]], static: bool, **parts: str) -> str:
    words = labels(report.lang)
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report, words=words, static=static, charts=views,
        lang="zh-CN" if report.lang == "zh-CN" else "en",
        month=month_text(report.month, report.lang),
        generated=f"{report.generated_at:%Y-%m-%d %H:%M}",
        anchors={s.key: _anchor(s) for s in report.sections},
        css=_template_file("report.css"), **parts)


def _anchor(section: Section) -> str:
    return "section-" + re.sub(r"[^a-z0-9_-]+", "-", section.key.lower())


@functools.cache
def _environment() -> Environment:
    """The Jinja2 environment (HTML autoescaped), made once."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("portraits.report", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["kpi_value"] = lambda kpi, lang: format_value(kpi.value, kpi.unit, lang)
    env.filters["kpi_previous"] = lambda kpi, lang: format_value(kpi.previous, kpi.unit, lang)
    env.filters["kpi_change"] = kpi_change
    env.filters["cell"] = format_cell
    env.filters["numeric_columns"] = numeric_columns
    return env


def _template_file(name: str) -> str:
    return (resources.files("portraits.report") / "templates" / name).read_text("utf-8")


def _static(name: str) -> str:
    return (resources.files("portraits.report") / "static" / name).read_text("utf-8")
