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
