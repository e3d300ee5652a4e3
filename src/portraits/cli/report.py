"""``portraits report``: the monthly user-insight report (用户洞察报告) as HTML and PDF."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from portraits.errors import PortraitsError

if TYPE_CHECKING:
    from portraits.i18n import Lang

MONTH: Final = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
CHOICES: Final = {"html": ("html",), "pdf": ("pdf",), "both": ("html", "pdf")}
LANGS: Final = ("en", "zh-CN")


def report_command(
    path: Annotated[Path, typer.Option(
        "--path", "-p", help="Workspace folder (holds portraits.yaml).")] = Path("."),
    month: Annotated[str | None, typer.Option(
        help="The month to report, as YYYY-MM (e.g. 2026-10). Default: the last full "
             "month before now.")] = None,
    lang: Annotated[str | None, typer.Option(
        help="Language of the report: zh-CN or en. Default: the command line's language "
             "(--lang before the command, or PORTRAITS_LANG).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="html (interactive charts, opens offline), pdf (A4, static "
                         "charts) or both.")] = "both",
    out: Annotated[Path | None, typer.Option(
        help="Folder to write into. Default: the workspace's reports folder.")] = None,
) -> None:
    """Write the monthly user-insight report (用户洞察报告): overview, customer portrait,
    value tiers, behaviour, preferences, churn risk, voice of the customer, data quality
    and suggested actions, each with its charts, tables and segments to export.

    Files are named `insight-YYYY-MM-LANG.html` and `.pdf`. The HTML holds everything it
    needs (Apache ECharts inlined): send it as one file. Example:
    `portraits report -p shop --month 2026-10 --lang zh-CN`.
    """
    from portraits.cli import main as cli

    def action() -> None:
        from portraits.report.render import write_report
        from portraits.workspace.facade import Workspace

        language = parse_lang(lang) if lang is not None else cli.lang()
        formats = parse_format(fmt)
        given = parse_month(month) if month is not None else None
        with Workspace(path) as ws:
            chosen = given or last_full_month(ws.settings.current_time())
            with cli.console.status(f"writing the report of {chosen:%Y-%m}"):
                written = write_report(ws, chosen, language, formats, out)
        for file in written:
            cli.console.print(str(file))

    cli.friendly(action)()


def parse_month(text: str) -> date:
    """``2026-10`` → 2026-10-01; anything else is a user mistake."""
    found = MONTH.match(text)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise PortraitsError(f"'{text}' is not a month: write YYYY-MM, e.g. 2026-10")
    return date(int(found.group(1)), int(found.group(2)), 1)


def parse_format(text: str) -> tuple[str, ...]:
    """``html``, ``pdf`` or ``both`` → the formats to write."""
    chosen = CHOICES.get(text.strip().lower())
    if chosen is None:
        raise PortraitsError(f"unknown format '{text}': use html, pdf or both")
    return chosen


def parse_lang(text: str) -> Lang:
    """``zh-CN`` (also ``zh``, ``zh_cn``) or ``en``."""
    value = text.strip().replace("_", "-").lower()
    if value in ("zh", "zh-cn"):
        return "zh-CN"
    if value == "en":
        return "en"
    raise PortraitsError(f"unknown language '{text}': use zh-CN or en")


def last_full_month(now: datetime) -> date:
    """The first day of the last month that ended before ``now``."""
    return date(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1)
