"""``portraits profile show``: one customer's whole portrait, PII masked by default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from portraits.i18n import Lang, text

profile_app = typer.Typer(
    name="profile", no_args_is_help=True, rich_markup_mode="markdown",
    help="Customer profiles (用户画像): look one person up by any identifier.")
WorkspaceDir = Annotated[Path, typer.Option("--path", "-p",
                                            help="Workspace folder (holds portraits.yaml).")]
SHOWN_DIMENSIONS = ("basic", "behaviour", "consumption", "interest", "social")
RECORD_FIELDS = ("source", "source_id", "name", "gender", "birthday", "phone", "email",
                 "member_id", "store_member_id", "city", "address", "member_level",
                 "registered_at")
WEEKDAYS = {"en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                   "Sunday"),
            "zh-CN": ("周一", "周二", "周三", "周四", "周五", "周六", "周日")}


@profile_app.command()
def build(path: WorkspaceDir = Path(".")) -> None:
    """Build one profile per customer from the resolved identities (run `portraits
    identity resolve` first) and print completeness: per field, and overall for
    customers (a customer record), visitors (events only) and all profiles."""
    from portraits.cli import main as cli

    @cli.friendly
    def run() -> None:
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws, cli.console.status("building profiles"):
            count = ws.profiles.build(ws.identity.customer_ids())
            summary = ws.engine.to_arrow(ws.profiles.completeness()).to_pylist()
        print_completeness(cli.console, count, summary, cli.lang())

    run()


def print_completeness(console: Console, count: int, summary: Sequence[dict[str, Any]],
                       lang: Lang) -> None:
    """Profiles built, and completeness per population (R3.6: ≥ 85 % on customers)."""
    from portraits.profile.completeness import POPULATIONS

    table = Table(title=text("profiles_title", lang, count=count), title_justify="left")
    table.add_column(text("field", lang))
    present = [p for p in POPULATIONS if any(r["population"] == p for r in summary)]
    sizes = {r["population"]: r["profiles"] for r in summary}
    for population in present:
        table.add_column(f"{text('population_' + population, lang)} ({sizes[population]:,})",
                         justify="right")
    items = list(dict.fromkeys(r["item"] for r in summary))
    cells = {(r["population"], r["item"]): r["percent"] for r in summary}
    for item in items:
        label = text("completeness_" + item, lang) if item in (
            "overall", "profiles_at_target") else _label(item, lang)
        table.add_row(label, *(f"{cells[(p, item)]:.1f}%" if (p, item) in cells else "—"
                               for p in present))
    console.print(table)


@profile_app.command()
def show(
    identifier: Annotated[str, typer.Argument(
        help="Phone, e-mail, member id, WeChat id, type:value or customer id.",
        show_default=False)],
    path: WorkspaceDir = Path("."),
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Show names, phones, e-mails, birthdays and addresses "
        "unmasked.")] = False,
    events: Annotated[int, typer.Option(
        "--events", "-n", min=0, help="How many recent events and orders to list.")] = 20,
) -> None:
    """Show a customer's portrait: records, profile by dimension, identifiers and their
    most recent events and orders.

    **IDENTIFIER** is any of:

    * a phone as people type it: `13812345678`, `138-1234-5678`, `+86 138 1234 5678`
      (normalised as loading does; the workspace's `phone_region` for numbers without
      a country code)
    * an e-mail in any case, a member id, a WeChat openid or unionid
    * `type:value` to say which type is meant: `member_id:M10000001`
    * a customer id from identity resolution: `C00000042`

    Personal data (names, phones, e-mails, birthdays, addresses) is masked —
    `138****5678`, `z***@example.com`, `王*明` — unless **--show-pii** is given.

    Exit status: 0 found; 1 when no single customer has the identifier (none, several —
    they are listed — or a junk, shared or blocked identifier that identifies nobody);
    2 for other mistakes (no workspace, identities not resolved yet).

    Run `portraits identity resolve` first; build profiles with
    `ws.profiles.build(ws.identity.customer_ids())` to see the profile fields.
    """
    from portraits.cli import main as cli

    @cli.friendly
    def run() -> None:
        from portraits.profile.lookup import LookupMissError
        from portraits.workspace.facade import Workspace

        with Workspace(path) as ws:
            try:
                portrait = ws.profiles.get(identifier, events=events)
            except LookupMissError as miss:
                print_miss(cli.err_console, miss, cli.lang(), show_pii)
                raise typer.Exit(1) from None
        print_portrait(cli.console, portrait, cli.lang(), show_pii)

    run()


def print_miss(console: Console, miss: Any, lang: Lang, show_pii: bool) -> None:
    """One line saying why no single customer was found, then the people concerned."""
    from portraits.profile.lookup import shown_identifier

    shown = shown_identifier(miss.identifier, miss.text, show_pii)
    if miss.reason == "not_found":
        line = text("lookup_not_found", lang, identifier=shown,
                    hint=f" ({miss.detail})" if miss.detail else "")
    elif miss.reason == "ambiguous":
        line = text("lookup_ambiguous", lang, identifier=shown, count=len(miss.people))
    else:
        line = text("lookup_unusable", lang, identifier=shown, status=text(miss.reason, lang),
                    reason=miss.detail or "")
        if miss.people:
            line += text("lookup_seen_with", lang, count=len(miss.people))
    console.print(f"[bold red]{text('error', lang)}:[/] {line}", soft_wrap=True,
                  highlight=False)
    if miss.people:
        table = Table(title_justify="left")
        for key in ("customer", "id_type", "value", "first_seen"):
            table.add_column(text(key, lang))
        for p in miss.people:
            table.add_row(p.customer_id, p.id_type, _identifier(p.id_type, p.id_value, show_pii),
                          _value(p.first_seen, lang))
        console.print(table)


def print_portrait(console: Console, portrait: Any, lang: Lang, show_pii: bool) -> None:
    """The portrait as Rich panels: a heading, the customer records, one panel per
    dimension of the profile, the identifiers and the timeline."""
    console.print(_heading(portrait, lang, show_pii))
    if portrait.records:
        console.print(_records(portrait.records, lang, show_pii))
    if portrait.profile is None:
        console.print(text("no_profile", lang), style="yellow")
    else:
        console.print(Columns([_dimension(portrait, d, lang) for d in SHOWN_DIMENSIONS]))
    console.print(_identities(portrait.identities, lang, show_pii))
    console.print(_timeline(portrait.timeline, lang))


def _heading(portrait: Any, lang: Lang, show_pii: bool) -> Panel:
    from portraits.profile.lookup import shown_identifier

    lines = [text("portrait_head", lang, customer=portrait.customer_id)]
    if portrait.matched is not None:
        lines.append(text("found_by", lang, identifier=shown_identifier(
            portrait.matched, "", show_pii)))
    if portrait.completeness is not None:
        missing = ", ".join(_label(name, lang) for name in portrait.missing)
        lines.append(text("completeness_line", lang, percent=portrait.completeness,
                          missing=f" ({text('missing', lang)}: {missing})" if missing else ""))
    used = sum(i.used for i in portrait.identities)
    lines.append(text("portrait_counts", lang, identifiers=used, records=len(portrait.records)))
    return Panel("\n".join(lines), expand=False)


def _records(records: Sequence[dict[str, Any]], lang: Lang, show_pii: bool) -> Table:
    """One column per record, one row per field that any record knows."""
    from portraits.model.canonical import CUSTOMERS

    shown = [f for f in RECORD_FIELDS if any(r.get(f) is not None for r in records)]
    table = Table(title=text("records_title", lang), title_justify="left")
    table.add_column(text("field", lang), style="dim", no_wrap=True)
    for _ in records:
        table.add_column(overflow="fold")
    for name in shown:
        pii = name != "source" and CUSTOMERS.field(name).pii
        table.add_row(_record_label(name, lang), *(
            _pii(name, r.get(name), lang) if pii and not show_pii else _value(r.get(name), lang)
            for r in records))
    return table


def _dimension(portrait: Any, dimension: str, lang: Lang) -> Panel:
    from portraits.profile.schema import DIMENSIONS, PROFILE_FIELDS

    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for f in PROFILE_FIELDS:
        if f.dimension == dimension:
            table.add_row(_label(f.name, lang), _profile_value(f, portrait.profile[f.name], lang))
    en, zh = DIMENSIONS[dimension]  # type: ignore[index]
    body: Table | Group = table
    if dimension == "interest" and portrait.interests:
        affinities = Table.grid(padding=(0, 2))
        for category, affinity in portrait.interests:
            affinities.add_row(category, f"{affinity:.0%}")
        body = Group(table, text("interest_affinities", lang), affinities)
    return Panel(body, title=zh if lang == "zh-CN" else en, title_align="left", expand=False)


def _identities(identities: Sequence[Any], lang: Lang, show_pii: bool) -> Table:
    table = Table(title=text("explain_identifiers", lang), title_justify="left")
    for key in ("id_type", "value", "first_seen", "last_seen", "records", "source", "status"):
        table.add_column(text(key, lang), justify="right" if key == "records" else "left",
                         overflow="fold", no_wrap=key.endswith("_seen"))
    for i in identities:
        status = text(i.status, lang) + (f": {i.reason}" if i.reason else "")
        table.add_row(i.id_type, _identifier(i.id_type, i.id_value, show_pii),
                      _value(i.first_seen, lang), _value(i.last_seen, lang), f"{i.records:,}",
                      ", ".join(i.sources), status if i.used else f"[yellow]{status}[/]")
    return table


def _timeline(entries: Sequence[Any], lang: Lang) -> Table:
    table = Table(title=text("timeline_title", lang, count=len(entries)), title_justify="left")
    for key in ("time", "kind", "event_name", "amount", "product", "category", "channel",
                "platform"):
        table.add_column(text(key, lang), justify="right" if key == "amount" else "left",
                         overflow="fold", no_wrap=key == "time")
    for e in entries:
        product = e.product or ""
        if e.items and e.items > 1:
            product += f" +{e.items - 1}"
        table.add_row(_value(e.time, lang), text(e.kind, lang), e.name,
                      "" if e.amount is None else f"{e.amount:,.2f}", product,
                      e.category or "", e.channel or "", e.platform or "")
    return table


def _label(name: str, lang: Lang) -> str:
    """A profile field's label: its Chinese name, or the English one before any colon."""
    from portraits.profile.schema import PROFILE_FIELDS

    if name == "contactable":
        return text("contactable", lang)
    field = next(f for f in PROFILE_FIELDS if f.name == name)
    return field.zh if lang == "zh-CN" else field.en.split(": ")[0]


