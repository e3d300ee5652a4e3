"""What every section builder gets: the workspace, the month and the language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from portraits.report.model import Section

if TYPE_CHECKING:
    from portraits.i18n import Lang
    from portraits.workspace.facade import Workspace

Figures = dict[str, Any]


@dataclass(frozen=True)
class MonthContext:
    """A month of a workspace, in one language.

    Attributes:
        ws: The open workspace (tables, profiles, tags, analytics, predictions).
        month: The first day of the month reported.
        lang: ``en`` or ``zh-CN``.
    """

    ws: Workspace
    month: date
    lang: Lang

    @property
    def start(self) -> datetime:
        """The month's first moment (inclusive)."""
        return datetime(self.month.year, self.month.month, 1)

    @property
    def end(self) -> datetime:
        """The next month's first moment (exclusive)."""
        return next_month(self.start)

    @property
    def previous_start(self) -> datetime:
        """Last month's first moment (its end is :attr:`start`)."""
        year, month = (self.month.year, self.month.month - 1) if self.month.month > 1 else (
            self.month.year - 1, 12)
        return datetime(year, month, 1)

    @property
    def zh(self) -> bool:
        """Whether the report is in Chinese."""
        return self.lang == "zh-CN"

    def t(self, en: str, zh: str, **values: Any) -> str:
        """``en`` or ``zh`` by the report's language, formatted with ``values``."""
        chosen = zh if self.zh else en
        return chosen.format(**values) if values else chosen


def next_month(moment: datetime) -> datetime:
    """The first moment of the month after ``moment``'s."""
    return datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1)


SectionResult = tuple[Section, Figures]
