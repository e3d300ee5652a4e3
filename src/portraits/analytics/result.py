"""What every analysis returns: a typed result with a table and a chart."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from portraits.analytics.chart import Chart
    from portraits.i18n import Lang


class Analysis(ABC):
    """The result of an analysis.

    Subclasses are frozen dataclasses holding the computed figures; they give them as a
    pandas DataFrame (:meth:`to_pandas`) and as a chart (:meth:`chart`: an Apache ECharts
    option with a static drawing), with labels in English or zh-CN.
    """

    @abstractmethod
    def to_pandas(self) -> pd.DataFrame:
        """The figures as a table, one row per item the chart shows."""

    @abstractmethod
    def chart(self, lang: Lang = "en") -> Chart:
        """The chart: title, units and a one-sentence takeaway computed from the data."""

    def save_chart(self, path: str | Path, lang: Lang = "en") -> Path:
        """Draw :meth:`chart` to a PNG, SVG or PDF file."""
        return self.chart(lang).save(path)


def duration_text(seconds: float, lang: Lang = "en") -> str:
    """A duration as a person says it: "14 days", "3.5 hours", "20 minutes" (or zh-CN)."""
    units = ((86400, "day", "天"), (3600, "hour", "小时"), (60, "minute", "分钟"),
             (1, "second", "秒"))
    for size, en, zh in units:
        if seconds >= size or size == 1:
            value = seconds / size
            shown = f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
            if lang == "zh-CN":
                return f"{shown}{zh}"
            return f"{shown} {en}" + ("" if shown == "1" else "s")
    return str(seconds)  # pragma: no cover - the loop always returns
