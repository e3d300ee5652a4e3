"""Chart options the report's sections share, in the conventions of
:mod:`portraits.analytics.chart`: a title, axis names with units, and a one-sentence
takeaway computed from the data in ``title.subtext``. Each is a :class:`Chart`, so the
HTML gets the ECharts option and the PDF its static drawing."""

from __future__ import annotations

from collections.abc import Sequence

from portraits.analytics.chart import Chart


def bar_chart(title: str, takeaway: str, categories: Sequence[str],
              series: dict[str, Sequence[float | None]], x_name: str, y_name: str,
              horizontal: bool = False, unit: str = "") -> Chart:
    """Bars: one series per entry of ``series`` (its name shows in the legend when there
    are several), over ``categories``."""
    category_axis = {"type": "category", "data": list(categories), "name": x_name}
    value_axis = {"type": "value", "name": y_name}
    option: dict[str, object] = {
        "title": {"text": title, "subtext": takeaway},
        "tooltip": {"trigger": "axis"},
        "xAxis": value_axis if horizontal else category_axis,
        "yAxis": category_axis if horizontal else value_axis,
        "series": [{"type": "bar", "name": name, "data": list(values), "unit": unit}
                   for name, values in series.items()]}
    if len(series) > 1:
        option["legend"] = {"top": "bottom"}
    return Chart(option)


def line_chart(title: str, takeaway: str, categories: Sequence[str],
               series: dict[str, Sequence[float | None]], x_name: str, y_name: str,
               unit: str = "") -> Chart:
    """Lines over ``categories`` (months, days), one per entry of ``series``."""
    option: dict[str, object] = {
        "title": {"text": title, "subtext": takeaway},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": list(categories), "name": x_name},
        "yAxis": {"type": "value", "name": y_name},
        "series": [{"type": "line", "name": name, "data": list(values), "unit": unit}
                   for name, values in series.items()]}
    if len(series) > 1:
        option["legend"] = {"top": "bottom"}
    return Chart(option)


def pie_chart(title: str, takeaway: str, parts: Sequence[tuple[str, float]],
              name: str = "") -> Chart:
    """A pie of (label, value) parts."""
    return Chart({
        "title": {"text": title, "subtext": takeaway},
        "tooltip": {"trigger": "item"},
        "series": [{"type": "pie", "name": name, "radius": "60%",
                    "data": [{"name": label, "value": value} for label, value in parts]}]})


def sankey_chart(title: str, takeaway: str, links: Sequence[tuple[str, str, float]]) -> Chart:
    """A Sankey of (source, target, value) flows; node names must be distinct between
    the two sides (suffix them, e.g. "Champions (Sep)" and "Champions (Oct)")."""
    names = list(dict.fromkeys([s for s, _, _ in links] + [t for _, t, _ in links]))
    return Chart({
        "title": {"text": title, "subtext": takeaway},
        "tooltip": {"trigger": "item"},
        "series": [{"type": "sankey", "emphasis": {"focus": "adjacency"},
                    "data": [{"name": n} for n in names],
                    "links": [{"source": s, "target": t, "value": v}
                              for s, t, v in links if v > 0]}]})
