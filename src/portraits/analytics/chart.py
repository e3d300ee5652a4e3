"""Charts: one definition, two outputs.

Every analysis describes its chart once, as an Apache ECharts option (a plain dict the
dashboard and the HTML report hand to ``echarts.setOption``). :meth:`Chart.save` draws
the same option with Matplotlib for static output (PNG, SVG, PDF in reports), so the two
never disagree. Static drawing covers the series types the analyses use: bar, line,
scatter, pie, funnel, heatmap and sankey.

Chinese text needs a CJK font; Matplotlib has none, so the Noto Sans CJK SC font that
ships inside the ``mplfonts`` wheel is registered (nothing is downloaded).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS: Final = (".png", ".svg", ".pdf")
PALETTE: Final = ("#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272",
                  "#fc8452", "#9a60b4", "#ea7ccc")  # ECharts' default colours
CJK_FONT: Final = "Noto Sans CJK SC"


@dataclass(frozen=True)
class Chart:
    """An Apache ECharts option, and its static drawing.

    Example:
        >>> chart = Chart({"title": {"text": "Orders"}, "xAxis": {"type": "category",
        ...     "data": ["Mon", "Tue"]}, "yAxis": {"type": "value"},
        ...     "series": [{"type": "bar", "data": [3, 5]}]})
        >>> chart.kind
        'bar'
    """

    option: dict[str, Any]

    @property
    def kind(self) -> str:
        """The type of the first series."""
        series = self.option.get("series") or [{}]
        return str(series[0].get("type", ""))

    @property
    def title(self) -> str:
        """The chart's title text."""
        return str((self.option.get("title") or {}).get("text", ""))

    def to_json(self) -> str:
        """The option as JSON, for ``echarts.setOption(JSON.parse(...))``."""
        return json.dumps(self.option, ensure_ascii=False, default=str)

    def save(self, path: str | Path, width: float = 9.0, height: float = 5.0,
             dpi: int = 144) -> Path:
        """Draw the chart to a PNG, SVG or PDF file (by suffix) and return its path."""
        out = Path(path)
        if out.suffix.lower() not in FORMATS:
            raise ValueError(f"cannot draw a chart to '{out.name}': use {', '.join(FORMATS)}")
        figure = _figure(width, height)
        ax = figure.add_subplot()
        _draw(ax, self.option)
        title = self.option.get("title") or {}
        if title.get("text"):
            figure.suptitle(str(title["text"]), fontsize=13, x=0.02, ha="left")
        if title.get("subtext"):
            ax.set_title(str(title["subtext"]), fontsize=9, loc="left", color="#666666")
        figure.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=dpi)
        return out


def _figure(width: float, height: float) -> Any:
    """A Matplotlib figure outside pyplot (no global state, safe in servers)."""
    from matplotlib.figure import Figure

    _use_cjk_font()
    return Figure(figsize=(width, height))


@functools.cache
def _use_cjk_font() -> None:
    """Register the CJK font once per process."""
    import matplotlib as mpl
    from matplotlib import font_manager

    try:
        import mplfonts

        fonts = Path(mplfonts.__file__).parent / "fonts"
        font_manager.fontManager.addfont(str(fonts / "NotoSansCJKsc-Regular.otf"))
        mpl.rcParams["font.sans-serif"] = [CJK_FONT, "DejaVu Sans"]
    except (ImportError, FileNotFoundError, RuntimeError):  # the font is optional for English
        mpl.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    mpl.rcParams["font.family"] = "sans-serif"
    mpl.rcParams["axes.unicode_minus"] = False


def _draw(ax: Axes, option: dict[str, Any]) -> None:
    series = option.get("series") or []
    kind = series[0].get("type") if series else None
    drawers = {"bar": _cartesian, "line": _cartesian, "scatter": _scatter, "pie": _pie,
               "funnel": _funnel, "heatmap": _heatmap, "sankey": _sankey}
    if kind not in drawers:
        raise ValueError(f"no static drawing for ECharts series type '{kind}'")
    drawers[kind](ax, option)


def _axis(option: dict[str, Any], name: str) -> dict[str, Any]:
    axis = option.get(name) or {}
    return axis[0] if isinstance(axis, list) else axis


def _value(point: Any) -> float:
    if isinstance(point, dict):
        point = point.get("value")
    return float("nan") if point is None else float(point)


