"""What a monthly insight report holds, before it is rendered (HTML or PDF).

Section builders compute everything from the workspace and hand back these frozen
values; renderers only lay them out. Every number a person reads is in a :class:`Kpi`,
a :class:`Table` cell, a chart's data or an :class:`Action`'s figures, and the same
number is in :attr:`Report.figures` under a stable key, so tests compare the report
with the underlying queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from portraits.analytics.chart import Chart

Unit = Literal["count", "currency", "percent", "ratio", "days"]


@dataclass(frozen=True)
class Kpi:
    """A headline number with last month's value for the month-over-month change.

    Attributes:
        key: Stable id (``customers``, ``gmv``…).
        label: What it is, in the report's language.
        value: This month's value (None when it cannot be computed, shown as "–").
        previous: Last month's value (None when unknown).
        unit: How to format it (``currency`` is CNY, ``percent`` a share 0..1).
    """

    key: str
    label: str
    value: float | None
    previous: float | None = None
    unit: Unit = "count"

    @property
    def change(self) -> float | None:
        """Relative change from last month (0.12 = +12 %); None without a base."""
        if self.value is None or not self.previous:
            return None
        return (self.value - self.previous) / abs(self.previous)


@dataclass(frozen=True)
class Table:
    """A small table: translated headers, rows of plain values (str, int, float, None).

    ``percent`` names the columns (by index) whose values are shares 0..1.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    percent: tuple[int, ...] = ()


@dataclass(frozen=True)
class Action:
    """A suggested action: who, why, with the numbers behind it, and the segment that
    holds the audience (``segments/<segment_id>.yaml``, exportable).

    Attributes:
        key: Stable id of the rule that made it.
        title: The suggestion, one sentence ("Send a come-back coupon to …").
        audience: Customers in the segment now.
        reasoning: Why, in a sentence or two, with the numbers.
        figures: (label, formatted value) pairs behind the reasoning.
        segment_id: The segment to export (``portraits segment export ID out.xlsx``).
        channel: The suggested channel, when the rule names one.
    """

    key: str
    title: str
    audience: int
    reasoning: str
    figures: tuple[tuple[str, str], ...]
    segment_id: str
    channel: str | None = None


@dataclass(frozen=True)
class Section:
    """One section of the report.

    Attributes:
        key: Stable id (``overview``, ``portrait``, ``value``, ``behaviour``,
            ``preferences``, ``risk``, ``voice``, ``quality``, ``actions``).
        title: Heading in the report's language.
        summary: One or two sentences computed from the data (no invented figures).
        kpis, charts, tables, actions: The content, in reading order.
        notes: Caveats in plain words ("no predictions yet: run portraits predict").
    """

    key: str
    title: str
    summary: str = ""
    kpis: tuple[Kpi, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """A month's insight report.

    Attributes:
        month: The first day of the month reported.
        lang: ``en`` or ``zh-CN``.
        title: The report's title.
        workspace: The workspace's name.
        generated_at: When it was computed.
        sections: In reading order.
        figures: Every key number by ``<section>.<name>`` (``overview.gmv``…).
    """

    month: date
    lang: str
    title: str
    workspace: str
    generated_at: datetime
    sections: tuple[Section, ...]
    figures: dict[str, float | int | str | None] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        """The section ``key`` (KeyError if the report has none)."""
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)