def _record_label(name: str, lang: Lang) -> str:
    from portraits.model.canonical import CUSTOMERS

    if name == "source":
        return text("source", lang)
    return CUSTOMERS.field(name).zh if lang == "zh-CN" else name.replace("_", " ").capitalize()


def _identifier(id_type: str, value: str, show_pii: bool) -> str:
    from portraits.model.pii import mask_identifier

    return value if show_pii else mask_identifier(id_type, value)


def _pii(name: str, value: Any, lang: Lang) -> str:
    from portraits.model.pii import mask_field

    return _value(None, lang) if value is None else mask_field(name, _value(value, lang))


def _profile_value(field: Any, value: Any, lang: Lang) -> str:
    """A profile value as people read it: shares in percent, weekdays by name, and
    counts as whole numbers (by the schema's type, whatever the engine stored)."""
    if value is None:
        return _value(None, lang)
    if field.name == "favourite_weekday":
        return WEEKDAYS[lang][int(value)]
    if field.name == "completeness":
        return f"{value:.1f}%"
    if field.name.endswith(("_share", "_rate", "_affinity")):
        return f"{value:.0%}"
    if field.dtype == "int64":
        return f"{int(value):,}"
    return _value(value, lang)


def _value(value: Any, lang: Lang) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return text("yes" if value else "no", lang)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")[:16]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