def _cartesian(ax: Axes, option: dict[str, Any]) -> None:
    """Bars (grouped, stacked or horizontal) and lines over a category axis."""
    x, y = _axis(option, "xAxis"), _axis(option, "yAxis")
    horizontal = y.get("type") == "category"
    labels = [str(v) for v in (y if horizontal else x).get("data", [])]
    series = option["series"]
    bars = [s for s in series if s.get("type") == "bar"]
    grouped = [s for s in bars if not s.get("stack")]
    width = 0.8 / max(len(grouped), 1)
    positions = [float(p) for p in range(len(labels))]
    bottoms: dict[str, list[float]] = {}
    for i, s in enumerate(series):
        values = [_value(v) for v in s.get("data", [])]
        colour = (s.get("itemStyle") or {}).get("color") or PALETTE[i % len(PALETTE)]
        name = s.get("name")
        if s.get("type") == "line":
            target = ax.twinx() if s.get("yAxisIndex") else ax
            target.plot(positions, values, marker="o", color=colour, label=name)
            continue
        stack = s.get("stack")
        if stack:
            base = bottoms.setdefault(stack, [0.0] * len(values))
            offsets = positions
        else:
            base = [0.0] * len(values)
            shift = (grouped.index(s) - (len(grouped) - 1) / 2) * width
            offsets = [p + shift for p in positions]
        if horizontal:
            ax.barh(offsets, values, height=width if not stack else 0.8, left=base,
                    color=colour, label=name)
        else:
            ax.bar(offsets, values, width=width if not stack else 0.8, bottom=base,
                   color=colour, label=name)
        if stack:
            bottoms[stack] = [b + (0.0 if math.isnan(v) else v) for b, v in zip(base, values,
                                                                         strict=True)]
    if horizontal:
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(positions, labels, rotation=30 if len(labels) > 6 else 0,
                      ha="right" if len(labels) > 6 else "center")
    _axis_names(ax, x, y)
    if any(s.get("name") for s in series) and len(series) > 1:  # below the plot, not on it
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                  ncols=min(len(series), 6))
    ax.spines[["top", "right"]].set_visible(False)


def _axis_names(ax: Axes, x: dict[str, Any], y: dict[str, Any]) -> None:
    if x.get("name"):
        ax.set_xlabel(str(x["name"]))
    if y.get("name"):
        ax.set_ylabel(str(y["name"]))


def _scatter(ax: Axes, option: dict[str, Any]) -> None:
    for i, s in enumerate(option["series"]):
        points: list[Any] = [p.get("value") if isinstance(p, dict) else p
                             for p in s.get("data", [])]
        ax.scatter([float(p[0]) for p in points], [float(p[1]) for p in points], s=12,
                   color=PALETTE[i % len(PALETTE)], label=s.get("name"), alpha=0.7)
    _axis_names(ax, _axis(option, "xAxis"), _axis(option, "yAxis"))
    if len(option["series"]) > 1:
        ax.legend(frameon=False, fontsize=8)


def _pie(ax: Axes, option: dict[str, Any]) -> None:
    data = option["series"][0].get("data", [])
    ax.pie([_value(d) for d in data], labels=[str(d.get("name")) for d in data],
           colors=[PALETTE[i % len(PALETTE)] for i in range(len(data))], autopct="%.1f%%",
           startangle=90, counterclock=False, textprops={"fontsize": 8})
    ax.axis("equal")


def _funnel(ax: Axes, option: dict[str, Any]) -> None:
    """Centred horizontal bars, widest at the top, each labelled with its value."""
    data = option["series"][0].get("data", [])
    values = [_value(d) for d in data]
    top = max(values, default=1.0) or 1.0
    for i, (d, v) in enumerate(zip(data, values, strict=True)):
        ax.barh(i, v, left=(top - v) / 2, color=PALETTE[i % len(PALETTE)], height=0.8)
        ax.text(top / 2, i, f"{d.get('name')}  {v:,.0f}", ha="center", va="center",
                fontsize=9)
    ax.set_ylim(len(data) - 0.5, -0.5)
    ax.axis("off")


