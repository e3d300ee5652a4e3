"""Compute a month's report: every section in reading order, and its key figures."""

from __future__ import annotations

import importlib
from datetime import date, datetime
from typing import TYPE_CHECKING, Final

from portraits.report.context import Figures, MonthContext
from portraits.report.model import Report, Section

if TYPE_CHECKING:
    from collections.abc import Callable

    from portraits.i18n import Lang
    from portraits.workspace.facade import Workspace

# (key, module): the order people read them in.
SECTIONS: Final = (("overview", "overview"), ("portrait", "portrait"), ("value", "value"),
                   ("behaviour", "behaviour"), ("preferences", "preferences"),
                   ("risk", "risk"), ("voice", "voice"), ("quality", "quality"),
                   ("actions", "actions"))


def build_report(ws: Workspace, month: date, lang: Lang,
                 generated_at: datetime | None = None,
                 on_section: Callable[[Section], None] | None = None) -> Report:
    """The report of ``month`` (any day of it) for the workspace, in ``lang``;
    ``on_section`` hears each section as soon as it is built."""
    ctx = MonthContext(ws, date(month.year, month.month, 1), lang)
    sections: list[Section] = []
    figures: Figures = {}
    for key, name in SECTIONS:
        module = importlib.import_module(f"portraits.report.sections.{name}")
        section, found = (module.build(ctx, figures) if key == "actions"
                          else module.build(ctx))
        sections.append(section)
        if on_section is not None:
            on_section(section)
        figures.update({f"{key}.{k}": v for k, v in found.items()})
    title = ctx.t("User insight report · {month:%B %Y}", "用户洞察报告 · {month:%Y年%m月}",
                  month=ctx.month)
    return Report(ctx.month, lang, title, ws.spec.name, generated_at or datetime.now(),
                  tuple(sections), figures)