def _heatmap(ax: Axes, option: dict[str, Any]) -> None:
    """Cells coloured by value and labelled (retention tables, overlaps)."""
    import numpy as np

    xs = [str(v) for v in _axis(option, "xAxis").get("data", [])]
    ys = [str(v) for v in _axis(option, "yAxis").get("data", [])]
    grid = np.full((len(ys), len(xs)), np.nan)
    for point in option["series"][0].get("data", []):
        cell: list[Any] = point["value"] if isinstance(point, dict) else point
        if cell[2] is not None:
            grid[int(cell[1]), int(cell[0])] = float(cell[2])
    ax.imshow(grid, cmap="Blues", aspect="auto")
    unit = str(option["series"][0].get("unit", ""))
    for (row, col), value in np.ndenumerate(grid):
        if not math.isnan(value):
            ax.text(col, row, f"{value:.1f}{unit}" if unit else f"{value:,.0f}",
                    ha="center", va="center", fontsize=7,
                    color="white" if value > np.nanmax(grid) * 0.6 else "black")
    ax.set_xticks(range(len(xs)), xs, fontsize=8)
    ax.set_yticks(range(len(ys)), ys, fontsize=8)
    _axis_names(ax, _axis(option, "xAxis"), _axis(option, "yAxis"))


def _sankey(ax: Axes, option: dict[str, Any]) -> None:
    """Nodes in columns by their depth from the sources, links as bands of their value."""
    from matplotlib.patches import PathPatch, Rectangle
    from matplotlib.path import Path as CurvePath

    series = option["series"][0]
    names = [str(n["name"]) for n in series.get("data", [])]
    links = [(str(k["source"]), str(k["target"]), float(k["value"]))
             for k in series.get("links", [])]
    depth = _depths(names, links)
    size = {n: max(sum(v for s, _, v in links if s == n), sum(v for _, t, v in links
                                                              if t == n)) for n in names}
    columns = max(depth.values(), default=0) + 1
    total = max((sum(size[n] for n in names if depth[n] == c) for c in range(columns)),
                default=1.0) or 1.0
    gap, width = 0.02, 0.03
    top: dict[str, float] = {}
    for c in range(columns):
        y = 1.0
        for n in (n for n in names if depth[n] == c):
            top[n] = y
            height = size[n] / total * 0.8
            x = c / max(columns - 1, 1) * (1 - width)
            ax.add_patch(Rectangle((x, y - height), width, height, color=PALETTE[c % 9]))
            ax.text(x + width + 0.005, y - height / 2, n, fontsize=7, va="center")
            y -= height + gap
    out_used = dict.fromkeys(names, 0.0)
    in_used = dict.fromkeys(names, 0.0)
    for i, (s, t, v) in enumerate(links):
        h = v / total * 0.8
        x0 = depth[s] / max(columns - 1, 1) * (1 - width) + width
        x1 = depth[t] / max(columns - 1, 1) * (1 - width)
        y0, y1 = top[s] - out_used[s], top[t] - in_used[t]
        out_used[s] += h
        in_used[t] += h
        mid = (x0 + x1) / 2
        verts = [(x0, y0), (mid, y0), (mid, y1), (x1, y1), (x1, y1 - h), (mid, y1 - h),
                 (mid, y0 - h), (x0, y0 - h), (x0, y0)]
        codes = [CurvePath.MOVETO, CurvePath.CURVE4, CurvePath.CURVE4, CurvePath.CURVE4,
                 CurvePath.LINETO, CurvePath.CURVE4, CurvePath.CURVE4, CurvePath.CURVE4,
                 CurvePath.CLOSEPOLY]
        ax.add_patch(PathPatch(CurvePath(verts, codes), alpha=0.35, lw=0,
                               color=PALETTE[i % len(PALETTE)]))
    ax.set_xlim(0, 1.15)
    ax.set_ylim(0, 1.02)
    ax.axis("off")


def _depths(names: list[str], links: list[tuple[str, str, float]]) -> dict[str, int]:
    """Each node's column: the longest path from a node without incoming links."""
    depth = dict.fromkeys(names, 0)
    for _ in names:  # at most len(names) relaxations in an acyclic graph
        changed = False
        for s, t, _v in links:
            if depth[t] < depth[s] + 1 and depth[s] + 1 < len(names):
                depth[t] = depth[s] + 1
                changed = True
        if not changed:
            break
    return depth
